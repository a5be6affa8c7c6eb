//! Every metric name of upstream protection, declared once.
//!
//! Fixed counters are listed in [`NAMES`]. Per protected API (names from configuration only):
//! the gauges `protect_in_flight.<api>` (requests admitted and not yet ended, summed over the
//! workers and partitions of the API) and `protect_open.<api>` (partitions whose breaker is open
//! or half-open), and the counter `protect_shed.<api>` (requests answered 503).

/// Fixed counters, indexed by [`P`].
pub const NAMES: [&str; 16] = [
    "protect_admitted",
    "protect_shed_open",
    "protect_shed_half_open",
    "protect_shed_concurrency",
    "protect_opened",
    "protect_half_opened",
    "protect_closed",
    "protect_reopened",
    "protect_successes",
    "protect_failures",
    "protect_neutral",
    "protect_store_errors",
    "protect_store_cas_conflicts",
    "protect_store_corrupt_resets",
    "protect_release_deferred",
    "protect_release_dropped",
];

/// Index of a fixed counter in [`NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum P {
    /// Requests admitted to a protected API.
    Admitted,
    /// Requests shed because the breaker is open.
    ShedOpen,
    /// Requests shed because the breaker is half-open with every probe in flight.
    ShedHalfOpen,
    /// Requests shed by `max_in_flight`.
    ShedConcurrency,
    /// Closed to open.
    Opened,
    /// Open to half-open.
    HalfOpened,
    /// Half-open to closed.
    Closed,
    /// Half-open to open.
    Reopened,
    /// Admitted requests that ended in a success.
    Successes,
    /// Admitted requests that ended in a failure.
    Failures,
    /// Admitted requests that ended without telling anything about the upstream.
    Neutral,
    /// Shared-data failures (the request is admitted without a slot, or its release deferred).
    StoreErrors,
    /// CAS conflicts retried.
    CasConflicts,
    /// Corrupt stored states read as fresh.
    CorruptResets,
    /// Releases that could not be written at once and were kept for the worker's next call.
    ReleaseDeferred,
    /// Releases dropped because too many were deferred (the slot stays taken).
    ReleaseDropped,
}

/// Per-API gauge of requests in flight.
pub fn in_flight_name(api: &str) -> String {
    ["protect_in_flight.", api].concat()
}

/// Per-API gauge of partitions not closed.
pub fn open_name(api: &str) -> String {
    ["protect_open.", api].concat()
}

/// Per-API counter of shed requests.
pub fn shed_name(api: &str) -> String {
    ["protect_shed.", api].concat()
}
