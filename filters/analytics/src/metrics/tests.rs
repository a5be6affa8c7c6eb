//! Tests of metric names and the id cache.

use super::*;
use filter_core::FakeHost;

#[test]
fn names_follow_the_label_order() {
    assert_eq!(
        labelled_name(&REQUESTS_TOTAL, &["alice", "orders", "v2", "2xx"]),
        "gateway_requests_total.consumer=alice.api=orders.version=v2.status_class=2xx"
    );
    for metric in LABELLED {
        for key in metric.labels {
            assert!(
                LABEL_KEYS.contains(key),
                "{} uses undeclared {key}",
                metric.name
            );
        }
    }
}

#[test]
fn ids_are_cached_and_names_capped() {
    let mut host = FakeHost::new();
    let set = MetricSet::new(2, "other");
    // A fresh row for each call: every id is looked up by its name.
    let mut add = |c: &str, n: u64| {
        let values = [c, "x", "v1"];
        set.add_in(
            &mut host,
            &mut Row::default(),
            &RESPONSE_BYTES_TOTAL,
            &values,
            n,
        );
    };
    add("a", 10);
    add("a", 5);
    add("b", 1);
    add("c", 7);
    let name = |c: &str| labelled_name(&RESPONSE_BYTES_TOTAL, &[c, "x", "v1"]);
    assert_eq!(host.metric(&name("a")), Some(15));
    assert_eq!(host.metric(&name("b")), Some(1));
    assert_eq!(host.metric(&name("c")), None, "over the name cap");
    let all = labelled_name(&RESPONSE_BYTES_TOTAL, &["other", "other", "other"]);
    assert_eq!(host.metric(&all), Some(7));
    assert_eq!(host.metric(NAME_OVERFLOWS_TOTAL), Some(1));
}
