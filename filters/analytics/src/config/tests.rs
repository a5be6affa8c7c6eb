//! Tests of `parse`: defaults, the example and Envoy configurations, and every error at its
//! field's path.

use super::*;

#[test]
fn an_empty_config_is_refused_and_an_empty_object_takes_every_default() {
    for empty in [&b""[..], b"  \n"] {
        let e = parse(empty).unwrap_err();
        assert_eq!(e.field, ".");
        assert!(e.message.contains("write {}"), "{e}");
    }
    let c = parse(b"{}").unwrap();
    assert_eq!(c.consumer_header, "x-gateway-consumer");
    assert_eq!(c.plan_header, "x-gateway-plan");
    assert_eq!(c.credential_header, "x-gateway-credential");
    assert_eq!(c.version_header, "x-gateway-version");
    assert!(c.apis.is_empty());
    assert_eq!(c.limits.consumer, 100);
    assert_eq!(c.limits.overflow, "other");
    assert_eq!(c.max_metric_names, 10_000);
    assert_eq!(c.events, None);
}

#[test]
fn the_example_config_is_valid() {
    let c = parse(include_bytes!("../../example.json")).unwrap();
    let e = c.events.unwrap();
    assert_eq!(e.cluster, "collector");
    assert_eq!(e.authority, "collector");
    assert!(c.apis.iter().any(|a| a.name == "orders"));
}

#[test]
fn event_defaults() {
    let c = parse(br#"{"events":{"cluster":"collector"}}"#).unwrap();
    let e = c.events.unwrap();
    assert_eq!(e.path, "/events");
    assert_eq!(e.authority, "collector");
    assert_eq!(e.flush_interval, Duration::from_secs(1));
    assert_eq!(e.timeout, Duration::from_secs(5));
    assert_eq!(e.max_batch_events, 500);
    assert_eq!(e.max_batch_bytes, 1 << 20);
    assert_eq!(e.max_buffer_events, 10_000);
    assert_eq!(e.max_buffer_bytes, 4 << 20);
    assert_eq!(e.backoff_initial, Duration::from_secs(1));
    assert_eq!(e.backoff_max, Duration::from_secs(60));
    assert!(e.include_path);
}

#[test]
fn invalid_configs_name_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("{", ".", "malformed JSON"),
        (r#"{"nope":1}"#, "nope", "unknown top-level field"),
        (
            r#"{"consumer_header":"X Bad"}"#,
            "consumer_header",
            "space in header name",
        ),
        (
            r#"{"version_header":":path"}"#,
            "version_header",
            "pseudo-header",
        ),
        (
            r#"{"apis":[{"name":"a","path_prefixes":["/a"]},{"name":"a","path_prefixes":["/b"]}]}"#,
            "apis[1]",
            "duplicate API",
        ),
        (
            r#"{"apis":[{"name":"a.b","path_prefixes":["/a"]}]}"#,
            "apis[0].name",
            "dot in label value",
        ),
        (
            r#"{"apis":[{"name":"","path_prefixes":["/a"]}]}"#,
            "apis[0].name",
            "empty name",
        ),
        (
            r#"{"apis":[{"name":"a","path_prefixes":[]}]}"#,
            "apis[0].path_prefixes",
            "no prefix",
        ),
        (
            r#"{"apis":[{"name":"a","path_prefixes":["a"]}]}"#,
            "apis[0].path_prefixes[0]",
            "relative prefix",
        ),
        (
            r#"{"apis":[{"name":"a","path_prefixes":["/a?x"]}]}"#,
            "apis[0].path_prefixes[0]",
            "query in prefix",
        ),
        (
            r#"{"apis":[{"name":"a","path_prefixes":["/a"],"x":1}]}"#,
            "apis[0].x",
            "unknown API field",
        ),
        (
            r#"{"labels":{"consumer":0}}"#,
            "labels.consumer",
            "zero limit",
        ),
        (
            r#"{"labels":{"route":100001}}"#,
            "labels.route",
            "limit too large",
        ),
        (
            r#"{"labels":{"consumer":-1}}"#,
            "labels.consumer",
            "negative limit",
        ),
        (
            r#"{"labels":{"overflow_value":"a=b"}}"#,
            "labels.overflow_value",
            "unsafe overflow",
        ),
        (
            r#"{"max_metric_names":0}"#,
            "max_metric_names",
            "zero names",
        ),
        (r#"{"events":{}}"#, "events", "missing cluster"),
        (
            r#"{"events":{"cluster":""}}"#,
            "events.cluster",
            "empty cluster",
        ),
        (
            r#"{"events":{"cluster":"c","path":"events"}}"#,
            "events.path",
            "relative path",
        ),
        (
            r#"{"events":{"cluster":"c","authority":"a b"}}"#,
            "events.authority",
            "space in authority",
        ),
        (
            r#"{"events":{"cluster":"c","flush_interval_ms":1}}"#,
            "events.flush_interval_ms",
            "tick too fast",
        ),
        (
            r#"{"events":{"cluster":"c","timeout_ms":0}}"#,
            "events.timeout_ms",
            "zero timeout",
        ),
        (
            r#"{"events":{"cluster":"c","max_batch_events":0}}"#,
            "events.max_batch_events",
            "empty batches",
        ),
        (
            r#"{"events":{"cluster":"c","max_batch_bytes":10}}"#,
            "events.max_batch_bytes",
            "tiny batches",
        ),
        (
            r#"{"events":{"cluster":"c","max_batch_events":100,"max_buffer_events":10}}"#,
            "events.max_buffer_events",
            "buffer below batch",
        ),
        (
            r#"{"events":{"cluster":"c","max_buffer_bytes":2048}}"#,
            "events.max_buffer_bytes",
            "buffer bytes below batch bytes",
        ),
        (
            r#"{"events":{"cluster":"c","backoff_initial_ms":5000,"backoff_max_ms":10}}"#,
            "events.backoff_max_ms",
            "max below initial",
        ),
        (
            r#"{"events":{"cluster":"c","include_path":"yes"}}"#,
            "events.include_path",
            "wrong type",
        ),
        (
            r#"{"events":{"cluster":"c","max_batch_events":1e99}}"#,
            "events.max_batch_events",
            "float overflow",
        ),
    ];
    for (input, field, why) in cases {
        let err = parse(input.as_bytes()).unwrap_err();
        assert_eq!(err.field, *field, "{why}: {input} gave {err}");
    }
}

#[test]
fn too_many_apis_are_refused() {
    let apis: Vec<String> = (0..1001)
        .map(|i| format!(r#"{{"name":"a{i}","path_prefixes":["/a{i}"]}}"#))
        .collect();
    let json = format!(r#"{{"apis":[{}]}}"#, apis.join(","));
    let err = parse(json.as_bytes()).unwrap_err();
    assert_eq!(err.field, "apis");
}

#[test]
fn the_envoy_plugin_config_is_valid() {
    // The Envoy configs load envoy-config/plugins/analytics.json; catch drift from this schema.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../envoy-config/plugins/analytics.json"
    );
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let c = parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(c.events.unwrap().cluster, "collector");
}

#[test]
fn every_value_changed_is_refused_at_its_path_or_accepted() {
    let checked = filter_core::config::testing::check_reader_errors(
        include_bytes!("../../example.json"),
        |b| parse(b).map(drop),
    );
    let (documents, refused) = checked.unwrap();
    assert!(
        documents > 300 && refused > documents / 2,
        "{documents} {refused}"
    );
}
