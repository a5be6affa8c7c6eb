//! Configuration tests: the example is valid; each invalid config names its field.

use super::*;
use crate::admission::OnError;
use crate::limit::Algorithm;
use crate::window::{Unit, Window};

const EXAMPLE: &str = include_str!("../../example.json");

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
        (r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":1e30,"window":"minute"}]}]}"#.into(), "plans[0].limits[0].limit", "invalid value: 1e30, expected an integer from 0 to"),
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
        (minimal(r#","key":{"source":"client_address","buckets":0}"#), "key.buckets", "1 to 262144"),
        (minimal(r#","key":{"source":"client_address","buckets":262145}"#), "key.buckets", "1 to 262144"),
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

/// The wire structs as read from `doc`, before validation.
fn raw(doc: &str) -> Result<RawConfig, ConfigError> {
    let json = filter_core::config::parse(doc.as_bytes())?;
    RawConfig::read(Field::root(&json))
}

#[test]
fn every_field_is_read_from_its_name() {
    let r = raw(r#"{
        "plans": [{"name": "p", "limits": [{"name": "l", "limit": 7, "window": "week",
            "window_size": 3, "calendar": true, "algorithm": "gcra", "burst": 9,
            "charge": "response"}]}],
        "default_plan": "p",
        "consumers": [{"id": "c", "plan": "p"}],
        "key": {"source": "header", "header": "x-k", "buckets": 11, "per": "version"},
        "identity": {"consumer_header": "x-1", "plan_header": "x-2", "groups_header": "x-3",
            "credential_header": "x-4"},
        "routes": [{"name": "r", "path_prefix": "/r", "methods": ["GET"], "api": "a",
            "version": "v", "cost": 4}],
        "cost": {"header": "x-c", "min": 2, "max": 5, "response_header": "x-r",
            "response_max": 6},
        "headers": {"on_success": true, "ietf": false, "x_ratelimit": false},
        "shadow": true,
        "store": {"max_attempts": 12, "on_error": "refuse"},
        "report": {"path": "/u", "group": "g"},
        "unidentified": "reject"
    }"#)
    .unwrap();
    let (plan, limit) = (&r.plans[0], &r.plans[0].limits[0]);
    assert_eq!((plan.name.as_str(), limit.name.as_str()), ("p", "l"));
    assert_eq!(
        (limit.limit, limit.window, limit.window_size, limit.calendar),
        (7, Unit::Week, 3, true)
    );
    assert_eq!(
        (limit.algorithm, limit.burst, limit.charge),
        (AlgorithmName::Gcra, Some(9), ChargeAt::Response)
    );
    assert_eq!(r.default_plan.as_deref(), Some("p"));
    assert_eq!(
        (r.consumers[0].id.as_str(), r.consumers[0].plan.as_deref()),
        ("c", Some("p"))
    );
    assert_eq!(
        (
            r.key.source,
            r.key.header.as_deref(),
            r.key.buckets,
            r.key.per
        ),
        (KeySource::Header, Some("x-k"), Some(11), Scope::Version)
    );
    let i = &r.identity;
    assert_eq!(
        [
            &i.consumer_header,
            &i.plan_header,
            &i.groups_header,
            &i.credential_header
        ],
        ["x-1", "x-2", "x-3", "x-4"]
    );
    let route = &r.routes[0];
    assert_eq!(
        (
            route.name.as_str(),
            route.path_prefix.as_str(),
            &route.methods[..]
        ),
        ("r", "/r", &["GET".to_string()][..])
    );
    assert_eq!(
        (route.api.as_deref(), route.version.as_deref(), route.cost),
        (Some("a"), Some("v"), Some(4))
    );
    let c = &r.cost;
    assert_eq!((c.header.as_deref(), c.min, c.max), (Some("x-c"), 2, 5));
    assert_eq!(
        (c.response_header.as_deref(), c.response_max),
        (Some("x-r"), 6)
    );
    let h = &r.headers;
    assert_eq!((h.on_success, h.ietf, h.x_ratelimit), (true, false, false));
    assert!(r.shadow);
    assert_eq!(
        (r.store.max_attempts, r.store.on_error),
        (12, OnErrorName::Refuse)
    );
    let report = r.report.unwrap();
    assert_eq!((report.path.as_str(), report.group.as_str()), ("/u", "g"));
    assert_eq!(r.unidentified, Unidentified::Reject);
}

#[test]
fn every_variant_is_read_by_its_snake_case_name() {
    let limit = |members: &str| {
        let doc = format!(
            r#"{{"plans":[{{"name":"p","limits":[{{"name":"l","limit":1,{members}}}]}}]}}"#
        );
        raw(&doc).unwrap().plans.remove(0).limits.remove(0)
    };
    let units = [
        ("second", Unit::Second),
        ("minute", Unit::Minute),
        ("hour", Unit::Hour),
        ("day", Unit::Day),
        ("week", Unit::Week),
        ("month", Unit::Month),
    ];
    for (name, unit) in units {
        assert_eq!(
            limit(&format!(r#""window":"{name}""#)).window,
            unit,
            "{name}"
        );
    }
    let algorithms = [
        ("fixed_window", AlgorithmName::FixedWindow),
        ("sliding_window", AlgorithmName::SlidingWindow),
        ("gcra", AlgorithmName::Gcra),
    ];
    for (name, algorithm) in algorithms {
        let l = limit(&format!(r#""window":"day","algorithm":"{name}""#));
        assert_eq!(l.algorithm, algorithm, "{name}");
    }
    for (name, charge) in [
        ("request", ChargeAt::Request),
        ("response", ChargeAt::Response),
    ] {
        let l = limit(&format!(r#""window":"day","charge":"{name}""#));
        assert_eq!(l.charge, charge, "{name}");
    }
    let top = |members: &str| raw(&minimal(&format!(",{members}"))).unwrap();
    let sources = [
        ("consumer", KeySource::Consumer),
        ("api_key", KeySource::ApiKey),
        ("client_address", KeySource::ClientAddress),
        ("header", KeySource::Header),
    ];
    for (name, source) in sources {
        let key = top(&format!(r#""key":{{"source":"{name}"}}"#)).key;
        assert_eq!(key.source, source, "{name}");
    }
    let scopes = [
        ("none", Scope::None),
        ("api", Scope::Api),
        ("route", Scope::Route),
        ("version", Scope::Version),
    ];
    for (name, per) in scopes {
        assert_eq!(
            top(&format!(r#""key":{{"per":"{name}"}}"#)).key.per,
            per,
            "{name}"
        );
    }
    for (name, on_error) in [
        ("admit", OnErrorName::Admit),
        ("refuse", OnErrorName::Refuse),
    ] {
        let store = top(&format!(r#""store":{{"on_error":"{name}"}}"#)).store;
        assert_eq!(store.on_error, on_error, "{name}");
    }
    let unidentified = [
        ("allow", Unidentified::Allow),
        ("reject", Unidentified::Reject),
    ];
    for (name, value) in unidentified {
        let r = top(&format!(r#""unidentified":"{name}""#));
        assert_eq!(r.unidentified, value, "{name}");
    }
}

#[test]
fn null_is_absent_for_optional_fields_only() {
    // Optional fields read `null` as absent.
    let absent = minimal(r#","consumers":[{"id":"c"}],"routes":[{"name":"r","path_prefix":"/r"}]"#);
    let nulls = r#"{"plans":[{"name":"free","limits":[{"name":"m","limit":5,"window":"minute",
        "burst":null}]}],"default_plan":null,"consumers":[{"id":"c","plan":null}],
        "key":{"header":null,"buckets":null},
        "routes":[{"name":"r","path_prefix":"/r","api":null,"version":null,"cost":null}],
        "cost":{"header":null,"response_header":null},"report":null}"#;
    assert_eq!(
        format!("{:?}", parse(nulls.as_bytes()).unwrap()),
        format!("{:?}", parse(absent.as_bytes()).unwrap())
    );
    // Fields with a default refuse `null`, like required ones.
    let lim = |l: &str| {
        format!(
            r#"{{"plans":[{{"name":"p","limits":[{{"name":"l","limit":5,"window":"minute"{l}}}]}}]}}"#
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (r#"{"plans":null}"#.into(), "plans"),
        (
            r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":null}]}]}"#.into(),
            "plans[0].limits[0].window",
        ),
        (
            lim(r#","window_size":null"#),
            "plans[0].limits[0].window_size",
        ),
        (lim(r#","calendar":null"#), "plans[0].limits[0].calendar"),
        (lim(r#","algorithm":null"#), "plans[0].limits[0].algorithm"),
        (lim(r#","charge":null"#), "plans[0].limits[0].charge"),
        (minimal(r#","consumers":null"#), "consumers"),
        (minimal(r#","key":null"#), "key"),
        (minimal(r#","key":{"source":null}"#), "key.source"),
        (minimal(r#","key":{"per":null}"#), "key.per"),
        (minimal(r#","identity":null"#), "identity"),
        (
            minimal(r#","identity":{"plan_header":null}"#),
            "identity.plan_header",
        ),
        (minimal(r#","routes":null"#), "routes"),
        (
            minimal(r#","routes":[{"name":"r","path_prefix":"/r","methods":null}]"#),
            "routes[0].methods",
        ),
        (minimal(r#","cost":null"#), "cost"),
        (minimal(r#","cost":{"min":null}"#), "cost.min"),
        (
            minimal(r#","cost":{"response_max":null}"#),
            "cost.response_max",
        ),
        (minimal(r#","headers":null"#), "headers"),
        (minimal(r#","headers":{"ietf":null}"#), "headers.ietf"),
        (minimal(r#","shadow":null"#), "shadow"),
        (minimal(r#","store":null"#), "store"),
        (
            minimal(r#","store":{"max_attempts":null}"#),
            "store.max_attempts",
        ),
        (minimal(r#","store":{"on_error":null}"#), "store.on_error"),
        (minimal(r#","unidentified":null"#), "unidentified"),
    ];
    for (input, field) in &cases {
        let err = parse(input.as_bytes()).expect_err(input);
        assert_eq!(err.field, *field, "{input}: {err}");
        assert!(err.message.contains("invalid type: null"), "{input}: {err}");
    }
}

#[test]
fn every_value_changed_is_refused_at_its_path_or_accepted() {
    let checked = filter_core::config::testing::check_reader_errors(EXAMPLE.as_bytes(), |b| {
        parse(b).map(drop)
    });
    let (documents, refused) = checked.unwrap();
    assert!(
        documents > 500 && refused > documents / 2,
        "{documents} {refused}"
    );
}
