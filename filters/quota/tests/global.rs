#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The global store in host-test: the real `filter_quota.wasm` calling a scripted rate limit
//! service (Envoy's RLS v3 over gRPC, or its JSON form over HTTP) that counts as the
//! quota-service does (check every limit, then charge every limit), on virtual time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use filter_quota::rls::{
    self, Code, DescriptorStatus, RateLimit, RateLimitRequest, RateLimitResponse,
};
use host_test::{
    build, CallKind, CallRecord, CallReply, FilterSpec, Gateway, Harness, Request, Response,
};
use prost::Message;

/// 2026-01-01T00:00:15Z: 15 s into a minute.
const START: u64 = 1_767_225_615;
const CLUSTER: &str = "ratelimit";

fn config(global: &str) -> String {
    format!(
        r#"{{
  "plans": [{{ "name": "free", "limits": [
    {{ "name": "per-minute", "limit": 10, "window": "minute" }},
    {{ "name": "per-day", "limit": 1000, "window": "day" }}
  ] }}],
  "default_plan": "free",
  "headers": {{ "on_success": true }},
  "store": {{ "global": {global} }}
}}"#
    )
}

/// The scripted service: limits by (plan, limit name); counts by every descriptor entry.
#[derive(Default)]
struct Service {
    limits: HashMap<(String, String), u64>,
    counts: HashMap<Vec<(String, String)>, u64>,
    /// `hits_addend` of every check, in order.
    hits: Vec<u32>,
    /// The host's monotonic clock at the first check, taken as `START`.
    first_ns: Option<u64>,
}

impl Service {
    fn new() -> Arc<Mutex<Self>> {
        let mut s = Self::default();
        s.limits.insert(("free".into(), "per-minute".into()), 10);
        s.limits.insert(("free".into(), "per-day".into()), 1000);
        Arc::new(Mutex::new(s))
    }

    fn check(&mut self, req: &RateLimitRequest, now_ns: u64) -> RateLimitResponse {
        self.hits.push(req.hits_addend);
        let hits = u64::from(req.hits_addend.max(1));
        let mut keyed = Vec::new();
        for d in &req.descriptors {
            let entries: Vec<(String, String)> = d
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            let get = |k: &str| entries.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let limit = self.limits[&(
                get(rls::entry::PLAN).unwrap(),
                get(rls::entry::LIMIT).unwrap(),
            )];
            let count = self.counts.get(&entries).copied().unwrap_or(0);
            keyed.push((entries, limit, count));
        }
        let over: Vec<bool> = keyed.iter().map(|(_, l, c)| c + hits > *l).collect();
        let admitted = !over.contains(&true);
        if admitted {
            for (entries, _, _) in &keyed {
                *self.counts.entry(entries.clone()).or_default() += hits;
            }
        }
        // The window's end at the service's clock: whole minutes and days since the epoch.
        let first = *self.first_ns.get_or_insert(now_ns);
        let secs = START + (now_ns - first) / 1_000_000_000;
        let statuses = keyed
            .iter()
            .zip(&over)
            .map(|((entries, limit, count), over)| {
                let name = entries
                    .iter()
                    .find(|(k, _)| k == rls::entry::LIMIT)
                    .unwrap()
                    .1
                    .clone();
                let period = if name == "per-minute" { 60 } else { 86_400 };
                let after = if admitted { count + hits } else { *count };
                DescriptorStatus {
                    code: if *over { Code::OverLimit } else { Code::Ok } as i32,
                    current_limit: Some(RateLimit {
                        requests_per_unit: *limit as u32,
                        unit: if period == 60 { 2 } else { 4 },
                        name,
                    }),
                    limit_remaining: limit.saturating_sub(after) as u32,
                    duration_until_reset: Some(rls::Duration {
                        seconds: (period - secs % period) as i64,
                        nanos: 0,
                    }),
                }
            })
            .collect();
        RateLimitResponse {
            overall_code: if admitted { Code::Ok } else { Code::OverLimit } as i32,
            statuses,
        }
    }
}

fn gateway_with(global: &str, workers: usize, service: Option<Arc<Mutex<Service>>>) -> Gateway {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET)
        .expect("filter-quota builds");
    let start = UNIX_EPOCH + Duration::from_secs(START);
    let h = Harness::new()
        .filter(FilterSpec::wasm(&wasm).config(config(global)))
        .workers(workers)
        .start_time(start);
    let h = match service {
        Some(s) => h.responder(CLUSTER, move |call: &CallRecord| Some(answer(&s, call))),
        None => h.cluster(CLUSTER),
    };
    h.build().expect("gateway")
}

fn answer(service: &Arc<Mutex<Service>>, call: &CallRecord) -> CallReply {
    let now_ns = call.at_ns;
    match call.kind {
        CallKind::GrpcCall => {
            assert_eq!(call.service, rls::SERVICE);
            assert_eq!(call.method, rls::METHOD);
            let req = RateLimitRequest::decode(call.body.as_slice()).expect("a RateLimitRequest");
            let resp = service.lock().unwrap().check(&req, now_ns);
            CallReply::grpc(resp.encode_to_vec())
        }
        _ => {
            assert_eq!(call.header(":method"), Some("POST"));
            assert_eq!(call.header(":path"), Some("/v1/check"));
            let req = json_request(&call.body);
            let resp = service.lock().unwrap().check(&req, now_ns);
            CallReply::ok(json_response(&resp)).header("content-type", "application/json")
        }
    }
}

fn json_request(body: &[u8]) -> RateLimitRequest {
    let v: serde_json::Value = serde_json::from_slice(body).expect("JSON request");
    RateLimitRequest {
        domain: v["domain"].as_str().unwrap().to_owned(),
        hits_addend: v["hitsAddend"].as_u64().unwrap() as u32,
        descriptors: v["descriptors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| rls::RateLimitDescriptor {
                entries: d["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| rls::Entry {
                        key: e["key"].as_str().unwrap().to_owned(),
                        value: e["value"].as_str().unwrap().to_owned(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn json_response(r: &RateLimitResponse) -> Vec<u8> {
    let code = |c: i32| {
        if c == Code::Ok as i32 {
            "OK"
        } else {
            "OVER_LIMIT"
        }
    };
    let statuses: Vec<serde_json::Value> = r
        .statuses
        .iter()
        .map(|s| {
            serde_json::json!({
                "code": code(s.code),
                "limitRemaining": s.limit_remaining,
                "durationUntilReset": format!("{}.000s", s.duration_until_reset.unwrap().seconds),
            })
        })
        .collect();
    serde_json::to_vec(
        &serde_json::json!({ "overallCode": code(r.overall_code), "statuses": statuses }),
    )
    .unwrap()
}

fn alice(worker: usize) -> Request {
    Request::get("/v1/items")
        .header("x-gateway-consumer", "alice")
        .on_worker(worker)
}

/// Sends `n` requests spread over the workers; the statuses in order.
fn send(gw: &mut Gateway, n: usize) -> Vec<u16> {
    let workers = gw.workers();
    (0..n)
        .map(|i| {
            gw.request(alice(i % workers))
                .respond_with(Response::ok())
                .unwrap()
                .status()
        })
        .collect()
}

fn admitted(statuses: &[u16]) -> usize {
    statuses.iter().filter(|s| **s == 200).count()
}

#[test]
fn exact_mode_admits_exactly_the_limit_and_refuses_with_the_services_numbers() {
    let service = Service::new();
    let mut gw = gateway_with(r#"{"cluster": "ratelimit"}"#, 2, Some(service.clone()));
    let statuses = send(&mut gw, 14);
    assert_eq!(admitted(&statuses), 10, "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 4]);
    assert_eq!(
        service.lock().unwrap().hits,
        vec![1; 14],
        "one check per request, hits = cost"
    );
    assert_eq!(gw.metric("quota_global_calls"), Some(14));
    assert_eq!(gw.metric("quota_admitted"), Some(10));
    assert_eq!(gw.metric("quota_refused"), Some(4));

    let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 429);
    assert!(!out.reached_upstream());
    let client = out.client_response();
    // 15 s into the minute: the service said 45 s until the reset.
    assert_eq!(client.header("retry-after"), Some("45"));
    assert_eq!(client.header("x-ratelimit-limit"), Some("10"));
    assert_eq!(client.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        client.header("ratelimit-policy"),
        Some("\"per-minute\";q=10;w=60, \"per-day\";q=1000;w=86400")
    );
    let reply = out.local_reply().unwrap();
    assert!(reply
        .body_str()
        .contains("urn:gateway:problem:quota-exceeded"));
    assert!(reply.body_str().contains("per-minute"));

    // The descriptors: one per limit, in plan order, with the filter's window ids.
    let call = gw.calls().last().cloned().unwrap();
    let req = RateLimitRequest::decode(call.body.as_slice()).unwrap();
    assert_eq!(req.domain, "gateway");
    assert_eq!(call.timeout_ms, 50);
    let entries: Vec<Vec<(String, String)>> = req
        .descriptors
        .iter()
        .map(|d| {
            d.entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect()
        })
        .collect();
    let minute = (START / 60).to_string();
    let day = (START / 86_400).to_string();
    let expect = |limit: &str, window: &str| -> Vec<(String, String)> {
        [
            ("quota_plan", "free"),
            ("quota_limit", limit),
            ("quota_window", window),
            ("quota_key", "c:alice"),
            ("quota_scope", "-"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };
    assert_eq!(
        entries,
        vec![expect("per-minute", &minute), expect("per-day", &day)]
    );
}

#[test]
fn a_request_waits_for_the_answer_and_admitted_ones_carry_the_fields() {
    let mut gw = gateway_with(r#"{"cluster": "ratelimit"}"#, 1, None);
    let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert!(!out.finished, "paused on the check");
    assert!(!out.reached_upstream());
    let call = gw.pending_calls()[0].clone();
    assert_eq!(call.kind, CallKind::GrpcCall);
    let service = Service::new();
    let reply = answer(&service, &call);
    gw.reply_call(call.id, reply).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.reached_upstream());
    assert_eq!(
        out.client_response().header("x-ratelimit-remaining"),
        Some("9")
    );
}

#[test]
fn leased_mode_reserves_blocks_and_checks_the_tail_one_by_one() {
    let service = Service::new();
    let mut gw = gateway_with(
        r#"{"cluster": "ratelimit", "mode": "leased", "block": 4}"#,
        2,
        Some(service.clone()),
    );
    let statuses = send(&mut gw, 13);
    assert_eq!(
        admitted(&statuses),
        10,
        "never more than the limit: {statuses:?}"
    );
    assert_eq!(&statuses[10..], &[429; 3]);
    // A block for the first request; the third leaves the lease under half a block and reserves
    // the next one ahead (6 left before it, 2 after: the tail); then the tail one by one.
    assert_eq!(service.lock().unwrap().hits, vec![4, 4, 1, 1, 1, 1, 1]);
    assert_eq!(gw.metric("quota_global_refills"), Some(2));
    assert_eq!(gw.metric("quota_global_lease_admitted"), Some(7));

    // The next minute: the lease expired with its window; a new block is reserved.
    gw.advance(Duration::from_secs(60)).unwrap();
    let statuses = send(&mut gw, 5);
    assert_eq!(statuses, vec![200; 5]);
    assert_eq!(&service.lock().unwrap().hits[7..], &[4, 4]);
}

#[test]
fn blocks_are_reserved_ahead_so_requests_rarely_wait() {
    let service = Service::new();
    let mut gw = gateway_with(
        r#"{"cluster": "ratelimit", "mode": "leased", "block": 2}"#,
        1,
        Some(service.clone()),
    );
    let statuses = send(&mut gw, 11);
    assert_eq!(statuses, [vec![200; 10], vec![429]].concat());
    // One block reserved for need, four ahead of need (each by a request already admitted),
    // then the tail's one check that refuses.
    assert_eq!(service.lock().unwrap().hits, vec![2, 2, 2, 2, 2, 1]);
    assert_eq!(gw.metric("quota_global_lease_admitted"), Some(9));
}

#[test]
fn a_failed_refill_ahead_leaves_the_admitted_request_admitted() {
    let service = Service::new();
    let calls = Arc::new(Mutex::new(0));
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    let config =
        config(r#"{"cluster": "ratelimit", "mode": "leased", "block": 2, "on_error": "deny"}"#);
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(&wasm).config(config))
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
        .responder(CLUSTER, move |call: &CallRecord| {
            let mut n = calls.lock().unwrap();
            *n += 1;
            Some(if *n == 1 {
                answer(&service, call)
            } else {
                CallReply::grpc_error(14, "unavailable")
            })
        })
        .build()
        .unwrap();
    // The first reserves a block; the second is admitted from it and reserves the next ahead,
    // which fails: still admitted. The third finds the lease empty and follows on_error.
    assert_eq!(send(&mut gw, 3), vec![200, 200, 503]);
    assert_eq!(gw.metric("quota_global_failures"), Some(2));
    assert_eq!(gw.metric("quota_global_failure_denied"), Some(1));
}

#[test]
fn a_refused_refill_falls_back_to_checking_the_request_alone() {
    let service = Service::new();
    // Another instance, counting exactly, takes 8 of the 10 units.
    let mut other = gateway_with(r#"{"cluster": "ratelimit"}"#, 1, Some(service.clone()));
    assert_eq!(send(&mut other, 8), vec![200; 8]);
    let mut gw = gateway_with(
        r#"{"cluster": "ratelimit", "mode": "leased", "block": 4}"#,
        1,
        Some(service.clone()),
    );
    // No lease yet: a block of 4 is refused (2 left), then the request alone is admitted.
    assert_eq!(send(&mut gw, 1), vec![200]);
    assert_eq!(&service.lock().unwrap().hits[8..], &[4, 1]);
    // The tail: one by one until the limit.
    assert_eq!(send(&mut gw, 2), vec![200, 429]);
    assert_eq!(&service.lock().unwrap().hits[8..], &[4, 1, 1, 1]);
}

fn failing(global: &str, reply: Option<CallReply>) -> (Gateway, Vec<u16>) {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    let h = Harness::new()
        .filter(FilterSpec::wasm(&wasm).config(config(global)))
        .start_time(UNIX_EPOCH + Duration::from_secs(START));
    let h = match reply {
        Some(r) => h.responder(CLUSTER, move |_| Some(r.clone())),
        None => h.cluster(CLUSTER),
    };
    let mut gw = h.build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
        let out = if out.finished {
            out
        } else {
            // No answer: virtual time passes the timeout, and the client gets its answer then.
            gw.advance(Duration::from_millis(49)).unwrap();
            assert!(
                !gw.outcome(host_test::StreamId(out.stream))
                    .unwrap()
                    .finished,
                "waits up to the timeout"
            );
            gw.advance(Duration::from_millis(1)).unwrap();
            gw.outcome(host_test::StreamId(out.stream)).unwrap()
        };
        assert!(out.finished);
        statuses.push(out.status());
    }
    (gw, statuses)
}

#[test]
fn every_failure_follows_on_error() {
    let unavailable = Some(CallReply::grpc_error(14, "no healthy upstream"));
    let garbage = Some(CallReply::grpc(vec![0xff, 0xff, 0xff]));
    for (name, reply) in [
        ("unavailable", unavailable),
        ("garbage", garbage),
        ("timeout", None),
    ] {
        let (gw, statuses) = failing(
            r#"{"cluster": "ratelimit", "on_error": "deny"}"#,
            reply.clone(),
        );
        assert_eq!(statuses, vec![503; 8], "{name}");
        assert_eq!(gw.metric("quota_global_failure_denied"), Some(8), "{name}");
        let (gw, statuses) = failing(r#"{"cluster": "ratelimit"}"#, reply.clone());
        assert_eq!(statuses, vec![200; 8], "{name}: allow is the default");
        assert_eq!(gw.metric("quota_global_failure_allowed"), Some(8), "{name}");
        let (gw, statuses) = failing(
            r#"{"cluster": "ratelimit", "on_error": "local", "instances": 2}"#,
            reply,
        );
        assert_eq!(
            statuses,
            [vec![200; 5], vec![429; 3]].concat(),
            "{name}: 10 / 2 instances"
        );
        assert_eq!(gw.metric("quota_global_failure_local"), Some(8), "{name}");
        assert_eq!(gw.metric("quota_global_failures"), Some(8), "{name}");
    }
}

#[test]
fn the_503_is_a_problem_and_an_unknown_cluster_fails_without_waiting() {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    let mut gw = Harness::new()
        .filter(
            FilterSpec::wasm(&wasm).config(config(r#"{"cluster": "nowhere", "on_error": "deny"}"#)),
        )
        .build()
        .unwrap();
    let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert!(out.finished);
    assert_eq!(out.status(), 503);
    let reply = out.local_reply().unwrap();
    assert!(reply
        .body_str()
        .contains("urn:gateway:problem:quota-unavailable"));
    assert_eq!(
        out.client_response().header("content-type"),
        Some("application/problem+json")
    );
    assert!(gw.calls().is_empty());
}

#[test]
fn calls_in_flight_are_bounded_per_worker_and_released_when_a_client_goes() {
    let mut gw = gateway_with(
        r#"{"cluster": "ratelimit", "max_pending": 2, "on_error": "deny"}"#,
        1,
        None,
    );
    let a = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    let b = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert!(!a.finished && !b.finished);
    let c = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert_eq!(c.status(), 503, "a third call would exceed max_pending");
    assert_eq!(gw.metric("quota_global_overloaded"), Some(1));
    assert_eq!(gw.pending_calls().len(), 2);
    // The first client goes away: its slot is released, so a new request is checked.
    gw.stream(host_test::StreamId(a.stream)).finish().unwrap();
    let d = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert!(!d.finished, "checked, not refused");
    assert_eq!(gw.pending_calls().len(), 3);
}

#[test]
fn the_http_check_counts_the_same() {
    let service = Service::new();
    let mut gw = gateway_with(
        r#"{"cluster": "ratelimit", "protocol": "http"}"#,
        2,
        Some(service.clone()),
    );
    let statuses = send(&mut gw, 12);
    assert_eq!(admitted(&statuses), 10);
    assert!(gw.calls().iter().all(|c| c.kind == CallKind::Http));
    let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 429);
    assert_eq!(out.client_response().header("retry-after"), Some("45"));
    // An HTTP error is a failure (allow by default).
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(&wasm).config(config(
            r#"{"cluster": "ratelimit", "protocol": "http", "on_error": "deny"}"#,
        )))
        .responder(CLUSTER, |_| Some(CallReply::status(500)))
        .build()
        .unwrap();
    let out = gw.request(alice(0)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 503);
}

#[test]
fn configuration_errors_name_the_field() {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET).unwrap();
    let sliding = config(r#"{"cluster": "r"}"#).replace(
        r#""window": "day" }"#,
        r#""window": "day", "algorithm": "sliding_window" }"#,
    );
    let cases = [
        (config(r#"{"protocol": "grpc"}"#), "missing field `cluster`"),
        (
            config(r#"{"cluster": "r", "block": 5}"#),
            "store.global.block",
        ),
        (
            config(r#"{"cluster": "r", "mode": "leased", "block": 0}"#),
            "store.global.block",
        ),
        (
            config(r#"{"cluster": "r", "timeout_ms": 0}"#),
            "store.global.timeout_ms",
        ),
        (
            config(r#"{"cluster": "r", "path": "/x"}"#),
            "store.global.path",
        ),
        (
            config(r#"{"cluster": "r", "on_error": "maybe"}"#),
            "store.global.on_error",
        ),
        (config(r#"{"cluster": "r", "colour": 1}"#), "store.global"),
        (sliding, "plans[0].limits[1].algorithm"),
    ];
    for (doc, field) in cases {
        let err = filter_quota::config::parse(doc.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
        // The module refuses it too, logging the same line.
        let refused = Harness::new()
            .filter(FilterSpec::wasm(&wasm).config(doc))
            .build()
            .is_err();
        assert!(refused, "{field}: the module accepted it");
    }
}
