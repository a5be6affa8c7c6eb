#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Upstream protection in the real `filter_quota.wasm`, in host-test: several worker VMs sharing
//! one shared-data map, streams interleaved across workers, and every kind of stream end (a
//! response, a later filter's local reply, a client reset, a reset during the response, an
//! upstream failure or timeout answered 503/504). After each, the in-flight count, in shared
//! data and in the summed gauge, is exactly the number of streams still open.

use std::time::{Duration, UNIX_EPOCH};

use filter_quota::codec;
use filter_quota::limit::Counter;
use filter_quota::protect::machine::{decode, Phase, State};
use host_test::{build, FilterSpec, Gateway, Harness, Request, Response, StreamId};

/// 2026-01-01T00:00:15Z.
const START: u64 = 1_767_225_615;
const KEY: &str = "protect/1/catalog/-/-";
const BOB_MINUTE: &str = "quota/1/free/per-minute/fixed_window-1minute/-/c:bob";

fn config(max_in_flight: u32, consecutive: u32) -> String {
    format!(
        r#"{{
        "plans": [
            {{"name": "free", "limits": [{{"name": "per-minute", "limit": 1000, "window": "minute"}}]}}
        ],
        "consumers": [{{"id": "bob", "plan": "free"}}],
        "routes": [{{"name": "v1", "path_prefix": "/v1", "api": "catalog", "version": "v1"}}],
        "protect": {{"apis": [{{"api": "catalog", "max_in_flight": {max_in_flight},
            "breaker": {{"consecutive_failures": {consecutive}, "cool_down_seconds": 10,
                         "half_open_probes": 1, "close_after": 2}}}}]}}
    }}"#
    )
}

/// quota with protection, then a second filter (quota again, in its own VM) that answers 403
/// locally to requests without `x-pass`: "a later filter's local reply".
fn gateway(config: &str, workers: usize) -> Gateway {
    let wasm = build::cargo_wasm_target("filter-quota", filter_core::WASM_TARGET)
        .expect("filter-quota builds");
    let later = r#"{"plans": [{"name": "p", "limits": [{"name": "l", "limit": 1000000, "window": "second"}]}],
        "default_plan": "p", "key": {"source": "header", "header": "x-pass"},
        "unidentified": "reject"}"#;
    Harness::new()
        .filter(FilterSpec::wasm(&wasm).name("quota").config(config))
        .filter(
            FilterSpec::wasm(&wasm)
                .name("later")
                .vm_id("later")
                .config(later),
        )
        .workers(workers)
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
        .build()
        .expect("gateway")
}

fn req(worker: usize) -> Request {
    Request::get("/v1/items")
        .header("x-gateway-consumer", "bob")
        .header("x-pass", "1")
        .on_worker(worker)
}

fn state(gw: &Gateway) -> State {
    let (v, _) = gw.shared_data("", KEY).expect("state exists");
    decode(&v).expect("state decodes")
}

fn in_flight(gw: &Gateway) -> u32 {
    let s = state(gw).in_flight;
    let gauge = gw.metric("protect_in_flight.catalog").unwrap_or(0);
    assert_eq!(i64::from(s), gauge, "shared count and summed gauge agree");
    s
}

fn charged(gw: &Gateway) -> u64 {
    let Some((v, _)) = gw.shared_data("", BOB_MINUTE) else {
        return 0;
    };
    match codec::decode(&v).expect("counter") {
        Counter::Window { count, .. } => count,
        other => panic!("{other:?}"),
    }
}

#[derive(Debug, Clone, Copy)]
enum End {
    Ok,
    Later,
    ClientReset,
    ResetInResponse,
    UpstreamReset,
    Timeout,
}

/// Ends an open stream (its headers sent) the way `end` says.
fn end(gw: &mut Gateway, id: StreamId, end: End) {
    let mut s = gw.stream(id);
    if s.local_reply().is_some() {
        s.finish().ok();
        return;
    }
    match end {
        End::Ok => {
            s.respond_with(Response::ok()).unwrap();
        }
        End::Later | End::ClientReset => {}
        End::ResetInResponse => {
            s.respond_headers(&Response::ok(), false).unwrap();
        }
        End::UpstreamReset => {
            // What a host without `response.code_details` sees of Envoy's router answering an
            // upstream reset.
            s.respond_with(Response::status(503)).unwrap();
        }
        End::Timeout => {
            s.gateway().advance(Duration::from_secs(15)).unwrap();
            let mut s = gw.stream(id);
            s.respond_with(Response::status(504)).unwrap();
            s.finish().ok();
            return;
        }
    }
    let _ = gw.stream(id).finish();
}

#[test]
fn every_kind_of_stream_end_gives_the_slot_back() {
    let mut gw = gateway(&config(100, 1_000), 4);
    let ends = [
        End::Ok,
        End::Later,
        End::ClientReset,
        End::ResetInResponse,
        End::UpstreamReset,
        End::Timeout,
    ];
    for (n, &e) in ends.iter().enumerate() {
        let r = match e {
            End::Later => req(n % 4).without_header("x-pass"),
            _ => req(n % 4),
        };
        let id = gw.begin(r);
        gw.stream(id).send_headers(true).unwrap();
        if let End::Later = e {
            let reply = gw
                .stream(id)
                .local_reply()
                .expect("the later filter answers");
            assert_eq!((reply.filter.as_str(), reply.status), ("later", 403));
        } else {
            assert_eq!(in_flight(&gw), 1, "{e:?}: admitted");
        }
        end(&mut gw, id, e);
        assert_eq!(in_flight(&gw), 0, "{e:?}: released");
    }
    assert_eq!(gw.metric("protect_admitted"), Some(6));
    assert_eq!(
        gw.metric("protect_successes"),
        Some(2),
        "200, and 200 reset during the body"
    );
    assert_eq!(gw.metric("protect_failures"), Some(2), "503 and 504");
    assert_eq!(
        gw.metric("protect_neutral"),
        Some(2),
        "the later filter's reply and the client reset"
    );
}

/// Twenty-four streams on four workers, opened in one scrambled order and ended in another,
/// each end kind in turn; the in-flight count is the number still open after every step.
#[test]
fn interleaved_streams_on_four_workers_never_leak() {
    let mut gw = gateway(&config(1_000, 1_000), 4);
    let kinds = [
        End::Ok,
        End::ClientReset,
        End::UpstreamReset,
        End::ResetInResponse,
        End::Timeout,
        End::Later,
    ];
    let ids: Vec<StreamId> = (0..24)
        .map(|n| {
            let r = match kinds[n % kinds.len()] {
                End::Later => req(n % 4).without_header("x-pass"),
                _ => req(n % 4),
            };
            gw.begin(r)
        })
        .collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut order: Vec<usize> = (0..24).collect();
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    // Every stream is admitted (quota runs first) and holds its slot until it ends, a stream
    // the later filter answered included.
    let mut open = 0;
    for &i in &order {
        gw.stream(ids[i]).send_headers(true).unwrap();
        open += 1;
        assert_eq!(in_flight(&gw), open);
    }
    for &i in order.iter().rev() {
        end(&mut gw, ids[i], kinds[i % kinds.len()]);
        open -= 1;
        assert_eq!(in_flight(&gw), open, "after ending stream {i}");
    }
    assert_eq!(in_flight(&gw), 0);
}

#[test]
fn the_concurrency_limit_sheds_without_charging() {
    let mut gw = gateway(&config(3, 1_000), 4);
    let ids: Vec<StreamId> = (0..3).map(|n| gw.begin(req(n))).collect();
    for &id in &ids {
        gw.stream(id).send_headers(true).unwrap();
    }
    assert_eq!(charged(&gw), 3);
    for w in 0..4 {
        let out = gw.request(req(w)).respond_with(Response::ok()).unwrap();
        assert_eq!(out.status(), 503);
        assert!(!out.reached_upstream());
        let reply = out.local_reply().unwrap();
        assert_eq!(reply.details, "gateway_upstream_unavailable");
        assert!(reply
            .body_str()
            .contains("urn:gateway:problem:upstream-unavailable"));
        assert!(reply
            .body_str()
            .contains("\"reason\":\"concurrency_limit\""));
        assert_eq!(out.client_response().header("retry-after"), Some("1"));
    }
    assert_eq!(charged(&gw), 3, "shed requests are not charged");
    assert_eq!(gw.metric("protect_shed_concurrency"), Some(4));
    assert_eq!(gw.metric("protect_shed.catalog"), Some(4));
    end(&mut gw, ids[1], End::ClientReset);
    let out = gw.request(req(3)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 200, "a slot came back");
    for &i in &[0, 2] {
        end(&mut gw, ids[i], End::Ok);
    }
    assert_eq!(in_flight(&gw), 0);
}

#[test]
fn the_breaker_opens_sheds_probes_and_closes() {
    let mut gw = gateway(&config(100, 3), 4);
    for w in 0..3 {
        let out = gw
            .request(req(w))
            .respond_with(Response::status(503))
            .unwrap();
        assert!(out.reached_upstream());
    }
    assert!(matches!(state(&gw).phase, Phase::Open { .. }));
    assert_eq!(gw.metric("protect_opened"), Some(1));
    assert_eq!(gw.metric("protect_open.catalog"), Some(1));
    let before = charged(&gw);
    for w in 0..4 {
        let out = gw.request(req(w)).respond_with(Response::ok()).unwrap();
        assert_eq!(out.status(), 503, "open: shed on every worker");
        assert!(!out.reached_upstream(), "the upstream is not touched");
        assert_eq!(out.client_response().header("retry-after"), Some("10"));
        assert!(out
            .local_reply()
            .unwrap()
            .body_str()
            .contains("circuit_open"));
    }
    assert_eq!(charged(&gw), before, "not charged");
    gw.advance(Duration::from_secs(10)).unwrap();
    // Half-open: one probe at a time.
    let probe = gw.begin(req(1));
    gw.stream(probe).send_headers(true).unwrap();
    assert!(
        gw.stream(probe).local_reply().is_none(),
        "the probe goes through"
    );
    assert_eq!(gw.metric("protect_half_opened"), Some(1));
    let out = gw.request(req(2)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 503, "a second probe waits");
    assert!(out
        .local_reply()
        .unwrap()
        .body_str()
        .contains("circuit_half_open"));
    end(&mut gw, probe, End::Ok);
    let out = gw.request(req(3)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 200, "the second successful probe closes it");
    assert_eq!(state(&gw).phase, Phase::Closed);
    assert_eq!(gw.metric("protect_closed"), Some(1));
    assert_eq!(gw.metric("protect_open.catalog"), Some(0));
    assert_eq!(in_flight(&gw), 0);
}

#[test]
fn a_failed_probe_reopens() {
    let mut gw = gateway(&config(100, 1), 2);
    gw.request(req(0))
        .respond_with(Response::status(502))
        .unwrap();
    gw.advance(Duration::from_secs(10)).unwrap();
    let out = gw
        .request(req(1))
        .respond_with(Response::status(504))
        .unwrap();
    assert!(out.reached_upstream(), "the probe");
    assert_eq!(gw.metric("protect_reopened"), Some(1));
    let out = gw.request(req(0)).respond_with(Response::ok()).unwrap();
    assert_eq!(out.status(), 503);
    assert_eq!(in_flight(&gw), 0);
}
