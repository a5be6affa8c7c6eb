//! Native filter tests through `Plugin`/`Stream` with `FakeHost`s (several sharing one store play
//! the worker VMs of one Envoy process).

use std::rc::Rc;
use std::time::Duration;

use filter_core::fake::SharedStore;
use filter_core::testing::{self, problem, reply};
use filter_core::{Decision, FakeHost, HeaderMap, Plugin, Stream};
use serde_json::{json, Value};

use super::*;

const EXAMPLE: &str = include_str!("../../example.json");

fn plugin(json: &str, host: &mut FakeHost) -> Rc<QuotaPlugin> {
    Rc::new(QuotaPlugin::configure(json.as_bytes(), host).unwrap())
}

fn example_with(patch: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
    patch(&mut v);
    v.to_string()
}

fn req(consumer: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut pairs = vec![
        (":method", "GET"),
        (":path", "/v1/items"),
        (":authority", "api"),
        ("x-gateway-consumer", consumer),
    ];
    pairs.extend_from_slice(extra);
    HeaderMap::from_pairs(pairs)
}

fn send(
    p: &Rc<QuotaPlugin>,
    host: &mut FakeHost,
    mut headers: HeaderMap,
) -> (Decision, QuotaStream) {
    let mut stream = QuotaPlugin::new_stream(p);
    let d = stream.on_request_headers(&mut headers, true, host);
    (d, stream)
}

#[test]
fn free_plan_admits_five_per_minute_then_refuses_with_headers() {
    let mut host = FakeHost::new();
    host.advance(Duration::from_secs(15));
    let p = plugin(EXAMPLE, &mut host);
    for n in 0..5 {
        let (d, _) = send(&p, &mut host, req("bob", &[]));
        assert_eq!(d, Decision::Continue, "request {n}");
    }
    let r = reply(send(&p, &mut host, req("bob", &[])).0);
    assert_eq!(r.status, 429);
    assert_eq!(r.details, "gateway_quota_exceeded");
    assert_eq!(
        r.get_header("retry-after"),
        Some("45"),
        "until the next minute"
    );
    assert_eq!(
        r.get_header("ratelimit-policy"),
        Some("\"per-minute\";q=5;w=60, \"per-day\";q=100;w=86400")
    );
    assert_eq!(
        r.get_header("ratelimit"),
        Some("\"per-minute\";r=0;t=45, \"per-day\";r=95;t=86385")
    );
    assert_eq!(r.get_header("x-ratelimit-limit"), Some("5"));
    assert_eq!(r.get_header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.get_header("x-ratelimit-reset"), Some("45"));
    let b = problem(&r);
    assert_eq!(b["type"], "urn:gateway:problem:quota-exceeded");
    assert_eq!(b["limit"], "per-minute");
    assert_eq!(b["plan"], "free");
    assert_eq!(host.metric("quota_admitted"), Some(5));
    assert_eq!(host.metric("quota_refused"), Some(1));
    assert_eq!(
        host.metric("quota_consumer_usage.bob.free.per-minute"),
        Some(5)
    );
    assert_eq!(
        host.metric("quota_consumer_refused.bob.free.per-minute"),
        Some(1)
    );
    assert_eq!(
        host.metric("quota_consumer_usage.bob.free.per-day"),
        Some(5)
    );

    host.advance(Duration::from_secs(45));
    for n in 0..5 {
        let (d, _) = send(&p, &mut host, req("bob", &[]));
        assert_eq!(d, Decision::Continue, "next minute, request {n}");
    }
    host.set_time(1_767_225_600 + 30);
    let r = reply(send(&p, &mut host, req("bob", &[])).0);
    assert_eq!(
        r.status, 429,
        "a clock rewind into the full minute grants nothing"
    );
}

#[test]
fn four_workers_share_one_exact_count() {
    let store = SharedStore::default();
    let mut hosts: Vec<FakeHost> = (0..4)
        .map(|_| FakeHost::with_store(store.clone()))
        .collect();
    let plugins: Vec<_> = hosts.iter_mut().map(|h| plugin(EXAMPLE, h)).collect();
    let mut admitted = 0;
    for n in 0..40 {
        let w = n % 4;
        hosts[w].fail_next_cas = u32::from(n % 5 == 0);
        let (d, _) = send(&plugins[w], &mut hosts[w], req("bob", &[]));
        admitted += usize::from(d == Decision::Continue);
    }
    assert_eq!(
        admitted, 5,
        "free plan: exactly 5 per minute across 4 workers"
    );
    let usage: i64 = hosts
        .iter()
        .map(|h| {
            h.metric("quota_consumer_usage.bob.free.per-minute")
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(usage, 5, "usage metrics add up across workers");
}

#[test]
fn headers_on_successful_responses_and_post_charging() {
    let mut host = FakeHost::new();
    let p = plugin(EXAMPLE, &mut host);
    let (d, mut s) = send(&p, &mut host, req("alice", &[("x-gateway-plan", "gold")]));
    assert_eq!(d, Decision::Continue);
    host.advance(Duration::from_millis(300));
    let mut resp = HeaderMap::from_pairs([(":status", "200"), ("x-usage-tokens", "600000")]);
    s.on_response_headers(&mut resp, false, &mut host);
    assert_eq!(
        resp.get_str("ratelimit"),
        Some("\"burst\";r=99;t=0, \"per-minute\";r=99;t=60, \"per-month\";r=99999;t=2678400, \"tokens-per-day\";r=400000;t=86400"),
        "tokens charged after the response"
    );
    assert_eq!(
        resp.get_str("ratelimit-policy"),
        Some("\"burst\";q=100;w=2, \"per-minute\";q=100;w=60, \"per-month\";q=100000;w=2678400, \"tokens-per-day\";q=1000000;w=86400"),
        "a bucket of 100 refilled in 2 s"
    );
    assert_eq!(
        resp.get_str("x-ratelimit-limit"),
        Some("100"),
        "tightest: burst (99 left, reset passed while the upstream answered)"
    );
    assert_eq!(host.metric("quota_post_charged_units"), Some(600_000));
    // A second response overdraws the token limit; the next request is refused by it.
    let (_, mut s) = send(&p, &mut host, req("alice", &[]));
    let mut resp = HeaderMap::from_pairs([(":status", "200"), ("x-usage-tokens", "99999999999")]);
    s.on_response_headers(&mut resp, false, &mut host);
    assert_eq!(
        host.metric("quota_consumer_usage.alice.gold.tokens-per-day"),
        Some(1_600_000),
        "clamped to response_max"
    );
    let r = reply(send(&p, &mut host, req("alice", &[])).0);
    assert_eq!(problem(&r)["limit"], "tokens-per-day");
    // Invalid amounts are counted and charge nothing.
    let mut host = FakeHost::new();
    let p = plugin(EXAMPLE, &mut host);
    let (_, mut s) = send(&p, &mut host, req("alice", &[]));
    let mut resp = HeaderMap::from_pairs([(":status", "200"), ("x-usage-tokens", "-5")]);
    s.on_response_headers(&mut resp, false, &mut host);
    assert_eq!(host.metric("quota_post_charge_invalid"), Some(1));
    assert_eq!(host.metric("quota_post_charged_units"), Some(0));
}

#[test]
fn identity_plan_and_cost_resolution() {
    let mut host = FakeHost::new();
    let p = plugin(EXAMPLE, &mut host);
    let anonymous = HeaderMap::from_pairs([(":method", "GET"), (":path", "/v1/x")]);
    assert_eq!(
        send(&p, &mut host, anonymous.clone()).0,
        Decision::Continue,
        "no identity: allowed"
    );
    assert_eq!(host.metric("quota_unmetered"), Some(1));
    assert!(
        host.shared.borrow().keys().all(|k| !k.contains("c:_")),
        "no state for it"
    );

    let (d, _) = send(&p, &mut host, req("carol", &[]));
    assert_eq!(
        d,
        Decision::Continue,
        "unknown consumer, no default plan: unmetered"
    );
    assert_eq!(host.metric("quota_unmetered"), Some(2));

    let (d, _) = send(&p, &mut host, req("bob", &[("x-gateway-plan", "platinum")]));
    assert_eq!(
        d,
        Decision::Continue,
        "unknown plan header falls back to bob's plan"
    );
    assert_eq!(host.metric("quota_unknown_plan"), Some(1));

    let r = reply(send(&p, &mut host, req("bob", &[("x-request-cost", "0")])).0);
    assert_eq!(
        (r.status, problem(&r)["type"].as_str()),
        (400, Some("urn:gateway:problem:invalid-cost"))
    );
    let r = reply(send(&p, &mut host, req("bob", &[("x-request-cost", "5")])).0);
    assert_eq!(r.status, 429, "cost 5 with 4 left is refused whole");
    assert_eq!(
        send(&p, &mut host, req("bob", &[("x-request-cost", "4")])).0,
        Decision::Continue
    );
    assert_eq!(
        host.metric("quota_consumer_usage.bob.free.per-minute"),
        Some(5)
    );

    let strict = example_with(|v| v["unidentified"] = "reject".into());
    let p = plugin(&strict, &mut host);
    let r = reply(send(&p, &mut host, anonymous).0);
    assert_eq!(r.status, 403);
    assert_eq!(host.metric("quota_unidentified_rejected"), Some(1));
}

#[test]
fn route_weights_and_per_route_counters() {
    let mut host = FakeHost::new();
    let json = example_with(|v| v["key"]["per"] = "version".into());
    let p = plugin(&json, &mut host);
    let search = |c: &str| {
        let mut h = HeaderMap::from_pairs([(":path", "/v2/search?q=1"), (":method", "GET")]);
        h.set("x-gateway-consumer", c);
        h
    };
    assert_eq!(send(&p, &mut host, search("bob")).0, Decision::Continue);
    assert_eq!(send(&p, &mut host, search("bob")).0, Decision::Continue);
    let r = reply(send(&p, &mut host, search("bob")).0);
    assert_eq!(problem(&r)["cost"], 2, "weight 2: two calls use 4 of 5");
    assert_eq!(
        send(&p, &mut host, req("bob", &[])).0,
        Decision::Continue,
        "v1 counts separately"
    );
    let keys: Vec<String> = host
        .shared
        .borrow()
        .keys()
        .filter(|k| k.contains("c:bob"))
        .cloned()
        .collect();
    assert!(keys.iter().any(|k| k.contains("/version:v2/")), "{keys:?}");
    assert!(keys.iter().any(|k| k.contains("/version:v1/")), "{keys:?}");
}

#[test]
fn shadow_mode_and_failure_modes() {
    let mut host = FakeHost::new();
    let p = plugin(&example_with(|v| v["shadow"] = true.into()), &mut host);
    for _ in 0..7 {
        assert_eq!(send(&p, &mut host, req("bob", &[])).0, Decision::Continue);
    }
    assert_eq!(host.metric("quota_shadow_refused"), Some(2));
    assert_eq!(
        host.metric("quota_consumer_refused.bob.free.per-minute"),
        Some(2)
    );
    assert_eq!(
        host.metric("quota_consumer_usage.bob.free.per-minute"),
        Some(7),
        "still metered"
    );

    for (mode, want) in [("admit", None), ("refuse", Some(503))] {
        let mut host = FakeHost::new();
        let p = plugin(
            &example_with(|v| v["store"]["on_error"] = mode.into()),
            &mut host,
        );
        host.fail_next_cas = 1_000;
        let (d, _) = send(&p, &mut host, req("bob", &[]));
        let got = match d {
            Decision::Respond(r) => Some(r.status),
            _ => None,
        };
        assert_eq!(got, want, "{mode}");
        assert_eq!(
            host.metric("quota_store_retries_exhausted"),
            Some(1),
            "{mode}"
        );
        let failures = host.metric("quota_store_failure_admitted").unwrap()
            + host.metric("quota_store_failure_refused").unwrap();
        assert_eq!(failures, 1, "{mode}");
    }

    let mut host = FakeHost::new();
    let p = plugin(EXAMPLE, &mut host);
    let keys: Vec<String> = host.shared.borrow().keys().cloned().collect();
    assert_eq!(
        keys.len(),
        6,
        "counters of alice (4) and bob (2) created at configure time"
    );
    for k in &keys {
        host.set_shared(k, b"\x00garbage", None).unwrap();
    }
    assert_eq!(send(&p, &mut host, req("bob", &[])).0, Decision::Continue);
    assert_eq!(
        host.metric("quota_store_corrupt_resets"),
        Some(2),
        "bob's two counters reset"
    );
}

#[test]
fn usage_report_is_restricted_and_exact() {
    let store = SharedStore::default();
    let mut w1 = FakeHost::with_store(store.clone());
    let mut w2 = FakeHost::with_store(store);
    let p1 = plugin(EXAMPLE, &mut w1);
    let p2 = plugin(EXAMPLE, &mut w2);
    for _ in 0..2 {
        send(&p1, &mut w1, req("bob", &[]));
    }
    send(&p2, &mut w2, req("bob", &[]));
    let report = |groups: Option<&str>, method: &str, path: &str| {
        let mut h = HeaderMap::from_pairs([
            (":method", method),
            (":path", path),
            ("x-gateway-consumer", "alice"),
        ]);
        if let Some(g) = groups {
            h.set("x-gateway-groups", g);
        }
        h
    };
    let r = reply(
        send(
            &p1,
            &mut w1,
            report(
                Some("beta, staff"),
                "GET",
                "/_gateway/quota/usage?consumer=bob",
            ),
        )
        .0,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.get_header("content-type"), Some("application/json"));
    let b = testing::json(&r);
    assert_eq!(
        b["consumers"].as_array().unwrap().len(),
        1,
        "filtered to bob"
    );
    let bob = &b["consumers"][0];
    assert_eq!(bob["plan"], "free");
    assert_eq!(bob["usage"][0]["limit"], "per-minute");
    assert_eq!(bob["usage"][0]["used"], 3, "both workers' calls");
    assert_eq!(bob["usage"][0]["remaining"], 2);
    let minute = &bob["usage"][0];
    let mut members: Vec<&str> = minute
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "algorithm",
            "limit",
            "quota",
            "remaining",
            "reset",
            "scope",
            "used",
            "window"
        ]
    );
    assert_eq!(
        (&minute["scope"], &minute["quota"], &minute["algorithm"]),
        (&json!("-"), &json!(5), &json!("fixed_window"))
    );
    assert_eq!(
        minute["window"],
        json!({"unit": "minute", "size": 1, "calendar": false})
    );
    assert!(minute["reset"]
        .as_u64()
        .is_some_and(|s| (1..=60).contains(&s)));
    assert_eq!(bob["usage"][1]["limit"], "per-day");
    assert_eq!(
        (&b["key_source"], &b["truncated"]),
        (&json!("consumer"), &json!(false))
    );
    assert!(b["generated_at"].is_u64());
    let all = testing::json(&reply(
        send(
            &p1,
            &mut w1,
            report(Some("staff"), "GET", "/_gateway/quota/usage"),
        )
        .0,
    ));
    assert_eq!(all["consumers"].as_array().unwrap().len(), 2);
    assert_eq!(
        w1.metric("quota_consumer_usage.alice.gold.per-minute"),
        None,
        "reports are not metered"
    );

    for (groups, method, status) in [
        (Some("partners"), "GET", 403),
        (None, "GET", 403),
        (Some("staffing"), "GET", 403),
        (Some("staff"), "POST", 405),
    ] {
        let r = reply(
            send(
                &p1,
                &mut w1,
                report(groups, method, "/_gateway/quota/usage"),
            )
            .0,
        );
        assert_eq!(r.status, status, "{groups:?} {method}");
    }
}

#[test]
fn hostile_inputs_never_panic() {
    let mut host = FakeHost::new();
    let p = plugin(EXAMPLE, &mut host);
    let huge = "x".repeat(70_000);
    let cases: Vec<HeaderMap> = vec![
        HeaderMap::default(),
        HeaderMap::from_pairs([(":method", "CONNECT"), (":authority", "h:443")]),
        HeaderMap::from_pairs([
            (":path", b"/v1/\xc0\xa7".to_vec()),
            ("x-gateway-consumer", b"\xff".to_vec()),
        ]),
        HeaderMap::from_pairs([
            (":path", b"*".to_vec()),
            ("x-gateway-consumer", b"bob".to_vec()),
            ("x-gateway-plan", b"\xfe".to_vec()),
        ]),
        HeaderMap::from_pairs([
            (":path", "/v1"),
            ("x-gateway-consumer", huge.as_str()),
            ("x-request-cost", huge.as_str()),
        ]),
        HeaderMap::from_pairs(
            (0..200).map(|i| ("x-gateway-consumer".to_string(), format!("c{i}"))),
        ),
    ];
    for h in cases {
        let (_, mut s) = send(&p, &mut host, h);
        let mut resp = HeaderMap::from_pairs([("x-usage-tokens", huge.as_str())]);
        s.on_response_headers(&mut resp, true, &mut host);
        s.on_log(&mut host);
    }
    host.set_time(0);
    send(&p, &mut host, req("bob", &[]));
    host.now = std::time::UNIX_EPOCH - Duration::from_secs(10);
    send(&p, &mut host, req("bob", &[]));
    host.now = std::time::UNIX_EPOCH + Duration::from_secs(u64::MAX / 2_000_000);
    send(&p, &mut host, req("alice", &[]));
}

#[test]
fn report_lists_scopes_and_reads_without_creating() {
    let mut host = FakeHost::new();
    let json = example_with(|v| v["key"]["per"] = "route".into());
    let p = plugin(&json, &mut host);
    assert!(
        host.shared.borrow().is_empty(),
        "no pre-created counters with a scope"
    );
    let mut search = HeaderMap::from_pairs([(":path", "/v2/search"), (":method", "POST")]);
    search.set("x-gateway-consumer", "bob");
    send(&p, &mut host, search);
    let created = host.shared.borrow().len();
    let r = reply(
        send(
            &p,
            &mut host,
            HeaderMap::from_pairs([
                (":method", "HEAD"),
                (":path", "/_gateway/quota/usage?consumer=bob"),
                ("x-gateway-groups", "staff"),
            ]),
        )
        .0,
    );
    assert_eq!(r.status, 200, "HEAD is allowed");
    assert_eq!(
        host.shared.borrow().len(),
        created,
        "the report creates no counters"
    );
    let b = testing::json(&r);
    let usage = b["consumers"][0]["usage"].as_array().unwrap();
    assert_eq!(usage.len(), 2 * 4, "2 limits x scopes -, v2-search, v1, v2");
    let search = usage
        .iter()
        .find(|u| u["scope"] == "route:v2-search" && u["limit"] == "per-minute")
        .unwrap();
    assert_eq!(search["used"], 2, "weight 2");
    assert_eq!(host.metric("quota_report_requests"), Some(1));
}

/// A refill ahead of need is made by a request already admitted from the lease: if the call
/// cannot even be made, that request stays admitted, whatever `on_error` says.
#[test]
fn a_refill_ahead_that_cannot_be_sent_leaves_its_request_admitted() {
    let config = r#"{"plans": [{"name": "p", "limits": [{"name": "m", "limit": 100, "window": "minute"}]}],
        "default_plan": "p",
        "store": {"global": {"cluster": "rls", "mode": "leased", "block": 4, "on_error": "deny"}}}"#;
    let mut host = FakeHost::new();
    let p = plugin(config, &mut host);
    // The first request reserves a block of 4 and waits for it.
    let (d, mut first) = send(&p, &mut host, req("alice", &[]));
    assert_eq!(d, Decision::Pause);
    let (token, _) = host.grpc_calls[0].clone();
    let answer = crate::rls::RateLimitResponse {
        overall_code: crate::rls::Code::Ok as i32,
        statuses: vec![crate::rls::DescriptorStatus {
            code: crate::rls::Code::Ok as i32,
            current_limit: None,
            limit_remaining: 96,
            duration_until_reset: None,
        }],
    };
    let message = prost::Message::encode_to_vec(&answer);
    let d = first.on_grpc_response(token, Ok(message), &mut req("alice", &[]), &mut host);
    assert_eq!(d, Decision::Continue);
    // 3 units left: the second request leaves 2 (not under half a block).
    assert_eq!(send(&p, &mut host, req("alice", &[])).0, Decision::Continue);
    // The third leaves 1 and would reserve the next block ahead, but the host cannot call out.
    host.grpc = false;
    assert_eq!(send(&p, &mut host, req("alice", &[])).0, Decision::Continue);
    assert_eq!(host.metric("quota_admitted"), Some(3));
    assert_eq!(host.metric("quota_global_failures"), Some(1));
    assert_eq!(host.metric("quota_global_failure_denied"), Some(0));
}
