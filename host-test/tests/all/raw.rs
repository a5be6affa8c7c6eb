//! Every hostcall's statuses as Envoy gives them, through the raw-import probe: each check is
//! logged by the guest as `name=value`.

use crate::guests::raw;
use host_test::{CallReply, FilterSpec, Gateway, Harness, Request, Response};
use std::collections::BTreeMap;

fn gateway() -> Gateway {
    Harness::new()
        .filter(
            FilterSpec::wasm(raw())
                .name("raw")
                .config("pcfg")
                .vm_config("vmcfg"),
        )
        .cluster("authz")
        .build()
        .unwrap()
}

fn reports(gw: &Gateway) -> BTreeMap<String, String> {
    gw.logs()
        .into_iter()
        .filter_map(|l| {
            let (k, v) = l.message.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn check(r: &BTreeMap<String, String>, table: &[(&str, &str)]) {
    for (k, want) in table {
        assert_eq!(r.get(*k).map(String::as_str), Some(*want), "{k}");
    }
}

#[test]
fn lifecycle_buffers() {
    let gw = gateway();
    check(
        &reports(&gw),
        &[
            ("vm_start.vm_config", "0:vmcfg"),
            ("configure.plugin_config", "0:pcfg"),
            ("configure.buffer_status", "0:4"),
            ("configure.set_plugin_config", "2"),
        ],
    );
}

#[test]
fn statuses_match_envoy() {
    let mut gw = gateway();
    let req = Request::get("/s?x=1")
        .header("x-raw", "statuses")
        .header("x-dup", "1")
        .header("x-dup", "2");
    let out = gw
        .request(req)
        .respond_with(Response::ok().header("x-gone", "1"))
        .unwrap();
    assert_eq!(out.client_response().header("x-set"), Some("1"));
    assert_eq!(
        out.client_response().header("x-gone"),
        None,
        "set_header_map_pairs replaces"
    );
    check(
        &reports(&gw),
        &[
            ("hdr.missing", "1"),
            ("hdr.resp_in_request", "2"),
            ("hdr.bad_map", "2"),
            ("hdr.call_outside", "2"),
            ("hdr.dup", "0:1"),
            ("hdr.size", "0:78"),
            ("hdr.trailers_absent", "0"),
            ("hdr.after_edit", "0:3"),
            ("hdr.removed", "1"),
            ("hdr.bad_memory", "6"),
            ("hdr.set_pairs_malformed", "2"),
            ("buf.plugin_config_outside", "1"),
            ("buf.vm_config", "0:vmcfg"),
            ("buf.bad_type", "2"),
            ("buf.call_outside", "1"),
            ("buf.set_vm_config", "2"),
            ("buf.body_outside", "0:0"),
            ("buf.set_body_outside", "1"),
            ("call.unknown_cluster", "2"),
            ("call.no_authority", "2"),
            ("call.first", "0:4"),
            ("call.second", "0:8"),
            ("grpc.unknown_cluster", "4"),
            ("grpc.call", "0:5"),
            ("grpc.stream", "0:6"),
            ("grpc.send_unknown", "1"),
            ("grpc.send", "0"),
            ("grpc.cancel_unknown", "1"),
            ("grpc.send_on_call", "2"),
            ("grpc.close", "0"),
            ("metric.bad_type", "2"),
            ("metric.counter", "0:4"),
            ("metric.inc_zero", "2"),
            ("metric.inc_negative", "2"),
            ("metric.inc", "0"),
            ("metric.record_counter", "0"),
            ("metric.counter_value", "0:7"),
            ("metric.gauge", "0:5"),
            ("metric.gauge_dec", "0"),
            ("metric.gauge_value", "0:-5"),
            ("metric.hist", "0:6"),
            ("metric.hist_record", "0"),
            ("metric.hist_get", "2:0"),
            ("metric.hist_inc", "2"),
            ("metric.unknown_get", "1:0"),
            ("metric.unknown_inc", "1"),
            ("metric.bad_type_get", "2:0"),
            ("metric.bad_type_inc", "2"),
            ("shared.missing", "1"),
            ("shared.set", "0"),
            ("shared.get", "0:v1"),
            ("shared.stale_cas", "8"),
            ("shared.cas", "0"),
            ("shared.cas_reused", "8"),
            ("shared.missing_with_cas", "0"),
            ("queue.resolve_missing", "1"),
            ("queue.dequeue_unknown", "1"),
            ("queue.enqueue_unknown", "1"),
            ("queue.register", "0:1"),
            ("queue.dequeue_empty", "7"),
            ("prop.unknown", "1:"),
            ("prop.plugin_name", "0:raw"),
            ("prop.set", "0"),
            ("prop.get_set", "0:v"),
            ("prop.path", "0:/s?x=1"),
            ("prop.header", "0:statuses"),
            ("prop.response_code", "1:"),
            ("prop.xds_node", "0:\u{32}\u{5}envoy"),
            ("prop.ngx_version", "1:"),
            ("foreign.unknown", "1"),
            ("foreign.clear_route_cache", "0"),
            ("ctx.unknown", "2"),
            ("ctx.self", "0"),
            ("stream.bad_type", "2"),
            ("log.bad_level", "2"),
            ("log.level", "0:2"),
            ("time.now", "0:1700000000000000000"),
            ("tick.set", "0"),
            ("done", "0"),
            ("status", "0:0:0"),
            ("abi01.clear_route_cache", "0"),
            ("abi01.get_configuration", "0:vmcfg"),
            ("abi01.continue_response", "0"),
            ("abi01.continue_request", "0"),
            ("after_continue.request_header", "2"),
            ("response_headers.set_pairs", "0"),
        ],
    );
    assert_eq!(gw.metric_full("raw_hist").unwrap().samples, [42]);
    assert_eq!(gw.shared_data("", "raw-new").unwrap().0, b"x");
    let calls = gw.calls();
    assert_eq!(
        calls.len(),
        4,
        "two HTTP calls, one gRPC call, one gRPC stream"
    );
    assert_eq!(calls[3].sent, [b"m".to_vec()]);
}

#[test]
fn body_buffer_edits_follow_envoy() {
    let mut gw = gateway();
    let req = Request::post("/")
        .header("x-raw", "body")
        .body("ab")
        .body("c");
    let out = gw.request(req).respond_with(Response::ok()).unwrap();
    check(
        &reports(&gw),
        &[
            ("body.size", "3"),
            ("body.request_headers", "2"),
            ("body.add_trailer", "0"),
            ("body.set_middle", "2"),
            ("body.prepend", "0"),
            ("body.append", "0"),
            ("body.replace_prefix", "0"),
            ("body.now", "0:[abc>"),
            ("body.offset", "0:bc>"),
            ("body.past_end", "0:0"),
        ],
    );
    assert_eq!(out.upstream_request().body_str(), "[abc>");
    let t = out.upstream_request().trailers.as_ref().unwrap();
    assert_eq!(
        t.get("x-t"),
        Some("1"),
        "trailers added in the last body callback"
    );
}

#[test]
fn callout_response_is_dispatched_on_the_root_context() {
    let mut gw = gateway();
    let out = gw
        .request(Request::get("/").header("x-raw", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls()[0].clone();
    gw.reply_call(call.id, CallReply::ok("yes").header("x-h", "1"))
        .unwrap();
    check(
        &reports(&gw),
        &[
            ("call_response", "1:4:2:3:0"),
            ("call_response.header", "0:200"),
            ("call_response.body", "0:yes"),
            ("call_response.set_call_header", "2"),
            ("call_response.request_hdr_root", "2"),
            ("call_response.switch", "0"),
            ("call_response.request_hdr_stream", "0"),
            ("call_response.continue", "0"),
        ],
    );
    let out = gw.outcome(host_test::StreamId(out.stream)).unwrap();
    assert!(out.finished && out.reached_upstream());
}

#[test]
fn failed_callout_arrives_with_zero_headers() {
    let mut gw = gateway();
    gw.request(Request::get("/").header("x-raw", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    let id = gw.pending_calls()[0].id;
    gw.fail_call(id).unwrap();
    check(
        &reports(&gw),
        &[
            ("call_response", "1:4:0:0:0"),
            ("call_response.status", "11:reset"),
        ],
    );
}

#[test]
fn second_local_reply_is_ok_and_the_first_wins() {
    let mut gw = gateway();
    let out = gw
        .request(Request::get("/").header("x-raw", "local2"))
        .respond_with(Response::ok())
        .unwrap();
    check(
        &reports(&gw),
        &[("local.first", "0"), ("local.second", "0")],
    );
    assert_eq!(out.status(), 401);
    assert_eq!(out.client_response().header("x-lr"), Some("1"));
    assert_eq!(
        out.client_response().header("content-type"),
        Some("text/plain")
    );
    assert_eq!(out.client_response().body_str(), "body");
    check(&reports(&gw), &[("response_headers.status", "0:401")]);
}

#[test]
fn close_stream_resets() {
    let mut gw = gateway();
    let out = gw
        .request(Request::get("/").header("x-raw", "close"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(out.reset && out.finished);
    assert_eq!(out.status(), 0);
}

#[test]
fn deterministic_wasi() {
    let run = |seed| {
        let mut gw = Harness::new()
            .filter(FilterSpec::wasm(raw()))
            .seed(seed)
            .build()
            .unwrap();
        gw.request(Request::get("/").header("x-raw", "wasi"))
            .respond_with(Response::ok())
            .unwrap();
        let r = reports(&gw);
        check(
            &r,
            &[
                ("wasi.fd_write_bad_fd", "8"),
                ("wasi.fd_write_stdout", "0"),
                ("wasi.clock_bad", "58"),
                ("wasi.clock_monotonic", "0:1000000000"),
                ("wasi.environ", "0:0:0"),
                ("wasi.poll_oneoff", "0:1:77"),
            ],
        );
        assert!(gw
            .logs_at(host_test::LogLevel::Info)
            .contains(&"stdout line".to_string()));
        assert_eq!(gw.logs_at(host_test::LogLevel::Error), ["stderr line"]);
        r["wasi.random"].clone()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn proc_exit_traps() {
    let mut gw = gateway();
    let out = gw
        .request(Request::get("/").header("x-raw", "exit"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503);
    assert!(gw.vm_failure("raw", 0).unwrap().contains("proc_exit(3)"));
}

#[test]
fn memory_cap_stops_growth() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .memory_cap(16 << 20)
        .build()
        .unwrap();
    let out = gw
        .request(Request::get("/").header("x-raw", "grow"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503);
    assert!(gw.vm_failure("raw", 0).is_some());
}

/// Two workers read the same key, both wait on a callout, then both write with the cas they
/// read: the second write gets CAS_MISMATCH. The interleaving is chosen by the test.
#[test]
fn quota_race_between_workers_is_deterministic() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()))
        .cluster("authz")
        .workers(2)
        .build()
        .unwrap();
    gw.set_shared_data("", "race", b"0");
    let a = gw.begin(Request::get("/").header("x-raw", "race").on_worker(0));
    let b = gw.begin(Request::get("/").header("x-raw", "race").on_worker(1));
    gw.stream(a).send_headers(true).unwrap();
    gw.stream(b).send_headers(true).unwrap();
    let calls = gw.pending_calls();
    assert_eq!((calls[0].worker, calls[1].worker), (0, 1));
    gw.reply_call(calls[1].id, CallReply::ok("")).unwrap();
    gw.reply_call(calls[0].id, CallReply::ok("")).unwrap();
    let sets: Vec<String> = gw
        .logs()
        .into_iter()
        .filter(|l| l.message.starts_with("race.set="))
        .map(|l| format!("{}:{}", l.worker, l.message))
        .collect();
    assert_eq!(sets, ["1:race.set=0", "0:race.set=8"]);
    assert_eq!(gw.shared_data("", "race").unwrap().0, b"w2");
}

#[test]
fn grpc_stream_callbacks_and_metadata() {
    let mut gw = gateway();
    gw.request(Request::get("/").header("x-raw", "grpc_stream"))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls()[0].clone();
    assert_eq!((call.token, call.method.as_str()), (6, "Watch"));
    assert_eq!(call.header("k"), Some("v"));
    assert_eq!(call.sent, [b"hello".to_vec()]);
    gw.grpc_message(call.id, b"m1").unwrap();
    let reply = CallReply::grpc("m2").header("k", "iv").trailer("t", "tv");
    gw.reply_call(
        call.id,
        CallReply {
            grpc_status: 7,
            grpc_message: "denied".into(),
            ..reply
        },
    )
    .unwrap();
    let r = reports(&gw);
    check(
        &r,
        &[
            ("grpc_stream.open", "0:6"),
            ("grpc.initial", "6:1:0:iv"),
            ("grpc.receive", "6:0:m2"),
            ("grpc.trailing", "6:1:0:tv"),
            ("grpc.close", "6:7:7:denied"),
        ],
    );
    assert!(gw.logged("grpc.receive=6:0:m1"));
}

#[test]
fn typed_properties_in_the_response_phase() {
    let mut gw = gateway();
    gw.request(Request::get("/"))
        .respond_with(Response::status(201).header("a", "b"))
        .unwrap();
    check(
        &reports(&gw),
        &[
            ("prop.response_code_int", "0:201"),
            ("prop.request_time", "0:1700000000000000000"),
            ("prop.source_port", "0:50000"),
            ("prop.mtls", "0:[0]"),
            ("prop.response_headers_map", "0:2"),
        ],
    );
}

#[test]
fn request_headers_are_gone_in_the_response_phase_but_back_in_on_log() {
    let mut gw = gateway();
    gw.request(Request::get("/p"))
        .respond_with(Response::ok())
        .unwrap();
    check(
        &reports(&gw),
        &[
            ("prop.request_path_in_response", "1:"),
            ("prop.request_header_in_response", "2"),
            ("log.response_status", "0:200"),
            ("log.request_trailers", "1"),
            ("log.set_header", "2"),
            ("log.request_path", "0:/p"),
        ],
    );
}

#[test]
fn property_overrides_per_gateway_and_per_request() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .property("source.port", host_test::Prop::Int(4242))
        .build()
        .unwrap();
    gw.request(Request::get("/"))
        .respond_with(Response::ok())
        .unwrap();
    check(&reports(&gw), &[("prop.source_port", "0:4242")]);
    gw.clear_logs();
    gw.request(Request::get("/").property("source.port", host_test::Prop::Int(7)))
        .respond_with(Response::ok())
        .unwrap();
    check(&reports(&gw), &[("prop.source_port", "0:7")]);
}

/// A missing key has no cas: two workers that both find it missing both "win" (Envoy has no
/// insert-if-absent), the later write silently replacing the earlier one.
#[test]
fn missing_key_race_lets_both_workers_win() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()))
        .cluster("authz")
        .workers(2)
        .build()
        .unwrap();
    let a = gw.begin(Request::get("/").header("x-raw", "race").on_worker(0));
    let b = gw.begin(Request::get("/").header("x-raw", "race").on_worker(1));
    gw.stream(a).send_headers(true).unwrap();
    gw.stream(b).send_headers(true).unwrap();
    for c in gw.pending_calls() {
        gw.reply_call(c.id, CallReply::ok("")).unwrap();
    }
    let sets: Vec<String> = gw
        .logs()
        .into_iter()
        .filter(|l| l.message.starts_with("race.set="))
        .map(|l| l.message)
        .collect();
    assert_eq!(sets, ["race.set=0", "race.set=0"]);
    assert_eq!(gw.shared_data("", "race").unwrap().0, b"w2");
}

#[test]
fn metrics_are_also_readable_under_envoys_stat_name() {
    let mut gw = gateway();
    gw.request(Request::get("/").header("x-raw", "statuses"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(gw.metric("raw_counter"), Some(7));
    assert_eq!(gw.metric("wasmcustom.raw_counter"), Some(7));
    assert_eq!(gw.metric("raw_gauge"), Some(-5));
}

/// Reports of one `x-raw: props` exchange (stream attributes read in the request headers).
fn props(gw: &mut Gateway, req: Request) -> BTreeMap<String, String> {
    gw.clear_logs();
    gw.request(req.header("x-raw", "props"))
        .respond_with(Response::ok())
        .unwrap();
    reports(gw)
}

/// Envoy's `request.size` is the Content-Length while the request headers are reachable (an
/// unparsable one is NOT_FOUND), else the body bytes received so far.
#[test]
fn request_size_is_the_content_length_else_the_bytes_received() {
    let mut gw = gateway();
    let r = props(
        &mut gw,
        Request::post("/")
            .header("content-length", "5")
            .body("hello"),
    );
    check(&r, &[("props.request_size", "0:5")]);
    let r = props(&mut gw, Request::post("/").body("hello"));
    check(&r, &[("props.request_size", "0:0")]);
    let r = props(&mut gw, Request::post("/").header("content-length", "x"));
    check(&r, &[("props.request_size", "1:len0")]);
    // In the body callbacks the headers are out of reach: the bytes received.
    props(
        &mut gw,
        Request::post("/")
            .header("content-length", "5")
            .body("hello"),
    );
    let bodies: Vec<String> = gw
        .logs()
        .into_iter()
        .filter_map(|l| {
            l.message
                .strip_prefix("props.request_body=")
                .map(String::from)
        })
        .collect();
    assert_eq!(bodies, ["5:false:0:5", "0:true:0:5"]);
}

#[test]
fn the_whole_filter_state_is_a_serialization_failure() {
    let mut gw = gateway();
    let r = props(&mut gw, Request::get("/"));
    check(&r, &[("props.filter_state", "3:")]);
}

/// Each request opens a downstream connection of its own (increasing ids) unless it names one.
#[test]
fn each_connection_has_its_own_id() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .workers(2)
        .build()
        .unwrap();
    let mut id = |req: Request| {
        gw.clear_logs();
        let out = gw
            .request(req.header("x-raw", "props"))
            .respond_with(Response::ok())
            .unwrap();
        let r = reports(&gw);
        let worker = gw
            .logs()
            .iter()
            .find(|l| l.message.starts_with("props.connection_id="))
            .map(|l| l.worker)
            .unwrap();
        assert!(out.finished);
        (r["props.connection_id"].clone(), worker)
    };
    assert_eq!(id(Request::get("/")), ("0:1".into(), 0));
    assert_eq!(id(Request::get("/")), ("0:2".into(), 1));
    assert_eq!(id(Request::get("/").on_worker(1)), ("0:3".into(), 1));
    // Requests on one connection share its id and its worker.
    assert_eq!(id(Request::get("/").connection(7)), ("0:4".into(), 0));
    assert_eq!(id(Request::get("/").connection(8)), ("0:5".into(), 1));
    assert_eq!(id(Request::get("/").connection(7)), ("0:4".into(), 0));
    assert_eq!(
        id(Request::get("/").connection(7).on_worker(1)),
        ("0:4".into(), 0),
        "a connection does not move between workers"
    );
    assert_eq!(id(Request::get("/")), ("0:6".into(), 0));
}

/// `get_header_map_pairs` on a local reply: `:status`, the filter's headers, then
/// `content-length` and `content-type` (Envoy's order).
#[test]
fn local_reply_headers_list_the_filters_headers_first() {
    let mut gw = gateway();
    let out = gw
        .request(Request::get("/").header("x-raw", "local2"))
        .respond_with(Response::ok())
        .unwrap();
    check(
        &reports(&gw),
        &[(
            "response_headers.keys",
            "0::status,x-lr,content-length,content-type",
        )],
    );
    let keys: Vec<&str> = out
        .client_response()
        .headers
        .as_ref()
        .unwrap()
        .iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [":status", "x-lr", "content-length", "content-type"]);
}

/// Path segments that contain dots (metadata under a filter name), from the builders and from a
/// scenario's `properties`.
#[test]
fn property_paths_can_have_dots_inside_segments() {
    let lua = [
        "metadata",
        "filter_metadata",
        "envoy.filters.http.lua",
        "key",
    ];
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .property_at(&lua, host_test::Prop::str("gateway"))
        .build()
        .unwrap();
    check(
        &props(&mut gw, Request::get("/")),
        &[("props.lua", "0:gateway")],
    );
    let req = Request::get("/").property(
        "metadata.filter_metadata.envoy\\.filters\\.http\\.lua.key",
        host_test::Prop::str("escaped"),
    );
    check(&props(&mut gw, req), &[("props.lua", "0:escaped")]);
    let req = Request::get("/").property_at(&lua, host_test::Prop::str("request"));
    check(&props(&mut gw, req), &[("props.lua", "0:request")]);
    gw.set_property_at(&lua, host_test::Prop::str("set"));
    check(
        &props(&mut gw, Request::get("/")),
        &[("props.lua", "0:set")],
    );

    let json = r#"{
        "filters": [ { "name": "raw" } ],
        "properties": { "metadata.filter_metadata.envoy\\.filters\\.http\\.lua.key": "scenario" },
        "steps": []
    }"#;
    let scenario: host_test::scenario::Scenario = serde_json::from_str(json).unwrap();
    let mut gw = scenario
        .harness(std::path::Path::new("."), &[raw()], false)
        .unwrap()
        .build()
        .unwrap();
    check(
        &props(&mut gw, Request::get("/")),
        &[("props.lua", "0:scenario")],
    );
}

/// Envoy's HTTP/1 codec drops leading and trailing whitespace of header values; over HTTP/2 the
/// harness passes values as given.
#[test]
fn header_values_lose_surrounding_whitespace_over_http1() {
    let mut gw = gateway();
    let req = Request::get("/").header("authorization", " \tBearer abc \t");
    let r = props(&mut gw, req);
    check(
        &r,
        &[
            ("props.authorization", "0:[Bearer abc]"),
            ("props.protocol", "0:HTTP/1.1"),
        ],
    );
    let out = gw
        .request(Request::get("/").header("x-a", "  v  w "))
        .respond_with(Response::ok().header("x-b", "\tb "))
        .unwrap();
    assert_eq!(out.upstream_request().header("x-a"), Some("v  w"));
    assert_eq!(out.client_response().header("x-b"), Some("b"));

    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .protocol(host_test::Protocol::Http2)
        .build()
        .unwrap();
    let req = Request::get("/").header("authorization", "Bearer abc ");
    let r = props(&mut gw, req);
    check(
        &r,
        &[
            ("props.authorization", "0:[Bearer abc ]"),
            ("props.protocol", "0:HTTP/2"),
        ],
    );
}
