//! One check: the filter's descriptors are validated against the plans ([`parse_request`]),
//! become one Limitador context, all limits are reserved at once and the reservation committed
//! ([`Checker::check`]), and the counters become descriptor statuses ([`response`]).
//!
//! Admission is Limitador's `reserve`, one Lua script that checks every counter of the request
//! (`value + outstanding holds + hits <= max`) and holds `hits` on all of them or on none, so
//! concurrent requests, on one or several service instances sharing a Redis, never admit beyond
//! a limit, and a refused request charges nothing. The admitted hold is then committed
//! (`commit_reservation`): the counters are incremented, then the hold is released.
//!
//! Between those two steps a concurrent reservation sees the hits twice, and would be refused
//! though the limit has room. So a refusal is confirmed against the counts alone (Limitador's
//! read-only `is_rate_limited`): if they refuse too, it is final (counts only grow within a
//! window); otherwise holds of requests in flight made it, and the reservation is tried again
//! after a pause, up to [`MAX_RESERVE_ATTEMPTS`] times. A hold whose commit never comes (the
//! service stopped, Redis failed in between) expires after [`HOLD_TTL`]; service instances'
//! clocks must agree well within it, as each judges the others' holds by its own clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::{
    Code, DescriptorStatus, RateLimit,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use filter_quota::rls::entry;
use limitador::counter::Counter;
use limitador::errors::LimitadorError;
use limitador::limit::{Context, Namespace};
use limitador::AsyncRateLimiter;

use crate::limits::{closest_unit, window_var, PlanSpec, Plans, KEY_VAR, SCOPE_VAR};

/// Most descriptors in one request (a plan has at most 16 limits).
pub const MAX_DESCRIPTORS: usize = filter_quota::config::MAX_LIMITS;
/// Longest descriptor entry value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256;
/// How long an admitted hold lasts if its commit never comes.
pub const HOLD_TTL: Duration = Duration::from_secs(10);
/// Reservations tried for a request refused only because of other requests' holds.
pub const MAX_RESERVE_ATTEMPTS: u32 = 6;
/// Pause before the second attempt; doubled for each further one (1 + 2 + ... + 16 ms).
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(1);

/// The entry keys of a descriptor, in order.
const ENTRY_KEYS: [&str; 5] = [
    entry::PLAN,
    entry::LIMIT,
    entry::WINDOW,
    entry::KEY,
    entry::SCOPE,
];

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Index of the plan in [`Plans::plans`].
    pub plan: usize,
    /// Units to charge every limit.
    pub hits: u64,
    /// The metered subject.
    pub key: String,
    /// The scope.
    pub scope: String,
    /// One per descriptor, in request order.
    pub items: Vec<Item>,
}

/// One descriptor: a limit of the plan and the filter's window id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// Index of the limit in its plan.
    pub limit: usize,
    /// The filter's window id.
    pub window_id: u64,
}

/// Why a check has no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The request is malformed (gRPC INVALID_ARGUMENT, HTTP 400).
    Invalid(String),
    /// The counter storage failed or did not answer in time (gRPC UNAVAILABLE, HTTP 503).
    Unavailable(String),
    /// The limiter disagrees with the plans (gRPC INTERNAL, HTTP 500).
    Internal(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Invalid(m) | CheckError::Unavailable(m) | CheckError::Internal(m) => {
                f.write_str(m)
            }
        }
    }
}

/// Validates a request against the plans.
pub fn parse_request(plans: &Plans, req: &RateLimitRequest) -> Result<Checked, String> {
    if req.domain != plans.domain {
        return Err(format!(
            "domain: expected {:?}, got {:?}",
            plans.domain, req.domain
        ));
    }
    if req.descriptors.is_empty() {
        return Err("descriptors: at least one descriptor is required".into());
    }
    if req.descriptors.len() > MAX_DESCRIPTORS {
        return Err(format!(
            "descriptors: at most {MAX_DESCRIPTORS} descriptors, got {}",
            req.descriptors.len()
        ));
    }
    let mut plan: Option<(usize, &PlanSpec)> = None;
    let mut key = "";
    let mut scope = "";
    let mut items: Vec<Item> = Vec::with_capacity(req.descriptors.len());
    for (d, descriptor) in req.descriptors.iter().enumerate() {
        let at = format!("descriptors[{d}]");
        if descriptor.limit.is_some() {
            return Err(format!("{at}.limit: limit overrides are not supported"));
        }
        if descriptor.hits_addend.is_some() {
            return Err(format!(
                "{at}.hits_addend: per-descriptor hits are not supported (use the request's hits_addend)"
            ));
        }
        if descriptor.is_negative_hits {
            return Err(format!("{at}.is_negative_hits: not supported"));
        }
        if descriptor.entries.len() != ENTRY_KEYS.len() {
            return Err(format!(
                "{at}.entries: expected {} entries ({}), got {}",
                ENTRY_KEYS.len(),
                ENTRY_KEYS.join(", "),
                descriptor.entries.len()
            ));
        }
        let mut values = [""; 5];
        for (e, (entry, expected)) in descriptor.entries.iter().zip(ENTRY_KEYS).enumerate() {
            if entry.key != expected {
                return Err(format!(
                    "{at}.entries[{e}].key: expected {expected}, got {:?}",
                    entry.key
                ));
            }
            if entry.value.is_empty() {
                return Err(format!("{at}.entries[{e}].value: {expected} is empty"));
            }
            if entry.value.len() > MAX_VALUE_BYTES {
                return Err(format!(
                    "{at}.entries[{e}].value: {expected} is longer than {MAX_VALUE_BYTES} bytes"
                ));
            }
            values[e] = entry.value.as_str();
        }
        let [plan_name, limit_name, window, this_key, this_scope] = values;
        let spec = match plan {
            None => {
                let found = plans
                    .plan(plan_name)
                    .ok_or_else(|| format!("{at}.entries[0].value: unknown plan {plan_name:?}"))?;
                plan = Some(found);
                key = this_key;
                scope = this_scope;
                found.1
            }
            Some((_, spec)) => {
                if plan_name != spec.name {
                    return Err(format!(
                        "{at}.entries[0].value: plan {plan_name:?} differs from descriptors[0]'s {:?}",
                        spec.name
                    ));
                }
                if this_key != key {
                    return Err(format!(
                        "{at}.entries[3].value: key {this_key:?} differs from descriptors[0]'s {key:?}"
                    ));
                }
                if this_scope != scope {
                    return Err(format!(
                        "{at}.entries[4].value: scope {this_scope:?} differs from descriptors[0]'s {scope:?}"
                    ));
                }
                spec
            }
        };
        let (limit, _) = spec.limit(limit_name).ok_or_else(|| {
            format!(
                "{at}.entries[1].value: plan {:?} has no limit {limit_name:?}",
                spec.name
            )
        })?;
        if let Some(first) = items.iter().position(|i| i.limit == limit) {
            return Err(format!(
                "{at}.entries[1].value: limit {limit_name:?} is already in descriptors[{first}]"
            ));
        }
        let window_id = parse_window_id(window).ok_or_else(|| {
            format!("{at}.entries[2].value: window id {window:?} is not a decimal integer")
        })?;
        items.push(Item { limit, window_id });
    }
    let plan = plan.map(|(index, _)| index).unwrap_or_default();
    Ok(Checked {
        plan,
        hits: u64::from(req.hits_addend.max(1)),
        key: key.to_owned(),
        scope: scope.to_owned(),
        items,
    })
}

/// A window id: 1 to 20 ASCII digits that fit in a u64.
fn parse_window_id(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Checked {
    /// The Limitador context: the key, the scope and each named limit's window id.
    pub fn context_values(&self) -> HashMap<String, String> {
        let mut values = HashMap::with_capacity(self.items.len() + 2);
        values.insert(KEY_VAR.to_owned(), self.key.clone());
        values.insert(SCOPE_VAR.to_owned(), self.scope.clone());
        for item in &self.items {
            values.insert(window_var(item.limit), item.window_id.to_string());
        }
        values
    }
}

/// The answer: `remaining[i]` is the units left in descriptor `i`'s counter (after this
/// request's hits when `admitted`).
pub fn response(
    plan: &PlanSpec,
    checked: &Checked,
    admitted: bool,
    remaining: &[u64],
    now_us: u64,
) -> RateLimitResponse {
    let statuses = checked
        .items
        .iter()
        .zip(remaining)
        .map(|(item, &left)| {
            let limit = &plan.limits[item.limit];
            let over = !admitted && left < checked.hits;
            let (_, end_us) = limit.window.bounds(item.window_id);
            DescriptorStatus {
                code: if over { Code::OverLimit } else { Code::Ok } as i32,
                current_limit: Some(RateLimit {
                    name: limit.name.clone(),
                    requests_per_unit: saturate_u32(limit.quota),
                    unit: closest_unit(&limit.window) as i32,
                }),
                limit_remaining: saturate_u32(left),
                duration_until_reset: Some(duration_from_micros(end_us.saturating_sub(now_us))),
                quota: None,
            }
        })
        .collect();
    RateLimitResponse {
        overall_code: if admitted { Code::Ok } else { Code::OverLimit } as i32,
        statuses,
        ..Default::default()
    }
}

/// `v` as u32, `u32::MAX` if larger.
pub fn saturate_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A protobuf duration of `us` microseconds.
pub fn duration_from_micros(us: u64) -> PbDuration {
    PbDuration {
        seconds: i64::try_from(us / 1_000_000).unwrap_or(i64::MAX),
        nanos: i32::try_from((us % 1_000_000) * 1_000).unwrap_or(0),
    }
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Checks requests against Limitador.
pub struct Checker {
    limiter: AsyncRateLimiter,
    plans: Plans,
    deadline: Duration,
    /// The second of the last failure logged (one line a second at most).
    last_warning: AtomicU64,
}

impl Checker {
    /// A checker over a limiter configured with `plans`' limits; a check that takes longer than
    /// `deadline` is answered as unavailable.
    pub fn new(limiter: AsyncRateLimiter, plans: Plans, deadline: Duration) -> Self {
        Self {
            limiter,
            plans,
            deadline,
            last_warning: AtomicU64::new(0),
        }
    }

    /// Checks all limits of the request and charges them all, or none.
    pub async fn check(&self, req: &RateLimitRequest) -> Result<RateLimitResponse, CheckError> {
        let checked = parse_request(&self.plans, req).map_err(CheckError::Invalid)?;
        let plan = &self.plans.plans[checked.plan];
        let counted = match tokio::time::timeout(self.deadline, self.count(plan, &checked)).await {
            Ok(counted) => counted,
            Err(_) => Err(CheckError::Unavailable(format!(
                "the counter storage did not answer within {} ms",
                self.deadline.as_millis()
            ))),
        };
        match counted {
            Ok((admitted, remaining)) => {
                Ok(response(plan, &checked, admitted, &remaining, now_us()))
            }
            Err(err) => {
                self.warn(&err);
                Err(err)
            }
        }
    }

    /// Logs a failure, at most one a second (a Redis outage fails every check).
    fn warn(&self, err: &CheckError) {
        let second = now_us() / 1_000_000;
        let last = self.last_warning.load(Ordering::Relaxed);
        if second != last
            && self
                .last_warning
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!("check failed (one line a second at most): {err}");
        }
    }

    /// Reserves and commits; `(admitted, remaining per descriptor)`.
    async fn count(
        &self,
        plan: &PlanSpec,
        checked: &Checked,
    ) -> Result<(bool, Vec<u64>), CheckError> {
        let namespace = Namespace::from(plan.namespace.as_str());
        let ctx = Context::from(checked.context_values());
        let mut pause = FIRST_RETRY_PAUSE;
        let mut attempt = 1;
        loop {
            let reserved = self
                .limiter
                .reserve(&namespace, &ctx, checked.hits, Some(HOLD_TTL))
                .await
                .map_err(limitador_error)?;
            if !reserved.limited {
                let remaining = remaining_by_item(plan, checked, &reserved.counters)?;
                self.limiter
                    .commit_reservation(
                        &namespace,
                        &ctx,
                        reserved.reservation_id.as_ref(),
                        checked.hits,
                    )
                    .await
                    .map_err(limitador_error)?;
                return Ok((true, remaining));
            }
            // Refused against counts plus holds: final if the counts alone refuse, else made
            // by holds of requests in flight (see the module documentation).
            let counted = self
                .limiter
                .is_rate_limited(&namespace, &ctx, checked.hits)
                .await
                .map_err(limitador_error)?;
            if counted.limited {
                return Ok((false, remaining_by_item(plan, checked, &counted.counters)?));
            }
            if attempt >= MAX_RESERVE_ATTEMPTS {
                return Ok((false, remaining_by_item(plan, checked, &reserved.counters)?));
            }
            attempt += 1;
            tokio::time::sleep(pause).await;
            pause = pause.saturating_mul(2);
        }
    }
}

/// Each descriptor's remaining units, from the counters Limitador returned.
fn remaining_by_item(
    plan: &PlanSpec,
    checked: &Checked,
    counters: &[Counter],
) -> Result<Vec<u64>, CheckError> {
    if counters.len() != checked.items.len() {
        return Err(CheckError::Internal(format!(
            "plan {:?}: {} counters for {} descriptors",
            plan.name,
            counters.len(),
            checked.items.len()
        )));
    }
    checked
        .items
        .iter()
        .map(|item| {
            let spec = &plan.limits[item.limit];
            counters
                .iter()
                .find(|c| c.id() == Some(spec.id.as_str()))
                .map(|c| c.remaining().unwrap_or(0))
                .ok_or_else(|| CheckError::Internal(format!("limit {:?} has no counter", spec.id)))
        })
        .collect()
}

fn limitador_error(err: LimitadorError) -> CheckError {
    match err {
        LimitadorError::StorageError(e) => CheckError::Unavailable(e.to_string()),
        LimitadorError::InterpreterError(e) => CheckError::Internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::tests::plans;
    use envoy_types::pb::envoy::extensions::common::ratelimit::v3::rate_limit_descriptor::{
        Entry, RateLimitOverride,
    };
    use envoy_types::pb::envoy::extensions::common::ratelimit::v3::RateLimitDescriptor;
    use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit;

    fn descriptor(values: [&str; 5]) -> RateLimitDescriptor {
        RateLimitDescriptor {
            entries: ENTRY_KEYS
                .iter()
                .zip(values)
                .map(|(k, v)| Entry {
                    key: (*k).to_owned(),
                    value: v.to_owned(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn request(hits: u32, descriptors: Vec<RateLimitDescriptor>) -> RateLimitRequest {
        RateLimitRequest {
            domain: "gateway".into(),
            descriptors,
            hits_addend: hits,
        }
    }

    fn gold() -> RateLimitRequest {
        request(
            3,
            vec![
                descriptor(["gold", "per-minute", "29000000", "c:alice", "-"]),
                descriptor(["gold", "per-month", "673", "c:alice", "-"]),
            ],
        )
    }

    #[test]
    fn a_filter_request_becomes_one_context() {
        let checked = parse_request(&plans(), &gold()).expect("valid");
        assert_eq!(checked.plan, 0);
        assert_eq!(checked.hits, 3);
        assert_eq!(
            checked.items,
            [
                Item {
                    limit: 0,
                    window_id: 29_000_000
                },
                Item {
                    limit: 1,
                    window_id: 673
                }
            ]
        );
        let values = checked.context_values();
        assert_eq!(values.len(), 4);
        assert_eq!(values["quota_key"], "c:alice");
        assert_eq!(values["quota_scope"], "-");
        assert_eq!(values["w0"], "29000000");
        assert_eq!(values["w1"], "673");
    }

    #[test]
    fn zero_hits_count_as_one_and_a_subset_of_limits_is_fine() {
        let req = request(
            0,
            vec![descriptor(["gold", "per-month", "673", "k:ab12", "api:x"])],
        );
        let checked = parse_request(&plans(), &req).expect("valid");
        assert_eq!(checked.hits, 1);
        assert_eq!(
            checked.items,
            [Item {
                limit: 1,
                window_id: 673
            }]
        );
        let values = checked.context_values();
        assert!(values.contains_key("w1") && !values.contains_key("w0"));
        assert_eq!(values["quota_scope"], "api:x");
    }

    #[test]
    fn malformed_requests_name_what_is_wrong() {
        let plans = plans();
        let d = |v: [&str; 5]| descriptor(v);
        let ok = ["gold", "per-minute", "1", "c:a", "-"];
        let mut swapped = d(ok);
        swapped.entries.swap(2, 3);
        let mut short = d(ok);
        short.entries.pop();
        let mut with_override = d(ok);
        with_override.limit = Some(RateLimitOverride::default());
        let mut with_hits = d(ok);
        with_hits.hits_addend = Some(Default::default());
        let mut negative = d(ok);
        negative.is_negative_hits = true;
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let cases: Vec<(RateLimitRequest, &str)> = vec![
            (
                RateLimitRequest {
                    domain: "other".into(),
                    ..gold()
                },
                "domain: expected \"gateway\", got \"other\"",
            ),
            (request(1, vec![]), "descriptors: at least one"),
            (request(1, vec![d(ok); 17]), "descriptors: at most 16"),
            (request(1, vec![short]), "descriptors[0].entries: expected 5 entries"),
            (
                request(1, vec![swapped]),
                "descriptors[0].entries[2].key: expected quota_window, got \"quota_key\"",
            ),
            (
                request(1, vec![d(["silver", "per-minute", "1", "c:a", "-"])]),
                "descriptors[0].entries[0].value: unknown plan \"silver\"",
            ),
            (
                request(1, vec![d(["gold", "per-second", "1", "c:a", "-"])]),
                "descriptors[0].entries[1].value: plan \"gold\" has no limit \"per-second\"",
            ),
            (
                request(1, vec![d(["gold", "per-minute", "-1", "c:a", "-"])]),
                "descriptors[0].entries[2].value: window id \"-1\" is not a decimal integer",
            ),
            (
                request(1, vec![d(["gold", "per-minute", "+1", "c:a", "-"])]),
                "window id \"+1\"",
            ),
            (
                request(1, vec![d(["gold", "per-minute", "99999999999999999999", "c:a", "-"])]),
                "is not a decimal integer",
            ),
            (
                request(1, vec![d(["gold", "per-minute", "1", "", "-"])]),
                "descriptors[0].entries[3].value: quota_key is empty",
            ),
            (
                request(1, vec![d(["gold", "per-minute", "1", &long, "-"])]),
                "quota_key is longer than 256 bytes",
            ),
            (
                request(1, vec![d(ok), d(["free", "per-second", "1", "c:a", "-"])]),
                "descriptors[1].entries[0].value: plan \"free\" differs from descriptors[0]'s \"gold\"",
            ),
            (
                request(1, vec![d(ok), d(["gold", "per-month", "1", "c:b", "-"])]),
                "descriptors[1].entries[3].value: key \"c:b\" differs",
            ),
            (
                request(1, vec![d(ok), d(["gold", "per-month", "1", "c:a", "api:x"])]),
                "descriptors[1].entries[4].value: scope \"api:x\" differs",
            ),
            (
                request(1, vec![d(ok), d(["gold", "per-minute", "2", "c:a", "-"])]),
                "descriptors[1].entries[1].value: limit \"per-minute\" is already in descriptors[0]",
            ),
            (
                request(1, vec![with_override]),
                "descriptors[0].limit: limit overrides are not supported",
            ),
            (
                request(1, vec![d(ok), with_hits]),
                "descriptors[1].hits_addend: per-descriptor hits are not supported",
            ),
            (
                request(1, vec![negative]),
                "descriptors[0].is_negative_hits: not supported",
            ),
        ];
        for (req, expected) in cases {
            let err = parse_request(&plans, &req).expect_err(expected);
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn statuses_follow_the_descriptors() {
        let plans = plans();
        let checked = parse_request(&plans, &gold()).expect("valid");
        let plan = &plans.plans[0];
        // Minute window 29,000,000 ends at 29,000,001 minutes; 41.5 s before that.
        let end_us = 29_000_001 * 60_000_000;
        let now = end_us - 41_500_000;
        let resp = response(plan, &checked, true, &[7, 99_990], now);
        assert_eq!(resp.overall_code, Code::Ok as i32);
        assert_eq!(resp.statuses.len(), 2);
        let minute = &resp.statuses[0];
        assert_eq!(minute.code, Code::Ok as i32);
        assert_eq!(minute.limit_remaining, 7);
        let limit = minute.current_limit.as_ref().expect("limit");
        assert_eq!(
            (limit.name.as_str(), limit.requests_per_unit, limit.unit),
            ("per-minute", 10, Unit::Minute as i32)
        );
        assert_eq!(
            minute.duration_until_reset,
            Some(PbDuration {
                seconds: 41,
                nanos: 500_000_000
            })
        );
        let month = &resp.statuses[1];
        assert_eq!(
            month.current_limit.as_ref().map(|l| l.unit),
            Some(Unit::Month as i32)
        );
        // Window 673 is February 2026 (months since January 1970); it ends on March 1st.
        let march_1_2026_us = 1_772_323_200 * 1_000_000;
        assert_eq!(
            month.duration_until_reset,
            Some(duration_from_micros(march_1_2026_us - now))
        );
    }

    #[test]
    fn a_refusal_marks_only_the_limits_that_refuse() {
        let plans = plans();
        let checked = parse_request(&plans, &gold()).expect("valid");
        let resp = response(&plans.plans[0], &checked, false, &[2, 50_000], 0);
        assert_eq!(resp.overall_code, Code::OverLimit as i32);
        let codes: Vec<i32> = resp.statuses.iter().map(|s| s.code).collect();
        assert_eq!(codes, [Code::OverLimit as i32, Code::Ok as i32]);
        assert_eq!(resp.statuses[0].limit_remaining, 2);
    }

    #[test]
    fn durations_never_go_negative_and_counts_saturate() {
        let plans = plans();
        let checked = parse_request(&plans, &gold()).expect("valid");
        let resp = response(&plans.plans[0], &checked, true, &[u64::MAX, 0], u64::MAX);
        assert_eq!(resp.statuses[0].limit_remaining, u32::MAX);
        assert_eq!(
            resp.statuses[0].duration_until_reset,
            Some(PbDuration {
                seconds: 0,
                nanos: 0
            })
        );
        assert_eq!(saturate_u32(1 << 40), u32::MAX);
        assert_eq!(
            duration_from_micros(1_000_001),
            PbDuration {
                seconds: 1,
                nanos: 1_000
            }
        );
    }
}
