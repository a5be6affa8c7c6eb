//! The usage report: JSON answered locally on the configured path, for members of the configured
//! group only (read from the groups header auth sets).
//!
//! `GET <path>[?consumer=<id>]` lists, for each configured consumer (or just `<id>`), its plan and
//! for every limit and scope the units used, remaining and seconds to reset, read from the shared
//! counters (so the numbers cover every worker of the Envoy process). Counters are only read,
//! never created. Other methods get 405; requests outside the group get 403.

use serde::Serialize;

use filter_core::{HeaderMap, Host, LocalReply, Problem};

use crate::admission::Engine;
use crate::config::{Config, Scope, Source};
use crate::key::{counter_key, scope_part, Subject};
use crate::reply::secs;
use crate::store::SharedData;

/// Most (consumer, limit, scope) entries in one report; `truncated` says when more exist.
pub const MAX_ENTRIES: usize = 10_000;

/// The report document. Written through derived serializers rather than `serde_json::Value`,
/// which would bring its map type and float formatting into the module.
#[derive(Serialize)]
struct Report<'a> {
    generated_at: u64,
    key_source: &'a str,
    consumers: Vec<ConsumerUsage<'a>>,
    truncated: bool,
}

#[derive(Serialize)]
struct ConsumerUsage<'a> {
    id: &'a str,
    /// `null` for a consumer without a known plan.
    plan: Option<&'a str>,
    usage: Vec<Usage<'a>>,
}

#[derive(Serialize)]
struct Usage<'a> {
    limit: &'a str,
    scope: &'a str,
    quota: u64,
    window: Window<'a>,
    algorithm: &'a str,
    used: u64,
    remaining: u64,
    reset: u64,
}

#[derive(Serialize)]
struct Window<'a> {
    unit: &'a str,
    size: u32,
    calendar: bool,
}

/// Answers a request to the report path, reading the counters of configuration `c`.
pub fn serve(c: &Config, headers: &HeaderMap, host: &mut dyn Host, now_us: u64) -> LocalReply {
    let Some(report) = &c.report else {
        return LocalReply::problem(&Problem::new(404, "not-found", "Not found"));
    };
    if !matches!(headers.method(), Some(b"GET" | b"HEAD")) {
        return LocalReply::problem(
            &Problem::new(405, "method-not-allowed", "Method not allowed").detail("use GET"),
        )
        .header("allow", "GET, HEAD");
    }
    let member = headers
        .get_all(&c.identity.groups_header)
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|g| g.trim_ascii() == report.group.as_bytes());
    if !member {
        return LocalReply::problem(
            &Problem::new(403, "forbidden", "Forbidden")
                .detail("the usage report is restricted to a configured group"),
        );
    }
    let only = query_param(headers.path().unwrap_or_default(), b"consumer");
    let mut scopes = vec!["-".to_owned()];
    for r in &c.routes {
        let s = scope_part(c.key.per, Some(r));
        if c.key.per != Scope::None && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let mut engine = Engine::new(&SharedData, c.max_attempts, c.on_error);
    let mut entries = 0;
    let mut truncated = false;
    let mut consumers = Vec::new();
    if c.key.source == Source::Consumer {
        for consumer in &c.consumers {
            if only.is_some_and(|id| id != consumer.id.as_bytes()) {
                continue;
            }
            let Some(plan) = consumer.plan.and_then(|i| c.plans.get(i)) else {
                consumers.push(ConsumerUsage {
                    id: &consumer.id,
                    plan: None,
                    usage: Vec::new(),
                });
                continue;
            };
            let subject = Subject::Consumer(consumer.id.clone());
            let mut usage = Vec::new();
            for pl in &plan.limits {
                for scope in &scopes {
                    if entries >= MAX_ENTRIES {
                        truncated = true;
                        break;
                    }
                    entries += 1;
                    let l = &pl.limit;
                    let key = counter_key(&plan.name, l, scope, &subject);
                    let counter = engine.peek(host, &key, l).unwrap_or_else(|| l.empty());
                    let (used, view) = l.usage(counter, now_us);
                    usage.push(Usage {
                        limit: &l.name,
                        scope,
                        quota: l.quota,
                        window: Window {
                            unit: l.window.unit.name(),
                            size: l.window.size,
                            calendar: l.window.calendar,
                        },
                        algorithm: l.algorithm.name(),
                        used,
                        remaining: view.remaining,
                        reset: secs(view.reset_us),
                    });
                }
            }
            consumers.push(ConsumerUsage {
                id: &consumer.id,
                plan: Some(&plan.name),
                usage,
            });
        }
    }
    let body = Report {
        generated_at: now_us / 1_000_000,
        key_source: match c.key.source {
            Source::Consumer => "consumer",
            Source::ApiKey(_) => "api_key",
            Source::ClientAddress(_) => "client_address",
            Source::Header(..) => "header",
        },
        consumers,
        truncated,
    };
    LocalReply {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
        details: "gateway_quota_report".into(),
    }
}

/// The raw value of query parameter `name` (first occurrence), if any.
fn query_param<'p>(path: &'p [u8], name: &[u8]) -> Option<&'p [u8]> {
    let query = path.splitn(2, |&b| b == b'?').nth(1)?;
    query.split(|&b| b == b'&').find_map(|pair| {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        (kv.next()? == name).then(|| kv.next().unwrap_or_default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        for (path, want) in [
            (&b"/u?consumer=alice"[..], Some(&b"alice"[..])),
            (b"/u?a=1&consumer=bob&consumer=x", Some(b"bob")),
            (b"/u?consumer", Some(b"")),
            (b"/u?consumers=alice", None),
            (b"/u", None),
        ] {
            assert_eq!(query_param(path, b"consumer"), want, "{path:?}");
        }
    }
}
