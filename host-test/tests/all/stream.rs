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

#[test]
fn paused_headers_stop_all_iteration_by_default() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=auth"))
        .cluster("authz")
        .build()
        .unwrap();
    let id = gw.begin(Request::post("/x").header("x-probe", "callout"));
    let mut s = gw.stream(id);
    s.send_headers(false).unwrap();
    s.send_body(b"ab", false).unwrap();
    s.send_body(b"cd", true).unwrap();
    assert!(
        s.upstream().headers.is_none(),
        "nothing passes before the callout reply"
    );
    let gw = s.gateway();
    assert!(
        !gw.logged("auth request_body"),
        "the paused filter sees no body yet"
    );
    let call = gw.pending_calls()[0].id;
    gw.reply_call(call, CallReply::ok("alice")).unwrap();
    assert!(
        gw.logged("auth request_body size=4 eos=true"),
        "buffered body in one chunk"
    );
    let s = gw.stream(id);
    assert_eq!(s.upstream().header("x-auth"), Some("alice"));
    assert_eq!(s.upstream().body_str(), "abcd");
}

#[test]
fn allow_on_headers_stop_iteration_lets_a_body_continue_bypass_the_pause() {
    let spec = FilterSpec::wasm(probe())
        .config("name=auth")
        .allow_on_headers_stop_iteration(true);
    let mut gw = Harness::new()
        .filter(spec)
        .cluster("authz")
        .build()
        .unwrap();
    let id = gw.begin(Request::post("/x").header("x-probe", "callout"));
    let mut s = gw.stream(id);
    s.send_headers(false).unwrap();
    assert!(s.upstream().headers.is_none());
    s.send_body(b"ab", true).unwrap();
    // The SDK's default on_http_request_body returns CONTINUE, which resumes the headers.
    assert!(s.upstream().headers.is_some());
    assert_eq!(s.upstream().header("x-auth"), None);
}

#[test]
fn filters_the_request_never_reached_still_log() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).name("a").config("name=a"))
        .filter(
            FilterSpec::wasm(probe())
                .name("b")
                .config("name=b;header=x-b"),
        )
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-probe", "local"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(!gw.logged("b request_headers"));
    assert!(gw.logged("b on_log 2") && gw.logged("b on_delete 2"));
}

#[test]
fn local_reply_to_a_grpc_request_is_trailers_only() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let out = gw
        .request(
            Request::post("/svc.S/M")
                .header("content-type", "application/grpc")
                .header("x-probe", "local"),
        )
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    let c = out.client_response();
    assert_eq!(
        c.header("grpc-status"),
        Some("7"),
        "403 maps to PERMISSION_DENIED"
    );
    assert_eq!(c.header("grpc-message"), Some("denied"));
    assert!(c.body.is_empty());
}

fn body_logs(gw: &mut host_test::Gateway) -> Vec<String> {
    let logs = gw
        .logs()
        .into_iter()
        .map(|l| l.message)
        .filter(|m| m.contains("_body ") || m.contains("_trailers "))
        .collect();
    gw.clear_logs();
    logs
}

/// Over HTTP/1.1 Envoy's codec delivers a body that ends the message as its data, then an
/// empty end_of_stream callback (requests and responses); over HTTP/2 the last DATA frame
/// carries END_STREAM, one callback.
#[test]
fn http1_ends_a_body_with_an_empty_end_of_stream_callback() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .build()
        .unwrap();
    let out = gw
        .request(Request::post("/").body("hello"))
        .respond_with(Response::ok().body("world!"))
        .unwrap();
    assert_eq!(out.upstream_request().body_str(), "hello");
    assert!(out.upstream_request().end_of_stream);
    assert_eq!(out.client_response().body_str(), "world!");
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=5 eos=false",
            "probe request_body size=0 eos=true",
            "probe response_body size=6 eos=false",
            "probe response_body size=0 eos=true",
        ]
    );
    gw.request(Request::post("/").body("ab").body("c"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=2 eos=false",
            "probe request_body size=1 eos=false",
            "probe request_body size=0 eos=true",
        ]
    );
    // Trailers end the message: no empty body callback.
    gw.request(Request::post("/").body("ab").trailer("t", "1"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=2 eos=false",
            "probe request_trailers n=1",
        ]
    );
    // A filter that buffers gets the whole body with the end of stream.
    let out = gw
        .request(Request::post("/").header("x-probe", "buffer").body("abc"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.upstream_request().body_str(), "ABC");
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=3 eos=false",
            "probe request_body size=3 eos=true",
        ]
    );
    // Step by step: a chunk sent with end_of_stream is split the same way.
    let id = gw.begin(Request::post("/"));
    let mut s = gw.stream(id);
    s.send_headers(false).unwrap();
    s.send_body(b"xy", true).unwrap();
    assert!(s.upstream().end_of_stream);
    s.respond_with(Response::ok()).unwrap();
    s.finish().unwrap();
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=2 eos=false",
            "probe request_body size=0 eos=true",
        ]
    );

    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()))
        .protocol(host_test::Protocol::Http2)
        .build()
        .unwrap();
    gw.request(Request::post("/").body("hello"))
        .respond_with(Response::ok().body("world!"))
        .unwrap();
    assert_eq!(
        body_logs(&mut gw),
        [
            "probe request_body size=5 eos=true",
            "probe response_body size=6 eos=true",
        ]
    );
}

/// Envoy's header map holds one entry for an "inline" header: a repeated `authorization`
/// reaches the filter as one value joined with `,` (as Envoy 1.40 gives it to
/// `get_header_map_value` and `get_header_map_pairs`), a repeated `x-api-key` as two entries
/// of which `get` gives the first; a filter's `add` of an inline header joins too, and its
/// `replace` moves the header to the end.
#[test]
fn repeated_inline_headers_are_joined_as_envoy_does() {
    let request = || {
        Request::get("/x")
            .header("x-first", "1")
            .header("x-probe", "headers")
            .header("authorization", "Bearer a.b.c")
            .header("x-api-key", "k1")
            .header("authorization", "Bearer d.e.f")
            .header("x-api-key", "k2")
            .header("accept", "text/html")
    };
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=p"))
        .build()
        .unwrap();
    let out = gw.request(request()).respond_with(Response::ok()).unwrap();
    assert!(gw.logged("p value authorization=Bearer a.b.c,Bearer d.e.f"));
    assert!(gw.logged("p value x-api-key=k1"));
    assert!(gw.logged(
        "p pairs :authority=example.com|:path=/x|:method=GET|:scheme=http|x-first=1|\
         x-probe=headers|authorization=Bearer a.b.c,Bearer d.e.f|x-api-key=k1|x-api-key=k2|\
         accept=text/html"
    ));
    let up = out.upstream_request().headers.clone().unwrap();
    assert_eq!(up.get_all("accept"), ["text/html,added"]);
    let keys: Vec<&str> = up.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.last(), Some(&"x-first"), "replace moves to the end");

    // The NGINX profile keeps every entry (the first is the value).
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=p"))
        .profile(host_test::HostProfile::Nginx)
        .build()
        .unwrap();
    let out = gw.request(request()).respond_with(Response::ok()).unwrap();
    assert!(gw.logged("p value authorization=Bearer a.b.c"));
    let up = out.upstream_request().headers.clone().unwrap();
    assert_eq!(up.get_all("accept"), ["text/html", "added"]);
}
