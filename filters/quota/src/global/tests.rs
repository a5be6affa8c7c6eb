use super::*;
use crate::config;

fn plan() -> config::Config {
    config::parse(
        br#"{"plans": [{"name": "gold", "limits": [
            {"name": "per-minute", "limit": 10, "window": "minute"},
            {"name": "per-month", "limit": 1000, "window": "month", "calendar": true}
        ]}], "store": {"global": {"cluster": "rls"}}}"#,
    )
    .unwrap()
}

#[test]
fn descriptors_carry_plan_limit_window_key_and_scope() {
    let c = plan();
    // 2026-01-01T00:00:15Z.
    let now = 1_767_225_615_000_000;
    let d = descriptors(&c.plans[0], "api:catalog", "c:alice", now);
    let flat: Vec<Vec<(&str, &str)>> = d
        .iter()
        .map(|d| {
            d.entries
                .iter()
                .map(|e| (e.key.as_str(), e.value.as_str()))
                .collect()
        })
        .collect();
    let minute = (1_767_225_615u64 / 60).to_string();
    // Calendar months count from January 1970: 2026-01 is month 56 * 12.
    let month = (56u64 * 12).to_string();
    assert_eq!(
        flat,
        vec![
            vec![
                ("quota_plan", "gold"),
                ("quota_limit", "per-minute"),
                ("quota_window", minute.as_str()),
                ("quota_key", "c:alice"),
                ("quota_scope", "api:catalog"),
            ],
            vec![
                ("quota_plan", "gold"),
                ("quota_limit", "per-month"),
                ("quota_window", month.as_str()),
                ("quota_key", "c:alice"),
                ("quota_scope", "api:catalog"),
            ],
        ]
    );
}

#[test]
fn grpc_answers_decode_and_are_checked() {
    let status = |code: Code, remaining: u32| rls::DescriptorStatus {
        code: code as i32,
        current_limit: None,
        limit_remaining: remaining,
        duration_until_reset: Some(rls::Duration::from_micros(41_500_000)),
    };
    let resp = rls::RateLimitResponse {
        overall_code: Code::OverLimit as i32,
        statuses: vec![status(Code::Ok, 3), status(Code::OverLimit, 0)],
    };
    let a = decode_grpc(&prost::Message::encode_to_vec(&resp), 2).unwrap();
    assert!(!a.admitted);
    assert_eq!(a.violated(), Some(1));
    assert_eq!(a.least_remaining(), Some(0));
    assert_eq!(a.statuses[0].reset_us, Some(41_500_000));
    assert!(
        decode_grpc(&prost::Message::encode_to_vec(&resp), 3).is_err(),
        "statuses must match"
    );
    let unknown = rls::RateLimitResponse {
        overall_code: 0,
        statuses: Vec::new(),
    };
    assert!(
        decode_grpc(&prost::Message::encode_to_vec(&unknown), 2).is_err(),
        "UNKNOWN is no answer"
    );
    assert!(decode_grpc(&[0xff, 0xff], 2).is_err());
    let bare = rls::RateLimitResponse {
        overall_code: Code::Ok as i32,
        statuses: Vec::new(),
    };
    assert!(
        decode_grpc(&prost::Message::encode_to_vec(&bare), 2)
            .unwrap()
            .admitted
    );
}

#[test]
fn json_requests_and_answers() {
    let c = plan();
    let d = descriptors(&c.plans[0], "-", "b:7", 0);
    let body = encode_json("gateway", &d, 3);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["domain"], "gateway");
    assert_eq!(v["hitsAddend"], 3);
    assert_eq!(v["descriptors"][1]["entries"][1]["value"], "per-month");

    let a = decode_json(
        br#"{"overallCode":"OK","statuses":[{"code":"OK","limitRemaining":7,"durationUntilReset":"41.500s"},{"code":"OK","limit_remaining":900}]}"#,
        2,
    )
    .unwrap();
    assert!(a.admitted);
    assert_eq!(a.statuses[0].reset_us, Some(41_500_000));
    assert_eq!(a.statuses[1].remaining, 900);
    assert_eq!(a.statuses[1].reset_us, None);
    let over = decode_json(
        br#"{"overall_code":"OVER_LIMIT","statuses":[{"code":"OVER_LIMIT"},{"code":"OK"}]}"#,
        2,
    )
    .unwrap();
    assert_eq!(over.violated(), Some(0));
    for bad in [
        &b"not json"[..],
        br#"{"overallCode":"MAYBE"}"#,
        br#"{"overallCode":"OK","statuses":{}}"#,
        br#"{"overallCode":"OK","statuses":[{"code":"OK","limitRemaining":-1}]}"#,
        br#"{"overallCode":"OK","statuses":[{"code":"OK","durationUntilReset":"soon"}]}"#,
    ] {
        assert!(
            decode_json(bad, 1).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn durations() {
    assert_eq!(duration_us("41.500s"), Some(41_500_000));
    assert_eq!(duration_us("3s"), Some(3_000_000));
    assert_eq!(duration_us("0.000001s"), Some(1));
    assert_eq!(duration_us("1.123456789s"), Some(1_123_456));
    for bad in ["", "s", "1", "-1s", "1.s.s", "1.0000000001s", "x1s", "1e3s"] {
        assert_eq!(duration_us(bad), None, "{bad}");
    }
}
