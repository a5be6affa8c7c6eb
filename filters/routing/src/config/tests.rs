//! Tests of `parse`: the example, defaults, and every error at its field's path. `EXAMPLE` is
//! shared with the other test modules.

use super::*;
use filter_core::ConfigError;
use serde_json::{json, Value};

pub(crate) const EXAMPLE: &str = include_str!("../../example.json");

fn minimal() -> Value {
    json!({"versions": [{"name": "v1", "cluster": "api_v1"}]})
}

/// `base` with `patch` merged in at the top level.
fn with(patch: Value) -> Value {
    let mut base = minimal();
    if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

fn parse(v: &Value) -> Result<Config, ConfigError> {
    super::parse(v.to_string().as_bytes())
}

#[test]
fn example_is_valid() {
    let c = super::parse(EXAMPLE.as_bytes()).expect("example.json");
    assert_eq!(c.versions.len(), 4);
    assert_eq!(c.default_version, Some(0));
    assert_eq!(c.api.as_deref(), Some("shop"));
    assert_eq!(c.canaries[0].weight, Weight::Fixed(1000), "10 % is 1000 bp");
    let v1beta = &c.versions[2];
    assert_eq!(
        v1beta.response_headers,
        vec![
            ("deprecation", "@1767225600".to_owned()),
            ("sunset", "Tue, 01 Jan 2030 00:00:00 GMT".to_owned()),
            (
                "link",
                "<https://developer.example/deprecations/v1beta>; rel=\"deprecation\"".to_owned()
            ),
            ("link", "</v1>; rel=\"successor-version\"".to_owned()),
        ]
    );
    assert_eq!(
        c.versions[3].response_headers,
        vec![(
            "link",
            "<https://developer.example/docs/v1>; rel=\"successor-version\"".to_owned()
        )]
    );
    assert_eq!(c.find("2"), Some(1), "aliases resolve");
    assert_eq!(c.find("V2"), None, "case-sensitive by default");
}

#[test]
fn defaults() {
    let c = parse(&minimal()).unwrap();
    assert_eq!(c.sources, [Source::Path, Source::Header, Source::Query]);
    assert_eq!(c.header, "api-version");
    assert_eq!(c.query, "api-version");
    assert_eq!(c.unknown_status, 404);
    assert_eq!(c.conflicts, Conflicts::Reject);
    assert!(c.case_sensitive && c.strip_prefix);
    assert_eq!(c.max_path_bytes, 8192);
    assert_eq!(c.consumer_header, "x-gateway-consumer");
    assert_eq!(c.groups_header, "x-gateway-groups");
    assert_eq!(c.credential_header, "x-gateway-credential");
    assert_eq!(c.cluster_header, "x-gateway-cluster");
    assert_eq!(c.version_header, "x-gateway-version");
    assert_eq!(c.default_version, None);
    let cookie = c.cookie.unwrap();
    assert_eq!(
        (cookie.name.as_str(), cookie.max_age, cookie.secure),
        ("gw_version_key", 2_592_000, false)
    );
    assert!(c.sticky_header.is_none() && c.override_.is_none() && c.canaries.is_empty());
    let c = parse(&with(json!({"api": "Shop"}))).unwrap();
    assert_eq!(
        c.sources.last(),
        Some(&Source::Accept),
        "accept joins when api is set"
    );
    assert_eq!(c.api.as_deref(), Some("shop"), "api is lowercased");
    let c = parse(&with(json!({"sticky": {"cookie": null}}))).unwrap();
    assert!(c.cookie.is_none(), "null disables the cookie");
    assert!(
        parse(&with(json!({"case_sensitive": false})))
            .unwrap()
            .find("V1")
            == Some(0)
    );
}

#[test]
fn ramp_is_validated() {
    let c = parse(&with(json!({
        "versions": [{"name": "v1", "cluster": "a"}, {"name": "v2", "cluster": "b"}],
        "canaries": [{"from": "v1", "to": "v2", "ramp": {
            "start": "2026-01-01T00:00:00Z", "end": "2026-01-11T00:00:00Z", "steps": 5,
            "from_percent": 1.5, "to_percent": 50}}]
    })))
    .unwrap();
    let Weight::Ramp(r) = &c.canaries[0].weight else {
        panic!("ramp expected")
    };
    assert_eq!((r.steps, r.from, r.to), (5, 150, 5000));
}

#[test]
fn invalid_configs_name_the_field() {
    let two = json!([{"name": "v1", "cluster": "a"}, {"name": "v2", "cluster": "b"}]);
    let canary = |c: Value| with(json!({"versions": two.clone(), "canaries": [c]}));
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), ".", "missing field `versions`"),
        (with(json!({"extra": 1})), "extra", "unknown field"),
        (with(json!({"versions": []})), "versions", "1 to 64"),
        (
            with(json!({"versions": [{"name": "v1"}]})),
            "versions[0].cluster",
            "required",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "x": 1}]})),
            "versions[0].x",
            "unknown field",
        ),
        (
            with(json!({"versions": [{"name": "v 1", "cluster": "a"}]})),
            "versions[0].name",
            "[A-Za-z0-9._-]",
        ),
        (
            with(json!({"versions": [{"name": "..", "cluster": "a"}]})),
            "versions[0].name",
            "[A-Za-z0-9._-]",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a\r\nb"}]})),
            "versions[0].cluster",
            "letters",
        ),
        (
            with(
                json!({"versions": [{"name": "v1", "cluster": "a"}, {"name": "v1", "cluster": "b"}]}),
            ),
            "versions[1].name",
            "names two versions",
        ),
        (
            with(
                json!({"versions": [{"name": "v1", "cluster": "a"}, {"name": "v2", "aliases": ["v1"], "cluster": "b"}]}),
            ),
            "versions[1].aliases[0]",
            "names two versions",
        ),
        (
            with(
                json!({"case_sensitive": false, "versions": [{"name": "v1", "cluster": "a"}, {"name": "V1", "cluster": "b"}]}),
            ),
            "versions[1].name",
            "names two versions",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "status": "old"}]})),
            "versions[0].status",
            "unknown variant",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "status": "deprecated"}]})),
            "versions[0].deprecation",
            "required",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "sunset": "tomorrow"}]})),
            "versions[0].sunset",
            "RFC 3339",
        ),
        (
            with(
                json!({"versions": [{"name": "v1", "cluster": "a", "deprecation": "2026-02-01T00:00:00Z", "sunset": "2026-01-01T00:00:00Z"}]}),
            ),
            "versions[0].sunset",
            "precede",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "successor": "v9"}]})),
            "versions[0].successor",
            "no version",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "successor": "v1"}]})),
            "versions[0].successor",
            "itself",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "successor_url": "/x"}]})),
            "versions[0].successor_url",
            "needs successor",
        ),
        (
            with(json!({"versions": [{"name": "v1", "cluster": "a", "deprecation_url": "a>b"}]})),
            "versions[0].deprecation_url",
            "visible ASCII",
        ),
        (
            with(
                json!({"versions": [{"name": "v1", "cluster": "a", "deprecation_url": "a\r\nb"}]}),
            ),
            "versions[0].deprecation_url",
            "visible ASCII",
        ),
        (
            with(json!({"default_version": "v9"})),
            "default_version",
            "no version",
        ),
        (
            with(
                json!({"default_version": "v0", "versions": [{"name": "v0", "status": "retired"}]}),
            ),
            "default_version",
            "retired",
        ),
        (
            with(json!({"unknown_status": 500})),
            "unknown_status",
            "400 or 404",
        ),
        (
            with(json!({"unknown_status": -1})),
            "unknown_status",
            "invalid value",
        ),
        (
            with(json!({"max_path_bytes": 1})),
            "max_path_bytes",
            "16 to 65536",
        ),
        (with(json!({"sources": []})), "sources", "at least one"),
        (
            with(json!({"sources": ["path", "path"]})),
            "sources[1]",
            "duplicate",
        ),
        (
            with(json!({"sources": ["cookie"]})),
            "sources[0]",
            "unknown variant",
        ),
        (with(json!({"sources": ["accept"]})), "api", "required"),
        (with(json!({"api": "a/b"})), "api", "[A-Za-z0-9._-]"),
        (
            with(json!({"header": "bad header"})),
            "header",
            "header name",
        ),
        (with(json!({"header": ":path"})), "header", "header name"),
        (with(json!({"query": "a&b"})), "query", "[A-Za-z0-9._-]"),
        (
            with(json!({"conflicts": "merge"})),
            "conflicts",
            "unknown variant",
        ),
        (
            with(json!({"output": {"cluster_header": "x", "version_header": "x"}})),
            "output.version_header",
            "differ",
        ),
        (
            with(json!({"header": "x-gateway-cluster"})),
            "header",
            "output headers",
        ),
        (
            with(json!({"identity": {"consumer_header": "a b"}})),
            "identity.consumer_header",
            "header name",
        ),
        (
            with(json!({"sticky": {"cookie": {"name": "a;b"}}})),
            "sticky.cookie.name",
            "token",
        ),
        (
            with(json!({"sticky": {"cookie": {"name": "k", "max_age_seconds": 0}}})),
            "sticky.cookie.max_age_seconds",
            "400 days",
        ),
        (
            with(json!({"sticky": {"header": "a\nb"}})),
            "sticky.header",
            "header name",
        ),
        (
            with(json!({"override": {"groups": []}})),
            "override.groups",
            "at least one",
        ),
        (
            with(json!({"override": {"groups": ["a,b"]}})),
            "override.groups[0]",
            "token",
        ),
        (
            with(json!({"override": {"header": "x-gateway-version", "groups": ["a"]}})),
            "override.header",
            "output headers",
        ),
        (
            canary(json!({"from": "v1", "to": "v2"})),
            "canaries[0]",
            "exactly one",
        ),
        (
            canary(
                json!({"from": "v1", "to": "v2", "percent": 5, "ramp": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}}),
            ),
            "canaries[0]",
            "exactly one",
        ),
        (
            canary(json!({"from": "v1", "to": "v1", "percent": 5})),
            "canaries[0].to",
            "differ",
        ),
        (
            canary(json!({"from": "v9", "to": "v2", "percent": 5})),
            "canaries[0].from",
            "no version",
        ),
        (
            canary(json!({"from": "v1", "to": "v2", "percent": 100.5})),
            "canaries[0].percent",
            "0 to 100",
        ),
        (
            canary(json!({"from": "v1", "to": "v2", "percent": -1})),
            "canaries[0].percent",
            "0 to 100",
        ),
        (
            canary(
                json!({"from": "v1", "to": "v2", "ramp": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}),
            ),
            "canaries[0].ramp.end",
            "after start",
        ),
        (
            canary(
                json!({"from": "v1", "to": "v2", "ramp": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "steps": 0}}),
            ),
            "canaries[0].ramp.steps",
            "1 to 1000",
        ),
        (
            canary(
                json!({"from": "v1", "to": "v2", "ramp": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "to_percent": 101}}),
            ),
            "canaries[0].ramp.to_percent",
            "0 to 100",
        ),
        (
            canary(
                json!({"from": "v1", "to": "v2", "ramp": {"start": "x", "end": "2026-01-02T00:00:00Z"}}),
            ),
            "canaries[0].ramp.start",
            "RFC 3339",
        ),
        (
            with(json!({"versions": two.clone(), "canaries": [
                {"from": "v1", "to": "v2", "percent": 5},
                {"from": "v1", "to": "v2", "percent": 6}]})),
            "canaries[1].from",
            "already",
        ),
    ];
    for (config, field, message) in cases {
        let err = parse(&config).expect_err(&config.to_string());
        assert_eq!(err.field, field, "config {config}: {err}");
        assert!(err.message.contains(message), "config {config}: {err}");
    }
}

#[test]
fn huge_and_malformed_documents_are_refused() {
    let many: Vec<Value> = (0..65)
        .map(|i| json!({"name": format!("v{i}"), "cluster": "c"}))
        .collect();
    let err = parse(&json!({ "versions": many })).unwrap_err();
    assert_eq!(err.field, "versions");
    for bad in ["", "{", "[]", "null", r#"{"versions": 1}"#] {
        assert!(super::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    let dup = r#"{"versions": [{"name": "v1", "cluster": "a"}], "versions": []}"#;
    assert!(super::parse(dup.as_bytes()).is_err(), "duplicate keys");
}

#[test]
fn every_value_changed_is_refused_at_its_path_or_accepted() {
    let checked = filter_core::config::testing::check_reader_errors(EXAMPLE.as_bytes(), |b| {
        super::parse(b).map(drop)
    });
    let (documents, refused) = checked.unwrap();
    assert!(
        documents > 500 && refused > documents / 2,
        "{documents} {refused}"
    );
}
