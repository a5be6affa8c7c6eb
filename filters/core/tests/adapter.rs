//! The generic adapter, tested through host-test with the real `probe` example module: the
//! configuration is parsed once and refused with the field named; header edits, local replies
//! with problem+json bodies, body buffering, callouts and metrics behave as filters expect;
//! `export_plugins!` selects by root_id and `Chain` runs several plugins as one filter.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::OnceLock;

use host_test::{build, CallReply, Error, FilterSpec, Gateway, Harness, Request, Response};

const CONFIG: &str =
    r#"{"deny_path":"/deny","body_path":"/body","call_path":"/call","call_cluster":"upstream"}"#;

fn probe() -> PathBuf {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| build::cargo_wasm_example("filter-core", "probe").unwrap())
        .clone()
}

fn gateway(root_id: &str, config: &str) -> Result<Gateway, Error> {
    Harness::new()
        .filter(FilterSpec::wasm(probe()).root_id(root_id).config(config))
        .cluster("upstream")
        .build()
}

#[test]
fn bad_configuration_is_refused_naming_the_field() {
    let cases = [
        (
            r#"{"deny_path":"/d","body_path":"/b","call_path":"/c","call_cluster":"u","bogus":1}"#,
            "at `bogus`: unknown field",
        ),
        (
            r#"{"deny_path":"d","body_path":"/b","call_path":"/c","call_cluster":"u"}"#,
            "at `deny_path`: must start with /",
        ),
        (
            r#"{"deny_path":7,"body_path":"/b","call_path":"/c","call_cluster":"u"}"#,
            "at `deny_path`: invalid type",
        ),
        ("", "missing field `deny_path`"),
        ("{not json", "invalid configuration at `.`"),
    ];
    for (config, needle) in cases {
        let err = gateway("probe", config)
            .err()
            .unwrap_or_else(|| panic!("config {config:?} must be refused"));
        let Error::Rejected { phase, log, .. } = &err else {
            panic!("config {config:?}: {err}");
        };
        assert_eq!(*phase, "proxy_on_configure");
        assert_eq!(log.len(), 1, "one log line: {log:?}");
        assert!(
            log[0].starts_with("probe: invalid configuration"),
            "{log:?}"
        );
        assert!(log[0].contains(needle), "config {config:?}: {log:?}");
    }
}

#[test]
fn edits_headers_and_forwards() {
    let mut gw = gateway("probe", CONFIG).unwrap();
    let out = gw
        .request(Request::get("/hello").header("x-data", "abcdef"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().header("x-probe-bytes"), Some("6"));
    assert_eq!(out.client_response().header("x-probe-response"), Some("1"));
    assert_eq!(gw.metric("probe_requests"), Some(1));
}

#[test]
fn local_reply_is_problem_json_and_never_reaches_upstream() {
    let mut gw = gateway("probe", CONFIG).unwrap();
    let out = gw
        .request(Request::get("/deny"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 403);
    assert!(!out.reached_upstream());
    let reply = out.local_reply().expect("a local reply");
    assert_eq!(
        reply.headers.get("content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = serde_json::from_str(&reply.body_str()).unwrap();
    assert_eq!(body["type"], "urn:gateway:problem:probe-denied");
    assert_eq!(body["status"], 403);
    assert_eq!(body["title"], "Denied by probe");
}

#[test]
fn pauses_on_a_callout_and_resumes_with_its_result() {
    let mut gw = gateway("probe", CONFIG).unwrap();
    let out = gw
        .request(Request::get("/call"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(!out.finished, "the stream waits for the callout");
    let call = gw.pending_calls().remove(0);
    gw.reply_call(call.id, CallReply::status(204)).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().header("x-probe-call"), Some("204"));

    // A failed callout resumes too, and the stream learns it failed.
    let out = gw
        .request(Request::get("/call"))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls().remove(0);
    gw.fail_call(call.id).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(
        out.upstream_request().header("x-probe-call"),
        Some("failed")
    );
}

#[test]
fn buffers_the_body_and_can_refuse_it() {
    let mut gw = gateway("probe", CONFIG).unwrap();
    let out = gw
        .request(Request::post("/body").body("deny"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 403, "a body-dependent refusal");
    let body = out.local_reply().expect("a local reply").body_str();
    assert!(
        body.contains("body of /body"),
        "the forwarded headers reach on_request_body: {body}"
    );
    let out = gw
        .request(Request::post("/body").body("fine"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().body_str(), "fine");
    let out = gw
        .request(Request::post("/body").body(vec![b'a'; 2000]))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 413, "over the stream's body cap");
}

#[test]
fn root_id_selects_the_plugin_and_chains_run_as_one() {
    let err = gateway("nope", CONFIG)
        .err()
        .expect("an unknown root_id is refused");
    assert!(matches!(err, Error::Rejected { .. }), "{err}");

    let chain = format!(
        r#"{{"first": {CONFIG}, "second": {}}}"#,
        CONFIG.replace("/deny", "/deny2").replace("/call", "/call2")
    );
    let mut gw = gateway("probe_chain", &chain).unwrap();
    for (path, status) in [("/deny", 403), ("/deny2", 403), ("/ok", 200)] {
        let out = gw
            .request(Request::get(path))
            .respond_with(Response::ok())
            .unwrap();
        assert_eq!(out.status(), status, "{path}");
    }
    // Both members count every request that reached them: 3 + 2 (the first denial stops the
    // chain before the second member).
    assert_eq!(gw.metric("probe_requests"), Some(5));
    // The second member's callout pauses the chain after the first member ran.
    let out = gw
        .request(Request::get("/call2"))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls().remove(0);
    gw.reply_call(call.id, CallReply::status(200)).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().header("x-probe-call"), Some("200"));
}
