//! Configuration tests: the example is valid; each invalid config names its field.

use super::*;
use crate::admission::OnError;
use crate::limit::Algorithm;
use crate::window::Window;

const EXAMPLE: &str = include_str!("../example.json");

fn minimal(extra: &str) -> String {
    format!(
        r#"{{"plans":[{{"name":"free","limits":[{{"name":"m","limit":5,"window":"minute"}}]}}]{extra}}}"#
    )
}

#[test]
fn the_example_is_valid() {
    let c = parse(EXAMPLE.as_bytes()).unwrap();
    assert_eq!(c.plans.len(), 2);
    let gold = &c.plans[c.plan_index("gold").unwrap()];
    assert_eq!(
        gold.limits[0].limit.algorithm,
        Algorithm::Gcra { burst: 100 }
    );
    assert_eq!(gold.limits[3].charge, ChargeAt::Response);
    assert_eq!(c.consumer("alice").unwrap().plan, c.plan_index("gold"));
    assert_eq!(c.routes[0].path_prefix, "/v2/search");
    assert_eq!(c.report.as_ref().unwrap().group, "staff");
}

#[test]
fn defaults() {
    let c = parse(minimal("").as_bytes()).unwrap();
    let l = &c.plans[0].limits[0];
    assert_eq!(l.limit.algorithm, Algorithm::FixedWindow, "algorithm");
    assert_eq!(
        l.limit.window,
        Window::new(Unit::Minute, 1),
        "window_size 1, not calendar"
    );
    assert_eq!(l.charge, ChargeAt::Request, "charge");
    assert_eq!(c.key.source, Source::Consumer, "key.source");
    assert_eq!(c.key.per, Scope::None, "key.per");
    assert_eq!(c.identity.consumer_header, "x-gateway-consumer");
    assert_eq!(c.identity.plan_header, "x-gateway-plan");
    assert_eq!(c.identity.groups_header, "x-gateway-groups");
    assert_eq!(c.identity.credential_header, "x-gateway-credential");
    assert_eq!(
        (c.cost.min, c.cost.max, c.cost.response_max),
        (1, 1_000, 1_000_000)
    );
    assert!(!c.headers.on_success && c.headers.ietf && c.headers.x_ratelimit);
    assert!(!c.shadow);
    assert_eq!((c.max_attempts, c.on_error), (8, OnError::Admit));
    assert_eq!(c.unidentified, Unidentified::Allow);
    assert!(c.default_plan.is_none() && c.report.is_none());
    let c = parse(minimal(r#","key":{"source":"client_address"}"#).as_bytes()).unwrap();
    assert_eq!(c.key.source, Source::ClientAddress(65_536), "key.buckets");
}

#[test]
fn invalid_configs_name_their_field() {
    let lim = |l: &str| {
        format!(
            r#"{{"plans":[{{"name":"p","limits":[{{"name":"l","limit":5,"window":"minute"{l}}}]}}]}}"#
        )
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("".into(), ".", "missing field `plans`"),
        ("{".into(), ".", "EOF"),
        (r#"{"plans":[]}"#.into(), "plans", "1 to 64"),
        (minimal(r#","extra":1"#), "extra", "unknown field"),
        (lim(r#","limit":6"#), "plans[0].limits[0].limit", "duplicate field"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":"fortnight"}]}]}"#.into(), "plans[0].limits[0].window", "unknown variant"),
        (lim(r#","window_size":0"#), "plans[0].limits[0].window_size", "1 to 1000"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":"month","window_size":121}]}]}"#.into(), "plans[0].limits[0].window_size", "1 to 120"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":0,"window":"minute"}]}]}"#.into(), "plans[0].limits[0].limit", "1 to 10^15"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":-1,"window":"minute"}]}]}"#.into(), "plans[0].limits[0].limit", "invalid value"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":1e30,"window":"minute"}]}]}"#.into(), "plans[0].limits[0].limit", "invalid type"),
        (lim(r#","algorithm":"leaky""#), "plans[0].limits[0].algorithm", "unknown variant"),
        (lim(r#","algorithm":"gcra","calendar":true"#), "plans[0].limits[0].calendar", "calendar"),
        (lim(r#","burst":3"#), "plans[0].limits[0].burst", "only for algorithm gcra"),
        (lim(r#","algorithm":"gcra","burst":0"#), "plans[0].limits[0].burst", "1 to 10^15"),
        (lim(r#","charge":"response""#), "plans[0].limits[0].charge", "cost.response_header"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"a b","limit":5,"window":"minute"}]}]}"#.into(), "plans[0].limits[0].name", "letters"),
        (r#"{"plans":[{"name":"p","limits":[]}]}"#.into(), "plans[0].limits", "1 to 16"),
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":"minute"},{"name":"l","limit":5,"window":"hour"}]}]}"#.into(), "plans[0].limits[1]", "duplicate limit"),
        (r#"{"plans":[{"name":"_p","limits":[{"name":"l","limit":5,"window":"minute"}]}]}"#.into(), "plans[0].name", "not starting with '_'"),
        (minimal(r#","default_plan":"gold""#), "default_plan", "no plan named"),
        (minimal(r#","consumers":[{"id":"alice","plan":"gold"}]"#), "consumers[0].plan", "no plan named"),
        (minimal(r#","consumers":[{"id":"al.ice"}]"#), "consumers[0].id", "letters"),
        (minimal(r#","consumers":[{"id":"a"},{"id":"a"}]"#), "consumers[1]", "duplicate consumer"),
        (minimal(r#","key":{"source":"header"}"#), "key.header", "required"),
        (minimal(r#","key":{"source":"api_key","header":"X-Api-Key"}"#), "key.header", "lowercase header name"),
        (minimal(r#","key":{"source":"consumer","header":"x-a"}"#), "key.header", "only for sources"),
        (minimal(r#","key":{"source":"client_address","buckets":0}"#), "key.buckets", "1 to 1048576"),
        (minimal(r#","key":{"per":"tenant"}"#), "key.per", "unknown variant"),
        (minimal(r#","identity":{"consumer_header":":path"}"#), "identity.consumer_header", "header name"),
        (minimal(r#","cost":{"header":"bad header"}"#), "cost.header", "header name"),
        (minimal(r#","cost":{"min":5,"max":2}"#), "cost.min", "must not exceed"),
        (minimal(r#","cost":{"max":10000000000}"#), "cost.max", "at most"),
        (minimal(r#","routes":[{"name":"r","path_prefix":"v1"}]"#), "routes[0].path_prefix", "start with '/'"),
        (minimal(r#","routes":[{"name":"r","path_prefix":"/v1?x"}]"#), "routes[0].path_prefix", "start with '/'"),
        (minimal(r#","routes":[{"name":"r","path_prefix":"/v1","methods":["get"]}]"#), "routes[0].methods[0]", "uppercase"),
        (minimal(r#","routes":[{"name":"r","path_prefix":"/v1","cost":5000}]"#), "routes[0].cost", "cost.max"),
        (minimal(r#","routes":[{"name":"r","path_prefix":"/a"},{"name":"r","path_prefix":"/b"}]"#), "routes[1]", "duplicate route"),
        (minimal(r#","store":{"max_attempts":0}"#), "store.max_attempts", "1 to 64"),
        (minimal(r#","store":{"on_error":"panic"}"#), "store.on_error", "unknown variant"),
        (minimal(r#","report":{"path":"usage","group":"staff"}"#), "report.path", "start with '/'"),
        (minimal(r#","report":{"path":"/usage"}"#), "report", "missing field `group`"),
        (minimal(r#","unidentified":"maybe""#), "unidentified", "unknown variant"),
        (minimal(r#","shadow":"yes""#), "shadow", "invalid type"),
    ];
    for (input, field, message) in &cases {
        let err = parse(input.as_bytes()).expect_err(input);
        assert_eq!(err.field, *field, "{input}: {err}");
        assert!(err.message.contains(message), "{input}: {err}");
    }
}
