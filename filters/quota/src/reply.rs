//! Rate-limit header fields and the local replies of the filter.
//!
//! - IETF (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "per-minute";q=100;w=60`
//!   listing every limit of the plan, and `RateLimit: "per-minute";r=50;t=30` with each limit's
//!   remaining units and seconds until it is fully restored.
//! - `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds): the tightest limit (fewest units
//!   remaining, then soonest reset).
//! - `Retry-After` (seconds, at least 1) on 429, omitted when the cost can never be admitted.
//!
//! Seconds are rounded up. All names and values come from configuration and numbers.

use filter_core::{Extension, LocalReply, Problem};

use crate::config::RawHeaders;
use crate::limit::{Limit, View};
use crate::window::SECOND_US;

/// A limit with its current view, ready to render.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    /// The limit.
    pub limit: &'a Limit,
    /// What the client is told.
    pub view: View,
    /// Units per window as advertised (`q`): the limit, or the bucket size for GCRA.
    pub quota: u64,
    /// Window length in seconds (the current window's for calendar months).
    pub window_secs: u64,
}

/// Microseconds to whole seconds, rounded up.
pub fn secs(us: u64) -> u64 {
    us.div_ceil(SECOND_US)
}

/// The rate-limit header fields enabled in `config`, passed to `emit` as (name, value). The
/// X-RateLimit fields, added to every admitted response, are written without allocating.
pub fn fields(config: &RawHeaders, shown: &[Shown], mut emit: impl FnMut(&str, &[u8])) {
    if shown.is_empty() {
        return;
    }
    if config.ietf {
        let policy: Vec<String> = shown
            .iter()
            .map(|s| format!("\"{}\";q={};w={}", s.limit.name, s.quota, s.window_secs))
            .collect();
        let state: Vec<String> = shown
            .iter()
            .map(|s| {
                format!(
                    "\"{}\";r={};t={}",
                    s.limit.name,
                    s.view.remaining,
                    secs(s.view.reset_us)
                )
            })
            .collect();
        emit("ratelimit-policy", policy.join(", ").as_bytes());
        emit("ratelimit", state.join(", ").as_bytes());
    }
    if config.x_ratelimit {
        if let Some(t) = shown
            .iter()
            .min_by_key(|s| (s.view.remaining, s.view.reset_us))
        {
            let mut int = itoa::Buffer::new();
            emit("x-ratelimit-limit", int.format(t.quota).as_bytes());
            emit(
                "x-ratelimit-remaining",
                int.format(t.view.remaining).as_bytes(),
            );
            emit(
                "x-ratelimit-reset",
                int.format(secs(t.view.reset_us)).as_bytes(),
            );
        }
    }
}

/// 429 for a request refused by `shown[index]`.
pub fn refusal(
    config: &RawHeaders,
    plan: &str,
    shown: &[Shown],
    index: usize,
    retry_after_us: u64,
    cost: u64,
) -> LocalReply {
    let Some(violated) = shown.get(index) else {
        return LocalReply::problem(&Problem::new(429, "quota-exceeded", "Quota exceeded"));
    };
    let l = violated.limit;
    let w = l.window;
    let size = if w.size == 1 {
        w.unit.name().to_string()
    } else {
        format!("{} {}s", w.size, w.unit.name())
    };
    let mut detail = format!(
        "limit \"{}\" of plan \"{plan}\" allows {} per {size}",
        l.name, l.quota
    );
    if retry_after_us == 0 {
        detail.push_str(&format!("; a cost of {cost} can never be admitted"));
    }
    let mut problem = Problem::new(429, "quota-exceeded", "Quota exceeded")
        .detail(detail)
        .with("plan", plan)
        .with("limit", l.name.as_str())
        .with("quota", l.quota)
        .with(
            "window",
            Extension::object([
                ("unit", w.unit.name().into()),
                ("size", w.size.into()),
                ("calendar", w.calendar.into()),
            ]),
        )
        .with("violated-policies", vec![l.name.as_str()])
        .with("cost", cost);
    if retry_after_us > 0 {
        problem = problem.with("retry_after", secs(retry_after_us).max(1));
    }
    let mut reply = LocalReply::problem(&problem);
    if retry_after_us > 0 {
        reply = reply.header("retry-after", secs(retry_after_us).max(1).to_string());
    }
    fields(config, shown, |name, value| {
        reply
            .headers
            .push((name.to_owned(), String::from_utf8_lossy(value).into_owned()));
    });
    reply
}

/// 503 when the store failed and the failure mode refuses.
pub fn unavailable() -> LocalReply {
    LocalReply::problem(
        &Problem::new(503, "quota-unavailable", "Quota service unavailable")
            .detail("the quota counters could not be updated"),
    )
    .header("retry-after", "1")
}

/// 400 for an unacceptable cost header.
pub fn invalid_cost(detail: String) -> LocalReply {
    LocalReply::problem(&Problem::new(400, "invalid-cost", "Invalid request cost").detail(detail))
}

/// 403 for a request without the identity the quota key needs (`unidentified: reject`).
pub fn unidentified() -> LocalReply {
    LocalReply::problem(
        &Problem::new(403, "quota-identity-required", "Identity required")
            .detail("requests must be authenticated to be metered"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::Algorithm;
    use crate::window::{Unit, Window};

    fn limit(name: &str, quota: u64, unit: Unit) -> Limit {
        Limit {
            name: name.into(),
            quota,
            window: Window::new(unit, 1),
            algorithm: Algorithm::FixedWindow,
        }
    }

    fn collected(config: &RawHeaders, shown: &[Shown]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        fields(config, shown, |n, v| {
            out.push((n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        });
        out
    }

    #[test]
    fn renders_ietf_and_x_fields() {
        let (m, h) = (
            limit("per-minute", 100, Unit::Minute),
            limit("per-hour", 1000, Unit::Hour),
        );
        let shown = [
            Shown {
                quota: 100,
                limit: &m,
                view: View {
                    remaining: 50,
                    reset_us: 29_500_000,
                },
                window_secs: 60,
            },
            Shown {
                quota: 1000,
                limit: &h,
                view: View {
                    remaining: 50,
                    reset_us: 1_000_000,
                },
                window_secs: 3600,
            },
        ];
        let all = RawHeaders {
            on_success: true,
            ietf: true,
            x_ratelimit: true,
        };
        assert_eq!(
            collected(&all, &shown),
            [
                (
                    "ratelimit-policy",
                    "\"per-minute\";q=100;w=60, \"per-hour\";q=1000;w=3600"
                ),
                (
                    "ratelimit",
                    "\"per-minute\";r=50;t=30, \"per-hour\";r=50;t=1"
                ),
                ("x-ratelimit-limit", "1000"),
                ("x-ratelimit-remaining", "50"),
                ("x-ratelimit-reset", "1"),
            ]
            .map(|(n, v)| (n.to_string(), v.to_string())),
            "tightest limit: equal remaining, sooner reset"
        );
        let none = RawHeaders {
            on_success: true,
            ietf: false,
            x_ratelimit: false,
        };
        assert!(collected(&none, &shown).is_empty());
    }

    #[test]
    fn refusal_is_a_problem_with_retry_after() {
        let m = limit("per-minute", 5, Unit::Minute);
        let shown = [Shown {
            quota: 5,
            limit: &m,
            view: View {
                remaining: 0,
                reset_us: 12_000_001,
            },
            window_secs: 60,
        }];
        let cfg = RawHeaders {
            on_success: false,
            ietf: true,
            x_ratelimit: true,
        };
        let reply = refusal(&cfg, "free", &shown, 0, 12_000_001, 1);
        assert_eq!(reply.status, 429);
        assert_eq!(reply.details, "gateway_quota_exceeded");
        assert_eq!(reply.get_header("retry-after"), Some("13"), "rounded up");
        assert_eq!(
            reply.get_header("ratelimit"),
            Some("\"per-minute\";r=0;t=13")
        );
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["type"], "urn:gateway:problem:quota-exceeded");
        assert_eq!(body["limit"], "per-minute");
        assert_eq!(body["plan"], "free");
        assert_eq!(body["violated-policies"][0], "per-minute");
        let never = refusal(&cfg, "free", &shown, 0, 0, 9);
        assert_eq!(never.get_header("retry-after"), None, "no retry can help");
        assert_eq!(unavailable().status, 503);
    }
}
