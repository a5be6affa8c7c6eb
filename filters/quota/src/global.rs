//! The global store's protocol, pure: the descriptors of a check, the request as protobuf
//! (gRPC) or proto3 JSON (HTTP), and the service's answer decoded into an [`Answer`].
//!
//! A check carries one descriptor per limit of the plan, in plan order, each with the entries of
//! [`rls::entry`]: plan, limit, the limit's window id at the gateway's clock, the subject and the
//! scope. Sending the window id makes the service keep one counter per window of the filter's
//! own windows (epoch-aligned, or calendar weeks and months), whatever its own windows are.
//! `hits_addend` is the request's cost (or a lease block).

use filter_core::json::{self, Json};

use crate::config::Plan;
use crate::rls::{self, entry, Code, Entry, RateLimitDescriptor, RateLimitRequest};

/// The descriptors of a check of `plan` for `subject` (a key part such as `c:alice`) in `scope`.
pub fn descriptors(
    plan: &Plan,
    scope: &str,
    subject: &str,
    now_us: u64,
) -> Vec<RateLimitDescriptor> {
    plan.limits
        .iter()
        .map(|pl| {
            let window = pl.limit.window.id_at(now_us);
            let e = |key: &str, value: &str| Entry {
                key: key.to_owned(),
                value: value.to_owned(),
            };
            RateLimitDescriptor {
                entries: vec![
                    e(entry::PLAN, &plan.name),
                    e(entry::LIMIT, &pl.limit.name),
                    e(entry::WINDOW, itoa::Buffer::new().format(window)),
                    e(entry::KEY, subject),
                    e(entry::SCOPE, scope),
                ],
            }
        })
        .collect()
}

/// The request as a protobuf message (the gRPC call's body).
pub fn encode_grpc(domain: &str, descriptors: Vec<RateLimitDescriptor>, hits: u32) -> Vec<u8> {
    RateLimitRequest {
        domain: domain.to_owned(),
        descriptors,
        hits_addend: hits,
    }
    .encode_bytes()
}

/// The request as proto3 JSON (the HTTP check's body).
pub fn encode_json(domain: &str, descriptors: &[RateLimitDescriptor], hits: u32) -> Vec<u8> {
    let s = |v: &str| Json::String(v.to_owned());
    let descriptors = descriptors
        .iter()
        .map(|d| {
            let entries = d
                .entries
                .iter()
                .map(|e| {
                    Json::Object(vec![
                        ("key".into(), s(&e.key)),
                        ("value".into(), s(&e.value)),
                    ])
                })
                .collect();
            Json::Object(vec![("entries".into(), Json::Array(entries))])
        })
        .collect();
    let doc = Json::Object(vec![
        ("domain".into(), s(domain)),
        ("descriptors".into(), Json::Array(descriptors)),
        (
            "hitsAddend".into(),
            Json::Number(json::Number::Unsigned(u64::from(hits))),
        ),
    ]);
    serde_json::to_vec(&doc).unwrap_or_default()
}

/// What the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Whether every descriptor was under its limit (and the hits were counted).
    pub admitted: bool,
    /// Per descriptor, in request order; empty if the service sent none.
    pub statuses: Vec<Status>,
}

/// One descriptor's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// This descriptor is over its limit.
    pub over: bool,
    /// Units left in the window.
    pub remaining: u64,
    /// Time until the window resets, if the service said.
    pub reset_us: Option<u64>,
}

impl Answer {
    /// The index of the first descriptor over its limit.
    pub fn violated(&self) -> Option<usize> {
        self.statuses.iter().position(|s| s.over)
    }

    /// The fewest units left over all descriptors.
    pub fn least_remaining(&self) -> Option<u64> {
        self.statuses.iter().map(|s| s.remaining).min()
    }

    fn checked(self, descriptors: usize) -> Result<Self, &'static str> {
        if !self.statuses.is_empty() && self.statuses.len() != descriptors {
            return Err("the answer's statuses do not match the descriptors");
        }
        Ok(self)
    }
}

fn code(value: i32) -> Result<bool, &'static str> {
    match value {
        v if v == Code::Ok as i32 => Ok(false),
        v if v == Code::OverLimit as i32 => Ok(true),
        _ => Err("the answer's code is neither OK nor OVER_LIMIT"),
    }
}

/// Decodes a gRPC answer to a check of `descriptors` descriptors.
pub fn decode_grpc(bytes: &[u8], descriptors: usize) -> Result<Answer, &'static str> {
    let r = rls::RateLimitResponse::decode_bytes(bytes)
        .ok_or("the answer is not a RateLimitResponse")?;
    let over = code(r.overall_code)?;
    let statuses = r
        .statuses
        .iter()
        .map(|s| {
            Ok(Status {
                over: code(s.code)?,
                remaining: u64::from(s.limit_remaining),
                reset_us: s.duration_until_reset.map(|d| d.as_micros()),
            })
        })
        .collect::<Result<_, _>>()?;
    Answer {
        admitted: !over,
        statuses,
    }
    .checked(descriptors)
}

/// Largest JSON answer read.
pub const MAX_JSON_ANSWER: usize = 64 * 1024;

/// Decodes a proto3 JSON answer (camelCase or the original snake_case field names).
pub fn decode_json(bytes: &[u8], descriptors: usize) -> Result<Answer, &'static str> {
    if bytes.len() > MAX_JSON_ANSWER {
        return Err("the answer is too large");
    }
    let doc = json::parse(bytes, 8).map_err(|_| "the answer is not JSON")?;
    let field = |o: &'_ Json, camel: &str, snake: &str| -> Option<Json> {
        o.get(camel).or_else(|| o.get(snake)).cloned()
    };
    let json_code = |v: Option<Json>| -> Result<bool, &'static str> {
        match v {
            Some(Json::String(s)) if s == "OK" => Ok(false),
            Some(Json::String(s)) if s == "OVER_LIMIT" => Ok(true),
            Some(Json::Number(json::Number::Unsigned(n))) => code(i32::try_from(n).unwrap_or(0)),
            _ => Err("the answer's code is neither OK nor OVER_LIMIT"),
        }
    };
    let over = json_code(field(&doc, "overallCode", "overall_code"))?;
    let mut statuses = Vec::new();
    if let Some(list) = field(&doc, "statuses", "statuses") {
        let list = list
            .as_array()
            .ok_or("the answer's statuses are not a list")?;
        for s in list {
            let remaining = match field(s, "limitRemaining", "limit_remaining") {
                None => 0,
                Some(Json::Number(json::Number::Unsigned(n))) => n,
                Some(_) => return Err("a status's limitRemaining is not a count"),
            };
            let reset_us = match field(s, "durationUntilReset", "duration_until_reset") {
                None => None,
                Some(Json::String(d)) => {
                    Some(duration_us(&d).ok_or("a status's durationUntilReset is not a duration")?)
                }
                Some(_) => return Err("a status's durationUntilReset is not a duration"),
            };
            statuses.push(Status {
                over: json_code(field(s, "code", "code"))?,
                remaining,
                reset_us,
            });
        }
    }
    Answer {
        admitted: !over,
        statuses,
    }
    .checked(descriptors)
}

/// A proto3 JSON duration (`"41.500s"`) in microseconds.
pub fn duration_us(text: &str) -> Option<u64> {
    let number = text.strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let mut micros = 0u64;
    for (i, b) in fraction.bytes().take(6).enumerate() {
        micros += u64::from(b - b'0') * 10u64.pow(5 - i as u32);
    }
    Some(secs.saturating_mul(1_000_000).saturating_add(micros))
}

#[cfg(test)]
mod tests;
