//! Step-by-step streams: pause and resume, body buffering, chains.

use crate::guests::probe;
use host_test::{CallReply, FilterSpec, Harness, Request, Response};

#[test]
fn callout_pauses_then_reply_resumes() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=auth"))
        .cluster("authz")
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/x").header("x-probe", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(!out.finished);
    assert!(!out.reached_upstream());
    let calls = gw.pending_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].token, 4);
    assert_eq!(calls[0].cluster, "authz");
    assert_eq!(calls[0].header(":path"), Some("/check"));
    gw.reply_call(calls[0].id, CallReply::ok("alice")).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert!(out.finished);
    assert_eq!(out.status(), 200);
    assert_eq!(out.upstream_request().header("x-auth"), Some("alice"));
}

#[test]
fn failed_callout_gives_status_11_reset() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .cluster("authz")
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/x").header("x-probe", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    let id = gw.pending_calls()[0].id;
    gw.fail_call(id).unwrap();
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 503);
    assert_eq!(
        out.local_reply().unwrap().body_str(),
        "callout failed: 11 reset"
    );
}

#[test]
fn step_by_step_buffering() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let id = gw.begin(Request::post("/up").header("x-probe", "buffer"));
    let mut s = gw.stream(id);
    s.send_headers(false).unwrap();
    assert!(s.upstream().headers.is_some());
    s.send_body(b"abc", false).unwrap();
    assert_eq!(s.request_paused_at(), Some(0));
    assert!(s.upstream().body.is_empty());
    s.send_body(b"def", true).unwrap();
    assert_eq!(s.request_paused_at(), None);
    assert_eq!(s.upstream().body_str(), "ABCDEF");
    assert!(s.upstream().end_of_stream);
    s.respond_with(Response::ok()).unwrap();
    let out = s.finish().unwrap();
    assert_eq!(out.status(), 200);
}
