//! Tests of the filter over a fake host, request to response; the invariants over generated
//! hostile requests are in `hostile`.

use super::*;
use crate::config::tests::EXAMPLE;
use filter_core::{testing, FakeHost, HeaderEdit, LocalReply};
use serde_json::{json, Value};

mod hostile;

fn configure(config: &str, host: &mut FakeHost) -> Rc<RoutingPlugin> {
    Rc::new(RoutingPlugin::configure(config.as_bytes(), host).unwrap())
}

fn patched(patch: Value) -> String {
    let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string()
}

struct Exchange {
    decision: Decision,
    request: HeaderMap,
    stream: RoutingStream,
}

fn send(plugin: &Rc<RoutingPlugin>, host: &mut FakeHost, pairs: &[(&str, &[u8])]) -> Exchange {
    let mut request = HeaderMap::from_pairs(pairs.iter().map(|(n, v)| (*n, v.to_vec())));
    let mut stream = RoutingPlugin::new_stream(plugin);
    let decision = stream.on_request_headers(&mut request, true, host);
    Exchange {
        decision,
        request,
        stream,
    }
}

fn get(
    plugin: &Rc<RoutingPlugin>,
    host: &mut FakeHost,
    path: &str,
    extra: &[(&str, &[u8])],
) -> Exchange {
    let mut pairs: Vec<(&str, &[u8])> = vec![(":method", b"GET"), (":path", path.as_bytes())];
    pairs.extend_from_slice(extra);
    send(plugin, host, &pairs)
}

impl Exchange {
    fn reply(&self) -> LocalReply {
        testing::reply(self.decision.clone())
    }

    fn problem(&self) -> (u16, Value) {
        let r = self.reply();
        (r.status, testing::json(&r))
    }

    /// (version, cluster, :path) as forwarded.
    fn forwarded(&self) -> (String, String, String) {
        assert_eq!(
            self.decision,
            Decision::Continue,
            "expected the request to go on"
        );
        let s = |n| self.request.get_str(n).unwrap_or("<none>").to_owned();
        (s("x-gateway-version"), s("x-gateway-cluster"), s(":path"))
    }

    fn respond(&mut self, host: &mut FakeHost, pairs: &[(&str, &str)]) -> HeaderMap {
        let mut response = HeaderMap::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_bytes())));
        let d = self.stream.on_response_headers(&mut response, false, host);
        assert_eq!(d, Decision::Continue);
        response
    }
}

fn fwd(v: &str, c: &str, p: &str) -> (String, String, String) {
    (v.to_owned(), c.to_owned(), p.to_owned())
}

#[test]
fn forwards_with_cluster_version_and_stripped_path() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let forged: &[(&str, &[u8])] = &[
        ("x-gateway-cluster", b"admin_cluster"),
        ("x-gateway-version", b"v9"),
        ("x-gateway-cluster", b"other"),
    ];
    let ex = get(&plugin, &mut host, "/v2/users?x=/v1", forged);
    assert_eq!(ex.forwarded(), fwd("v2", "api_v2", "/users?x=/v1"));
    assert_eq!(
        ex.request.edits().collect::<Vec<_>>(),
        [
            HeaderEdit::Set("x-gateway-version", b"v2"),
            // Two client copies: removed before the set (ngx_wasm_module's replace of a repeated
            // header clears every copy, the new value included; on Envoy it is the same edit).
            HeaderEdit::Remove("x-gateway-cluster"),
            HeaderEdit::Set("x-gateway-cluster", b"api_v2"),
            HeaderEdit::Set(":path", b"/users?x=/v1"),
        ],
        "a set replaces every client copy"
    );
    assert_eq!(ex.request.count("x-gateway-cluster"), 1);
    assert_eq!(host.metric("routing_requests.v2"), Some(1));

    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a [u8])],
        (&'a str, &'a str, &'a str),
        &'a str,
    );
    let cases: &[Case] = &[
        ("/v2", &[], ("v2", "api_v2", "/"), "bare prefix becomes /"),
        (
            "/v1beta/a/b",
            &[],
            ("v1beta", "api_v1", "/a/b"),
            "deprecated but served",
        ),
        (
            "/x",
            &[("api-version", b"2")],
            ("v2", "api_v2", "/x"),
            "header leaves the path alone",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.shop.v2+json")],
            ("v2", "api_v2", "/x"),
            "Accept",
        ),
        (
            "/x?api-version=v2",
            &[],
            ("v2", "api_v2", "/x?api-version=v2"),
            "query",
        ),
        (
            "/users",
            &[("x-gateway-consumer", b"bob")],
            ("v1", "api_v1", "/users"),
            "default",
        ),
    ];
    for (path, extra, (v, c, p), msg) in cases {
        let ex = get(&plugin, &mut host, path, extra);
        assert_eq!(ex.forwarded(), fwd(v, c, p), "{msg}");
    }

    let keep = configure(&patched(json!({"strip_prefix": false})), &mut host);
    let ex = get(&keep, &mut host, "/v2/users", &[]);
    assert_eq!(
        ex.forwarded(),
        fwd("v2", "api_v2", "/v2/users"),
        "strip_prefix off"
    );
}

#[test]
fn path_threats_are_refused_before_anything_is_set() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let long = format!("/v2/{}", "a".repeat(8 * 1024));
    let cases: &[(&[u8], u16, &str)] = &[
        (b"/v1/../v2", 400, "invalid-path"),
        (b"/v1/%2e%2e/v2", 400, "invalid-path"),
        (b"/v1%2Fv2", 400, "invalid-path"),
        (b"/v1%5Cx", 400, "invalid-path"),
        (b"//v1//x", 400, "invalid-path"),
        (b"/v1;p=1/x", 400, "invalid-path"),
        (b"/v1/;p=1/x", 400, "invalid-path"),
        (b"/v1/%76%32/x", 400, "invalid-path"),
        (b"/v1/x\0", 400, "invalid-path"),
        (b"http://evil/v2/x", 400, "invalid-path"),
        (b"*", 400, "invalid-path"),
        (long.as_bytes(), 414, "path-too-long"),
        (b"/V1/x", 404, "unknown-version"),
        (b"/v7/x", 404, "unknown-version"),
    ];
    for (path, status, kind) in cases {
        let ex = send(
            &plugin,
            &mut host,
            &[(":path", path), ("x-gateway-cluster", b"forged")],
        );
        let (got, body) = ex.problem();
        let msg = String::from_utf8_lossy(path);
        assert_eq!(got, *status, "{msg}");
        assert_eq!(body["type"], format!("urn:gateway:problem:{kind}"), "{msg}");
        assert_eq!(
            ex.reply().get_header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            ex.request.edits().collect::<Vec<_>>(),
            [HeaderEdit::Remove("x-gateway-cluster")],
            "{msg}: nothing set"
        );
    }
    let ex = send(&plugin, &mut host, &[(":method", b"CONNECT")]);
    assert_eq!(ex.problem().0, 400, "no :path");
    assert_eq!(host.metric("routing_rejected.invalid_path"), Some(12));
    assert_eq!(host.metric("routing_rejected.path_too_long"), Some(1));
    assert_eq!(host.metric("routing_rejected.unknown_version"), Some(2));
}

#[test]
fn unknown_versions_list_the_supported_ones() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let ex = get(&plugin, &mut host, "/x", &[("api-version", b"v7")]);
    let (status, body) = ex.problem();
    assert_eq!(status, 404);
    assert_eq!(body["supported_versions"], json!(["v1", "v2", "v1beta"]));
    assert!(
        !body.to_string().contains("v7"),
        "client input is not echoed"
    );

    let strict = configure(&patched(json!({"unknown_status": 400})), &mut host);
    assert_eq!(get(&strict, &mut host, "/v7/x", &[]).problem().0, 400);
    let ex = get(
        &strict,
        &mut host,
        "/x",
        &[("api-version", b"v1"), ("api-version", b"v2")],
    );
    let (status, body) = ex.problem();
    assert_eq!(
        (status, body["type"].as_str()),
        (400, Some("urn:gateway:problem:ambiguous-version"))
    );
}

#[test]
fn retired_and_sunset_versions_get_410() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let ex = get(&plugin, &mut host, "/v0/x", &[]);
    let (status, body) = ex.problem();
    assert_eq!(status, 410);
    assert_eq!(body["type"], "urn:gateway:problem:version-retired");
    assert_eq!(body["version"], "v0");
    assert_eq!(body["supported_versions"], json!(["v1", "v2", "v1beta"]));
    assert_eq!(
        ex.reply().get_header("link"),
        Some("<https://developer.example/docs/v1>; rel=\"successor-version\"")
    );
    assert_eq!(host.metric("routing_requests.v0"), Some(1));
    assert_eq!(host.metric("routing_rejected.version_retired"), Some(1));

    // v1beta's sunset is 2030-01-01T00:00:00Z.
    let sunset = 1_893_456_000;
    host.set_time(sunset - 1);
    assert_eq!(
        get(&plugin, &mut host, "/v1beta/x", &[]).forwarded().0,
        "v1beta"
    );
    host.set_time(sunset);
    let ex = get(&plugin, &mut host, "/v1beta/x", &[]);
    let (status, body) = ex.problem();
    assert_eq!(status, 410, "at the sunset");
    assert_eq!(body["supported_versions"], json!(["v1", "v2"]));
    assert_eq!(
        ex.reply().get_header("sunset"),
        Some("Tue, 01 Jan 2030 00:00:00 GMT")
    );
}

#[test]
fn responses_carry_lifecycle_headers() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let mut ex = get(&plugin, &mut host, "/v1beta/x", &[]);
    let upstream = [
        (":status", "200"),
        ("deprecation", "@1"),
        ("link", "</next>; rel=\"next\""),
    ];
    let response = ex.respond(&mut host, &upstream);
    assert_eq!(
        response.get_str("deprecation"),
        Some("@1767225600"),
        "RFC 9745 date"
    );
    assert_eq!(
        response.count("deprecation"),
        1,
        "the upstream's copy is replaced"
    );
    assert_eq!(
        response.get_str("sunset"),
        Some("Tue, 01 Jan 2030 00:00:00 GMT")
    );
    let links: Vec<_> = response
        .get_all("link")
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert_eq!(
        links,
        [
            "</next>; rel=\"next\"",
            "<https://developer.example/deprecations/v1beta>; rel=\"deprecation\"",
            "</v1>; rel=\"successor-version\"",
        ]
    );

    let mut ex = get(
        &plugin,
        &mut host,
        "/v1/x",
        &[("x-gateway-consumer", b"bob")],
    );
    let response = ex.respond(&mut host, &upstream);
    assert_eq!(response.edits().len(), 0, "a stable version adds nothing");

    let mut ex = get(&plugin, &mut host, "/v0/x", &[]);
    let response = ex.respond(&mut host, &[(":status", "410")]);
    assert_eq!(
        response.edits().len(),
        0,
        "a refused request adds nothing later"
    );
}

#[test]
fn canary_is_sticky_per_consumer_and_only_for_the_default() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    // With the example's 10 % canary, alice's bucket (879) is in it and bob's (9519) is not.
    for _ in 0..20 {
        let alice = get(
            &plugin,
            &mut host,
            "/users",
            &[("x-gateway-consumer", b"alice")],
        );
        assert_eq!(alice.forwarded(), fwd("v2", "api_v2", "/users"), "alice");
        let bob = get(
            &plugin,
            &mut host,
            "/users",
            &[("x-gateway-consumer", b"bob")],
        );
        assert_eq!(bob.forwarded(), fwd("v1", "api_v1", "/users"), "bob");
    }
    let explicit = get(
        &plugin,
        &mut host,
        "/v1/users",
        &[("x-gateway-consumer", b"alice")],
    );
    assert_eq!(explicit.forwarded().0, "v1", "an explicit v1 is not split");
    assert_eq!(host.metric("routing_canary_diverted.v2"), Some(20));

    let all = configure(
        &patched(
            json!({"canaries": [{"from": "v1", "to": "v2", "percent": 10, "explicit": true}]}),
        ),
        &mut host,
    );
    let explicit = get(
        &all,
        &mut host,
        "/v1/users",
        &[("x-gateway-consumer", b"alice")],
    );
    assert_eq!(
        explicit.forwarded(),
        fwd("v2", "api_v2", "/users"),
        "explicit: true"
    );

    let mut split = 0;
    for i in 0..10_000 {
        let id = format!("consumer-{i}");
        let ex = get(
            &plugin,
            &mut host,
            "/users",
            &[("x-gateway-consumer", id.as_bytes())],
        );
        if ex.forwarded().0 == "v2" {
            split += 1;
        }
    }
    assert!(
        (800..=1200).contains(&split),
        "{split} of 10000 in a 10 % canary"
    );
}

#[test]
fn anonymous_clients_get_a_cookie_and_keep_their_side() {
    let mut host = FakeHost::new();
    let plugin = configure(
        &patched(json!({"canaries": [{"from": "v1", "to": "v2", "percent": 50}]})),
        &mut host,
    );
    let mut first = get(&plugin, &mut host, "/users", &[("x-request-id", b"r-1")]);
    let side = first.forwarded().0;
    let response = first.respond(&mut host, &[(":status", "200")]);
    let cookie = response
        .get_str("set-cookie")
        .expect("a cookie is set")
        .to_owned();
    assert!(cookie.starts_with("gw_version_key="), "{cookie}");
    assert!(
        cookie.ends_with("; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax"),
        "{cookie}"
    );
    let value = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(host.metric("routing_sticky_cookies_issued"), Some(1));

    for i in 0..20 {
        let mut ex = get(
            &plugin,
            &mut host,
            "/users",
            &[("cookie", format!("a=1; {value}").as_bytes())],
        );
        assert_eq!(ex.forwarded().0, side, "request {i} with the cookie");
        assert!(
            ex.respond(&mut host, &[]).get("set-cookie").is_none(),
            "no new cookie"
        );
    }
    assert_eq!(host.metric("routing_sticky_cookies_issued"), Some(1));

    // The auth filter's anonymous consumer is shared by everyone: not a sticky key.
    let mut ex = get(
        &plugin,
        &mut host,
        "/users",
        &[
            ("x-gateway-consumer", b"anonymous"),
            ("x-gateway-credential", b"anonymous"),
        ],
    );
    ex.forwarded();
    assert!(
        ex.respond(&mut host, &[]).contains("set-cookie"),
        "anonymous gets a cookie"
    );

    // A malformed cookie is replaced; a sticky header is used as is.
    let mut ex = get(
        &plugin,
        &mut host,
        "/users",
        &[("cookie", b"gw_version_key=a\"b;c")],
    );
    ex.forwarded();
    assert!(
        ex.respond(&mut host, &[]).contains("set-cookie"),
        "bad cookie replaced"
    );
    let mut sides = Vec::new();
    for _ in 0..5 {
        let mut ex = get(
            &plugin,
            &mut host,
            "/users",
            &[("x-sticky-key", b"device-42")],
        );
        sides.push(ex.forwarded().0);
        assert!(!ex.respond(&mut host, &[]).contains("set-cookie"));
    }
    assert!(
        sides.windows(2).all(|w| w[0] == w[1]),
        "sticky header: {sides:?}"
    );

    let no_cookie = configure(
        &patched(
            json!({"sticky": {"cookie": null}, "canaries": [{"from": "v1", "to": "v2", "percent": 50}]}),
        ),
        &mut host,
    );
    for _ in 0..10 {
        let mut ex = get(&no_cookie, &mut host, "/users", &[]);
        assert_eq!(ex.forwarded().0, "v1", "no key: stable side");
        assert!(!ex.respond(&mut host, &[]).contains("set-cookie"));
    }
}

#[test]
fn override_only_for_configured_groups() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let staff: &[(&str, &[u8])] = &[
        ("x-gateway-consumer", b"alice"),
        ("x-gateway-groups", b"beta, staff"),
        ("x-api-version-override", b"v1beta"),
    ];
    let ex = get(&plugin, &mut host, "/v1/users", staff);
    assert_eq!(
        ex.forwarded(),
        fwd("v1beta", "api_v1", "/users"),
        "staff override"
    );
    assert!(
        !ex.request.contains("x-api-version-override"),
        "override header removed"
    );
    assert_eq!(host.metric("routing_overrides"), Some(1));

    let partner: &[(&str, &[u8])] = &[
        ("x-gateway-consumer", b"bob"),
        ("x-gateway-groups", b"partners,staffing"),
        ("x-api-version-override", b"v2"),
    ];
    let ex = get(&plugin, &mut host, "/users", partner);
    assert_eq!(
        ex.forwarded(),
        fwd("v1", "api_v1", "/users"),
        "ignored for partners"
    );
    assert!(!ex.request.contains("x-api-version-override"));
    assert_eq!(host.metric("routing_overrides_ignored"), Some(1));

    for (value, msg) in [
        (&b"v7"[..], "unknown"),
        (b"v0", "retired"),
        (b"a b", "malformed"),
    ] {
        let ex = get(
            &plugin,
            &mut host,
            "/users",
            &[
                ("x-gateway-groups", b"staff"),
                ("x-api-version-override", value),
            ],
        );
        let (status, body) = ex.problem();
        let want = if msg == "retired" {
            (410, "version-retired")
        } else {
            (400, "invalid-override")
        };
        assert_eq!(
            (status, body["type"].as_str().unwrap()),
            (want.0, &*format!("urn:gateway:problem:{}", want.1)),
            "{msg}"
        );
    }
}

#[test]
fn ramp_moves_consumers_on_the_fake_clock() {
    let mut host = FakeHost::new();
    let start = 1_767_225_600; // the fake's initial time, 2026-01-01
    let config = patched(json!({"canaries": [{"from": "v1", "to": "v2", "ramp": {
        "start": "2026-01-01T00:00:00Z", "end": "2026-01-11T00:00:00Z", "steps": 10}}]}));
    let plugin = configure(&config, &mut host);
    let day = 86_400;
    let share = |host: &mut FakeHost| {
        (0..2000)
            .filter(|i| {
                let id = format!("c{i}");
                get(
                    &plugin,
                    host,
                    "/x",
                    &[("x-gateway-consumer", id.as_bytes())],
                )
                .forwarded()
                .0 == "v2"
            })
            .count()
    };
    let cases = [
        (start - day, 0, 0, "before the ramp"),
        (start, 0, 0, "at the start"),
        (start + day, 200, 40, "one step: 10 %"),
        (start + 5 * day + 1, 1000, 80, "five steps: 50 %"),
        (start + 10 * day, 2000, 0, "at the end: 100 %"),
        (start + 100 * day, 2000, 0, "after the end"),
    ];
    for (t, want, tolerance, msg) in cases {
        host.set_time(t);
        let got = share(&mut host);
        assert!(
            got.abs_diff(want) <= tolerance,
            "{msg}: {got} of 2000, want {want}"
        );
    }
    host.set_time(start + day - 1);
    let alice = |host: &mut FakeHost| {
        get(&plugin, host, "/x", &[("x-gateway-consumer", b"alice")])
            .forwarded()
            .0
    };
    assert_eq!(
        alice(&mut host),
        "v1",
        "alice (bucket 879) before the first step"
    );
    host.set_time(start + day);
    assert_eq!(
        alice(&mut host),
        "v2",
        "alice from the first step on (1000 bp)"
    );
    host.set_time(start + 3 * day);
    assert_eq!(alice(&mut host), "v2", "and stays there");
}

#[test]
fn many_and_huge_headers_have_defined_outcomes() {
    let mut host = FakeHost::new();
    let plugin = configure(EXAMPLE, &mut host);
    let names: Vec<String> = (0..150).map(|i| format!("x-h{i}")).collect();
    let mut pairs: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
    pairs.extend((0..150).map(|_| ("accept", &b"application/vnd.shop.v2+json"[..])));
    let ex = get(&plugin, &mut host, "/items", &pairs);
    assert_eq!(
        ex.forwarded(),
        fwd("v2", "api_v2", "/items"),
        "150 agreeing Accept headers"
    );

    let huge = vec![b'a'; 64 * 1024];
    let cases: &[(&str, u16)] = &[("api-version", 400), ("accept", 400)];
    for (name, status) in cases {
        let ex = get(&plugin, &mut host, "/items", &[(name, &huge)]);
        assert_eq!(ex.problem().0, *status, "64 KiB {name}");
    }
    let ex = get(
        &plugin,
        &mut host,
        "/items",
        &[("x-gateway-consumer", &huge)],
    );
    let cluster = ex.forwarded().1;
    assert!(
        ["api_v1", "api_v2"].contains(&cluster.as_str()),
        "a huge consumer id is only hashed"
    );
    let ex = get(&plugin, &mut host, "/items", &[("cookie", &huge)]);
    assert!(
        matches!(ex.decision, Decision::Continue),
        "a huge cookie is ignored"
    );
}
