#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The real `filter_quota.wasm` in host-test: several worker VMs sharing one shared-data map, as
//! in one Envoy process, with streams interleaved across workers.

use std::time::{Duration, UNIX_EPOCH};

use filter_quota::codec;
use filter_quota::limit::Counter;
use host_test::{build, Error, FilterSpec, Gateway, Harness, Prop, Request, Response, StreamId};

const EXAMPLE: &str = include_str!("../example.json");
/// 2026-01-01T00:00:15Z: 15 s into a minute.
const START: u64 = 1_767_225_615;
const BOB_MINUTE: &str = "quota/1/free/per-minute/fixed_window-1minute/-/c:bob";

fn gateway(config: &str, workers: usize) -> Gateway {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET)
        .expect("filter-quota builds");
    Harness::new()
        .filter(FilterSpec::wasm(&wasm).config(config))
        .workers(workers)
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
        .build()
        .expect("gateway")
}

fn as_consumer(consumer: &str, worker: usize) -> Request {
    Request::get("/v1/items")
        .header("x-gateway-consumer", consumer)
        .on_worker(worker)
}

fn stored(gw: &Gateway, key: &str) -> Counter {
    let (value, _cas) = gw.shared_data("", key).expect("counter exists");
    codec::decode(&value).expect("counter decodes")
}

fn count(gw: &Gateway, key: &str) -> u64 {
    match stored(gw, key) {
        Counter::Window { count, .. } => count,
        other => panic!("not a window counter: {other:?}"),
    }
}

#[test]
fn four_workers_admit_exactly_the_limit_with_headers() {
    let mut gw = gateway(EXAMPLE, 4);
    let mut admitted = 0;
    for n in 0..20 {
        let out = gw
            .request(as_consumer("bob", n % 4))
            .respond_with(Response::ok())
            .unwrap();
        let client = out.client_response();
        match out.status() {
            200 => {
                admitted += 1;
                assert!(out.reached_upstream(), "request {n}");
                assert_eq!(client.header("x-ratelimit-limit"), Some("5"), "request {n}");
                let left = (5 - admitted).to_string();
                assert_eq!(
                    client.header("x-ratelimit-remaining"),
                    Some(left.as_str()),
                    "request {n}"
                );
            }
            429 => {
                assert!(!out.reached_upstream(), "request {n}");
                let reply = out.local_reply().expect("local reply");
                assert_eq!(reply.details, "gateway_quota_exceeded");
                assert!(reply
                    .body_str()
                    .contains("urn:gateway:problem:quota-exceeded"));
                assert_eq!(client.header("retry-after"), Some("45"));
                assert_eq!(
                    client.header("ratelimit-policy"),
                    Some("\"per-minute\";q=5;w=60, \"per-day\";q=100;w=86400")
                );
                assert_eq!(
                    client.header("ratelimit"),
                    Some("\"per-minute\";r=0;t=45, \"per-day\";r=95;t=86385")
                );
            }
            other => panic!("request {n}: status {other}"),
        }
    }
    assert_eq!(admitted, 5, "exactly the limit across four worker VMs");
    assert_eq!(count(&gw, BOB_MINUTE), 5, "no lost update");
    assert_eq!(
        gw.metric("quota_consumer_usage.bob.free.per-minute"),
        Some(5)
    );
    assert_eq!(gw.metric("quota_refused"), Some(15));

    gw.advance(Duration::from_secs(45)).unwrap();
    let out = gw
        .request(as_consumer("bob", 3))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200, "the next minute starts fresh");
    gw.set_time(UNIX_EPOCH + Duration::from_secs(START));
    for w in 0..4 {
        gw.request(as_consumer("bob", w))
            .respond_with(Response::ok())
            .unwrap();
    }
    gw.set_time(UNIX_EPOCH + Duration::from_secs(START - 10));
    let out = gw
        .request(as_consumer("bob", 0))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(
        out.status(),
        429,
        "a clock rewind into the previous minute grants nothing"
    );
}

/// Twelve streams open at once on four workers; their request headers arrive in a scrambled
/// order and their responses in another.
#[test]
fn interleaved_streams_admit_exactly_the_limit() {
    let mut gw = gateway(EXAMPLE, 4);
    let ids: Vec<StreamId> = (0..12)
        .map(|n| gw.begin(as_consumer("bob", n % 4)))
        .collect();
    for &i in &[7, 2, 11, 0, 5, 9, 3, 10, 1, 6, 8, 4] {
        gw.stream(ids[i]).send_headers(true).unwrap();
    }
    let mut upstream = 0;
    for &i in &[4, 8, 6, 1, 10, 3, 9, 5, 0, 11, 2, 7] {
        let mut s = gw.stream(ids[i]);
        if s.local_reply().is_none() {
            upstream += 1;
            s.respond_with(Response::ok()).unwrap();
        }
        s.finish().unwrap();
    }
    assert_eq!(upstream, 5);
    assert_eq!(count(&gw, BOB_MINUTE), 5);
}

/// Post-charging from concurrent responses on different workers loses no update.
#[test]
fn post_charges_from_interleaved_responses_add_up() {
    let config = r#"{
        "plans": [{"name": "llm", "limits": [
            {"name": "calls", "limit": 100, "window": "minute"},
            {"name": "tokens", "limit": 1000, "window": "day", "charge": "response"}]}],
        "consumers": [{"id": "alice", "plan": "llm"}],
        "cost": {"response_header": "x-usage-tokens"}
    }"#;
    let mut gw = gateway(config, 4);
    let ids: Vec<StreamId> = (0..6)
        .map(|n| gw.begin(as_consumer("alice", n % 4)))
        .collect();
    for &id in &ids {
        gw.stream(id).send_headers(true).unwrap();
    }
    for &i in &[3, 0, 5, 1, 4, 2] {
        let mut s = gw.stream(ids[i]);
        assert!(
            s.local_reply().is_none(),
            "stream {i} admitted: tokens left"
        );
        s.respond_with(Response::ok().header("x-usage-tokens", "300"))
            .unwrap();
        s.finish().unwrap();
    }
    let key = "quota/1/llm/tokens/fixed_window-1day/-/c:alice";
    assert_eq!(count(&gw, key), 1_800, "six post-charges of 300");
    assert_eq!(gw.metric("quota_post_charged_units"), Some(1_800));
    let out = gw
        .request(as_consumer("alice", 2))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 429, "the overdrawn token limit refuses");
    assert!(out
        .local_reply()
        .unwrap()
        .body_str()
        .contains("\"limit\":\"tokens\""));
}

#[test]
fn a_corrupt_counter_is_a_counted_reset() {
    let mut gw = gateway(EXAMPLE, 2);
    for w in 0..2 {
        gw.request(as_consumer("bob", w))
            .respond_with(Response::ok())
            .unwrap();
    }
    gw.set_shared_data("", BOB_MINUTE, b"\xffnot a counter");
    let out = gw
        .request(as_consumer("bob", 1))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(count(&gw, BOB_MINUTE), 1, "reset, then charged");
    assert_eq!(gw.metric("quota_store_corrupt_resets"), Some(1));
}

#[test]
fn usage_report_over_all_workers() {
    let mut gw = gateway(EXAMPLE, 4);
    for w in 0..3 {
        gw.request(as_consumer("bob", w))
            .respond_with(Response::ok())
            .unwrap();
    }
    let report = |groups: &str| {
        Request::get("/_gateway/quota/usage?consumer=bob")
            .header("x-gateway-consumer", "alice")
            .header("x-gateway-groups", groups)
            .on_worker(3)
    };
    let out = gw.request(report("staff,beta")).send().unwrap();
    assert_eq!(out.status(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&out.local_reply().unwrap().body_str()).unwrap();
    assert_eq!(body["consumers"][0]["usage"][0]["used"], 3);
    let out = gw.request(report("partners")).send().unwrap();
    assert_eq!(out.status(), 403);
}

#[test]
fn invalid_configuration_is_rejected() {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    for config in [
        r#"{"plans":[]}"#,
        "{",
        r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":"minute"}]}],"x":1}"#,
    ] {
        let err = Harness::new()
            .filter(FilterSpec::wasm(&wasm).config(config))
            .build()
            .err();
        assert!(
            matches!(err, Some(Error::Rejected { .. })),
            "{config}: {err:?}"
        );
    }
}

/// Anonymous clients keyed by address: each address gets its own limit across the workers.
#[test]
fn client_addresses_are_limited_separately_across_workers() {
    let config = r#"{
        "plans": [{"name": "anon", "limits": [{"name": "per-minute", "limit": 3, "window": "minute"}]}],
        "default_plan": "anon",
        "key": {"source": "client_address", "buckets": 1024}
    }"#;
    let mut gw = gateway(config, 4);
    let mut admitted = [0, 0];
    for n in 0..16 {
        let client = n % 2;
        let address = ["203.0.113.7:40000", "[2001:db8::1]:443"][client];
        let req = Request::get("/v1/items")
            .property("source.address", Prop::Str(address.into()))
            .on_worker(n % 4);
        let out = gw.request(req).respond_with(Response::ok()).unwrap();
        admitted[client] += usize::from(out.status() == 200);
    }
    assert_eq!(admitted, [3, 3], "each address exactly its limit");
}

#[test]
fn identical_requests_keep_no_memory() {
    let mut gw = gateway(EXAMPLE, 1);
    let name = gw.filter_names()[0].clone();
    // Admitted at first, then refused with a problem body: both paths run.
    let grew = gw.memory_growth(&name, &as_consumer("alice", 0), &Response::ok(), 100, 2000);
    assert_eq!(
        grew.unwrap(),
        0,
        "linear memory grew over identical requests"
    );
    let out = gw
        .request(as_consumer("alice", 0))
        .respond_with(Response::ok());
    assert_eq!(out.unwrap().status(), 429);
}
