//! Tests of the report's numbers.

use super::*;
use std::borrow::Cow;

fn ev(ts_s: u64, consumer: Option<&'static str>, status: u16, dur_ms: u64) -> UsageEvent<'static> {
    UsageEvent {
        v: 1,
        ts_ms: ts_s * 1000,
        consumer: consumer.map(Cow::Borrowed),
        api: Cow::Borrowed("orders"),
        version: Some(Cow::Borrowed("v1")),
        status: Some(status),
        status_class: Cow::Owned(format!("{}xx", status / 100)),
        duration_us: Some(dur_ms * 1000),
        ..UsageEvent::default()
    }
}

#[test]
fn percentiles_use_nearest_rank() {
    let v: Vec<u64> = (1..=100).collect();
    let cases = [(50.0, 50), (95.0, 95), (99.0, 99), (100.0, 100), (0.0, 1)];
    for (p, want) in cases {
        assert_eq!(percentile(&v, p), Some(want), "p{p}");
    }
    assert_eq!(percentile(&[7], 99.0), Some(7), "one value");
    assert_eq!(percentile(&[], 50.0), None, "no values");
}

#[test]
fn rows_and_trend() {
    let events = vec![
        ev(0, Some("alice"), 200, 10),
        ev(30, Some("alice"), 500, 20),
        ev(70, Some("bob"), 429, 1),
        ev(130, None, 401, 1),
        ev(150, Some("carol"), 200, 5),
    ];
    let s = Summary::new(&events, 2, None);
    assert_eq!(s.overall.requests, 5);
    assert_eq!(s.overall.client_errors, 2);
    assert_eq!(s.overall.server_errors, 1);
    assert_eq!(s.overall.error_pct(), 60.0);
    let alice = &s.consumers[0];
    assert_eq!((alice.key.as_str(), alice.requests), ("alice", 2));
    assert_eq!(alice.latency_ms, Some([10.0, 20.0, 20.0]));
    assert_eq!(
        s.trend.width,
        Duration::from_secs(60),
        "151 s span: 1-minute buckets"
    );
    assert_eq!(s.trend.series, ["alice", "(anonymous)", "(others)"]);
    let totals: Vec<u64> = s.trend.buckets.iter().map(Bucket::total).collect();
    assert_eq!(totals, [2, 1, 2]);
    assert_eq!(s.trend.buckets[2].by_series, [0, 1, 1]);
    assert_eq!(s.trend.buckets[1].errors, 1);
    assert_eq!(
        s.classes,
        [("2xx".into(), 2), ("4xx".into(), 2), ("5xx".into(), 1)]
    );
}

#[test]
fn empty_input_gives_an_empty_summary() {
    let s = Summary::new(&[], 10, None);
    assert_eq!(s.overall.requests, 0);
    assert_eq!(s.overall.error_pct(), 0.0);
    assert!(s.trend.buckets.is_empty());
}
