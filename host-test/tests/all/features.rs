//! Shared data across workers, metrics, properties, virtual time, failure policies, foreign
//! functions, queues, and the wasm32-unknown-unknown build of the probe.

use crate::guests::{probe, probe_unknown};
use host_test::{CallReply, FailurePolicy, FilterSpec, Harness, LogLevel, Prop, Request, Response};
use std::time::Duration;

#[test]
fn shared_data_is_shared_by_workers() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .workers(2)
        .build()
        .unwrap();
    for (i, w) in [0, 1, 0].into_iter().enumerate() {
        let out = gw
            .request(Request::get("/").header("x-probe", "shared").on_worker(w))
            .respond_with(Response::ok())
            .unwrap();
        let want = (i + 1).to_string();
        assert_eq!(
            out.upstream_request().header("x-count"),
            Some(want.as_str())
        );
    }
    let (v, cas) = gw.shared_data("", "count").unwrap();
    assert_eq!(v, b"3");
    assert!(cas > 0);
}

#[test]
fn linear_memory_shows_what_a_filter_keeps() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("p"))
        .build()
        .unwrap();
    // A Rust module starts with 17 pages of 64 KiB (1 MiB of stack and its data).
    assert!(gw.memory_bytes("p") >= 17 * 65536);
    assert_eq!(gw.memory_bytes("missing"), 0);
    let steady = Request::get("/").header("x-probe", "add");
    let grew = gw.memory_growth("p", &steady, &Response::ok(), 20, 200);
    assert_eq!(grew.unwrap(), 0, "identical requests keep nothing");
    let before = gw.memory_bytes("p");
    let leak = Request::get("/").header("x-probe", "leak");
    let grew = gw
        .memory_growth("p", &leak, &Response::ok(), 0, 32)
        .unwrap();
    assert_eq!(gw.memory_bytes("p"), before + grew);
    assert!(
        grew >= 32 * 64 * 1024 - 256 * 1024,
        "32 x 64 KiB kept, memory grew {grew}"
    );
}

#[test]
fn metrics_are_readable_by_name() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    for _ in 0..3 {
        gw.request(Request::get("/").header("x-probe", "metric"))
            .respond_with(Response::ok())
            .unwrap();
    }
    assert_eq!(gw.metric("probe_requests"), Some(3));
    assert_eq!(gw.metric("missing"), None);
}

#[test]
fn properties_and_filter_state_cross_the_chain() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("a").config("name=a"))
        .filter(FilterSpec::wasm(probe()).name("b").config("name=b"))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/p?q=1").header("x-probe", "property"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.upstream_request().header("x-path"), Some("/p?q=1"));
    assert_eq!(
        out.upstream_request().header("x-prev"),
        Some("a"),
        "b reads a's filter state"
    );
    assert_eq!(out.upstream_request().header("x-order"), Some("a,b"));
    assert_eq!(out.client_response().header("x-resp-order"), Some("b,a"));
}

#[test]
fn prop_encodings() {
    assert_eq!(Prop::Int(5).encode(), 5i64.to_le_bytes());
    assert_eq!(Prop::Bool(true).encode(), [1]);
    assert_eq!(Prop::str("x").encode(), b"x");
}

#[test]
fn ticks_fire_from_virtual_time() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("tick=1000"))
        .workers(2)
        .build()
        .unwrap();
    gw.advance(Duration::from_millis(999)).unwrap();
    assert_eq!(gw.metric("probe_ticks"), None);
    gw.advance(Duration::from_millis(2001)).unwrap();
    // Three ticks on each of two workers and on Envoy's main thread.
    assert_eq!(gw.metric("probe_ticks"), Some(9));
}

#[test]
fn callout_timeout_fires_from_virtual_time() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .cluster("authz")
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    gw.advance(Duration::from_secs(5)).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(
        out.status(),
        401,
        "Envoy's async client turns a timeout into a 504 reply"
    );
    assert_eq!(
        out.client_response().header("x-upstream-status"),
        Some("504")
    );
}

#[test]
fn panic_is_reported_and_fail_closed_gives_503() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "panic"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503);
    assert_eq!(out.local_reply().unwrap().details, "wasm_fail_stream");
    let msg = gw.vm_failure("sdk_probe", 0).unwrap();
    assert!(msg.contains("probe panic in probe"), "{msg}");
    assert!(gw.logs_at(LogLevel::Critical)[0].contains("probe panic"));
    let out = gw
        .request(Request::get("/"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503, "the failed VM keeps failing closed");
}

#[test]
fn fail_open_skips_and_fail_reload_recreates() {
    let spec = FilterSpec::wasm(probe()).failure_policy(FailurePolicy::FailOpen);
    let mut gw = Harness::new().filter(spec).build().unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "panic"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    assert!(out.reached_upstream());

    let spec = FilterSpec::wasm(probe()).failure_policy(FailurePolicy::FailReload);
    let mut gw = Harness::new().filter(spec).build().unwrap();
    let req = || Request::get("/").header("x-probe", "metric");
    gw.request(Request::get("/").header("x-probe", "panic"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(
        gw.request(req())
            .respond_with(Response::ok())
            .unwrap()
            .status(),
        503
    );
    gw.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(
        gw.request(req())
            .respond_with(Response::ok())
            .unwrap()
            .status(),
        200
    );
    assert!(gw.vm_failure("sdk_probe", 0).is_none());
}

#[test]
fn fuel_stops_infinite_loops() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .fuel_per_callback(5_000_000)
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "loop"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503);
    let msg = gw.vm_failure("sdk_probe", 0).unwrap();
    assert!(msg.contains("fuel"), "{msg}");
}

#[test]
fn grpc_call_with_scripted_responder() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .responder("grpc", |c| {
            assert_eq!(
                (c.service.as_str(), c.method.as_str()),
                ("probe.Svc", "Check")
            );
            assert_eq!(c.token, 5);
            Some(CallReply::grpc("pong"))
        })
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "grpc"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.upstream_request().header("x-grpc"), Some("0:pong"));
}

#[test]
fn foreign_functions_are_recorded() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .foreign("echo", |a| [a, b"!"].concat())
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "foreign"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.upstream_request().header("x-foreign"), Some("ping!"));
    assert_eq!(gw.foreign_calls(), [("echo".to_string(), b"ping".to_vec())]);
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "foreign"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.upstream_request().header("x-foreign"), Some("NotFound"));
}

#[test]
fn shared_queue_notifies_the_registering_vm() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=q;queue"))
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-probe", "queue"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(gw.logged("dequeued q"));
}

#[test]
fn wasm32_unknown_unknown_module_runs() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe_unknown()).config("name=u"))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-probe", "add,local"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 403);
    assert_eq!(out.client_response().header("x-resp-order"), Some("u"));
}

#[test]
fn local_reply_in_the_response_phase_replaces_the_response() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("a").config("name=a"))
        .filter(
            FilterSpec::wasm(probe())
                .name("b")
                .config("name=b;header=x-b"),
        )
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-b", "local_resp"))
        .respond_with(Response::ok().body("upstream body"))
        .unwrap();
    assert!(out.reached_upstream());
    assert_eq!(out.status(), 502);
    assert_eq!(out.client_response().body_str(), "rewritten");
    assert_eq!(out.local_reply().unwrap().filter, "b");
}

#[test]
fn request_header_edits_clear_the_route_cache() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(
        out.route_cache_cleared > 0,
        "x-order is set on every request"
    );
    assert_eq!(gw.metric("wasmcustom.probe_requests"), None);
}

#[test]
fn tests_can_enqueue_on_shared_queues() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("queue"))
        .build()
        .unwrap();
    gw.enqueue("", "probe-q", b"from test").unwrap();
    assert!(gw.logged("dequeued from test"));
    assert!(gw.enqueue("", "nope", b"x").is_err());
}

#[test]
fn property_paths_escape_dots_inside_segments() {
    use host_test::abi::properties::{dotted_path, wire_path};
    assert_eq!(wire_path("request.headers.x-id"), "request\0headers\0x-id");
    assert_eq!(
        wire_path("metadata.filter_metadata.envoy\\.filters\\.http\\.lua.key"),
        "metadata\0filter_metadata\0envoy.filters.http.lua\0key"
    );
    assert_eq!(wire_path("a\\\\.b\\c"), "a\\\0b\\c");
    let segments = ["m", "envoy.lua", "back\\slash", "end\\"];
    assert_eq!(
        wire_path(&dotted_path(&segments)),
        "m\0envoy.lua\0back\\slash\0end\\"
    );
}
