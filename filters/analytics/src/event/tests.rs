//! Tests of event lines: the golden file of hostile measurements, and the hand-written line
//! equal to serde's form.

use super::*;
use crate::measure::{AuthOutcome, QuotaOutcome};

fn base() -> Measurement {
    Measurement {
        time: UNIX_EPOCH + Duration::from_millis(1_767_225_600_123),
        request_id: Some(b"r-1".to_vec()),
        consumer: Some(b"alice".to_vec()),
        plan: Some(b"gold".to_vec()),
        credential: Some(b"api-key".to_vec()),
        api: "orders".into(),
        version: Some(b"v2".to_vec()),
        route: Some(b"orders_v2".to_vec()),
        method: Some(b"GET".to_vec()),
        path: Some(b"/v2/orders/1".to_vec()),
        status: Some(200),
        local: false,
        details: Some(b"via_upstream".to_vec()),
        auth: AuthOutcome::Ok,
        quota: QuotaOutcome::Ok,
        request_bytes: Some(120),
        response_bytes: Some(3400),
        duration: Some(Duration::from_micros(9500)),
        upstream: Some(Duration::from_millis(7)),
    }
}

/// Measurements with hostile text in every field, one per golden line.
fn cases() -> Vec<(&'static str, Measurement)> {
    let mut quotes = base();
    quotes.consumer = Some(br#"al"ice\"#.to_vec());
    quotes.path = Some(br#"/orders/"quoted"/\back"#.to_vec());
    let mut crlf = base();
    crlf.version = Some(b"v2\r\nx-injected: 1".to_vec());
    crlf.request_id = Some(b"a\nb\rc\td\x00e\x1b".to_vec());
    let mut separators = base();
    separators.path = Some("/orders/\u{2028}line\u{2029}para".as_bytes().to_vec());
    separators.plan = Some("gold\u{2028}".as_bytes().to_vec());
    let mut invalid = base();
    invalid.consumer = Some(b"\xff\xfe".to_vec());
    invalid.path = Some(b"/orders/\xc0\xa7\xc0\xa2".to_vec());
    invalid.method = Some(b"G\x80T".to_vec());
    let mut local = base();
    local.consumer = None;
    local.plan = None;
    local.credential = None;
    local.version = None;
    local.route = None;
    local.status = Some(401);
    local.local = true;
    local.details = Some(b"gateway_missing_credentials".to_vec());
    local.auth = AuthOutcome::Denied;
    local.quota = QuotaOutcome::None;
    local.upstream = None;
    let mut empty = base();
    empty.request_id = None;
    empty.consumer = None;
    empty.plan = None;
    empty.credential = None;
    empty.api = "unknown".into();
    empty.version = None;
    empty.route = None;
    empty.method = None;
    empty.path = None;
    empty.status = None;
    empty.details = None;
    empty.auth = AuthOutcome::None;
    empty.quota = QuotaOutcome::None;
    empty.request_bytes = None;
    empty.response_bytes = None;
    empty.duration = None;
    empty.upstream = None;
    vec![
        ("upstream 200", base()),
        ("quotes and backslashes", quotes),
        ("CR, LF and control characters", crlf),
        ("U+2028 and U+2029", separators),
        ("invalid UTF-8", invalid),
        ("local 401", local),
        ("nothing known", empty),
    ]
}

#[test]
fn events_match_the_golden_file() {
    let mut out = String::new();
    for (_, m) in cases() {
        out.push_str(&UsageEvent::from_measurement(&m, true).to_line());
        out.push('\n');
    }
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/events.jsonl");
    if let Err(diff) = host_test::golden::check(&path, &out) {
        panic!("{diff}");
    }
}

#[test]
fn every_event_is_one_valid_json_line() {
    for (why, m) in cases() {
        let line = UsageEvent::from_measurement(&m, true).to_line();
        assert!(
            !line.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
            "{why}: {line}"
        );
        let back: UsageEvent = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{why}: {e}"));
        assert_eq!(
            back,
            UsageEvent::from_measurement(&m, true),
            "{why} round-trips"
        );
    }
}

#[test]
fn lines_are_the_serde_form() {
    let mut cases = cases();
    let mut del = base();
    del.consumer = Some(b"a\x7fb".to_vec());
    del.route = Some("caf\u{e9}".as_bytes().to_vec());
    cases.push(("DEL and non-ASCII", del));
    for (why, m) in cases {
        for include_path in [true, false] {
            let event = UsageEvent::from_measurement(&m, include_path);
            let serde_form = serde_json::to_string(&event)
                .unwrap()
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029");
            assert_eq!(event.to_line(), serde_form, "{why}");
            assert_eq!(line(&m, include_path), serde_form.as_bytes(), "{why}");
        }
    }
}

#[test]
fn include_path_false_drops_the_path() {
    let m = base();
    let e = UsageEvent::from_measurement(&m, false);
    assert_eq!(e.path, None);
}
