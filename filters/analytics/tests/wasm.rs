//! The real `filter_analytics.wasm` in host-test: golden event JSON from a real batch POST,
//! a sink outage, and the cardinality guard across worker VMs.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use host_test::{build, CallReply, FilterSpec, Gateway, Harness, Prop, Request, Response};

fn analytics() -> PathBuf {
    build::cargo_wasm_target("filter-analytics", filter_core::WASM_TARGET).unwrap()
}

fn probe() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../host-test/guests/sdk-probe");
    build::cargo_wasm_manifest(&dir, "sdk_probe", "wasm32-wasip1").unwrap()
}

const CONFIG: &str = r#"{
    "apis": [{"name": "orders", "path_prefixes": ["/orders", "/v1/orders", "/v2/orders"]}],
    "labels": {"consumer": 2},
    "events": {"cluster": "collector", "flush_interval_ms": 1000, "timeout_ms": 2000,
               "max_batch_events": 10, "max_buffer_events": 20,
               "backoff_initial_ms": 1000, "backoff_max_ms": 4000}
}"#;

/// Envoy's router adds this header to upstream responses.
fn upstream_ok() -> Response {
    Response::ok()
        .header("x-envoy-upstream-service-time", "7")
        .body("{}")
}

fn alice(path: &str) -> Request {
    Request::get(path)
        .header("x-gateway-consumer", "alice")
        .header("x-gateway-version", "v2")
}

type Bodies = Arc<Mutex<Vec<Vec<u8>>>>;

/// A gateway with the analytics filter and a probe filter (which answers 403 locally for
/// `x-probe: local`) after it, standing for a later filter of the chain; with `probe_first`
/// the probe comes first, standing for auth. The collector answers `status`.
fn gateway_with(workers: usize, collector: Option<u16>, probe_first: bool) -> (Gateway, Bodies) {
    let bodies: Bodies = Arc::default();
    let probe = FilterSpec::wasm(probe()).config("name=probe");
    let analytics = FilterSpec::wasm(analytics()).config(CONFIG);
    let (first, second) = if probe_first {
        (probe, analytics)
    } else {
        (analytics, probe)
    };
    let mut h = Harness::new()
        .start_time(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .workers(workers)
        .filter(first)
        .filter(second);
    if let Some(status) = collector {
        let seen = bodies.clone();
        h = h.responder("collector", move |call| {
            seen.lock().unwrap().push(call.body.clone());
            Some(CallReply::status(status))
        });
    }
    (h.build().unwrap(), bodies)
}

fn gateway(workers: usize, collector: Option<u16>) -> (Gateway, Bodies) {
    gateway_with(workers, collector, false)
}

#[test]
fn events_from_the_wasm_match_the_golden_file() {
    let (mut gw, bodies) = gateway(1, Some(200));
    // 1. A plain upstream response, 15 ms long; the query string (an API key) is never kept.
    let id = gw.begin(alice("/v2/orders/1?api_key=secret").header("x-request-id", "r-1"));
    let mut s = gw.stream(id);
    s.send_headers(true).unwrap();
    gw.advance(Duration::from_millis(15)).unwrap();
    let mut s = gw.stream(id);
    s.respond_with(upstream_ok()).unwrap();
    s.finish().unwrap();
    // 2. Quotes, backslashes and U+2028 in identity and version headers.
    let out = gw
        .request(
            Request::get("/orders/\"x\"")
                .header("x-gateway-consumer", "al\"ice\\")
                .header("x-gateway-version", "v2\u{2028}beta\u{2029}"),
        )
        .respond_with(upstream_ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    // 3. Invalid UTF-8 and CR/LF in what the host reports (route name and code details).
    gw.request(
        alice("/v1/orders")
            .property(
                "xds.route_name",
                Prop::Bytes(b"r\xff\xfe\r\n\"route\"".to_vec()),
            )
            .property(
                "response.code_details",
                Prop::Bytes(b"via_upstream".to_vec()),
            ),
    )
    .respond_with(Response::status(503))
    .unwrap();
    // 4. A local reply from a later filter of the chain.
    let out = gw
        .request(Request::get("/orders").header("x-probe", "local"))
        .respond_with(upstream_ok())
        .unwrap();
    assert_eq!(out.status(), 403);
    assert!(!out.reached_upstream());

    assert!(
        bodies.lock().unwrap().is_empty(),
        "nothing sent before a tick"
    );
    gw.advance(Duration::from_secs(1)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "one batch");
    let body = String::from_utf8(bodies[0].clone()).expect("batches are UTF-8");
    for line in body.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert!(v.is_object());
        assert!(!line.contains(['\u{2028}', '\u{2029}', '\r']), "{line}");
    }
    assert!(!body.contains("secret"));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden/wasm_events.jsonl");
    if let Err(diff) = host_test::golden::check(&golden, &body) {
        panic!("{diff}");
    }
    let call = &gw.calls()[0];
    assert_eq!(call.cluster, "collector");
    assert_eq!(call.header(":method"), Some("POST"));
    assert_eq!(call.header(":path"), Some("/events"));
    assert_eq!(call.header("content-type"), Some("application/x-ndjson"));
    assert_eq!(gw.metric("analytics_events_sent_total"), Some(4));
}

#[test]
fn local_replies_are_measured_with_their_labels() {
    let (mut gw, _) = gateway(1, Some(200));
    gw.request(alice("/v2/orders/1"))
        .respond_with(upstream_ok())
        .unwrap();
    gw.request(Request::get("/orders").header("x-probe", "local"))
        .respond_with(upstream_ok())
        .unwrap();
    let m = |name: &str| gw.metric(name);
    assert_eq!(
        m("gateway_requests_total.consumer=alice.api=orders.version=v2.status_class=2xx"),
        Some(1)
    );
    assert_eq!(
        m("gateway_requests_total.consumer=anonymous.api=orders.version=none.status_class=4xx"),
        Some(1),
        "the 403 a later filter sent is counted"
    );
    assert_eq!(
        m("gateway_access_total.consumer=anonymous.api=orders.auth=denied.quota=none"),
        Some(1)
    );
    assert_eq!(
        m("gateway_local_replies_total.api=orders.reason=unknown.status_code=403"),
        Some(1),
        "the probe's reply carries no code details"
    );
    let hist = gw
        .metric_full("gateway_upstream_duration_ms.api=orders.version=v2")
        .expect("upstream latency histogram");
    assert!(format!("{hist:?}").contains('7'), "{hist:?}");
}

#[test]
fn a_collector_outage_keeps_memory_bounded_and_requests_untouched() {
    // No collector cluster at all: every POST fails with BAD_ARGUMENT.
    let (mut gw, _) = gateway(1, None);
    for i in 0..100 {
        let out = gw
            .request(alice("/v2/orders/1"))
            .respond_with(upstream_ok())
            .unwrap();
        assert_eq!(out.status(), 200, "request {i}");
        assert!(out.reached_upstream());
        if i % 10 == 9 {
            gw.advance(Duration::from_millis(500)).unwrap();
        }
    }
    assert_eq!(gw.metric("analytics_events_total"), Some(100));
    let counter = |name| gw.metric(name).unwrap_or(0);
    assert_eq!(
        counter("analytics_events_total")
            - counter("analytics_events_sent_total")
            - counter("analytics_events_dropped_total"),
        20,
        "bounded buffer: produced less sent and dropped is what is held"
    );
    assert_eq!(
        gw.metric("analytics_events_dropped_total"),
        Some(80),
        "oldest dropped"
    );
    let failures = gw.metric("analytics_flush_failures_total").unwrap();
    assert!(
        (2..=10).contains(&failures),
        "backoff spaces the attempts: {failures}"
    );
    assert!(gw.calls().is_empty());
}

#[test]
fn a_failing_collector_gets_the_same_events_again_after_backoff() {
    let (mut gw, bodies) = gateway(1, Some(503));
    for _ in 0..3 {
        gw.request(alice("/orders"))
            .respond_with(upstream_ok())
            .unwrap();
    }
    gw.advance(Duration::from_secs(1)).unwrap();
    gw.advance(Duration::from_secs(1)).unwrap();
    gw.advance(Duration::from_secs(2)).unwrap();
    let bodies = bodies.lock().unwrap();
    assert!(bodies.len() >= 2, "retried: {}", bodies.len());
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "same batch each time"
    );
    assert_eq!(gw.metric("analytics_events_sent_total"), Some(0));
    assert_eq!(
        gw.metric("analytics_events_total"),
        Some(3),
        "held: produced, none sent or dropped"
    );
    assert_eq!(gw.metric("analytics_events_dropped_total"), Some(0));
}

#[test]
fn the_cardinality_guard_holds_across_workers() {
    let (mut gw, _) = gateway(2, Some(200));
    for (i, c) in ["alice", "bob", "carol", "dave", "alice", "bob"]
        .iter()
        .enumerate()
    {
        gw.request(
            Request::get("/orders")
                .header("x-gateway-consumer", c)
                .on_worker(i % 2),
        )
        .respond_with(upstream_ok())
        .unwrap();
    }
    let count = |c: &str| {
        gw.metric(&format!(
            "gateway_requests_total.consumer={c}.api=orders.version=none.status_class=2xx"
        ))
    };
    assert_eq!(count("alice"), Some(2));
    assert_eq!(
        count("bob"),
        Some(2),
        "admitted by one worker, known to the other"
    );
    assert_eq!(count("carol"), None);
    assert_eq!(count("other"), Some(2), "carol and dave");
    assert_eq!(gw.metric("analytics_label_overflows_total"), Some(2));
    let (list, _) = gw.shared_data("", "analytics.labels.consumer").unwrap();
    assert_eq!(list, b"alice\nbob");
}

/// In Envoy a filter's `on_log` runs even when an earlier filter answered before the request
/// reached it (`Context::log` calls `onCreate` first), which is how auth's 401s are counted.
#[test]
fn a_local_reply_from_an_earlier_filter_is_counted() {
    let (mut gw, _) = gateway_with(1, Some(200), true);
    let out = gw
        .request(Request::get("/orders").header("x-probe", "local"))
        .respond_with(upstream_ok())
        .unwrap();
    assert_eq!(out.status(), 403);
    assert_eq!(
        gw.metric("gateway_access_total.consumer=anonymous.api=orders.auth=denied.quota=none"),
        Some(1)
    );
}

#[test]
fn identical_requests_keep_no_memory() {
    // Events buffer up to their bound (20) and go to the collector every tick; memory stays flat.
    let (mut gw, bodies) = gateway(1, Some(200));
    let name = gw.filter_names()[0].clone();
    let second = |gw: &mut Gateway| {
        for _ in 0..200 {
            let out = gw
                .request(alice("/v2/orders/1"))
                .respond_with(upstream_ok());
            assert_eq!(out.unwrap().status(), 200);
        }
        gw.advance(Duration::from_secs(1)).unwrap();
    };
    for _ in 0..3 {
        second(&mut gw);
    }
    let (before, sent) = (gw.memory_bytes(&name), bodies.lock().unwrap().len());
    for _ in 0..10 {
        second(&mut gw);
    }
    assert_eq!(
        gw.memory_bytes(&name),
        before,
        "linear memory grew over identical requests"
    );
    assert!(
        bodies.lock().unwrap().len() >= sent + 10,
        "a batch went out every second"
    );
}

#[test]
fn buffered_events_stay_within_max_buffer_bytes() {
    // No tick, so nothing is sent: events pile up to their byte bound, the oldest dropped.
    let config = r#"{
        "apis": [{"name": "orders", "path_prefixes": ["/orders"]}],
        "events": {"cluster": "collector", "max_batch_bytes": 65536,
                   "max_buffer_events": 1000000, "max_buffer_bytes": 1048576}
    }"#;
    let mut gw = Harness::new()
        .start_time(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
        .cluster("collector")
        .filter(FilterSpec::wasm(analytics()).config(config))
        .build()
        .unwrap();
    let name = gw.filter_names()[0].clone();
    let req = Request::get("/orders/1").header("x-gateway-consumer", "alice");
    let before = gw.memory_bytes(&name);
    let grew = gw
        .memory_growth(&name, &req, &upstream_ok(), 0, 6000)
        .unwrap();
    assert_eq!(before + grew, gw.memory_bytes(&name));
    let dropped = gw.metric("analytics_events_dropped_total").unwrap_or(0);
    let sent = gw.metric("analytics_events_sent_total").unwrap_or(0);
    let held = gw.metric("analytics_events_total").unwrap() - sent - dropped;
    assert!(
        dropped > 0 && held + dropped == 6000,
        "held {held}, dropped {dropped}"
    );
    // The bound, a few dozen bytes of bookkeeping per event, and the last page of 64 KiB.
    let most = 1_048_576 + 64 * held as u64 + 65_536;
    assert!(
        grew <= most,
        "memory grew {grew} bytes for {held} events, more than {most}"
    );
}
