//! Every metric name of the quota filter, declared once.
//!
//! Fixed counters are listed in [`NAMES`]. Usage per consumer and limit uses names built only from
//! configuration (a configured consumer id or `_other`, a plan name, a limit name), so their
//! number is bounded by the configuration, never by client input:
//! `quota_consumer_usage.<consumer>.<plan>.<limit>` (units charged) and
//! `quota_consumer_refused.<consumer>.<plan>.<limit>` (requests refused by that limit).

/// Fixed counters, indexed by [`M`].
pub const NAMES: [&str; 27] = [
    "quota_admitted",
    "quota_refused",
    "quota_shadow_refused",
    "quota_unmetered",
    "quota_unidentified_rejected",
    "quota_unknown_plan",
    "quota_invalid_cost",
    "quota_store_errors",
    "quota_store_cas_conflicts",
    "quota_store_retries_exhausted",
    "quota_store_corrupt_resets",
    "quota_store_create_races",
    "quota_store_failure_admitted",
    "quota_store_failure_refused",
    "quota_rollbacks",
    "quota_rollback_failures",
    "quota_post_charged_units",
    "quota_post_charge_invalid",
    "quota_report_requests",
    "quota_global_calls",
    "quota_global_refills",
    "quota_global_lease_admitted",
    "quota_global_failures",
    "quota_global_failure_allowed",
    "quota_global_failure_denied",
    "quota_global_failure_local",
    "quota_global_overloaded",
];

/// Index of a fixed counter in [`NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum M {
    /// Requests admitted (shadow refusals included).
    Admitted,
    /// Requests refused with 429.
    Refused,
    /// Requests that would have been refused in shadow mode.
    ShadowRefused,
    /// Requests not metered: no identity or no plan.
    Unmetered,
    /// Requests refused for lack of identity (`unidentified: reject`).
    UnidentifiedRejected,
    /// Plan header naming no configured plan.
    UnknownPlan,
    /// Requests refused with 400 for a bad cost header.
    InvalidCost,
    /// Store errors.
    StoreErrors,
    /// CAS conflicts retried.
    CasConflicts,
    /// Updates that ran out of attempts.
    RetriesExhausted,
    /// Corrupt stored values reset.
    CorruptResets,
    /// Creates that found the key already created.
    CreateRaces,
    /// Requests admitted because the store failed.
    FailureAdmitted,
    /// Requests refused (503) because the store failed.
    FailureRefused,
    /// Requests refused in the charge phase, earlier charges refunded.
    Rollbacks,
    /// Refunds that could not be written.
    RollbackFailures,
    /// Units charged after responses.
    PostCharged,
    /// Response cost headers that were not a valid amount.
    PostChargeInvalid,
    /// Usage report requests (served or refused).
    ReportRequests,
    /// Calls made to the global store (checks and lease refills).
    GlobalCalls,
    /// Lease refills among them.
    GlobalRefills,
    /// Requests admitted from a lease without a call.
    GlobalLeaseAdmitted,
    /// Checks that failed: no answer in time, an error status, an unreadable answer, or no call
    /// could be made.
    GlobalFailures,
    /// Requests admitted because the check failed (`on_error: allow`).
    GlobalFailureAllowed,
    /// Requests refused with 503 because the check failed (`on_error: deny`).
    GlobalFailureDenied,
    /// Requests counted locally because the check failed (`on_error: local`).
    GlobalFailureLocal,
    /// Checks not made because `max_pending` calls were in flight on the worker.
    GlobalOverloaded,
}

/// Label used for subjects that are not configured consumers.
pub const OTHER: &str = "_other";

/// Name of the usage counter of a consumer label, plan and limit.
pub fn usage_name(consumer: &str, plan: &str, limit: &str) -> String {
    ["quota_consumer_usage.", consumer, ".", plan, ".", limit].concat()
}

/// Name of the refusal counter of a consumer label, plan and limit.
pub fn refused_name(consumer: &str, plan: &str, limit: &str) -> String {
    ["quota_consumer_refused.", consumer, ".", plan, ".", limit].concat()
}
