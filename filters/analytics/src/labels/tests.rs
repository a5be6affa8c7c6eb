//! Tests of label values and the cardinality guard shared by worker VMs.

use super::*;
use filter_core::fake::SharedStore;
use filter_core::FakeHost;

#[test]
fn sanitize_cases() {
    let long = "a".repeat(100);
    let cases: &[(&[u8], &str, &str)] = &[
        (b"alice", "alice", "plain value kept"),
        (b"a.b=c", "a_b_c", "separators replaced"),
        (b"", "none", "empty gives fallback"),
        (b"\xff\xfe", "__", "invalid UTF-8 replaced per byte run"),
        ("caf\u{e9}".as_bytes(), "caf_", "non-ASCII replaced"),
        (b"a\r\nb", "a__b", "CR LF replaced"),
        (long.as_bytes(), &long[..64], "cut to 64"),
    ];
    for (input, want, why) in cases {
        assert_eq!(sanitize(input, "none"), *want, "{why}");
        assert!(is_label_safe(&sanitize(input, "none")), "{why}");
    }
}

#[test]
fn guard_admits_up_to_max_then_overflows() {
    let mut host = FakeHost::new();
    let g = LabelGuard::new("consumer", 2);
    assert_eq!(g.admit("a", &mut host), Admission::Admitted);
    assert_eq!(g.admit("b", &mut host), Admission::Admitted);
    assert_eq!(g.admit("c", &mut host), Admission::Overflow, "third value");
    assert_eq!(g.admit("a", &mut host), Admission::Admitted);
    assert_eq!(g.admitted_len(), 2);
}

#[test]
fn workers_share_the_admitted_values() {
    let store = SharedStore::default();
    let mut w1 = FakeHost::with_store(store.clone());
    let mut w2 = FakeHost::with_store(store);
    let g1 = LabelGuard::new("consumer", 2);
    let g2 = LabelGuard::new("consumer", 2);
    assert_eq!(g1.admit("a", &mut w1), Admission::Admitted);
    assert_eq!(g2.admit("b", &mut w2), Admission::Admitted);
    assert_eq!(
        g1.admit("c", &mut w1),
        Admission::Overflow,
        "full across workers"
    );
    assert_eq!(
        g1.admit("b", &mut w1),
        Admission::Admitted,
        "worker 1 learns worker 2's value"
    );
}

#[test]
fn cas_conflicts_are_retried_and_bounded() {
    let mut host = FakeHost::new();
    let g = LabelGuard::new("api", 5);
    g.admit("x", &mut host);
    host.fail_next_cas = 2;
    assert_eq!(g.admit("y", &mut host), Admission::Admitted);
    host.fail_next_cas = 100;
    assert_eq!(
        g.admit("z", &mut host),
        Admission::Overflow,
        "retries exhausted"
    );
    host.fail_next_cas = 0;
    assert_eq!(g.admit("z", &mut host), Admission::Admitted);
}

#[test]
fn corrupt_shared_list_is_ignored() {
    let mut host = FakeHost::new();
    host.shared.borrow_mut().insert(
        "analytics.labels.route".into(),
        filter_core::SharedValue {
            data: b"ok\n\xff\xfe\nbad.value\n".to_vec(),
            cas: 1,
        },
    );
    let g = LabelGuard::new("route", 3);
    assert_eq!(g.admit("ok", &mut host), Admission::Admitted);
    assert_eq!(g.admit("new", &mut host), Admission::Admitted);
}

#[test]
fn status_classes_and_methods() {
    let cases = [
        (Some(100), "1xx"),
        (Some(204), "2xx"),
        (Some(304), "3xx"),
        (Some(429), "4xx"),
        (Some(599), "5xx"),
        (Some(600), "none"),
        (Some(0), "none"),
        (None, "none"),
    ];
    for (status, class) in cases {
        assert_eq!(status_class(status), class, "status {status:?}");
    }
    assert_eq!(method_label(Some(b"GET")), "GET");
    assert_eq!(
        method_label(Some(b"get")),
        "other",
        "methods are case-sensitive"
    );
    assert_eq!(method_label(Some(b"\xff")), "other");
    assert_eq!(method_label(None), "other");
}

#[test]
fn local_reply_reasons() {
    assert_eq!(reason(b"gateway_quota_exceeded"), b"quota_exceeded");
    assert_eq!(reason(b"route_not_found"), b"route_not_found");
}
