//! The answer to a shed request: 503 `application/problem+json` of type
//! `urn:gateway:problem:upstream-unavailable` (details `gateway_upstream_unavailable`) with
//! `Retry-After` in whole seconds, at least 1, and the members `api`, `reason`
//! (`circuit_open`, `circuit_half_open` or `concurrency_limit`) and `retry_after`.

use filter_core::{LocalReply, Problem};

use super::machine::{Shed, ShedReason};

/// The reply to a request shed for `api`.
pub fn shed(api: &str, shed: &Shed) -> LocalReply {
    let secs = shed.retry_after_us.div_ceil(1_000_000).max(1);
    let detail = match shed.reason {
        ShedReason::Open => {
            format!("the upstream of API \"{api}\" is failing; requests are paused")
        }
        ShedReason::HalfOpen => {
            format!("the upstream of API \"{api}\" is recovering; only probe requests pass")
        }
        ShedReason::Concurrency => {
            format!("the upstream of API \"{api}\" has too many requests in flight")
        }
    };
    let problem = Problem::new(503, "upstream-unavailable", "Upstream unavailable")
        .detail(detail)
        .with("api", api)
        .with("reason", shed.reason.name())
        .with("retry_after", secs);
    LocalReply::problem(&problem).header("retry-after", secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_503_problem_with_retry_after_rounded_up() {
        let r = shed(
            "catalog",
            &Shed {
                reason: ShedReason::Open,
                retry_after_us: 12_000_001,
            },
        );
        assert_eq!(r.status, 503);
        assert_eq!(r.details, "gateway_upstream_unavailable");
        assert_eq!(r.get_header("retry-after"), Some("13"));
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(
            body.contains("\"type\":\"urn:gateway:problem:upstream-unavailable\""),
            "{body}"
        );
        assert!(body.contains("\"reason\":\"circuit_open\""), "{body}");
        assert!(body.contains("\"api\":\"catalog\""), "{body}");
    }
}
