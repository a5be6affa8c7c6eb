//! The `protect` section: defaults, ranges, references; every refusal names its field.

use crate::config::parse;

use super::*;

fn with(protect: &str) -> String {
    format!(
        r#"{{"plans":[{{"name":"free","limits":[{{"name":"m","limit":5,"window":"minute"}}]}}],
        "routes":[{{"name":"v1","path_prefix":"/v1","api":"catalog","version":"v1"}}],
        "protect":{protect}}}"#
    )
}

fn err(protect: &str) -> String {
    parse(with(protect).as_bytes())
        .expect_err("refused")
        .to_string()
}

#[test]
fn defaults_and_the_full_form() {
    let c = parse(
        with(r#"{"apis":[{"api":"catalog","breaker":{"consecutive_failures":5}}]}"#).as_bytes(),
    )
    .unwrap();
    let p = c.protect.unwrap();
    assert_eq!(p.max_attempts, 32);
    let a = &p.apis[0];
    assert_eq!((a.per, a.policy.max_in_flight), (Per::Api, None));
    assert_eq!(a.failure_statuses, DEFAULT_STATUSES);
    let b = a.policy.breaker.as_ref().unwrap();
    assert_eq!(
        (
            b.consecutive,
            b.rate,
            b.cool_down_us,
            b.probes,
            b.close_after
        ),
        (Some(5), None, 30_000_000, 1, 1)
    );

    let c = parse(
        with(
            r#"{"apis":[{"api":"catalog","per":"version_and_consumer","max_in_flight":100,
            "breaker":{"failure_rate":{"percent":50},"failure_statuses":[500,503],
            "cool_down_seconds":5,"half_open_probes":3,"close_after":2}}],"max_attempts":4}"#,
        )
        .as_bytes(),
    )
    .unwrap();
    let p = c.protect.unwrap();
    let a = &p.apis[0];
    assert_eq!(
        (a.per, a.policy.max_in_flight),
        (Per::VersionAndConsumer, Some(100))
    );
    assert_eq!(a.failure_statuses, [500, 503]);
    let b = a.policy.breaker.as_ref().unwrap();
    assert_eq!(
        b.rate,
        Some(Rate {
            percent: 50,
            min_requests: 20,
            window_us: 10_000_000
        })
    );
    assert_eq!((b.cool_down_us, b.probes, b.close_after), (5_000_000, 3, 2));
    assert_eq!(p.max_attempts, 4);
    assert!(parse(with(r#"{"apis":[{"api":"catalog","max_in_flight":1}]}"#).as_bytes()).is_ok());
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (r#"{}"#, "invalid configuration at `protect`: missing field `apis`"),
        (r#"{"apis":[]}"#, "invalid configuration at `protect.apis`: need 1 to 256 entries"),
        (
            r#"{"apis":[{"api":"catalog"}]}"#,
            "invalid configuration at `protect.apis[0]`: needs `max_in_flight`, `breaker` or both",
        ),
        (
            r#"{"apis":[{"api":"shop","max_in_flight":1}]}"#,
            "invalid configuration at `protect.apis[0].api`: no route has api `shop`",
        ),
        (
            r#"{"apis":[{"api":"catalog","max_in_flight":1},{"api":"catalog","max_in_flight":2}]}"#,
            "invalid configuration at `protect.apis[1].api`: api `catalog` is listed twice",
        ),
        (
            r#"{"apis":[{"api":"catalog","max_in_flight":0}]}"#,
            "invalid configuration at `protect.apis[0].max_in_flight`: invalid value: integer `0`, expected a whole number from 1 to 1000000",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{}}]}"#,
            "invalid configuration at `protect.apis[0].breaker`: needs `consecutive_failures`, `failure_rate` or both",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{"failure_rate":{"percent":101}}}]}"#,
            "invalid configuration at `protect.apis[0].breaker.failure_rate.percent`: invalid value: integer `101`, expected a whole number from 1 to 100",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{"failure_rate":{}}}]}"#,
            "invalid configuration at `protect.apis[0].breaker.failure_rate`: missing field `percent`",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{"consecutive_failures":1,"failure_statuses":[200,99]}}]}"#,
            "invalid configuration at `protect.apis[0].breaker.failure_statuses[1]`: invalid value: integer `99`, expected a whole number from 100 to 599",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{"consecutive_failures":1,"cool_down_seconds":0}}]}"#,
            "invalid configuration at `protect.apis[0].breaker.cool_down_seconds`: invalid value: integer `0`, expected a whole number from 1 to 86400",
        ),
        (
            r#"{"apis":[{"api":"catalog","breaker":{"consecutive_failures":1,"window_seconds":3}}]}"#,
            "invalid configuration at `protect.apis[0].breaker.window_seconds`: unknown field `window_seconds`",
        ),
        (
            r#"{"apis":[{"api":"catalog","per":"route","max_in_flight":1}]}"#,
            "invalid configuration at `protect.apis[0].per`: unknown variant `route`",
        ),
        (
            r#"{"apis":[{"api":"catalog","max_in_flight":"1"}]}"#,
            "invalid configuration at `protect.apis[0].max_in_flight`: invalid type",
        ),
    ];
    for (protect, want) in cases {
        let got = err(protect);
        assert!(
            got.starts_with(want),
            "{protect}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn every_changed_value_of_an_example_names_its_field() {
    let example = with(
        r#"{"apis":[{"api":"catalog","per":"version","max_in_flight":10,
        "breaker":{"consecutive_failures":3,"failure_rate":{"percent":50,"min_requests":4,"window_seconds":10},
        "failure_statuses":[502,503],"cool_down_seconds":5,"half_open_probes":1,"close_after":1}}],"max_attempts":8}"#,
    );
    let (documents, refused) =
        filter_core::config::testing::check_reader_errors(example.as_bytes(), |b| {
            parse(b).map(drop)
        })
        .unwrap();
    assert!(refused > documents / 2, "{documents} {refused}");
}
