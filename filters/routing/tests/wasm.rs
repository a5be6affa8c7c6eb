//! The real `filter_routing.wasm` in the host-test harness, loaded and driven as Envoy does.

#![cfg(not(target_arch = "wasm32"))]
// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use host_test::build::cargo_wasm_target;
use host_test::{FilterSpec, Gateway, Harness, Outcome, Request, Response};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../example.json");
/// 2026-01-01T00:00:00Z.
const START: u64 = 1_767_225_600;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn harness(config: &str) -> Harness {
    let wasm = cargo_wasm_target("filter-routing", filter_core::WASM_TARGET)
        .expect("filter-routing builds");
    Harness::new()
        .filter(
            FilterSpec::wasm(wasm)
                .name("routing")
                .config(config.as_bytes().to_vec()),
        )
        .start_time(at(START))
}

fn gateway(config: &str) -> Gateway {
    harness(config)
        .build()
        .expect("the configuration is accepted")
}

fn patched(patch: Value) -> String {
    let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string()
}

fn run(gw: &mut Gateway, req: Request) -> Outcome {
    gw.request(req)
        .respond_with(Response::ok())
        .expect("the exchange runs")
}

/// (cluster, version, path) the upstream saw.
fn upstream(o: &Outcome) -> (String, String, String) {
    assert!(
        o.reached_upstream(),
        "expected the request upstream: {:?}",
        o.local_reply()
    );
    let seen = o.upstream_request();
    let h = |n| seen.header(n).unwrap_or("<none>").to_owned();
    (h("x-gateway-cluster"), h("x-gateway-version"), h(":path"))
}

fn up(c: &str, v: &str, p: &str) -> (String, String, String) {
    (c.to_owned(), v.to_owned(), p.to_owned())
}

/// (status, problem body) of a local reply.
fn problem(o: &Outcome) -> (u16, Value) {
    assert!(
        !o.reached_upstream(),
        "the upstream must not see a refused request"
    );
    let reply = o.local_reply().expect("a local reply");
    (
        reply.status,
        serde_json::from_slice(&reply.body).expect("a JSON body"),
    )
}

#[test]
fn each_version_reaches_its_cluster() {
    let mut gw = gateway(EXAMPLE);
    let cases = [
        (
            Request::get("/v2/items?q=/v1").header("x-gateway-cluster", "admin"),
            up("api_v2", "v2", "/items?q=/v1"),
            "path prefix stripped; forged cluster replaced",
        ),
        (
            Request::get("/items").header("api-version", "2"),
            up("api_v2", "v2", "/items"),
            "header alias",
        ),
        (
            Request::get("/items").header("accept", "application/vnd.shop.v2+json"),
            up("api_v2", "v2", "/items"),
            "Accept",
        ),
        (
            Request::get("/items?api-version=v1"),
            up("api_v1", "v1", "/items?api-version=v1"),
            "query",
        ),
        (
            Request::get("/v1/items").header("x-gateway-version", "v2"),
            up("api_v1", "v1", "/items"),
            "forged version replaced",
        ),
    ];
    for (req, want, msg) in cases {
        let o = run(&mut gw, req);
        assert_eq!(upstream(&o), want, "{msg}");
        assert_eq!(o.status(), 200, "{msg}");
        let seen = o.upstream_request().headers.clone().unwrap();
        assert_eq!(seen.get_all("x-gateway-cluster").len(), 1, "{msg}");
    }
    assert_eq!(gw.metric("routing_requests.v2"), Some(3));
    assert_eq!(gw.metric("routing_requests.v1"), Some(2));
}

#[test]
fn canary_is_sticky_per_consumer() {
    let mut gw = gateway(EXAMPLE);
    for _ in 0..5 {
        let alice = run(
            &mut gw,
            Request::get("/items").header("x-gateway-consumer", "alice"),
        );
        assert_eq!(upstream(&alice).0, "api_v2", "alice is in the 10 % canary");
        let bob = run(
            &mut gw,
            Request::get("/items").header("x-gateway-consumer", "bob"),
        );
        assert_eq!(upstream(&bob).0, "api_v1", "bob is not");
    }
    let explicit = run(
        &mut gw,
        Request::get("/v1/items").header("x-gateway-consumer", "alice"),
    );
    assert_eq!(
        upstream(&explicit).0,
        "api_v1",
        "explicit versions are not split"
    );
    assert_eq!(gw.metric("routing_canary_diverted.v2"), Some(5));
}

#[test]
fn anonymous_clients_keep_their_side_with_the_cookie() {
    let mut gw = gateway(&patched(
        json!({"canaries": [{"from": "v1", "to": "v2", "percent": 50}]}),
    ));
    let first = run(
        &mut gw,
        Request::get("/items").header("x-request-id", "r-1"),
    );
    let cluster = upstream(&first).0;
    let cookie = first
        .client_response()
        .header("set-cookie")
        .expect("a sticky cookie")
        .to_owned();
    assert!(cookie.starts_with("gw_version_key="), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    for _ in 0..10 {
        let o = run(&mut gw, Request::get("/items").header("cookie", &pair));
        assert_eq!(upstream(&o).0, cluster, "the cookie keeps the side");
        assert_eq!(o.client_response().header("set-cookie"), None);
    }
    assert_eq!(gw.metric("routing_sticky_cookies_issued"), Some(1));
}

#[test]
fn lifecycle_headers_and_410() {
    let mut gw = gateway(EXAMPLE);
    let o = gw
        .request(Request::get("/v1beta/items"))
        .respond_with(Response::ok().header("link", "</p2>; rel=\"next\""))
        .unwrap();
    assert_eq!(upstream(&o).0, "api_v1");
    let client = o.client_response().headers.clone().unwrap();
    assert_eq!(client.get("deprecation"), Some("@1767225600"));
    assert_eq!(client.get("sunset"), Some("Tue, 01 Jan 2030 00:00:00 GMT"));
    assert_eq!(
        client.get_all("link"),
        [
            "</p2>; rel=\"next\"",
            "<https://developer.example/deprecations/v1beta>; rel=\"deprecation\"",
            "</v1>; rel=\"successor-version\"",
        ]
    );

    let o = run(&mut gw, Request::get("/v0/items"));
    let (status, body) = problem(&o);
    assert_eq!(status, 410);
    assert_eq!(body["type"], "urn:gateway:problem:version-retired");
    assert_eq!(body["supported_versions"], json!(["v1", "v2", "v1beta"]));
    let reply = o.local_reply().unwrap();
    assert_eq!(reply.details, "gateway_version_retired");
    assert_eq!(
        reply.headers.get("link"),
        Some("<https://developer.example/docs/v1>; rel=\"successor-version\"")
    );
    assert_eq!(
        reply.headers.get("content-type"),
        Some("application/problem+json")
    );

    gw.set_time(at(1_893_456_000));
    let (status, body) = problem(&run(&mut gw, Request::get("/v1beta/items")));
    assert_eq!(status, 410, "after the sunset");
    assert_eq!(body["supported_versions"], json!(["v1", "v2"]));
}

#[test]
fn unknown_versions_and_path_tricks_are_refused() {
    let mut gw = gateway(EXAMPLE);
    let huge = "v".repeat(64 * 1024);
    let long = format!("/v1/{}", "a".repeat(8200));
    let cases: Vec<(Request, u16, &str)> = vec![
        (Request::get("/v3/items"), 404, "unknown-version"),
        (Request::get("/V1/items"), 404, "unknown-version"),
        (
            Request::get("/items").header("api-version", "two"),
            404,
            "unknown-version",
        ),
        (
            Request::get("/items").header("api-version", &huge),
            400,
            "invalid-version",
        ),
        (
            Request::get("/items")
                .header("api-version", "v1")
                .header("api-version", "v2"),
            400,
            "ambiguous-version",
        ),
        (Request::get("/v1/../v2/items"), 400, "invalid-path"),
        (Request::get("/v1/%2e%2e/v2"), 400, "invalid-path"),
        (Request::get("/v1%2Fv2"), 400, "invalid-path"),
        (Request::get("/v1%5cx"), 400, "invalid-path"),
        (Request::get("//v1//x"), 400, "invalid-path"),
        (Request::get("/v1;p=1/x"), 400, "invalid-path"),
        (Request::get("/v1/x\0"), 400, "invalid-path"),
        (Request::get("http://evil/v2/x"), 400, "invalid-path"),
        (Request::get(&long), 414, "path-too-long"),
        (
            Request::get("/v1/x").header("api-version", "v2"),
            400,
            "conflicting-versions",
        ),
    ];
    for (req, status, kind) in cases {
        let o = run(&mut gw, req);
        let (got, body) = problem(&o);
        assert_eq!(
            (got, body["type"].as_str().unwrap()),
            (status, &*format!("urn:gateway:problem:{kind}"))
        );
    }
    assert_eq!(gw.vm_failure("routing", 0), None, "no input trapped the VM");
    let o = run(&mut gw, Request::get("/v2/ok"));
    assert_eq!(upstream(&o).0, "api_v2", "the VM still serves");
    assert_eq!(gw.metric("routing_rejected.invalid_path"), Some(8));
}

#[test]
fn override_only_for_staff() {
    let mut gw = gateway(EXAMPLE);
    let staff = run(
        &mut gw,
        Request::get("/v1/items")
            .header("x-gateway-consumer", "alice")
            .header("x-gateway-groups", "staff,beta")
            .header("x-api-version-override", "v2"),
    );
    assert_eq!(upstream(&staff), up("api_v2", "v2", "/items"));
    assert_eq!(
        staff.upstream_request().header("x-api-version-override"),
        None
    );
    let partner = run(
        &mut gw,
        Request::get("/v1/items")
            .header("x-gateway-consumer", "bob")
            .header("x-gateway-groups", "partners")
            .header("x-api-version-override", "v2"),
    );
    assert_eq!(upstream(&partner), up("api_v1", "v1", "/items"));
}

#[test]
fn ramp_follows_the_host_clock() {
    let mut gw = gateway(&patched(
        json!({"canaries": [{"from": "v1", "to": "v2", "ramp": {
        "start": "2026-01-02T00:00:00Z", "end": "2026-01-12T00:00:00Z", "steps": 10}}]}),
    ));
    let alice = |gw: &mut Gateway| {
        upstream(&run(
            gw,
            Request::get("/items").header("x-gateway-consumer", "alice"),
        ))
        .0
    };
    assert_eq!(alice(&mut gw), "api_v1", "before the ramp");
    gw.set_time(at(START + 2 * 86_400 - 1));
    assert_eq!(
        alice(&mut gw),
        "api_v1",
        "one step is 10 %: alice's bucket 879 needs it"
    );
    gw.set_time(at(START + 2 * 86_400));
    assert_eq!(alice(&mut gw), "api_v2", "first step reached");
    gw.set_time(at(START + 30 * 86_400));
    assert_eq!(alice(&mut gw), "api_v2", "after the end");
}

#[test]
fn bad_configuration_is_refused() {
    let cases = [
        r#"{"versions": []}"#,
        r#"{"versions": [{"name": "v1"}]}"#,
        r#"{"versions": [{"name": "v1", "cluster": "a"}], "bogus": 1}"#,
        r#"{"versions": [{"name": "v1", "cluster": "a\r\nb"}]}"#,
        "not json",
        "",
    ];
    for config in cases {
        match harness(config).build() {
            Err(host_test::Error::Rejected { phase, .. }) => {
                assert_eq!(phase, "proxy_on_configure", "{config}")
            }
            Err(other) => panic!("{config}: expected a rejection, got {other}"),
            Ok(_) => panic!("{config}: accepted"),
        }
    }
}

#[test]
fn identical_requests_keep_no_memory() {
    let mut gw = gateway(EXAMPLE);
    let name = gw.filter_names()[0].clone();
    let req = Request::get("/v2/items/1").header("x-gateway-consumer", "alice");
    let (cluster, version, _) = upstream(&run(&mut gw, req.clone()));
    assert_eq!((cluster.as_str(), version.as_str()), ("api_v2", "v2"));
    let grew = gw.memory_growth(&name, &req, &Response::ok(), 100, 2000);
    assert_eq!(
        grew.unwrap(),
        0,
        "linear memory grew over identical requests"
    );
}
