//! The HTTP interface: `POST /v1/check` takes the gRPC request as proto3 JSON and answers the
//! gRPC response as proto3 JSON; `GET /healthz` answers 200 `ok` while Redis answers a PING.
//! Errors are RFC 9457 problems (`application/problem+json`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::Entry;
use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Deserializer, Serialize};

use crate::check::{CheckError, Checker};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Problem type of malformed requests.
pub const BAD_REQUEST: &str = "urn:gateway:problem:bad-request";
/// Problem type of storage failures.
pub const UNAVAILABLE: &str = "urn:gateway:problem:quota-unavailable";
/// Problem type of internal errors.
pub const INTERNAL: &str = "urn:gateway:problem:internal";

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// The checker.
    pub checker: Arc<Checker>,
    /// The Redis connection, for health checks.
    pub redis: ConnectionManager,
    /// How long a health check waits for Redis.
    pub timeout: Duration,
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/v1/check", post(check))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn check(State(state): State<HttpState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            let title = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "Request body too large"
            } else {
                "Unreadable request body"
            };
            return problem(status, BAD_REQUEST, title, &rejection.body_text());
        }
    };
    let request = match request_from_json(&body) {
        Ok(request) => request,
        Err(detail) => {
            return problem(
                StatusCode::BAD_REQUEST,
                BAD_REQUEST,
                "Invalid rate limit request",
                &detail,
            )
        }
    };
    match state.checker.check(&request).await {
        Ok(response) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            response_json(&response),
        )
            .into_response(),
        Err(err) => error_response(&err),
    }
}

/// The problem answering a check error.
pub fn error_response(err: &CheckError) -> Response {
    match err {
        CheckError::Invalid(detail) => problem(
            StatusCode::BAD_REQUEST,
            BAD_REQUEST,
            "Invalid rate limit request",
            detail,
        ),
        CheckError::Unavailable(detail) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "Quota storage unavailable",
            detail,
        ),
        CheckError::Internal(detail) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            INTERNAL,
            "Internal error",
            detail,
        ),
    }
}

async fn healthz(State(state): State<HttpState>) -> Response {
    let mut conn = state.redis.clone();
    let cmd = redis::cmd("PING");
    let ping = cmd.query_async::<String>(&mut conn);
    let detail = match tokio::time::timeout(state.timeout, ping).await {
        Ok(Ok(_)) => return (StatusCode::OK, "ok").into_response(),
        Ok(Err(err)) => format!("redis: {err}"),
        Err(_) => format!("redis: no answer within {} ms", state.timeout.as_millis()),
    };
    (StatusCode::SERVICE_UNAVAILABLE, detail).into_response()
}

/// An RFC 9457 problem.
pub fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": kind,
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

// --- proto3 JSON ---

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRequest {
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    descriptors: Option<Vec<JsonDescriptor>>,
    #[serde(
        default,
        rename = "hitsAddend",
        alias = "hits_addend",
        deserialize_with = "uint32"
    )]
    hits_addend: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonDescriptor {
    #[serde(default)]
    entries: Option<Vec<JsonEntry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonEntry {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// A proto3 JSON uint32: a number or a decimal string (null is the default).
fn uint32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    let value = Option::<serde_json::Value>::deserialize(d)?;
    let parsed = match &value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(serde_json::Value::String(s))
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse::<u32>().ok()
        }
        Some(_) => None,
    };
    parsed.map(Some).ok_or_else(|| {
        D::Error::custom(format!(
            "hitsAddend: expected an integer from 0 to 4294967295, got {}",
            value.unwrap_or_default()
        ))
    })
}

/// The gRPC request of a proto3 JSON body (camelCase or original field names).
pub fn request_from_json(body: &[u8]) -> Result<RateLimitRequest, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !value.is_object() {
        return Err(format!("expected a JSON object, got {}", json_kind(&value)));
    }
    let json: JsonRequest = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let descriptors = json
        .descriptors
        .unwrap_or_default()
        .into_iter()
        .map(|d| RateLimitDescriptor {
            entries: d
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| Entry {
                    key: e.key.unwrap_or_default(),
                    value: e.value.unwrap_or_default(),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Ok(RateLimitRequest {
        domain: json.domain.unwrap_or_default(),
        descriptors,
        hits_addend: json.hits_addend.unwrap_or_default(),
    })
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonResponse<'a> {
    overall_code: &'a str,
    statuses: Vec<JsonStatus<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonStatus<'a> {
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_limit: Option<JsonLimit<'a>>,
    limit_remaining: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_until_reset: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLimit<'a> {
    requests_per_unit: u32,
    unit: &'a str,
    name: &'a str,
}

fn code_name(code: i32) -> &'static str {
    Code::try_from(code).map_or("UNKNOWN", |c| c.as_str_name())
}

fn unit_name(unit: i32) -> &'static str {
    Unit::try_from(unit).map_or("UNKNOWN", |u| u.as_str_name())
}

/// A `google.protobuf.Duration` in proto3 JSON: seconds with 0, 3, 6 or 9 fractional digits and
/// an `s`.
pub fn duration_json(d: &PbDuration) -> String {
    let (secs, nanos) = (d.seconds, d.nanos.unsigned_abs());
    let sign = if d.seconds < 0 || d.nanos < 0 {
        "-"
    } else {
        ""
    };
    let secs = secs.unsigned_abs();
    if nanos == 0 {
        format!("{sign}{secs}s")
    } else if nanos % 1_000_000 == 0 {
        format!("{sign}{secs}.{:03}s", nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        format!("{sign}{secs}.{:06}s", nanos / 1_000)
    } else {
        format!("{sign}{secs}.{nanos:09}s")
    }
}

/// The proto3 JSON of a response (every field written, defaults included).
pub fn response_json(resp: &RateLimitResponse) -> String {
    let json = JsonResponse {
        overall_code: code_name(resp.overall_code),
        statuses: resp
            .statuses
            .iter()
            .map(|s| JsonStatus {
                code: code_name(s.code),
                current_limit: s.current_limit.as_ref().map(|l| JsonLimit {
                    requests_per_unit: l.requests_per_unit,
                    unit: unit_name(l.unit),
                    name: &l.name,
                }),
                limit_remaining: s.limit_remaining,
                duration_until_reset: s.duration_until_reset.as_ref().map(duration_json),
            })
            .collect(),
    };
    // Serializing these plain structs cannot fail; an empty object is never sent.
    serde_json::to_string(&json).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
        DescriptorStatus, RateLimit,
    };

    #[test]
    fn json_requests_read_like_the_grpc_request() {
        let body = br#"{"domain":"gateway","hitsAddend":3,"descriptors":[{"entries":[
            {"key":"quota_plan","value":"gold"},{"key":"quota_limit","value":"per-minute"}]}]}"#;
        let req = request_from_json(body).expect("valid");
        assert_eq!(req.domain, "gateway");
        assert_eq!(req.hits_addend, 3);
        assert_eq!(req.descriptors.len(), 1);
        let entries: Vec<(&str, &str)> = req.descriptors[0]
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            entries,
            [("quota_plan", "gold"), ("quota_limit", "per-minute")]
        );
    }

    #[test]
    fn json_accepts_snake_case_strings_and_defaults() {
        for (body, hits) in [
            (r#"{"hits_addend":5}"#, 5),
            (r#"{"hitsAddend":"6"}"#, 6),
            (r#"{"hitsAddend":null}"#, 0),
            (r#"{}"#, 0),
            (r#"{"hitsAddend":4294967295}"#, u32::MAX),
        ] {
            let req = request_from_json(body.as_bytes()).expect(body);
            assert_eq!(req.hits_addend, hits, "{body}");
            assert!(req.domain.is_empty() && req.descriptors.is_empty());
        }
    }

    #[test]
    fn bad_json_names_the_problem() {
        for (body, expected) in [
            ("{", "EOF"),
            ("[]", "expected a JSON object, got an array"),
            ("null", "expected a JSON object, got null"),
            (r#"{"domain":"gateway","hits":1}"#, "unknown field `hits`"),
            (r#"{"hitsAddend":-1}"#, "hitsAddend: expected an integer"),
            (
                r#"{"hitsAddend":4294967296}"#,
                "hitsAddend: expected an integer",
            ),
            (r#"{"hitsAddend":"1e3"}"#, "hitsAddend: expected an integer"),
            (r#"{"hitsAddend":1.5}"#, "hitsAddend: expected an integer"),
            (r#"{"hitsAddend":1,"hits_addend":2}"#, "duplicate field"),
            (
                r#"{"descriptors":[{"entries":[{"key":"a","value":1}]}]}"#,
                "invalid type",
            ),
            (r#"{"descriptors":[{"limit":{}}]}"#, "unknown field `limit`"),
        ] {
            let err = request_from_json(body.as_bytes()).expect_err(body);
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn responses_are_proto3_json() {
        let resp = RateLimitResponse {
            overall_code: Code::Ok as i32,
            statuses: vec![DescriptorStatus {
                code: Code::Ok as i32,
                current_limit: Some(RateLimit {
                    name: "per-minute".into(),
                    requests_per_unit: 10,
                    unit: Unit::Minute as i32,
                }),
                limit_remaining: 7,
                duration_until_reset: Some(PbDuration {
                    seconds: 41,
                    nanos: 500_000_000,
                }),
                quota: None,
            }],
            ..Default::default()
        };
        assert_eq!(
            response_json(&resp),
            r#"{"overallCode":"OK","statuses":[{"code":"OK","currentLimit":{"requestsPerUnit":10,"unit":"MINUTE","name":"per-minute"},"limitRemaining":7,"durationUntilReset":"41.500s"}]}"#
        );
        let over = RateLimitResponse {
            overall_code: Code::OverLimit as i32,
            statuses: vec![DescriptorStatus {
                code: Code::OverLimit as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            response_json(&over),
            r#"{"overallCode":"OVER_LIMIT","statuses":[{"code":"OVER_LIMIT","limitRemaining":0}]}"#
        );
    }

    #[test]
    fn durations_use_0_3_6_or_9_digits() {
        for (seconds, nanos, text) in [
            (0, 0, "0s"),
            (41, 0, "41s"),
            (41, 500_000_000, "41.500s"),
            (1, 1_000, "1.000001s"),
            (1, 1, "1.000000001s"),
            (2_592_000, 10_000_000, "2592000.010s"),
            (-1, -500_000_000, "-1.500s"),
        ] {
            assert_eq!(duration_json(&PbDuration { seconds, nanos }), text);
        }
    }

    #[test]
    fn problems_are_rfc_9457() {
        let resp = error_response(&CheckError::Invalid("domain: expected x".into()));
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let resp = error_response(&CheckError::Unavailable("down".into()));
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let resp = error_response(&CheckError::Internal("bug".into()));
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
