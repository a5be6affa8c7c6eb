//! Configuration: the JSON wire format ([`RawConfig`], every struct denying unknown fields) and
//! its validation into the runtime [`Config`]. Every error names the field's path.
//!
//! The README has the complete reference with an example; each field's doc below states its
//! default.

use filter_core::config::Field;
use filter_core::ConfigError;

use crate::limit::Limit;
use crate::window::Unit;

mod read;
mod validate;
pub use validate::*;

/// Most plans accepted.
pub const MAX_PLANS: usize = 64;
/// Most limits per plan.
pub const MAX_LIMITS: usize = 16;
/// Most configured consumers.
pub const MAX_CONSUMERS: usize = 10_000;
/// Most routes.
pub const MAX_ROUTES: usize = 256;
/// Largest name (plan, limit, route, consumer, group) in bytes.
pub const MAX_NAME: usize = 64;

/// The plugin configuration as JSON.
#[derive(Debug)]
pub struct RawConfig {
    /// Plans (required, 1 to 64, unique names).
    pub plans: Vec<RawPlan>,
    /// Plan for requests whose plan is not known otherwise. Default: none (such requests are not
    /// metered).
    pub default_plan: Option<String>,
    /// Consumers known to the quota filter: per-consumer metrics, the usage report, and the plan
    /// used when auth sends none. Default: none.
    pub consumers: Vec<RawConsumer>,
    /// What a counter is kept per. Default: per consumer.
    pub key: RawKey,
    /// Names of the identity headers auth sets. Default: the contract's names.
    pub identity: RawIdentity,
    /// Routes, for per-route weights and per-API/route/version counters. Default: none.
    pub routes: Vec<RawRoute>,
    /// Request cost. Default: 1 per request.
    pub cost: RawCost,
    /// Rate-limit header fields. Default: on refusals only, both IETF and `X-RateLimit-*`.
    pub headers: RawHeaders,
    /// Count and report but never refuse. Default: false.
    pub shadow: bool,
    /// Counter store behaviour. Default: 8 attempts, admit on failure.
    pub store: RawStore,
    /// Usage report served locally. Default: none.
    pub report: Option<RawReport>,
    /// Requests without the identity the key needs: `allow` (default; not metered) or `reject`
    /// (403).
    pub unidentified: Unidentified,
}

/// A plan.
#[derive(Debug)]
pub struct RawPlan {
    /// Name (required; letters, digits, `-`, `_`; what auth sends in `x-gateway-plan`).
    pub name: String,
    /// Limits (required, 1 to 16, unique names), all enforced at once.
    pub limits: Vec<RawLimit>,
}

/// One limit of a plan.
#[derive(Debug)]
pub struct RawLimit {
    /// Name (required; unique in the plan; shown in headers, problems and metrics).
    pub name: String,
    /// Units per window (required, 1 to 10^15).
    pub limit: u64,
    /// Window unit: `second`, `minute`, `hour`, `day`, `week` or `month` (required).
    pub window: Unit,
    /// Number of units per window. Default 1; at most 1,000 (120 for months).
    pub window_size: u32,
    /// Align weeks to Monday and months to calendar months (UTC). Default false: epoch-aligned
    /// 7-day weeks and 30-day months. Not with `gcra`.
    pub calendar: bool,
    /// `fixed_window` (default), `sliding_window` or `gcra`.
    pub algorithm: AlgorithmName,
    /// GCRA bucket size in units. Default: `limit`. Only with `gcra`.
    pub burst: Option<u64>,
    /// `request` (default): the request cost is charged on admission; `response`: the limit only
    /// needs one unit left to admit, and is charged the amount of `cost.response_header` after
    /// the response.
    pub charge: ChargeAt,
}

fn one() -> u32 {
    1
}

/// Algorithm names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AlgorithmName {
    /// Fixed window.
    #[default]
    FixedWindow,
    /// Sliding window (weighted two-window approximation).
    SlidingWindow,
    /// GCRA (token bucket).
    Gcra,
}

/// When a limit is charged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ChargeAt {
    /// On admission, with the request cost.
    #[default]
    Request,
    /// After the response, with the response header's amount.
    Response,
}

/// A consumer known to the quota filter.
#[derive(Debug)]
pub struct RawConsumer {
    /// Consumer id as auth sets it (required; letters, digits, `-`, `_`, `.`; not starting with
    /// `_`).
    pub id: String,
    /// Plan when the request carries none. Default: `default_plan`.
    pub plan: Option<String>,
}

/// What counters are kept per.
#[derive(Debug, Default)]
pub struct RawKey {
    /// `consumer` (default): the consumer id auth set; `api_key`: SHA-256 of the API key in
    /// `header`, only for requests auth accepted with an API key; `client_address`: the
    /// downstream address; `header`: the value of `header`.
    pub source: KeySource,
    /// Header for `api_key` and `header` sources (required for them; lowercase).
    pub header: Option<String>,
    /// For `client_address` and `header`: values are hashed into this many counters, bounding
    /// shared data (1 to 1,048,576). Default 65,536.
    pub buckets: Option<u32>,
    /// Also separate counters per `api`, `route` or `version` of the matched route. Default
    /// `none`.
    pub per: Scope,
}

/// Where the key comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeySource {
    /// The consumer id.
    #[default]
    Consumer,
    /// SHA-256 digest of the API key.
    ApiKey,
    /// Downstream address (without port).
    ClientAddress,
    /// A configured header.
    Header,
}

/// Extra partition of counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scope {
    /// One counter per key.
    #[default]
    None,
    /// Per route `api`.
    Api,
    /// Per route `name`.
    Route,
    /// Per route `version`.
    Version,
}

/// Identity header names (see the contract).
#[derive(Debug)]
pub struct RawIdentity {
    /// Default `x-gateway-consumer`.
    pub consumer_header: String,
    /// Default `x-gateway-plan`.
    pub plan_header: String,
    /// Default `x-gateway-groups`.
    pub groups_header: String,
    /// Default `x-gateway-credential`.
    pub credential_header: String,
}

impl Default for RawIdentity {
    fn default() -> Self {
        Self {
            consumer_header: consumer_header(),
            plan_header: plan_header(),
            groups_header: groups_header(),
            credential_header: credential_header(),
        }
    }
}

fn consumer_header() -> String {
    "x-gateway-consumer".into()
}
fn plan_header() -> String {
    "x-gateway-plan".into()
}
fn groups_header() -> String {
    "x-gateway-groups".into()
}
fn credential_header() -> String {
    "x-gateway-credential".into()
}

/// A route: a path prefix (and optionally methods) with labels and a weight.
#[derive(Debug)]
pub struct RawRoute {
    /// Name (required, unique).
    pub name: String,
    /// Path prefix, matched on whole segments of `:path` before `?` (required, starts with `/`).
    pub path_prefix: String,
    /// Methods (uppercase). Default: any.
    pub methods: Vec<String>,
    /// API label for `key.per: api`. Default: the route name.
    pub api: Option<String>,
    /// Version label for `key.per: version`. Default: none (`-`).
    pub version: Option<String>,
    /// Cost of a request on this route (0 to `cost.max`). Default: from `cost`.
    pub cost: Option<u64>,
}

/// Request cost.
#[derive(Debug)]
pub struct RawCost {
    /// Request header carrying the cost (a decimal integer). Default: none. A route's `cost`
    /// takes precedence.
    pub header: Option<String>,
    /// Smallest cost the header may give. Default 1 (so a client cannot send 0).
    pub min: u64,
    /// Largest cost the header may give. Default 1,000.
    pub max: u64,
    /// Response header whose decimal value is charged after the response to limits with
    /// `charge: response`. Default: none.
    pub response_header: Option<String>,
    /// Largest amount charged from the response header; larger values are clamped. Default
    /// 1,000,000.
    pub response_max: u64,
}

impl Default for RawCost {
    fn default() -> Self {
        Self {
            header: None,
            min: 1,
            max: thousand(),
            response_header: None,
            response_max: million(),
        }
    }
}

fn one_u64() -> u64 {
    1
}
fn thousand() -> u64 {
    1_000
}
fn million() -> u64 {
    1_000_000
}

/// Which rate-limit header fields are sent.
#[derive(Debug)]
pub struct RawHeaders {
    /// Also on admitted requests' responses. Default false (refusals only).
    pub on_success: bool,
    /// `RateLimit-Policy` and `RateLimit` (IETF draft). Default true.
    pub ietf: bool,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`. Default true.
    pub x_ratelimit: bool,
}

impl Default for RawHeaders {
    fn default() -> Self {
        Self {
            on_success: false,
            ietf: true,
            x_ratelimit: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// Counter store behaviour.
#[derive(Debug)]
pub struct RawStore {
    /// Attempts per counter update before giving up (1 to 64). Default 8.
    pub max_attempts: u32,
    /// On store failure or exhausted attempts: `admit` (default) or `refuse` (503).
    pub on_error: OnErrorName,
    /// Count in a rate limit service shared by every gateway instance instead of this
    /// instance's shared data. Default: none (local counting).
    pub global: Option<RawGlobal>,
}

impl Default for RawStore {
    fn default() -> Self {
        Self {
            max_attempts: eight(),
            on_error: OnErrorName::Admit,
            global: None,
        }
    }
}

/// The global store: a rate limit service (Envoy's RLS v3 over gRPC, or its JSON form over HTTP).
#[derive(Debug)]
pub struct RawGlobal {
    /// The cluster of the rate limit service (required).
    pub cluster: String,
    /// `grpc` (default; `ShouldRateLimit` of `envoy.service.ratelimit.v3`) or `http` (the same
    /// messages as proto3 JSON, POSTed to `path`).
    pub protocol: Protocol,
    /// Path of the HTTP check. Default `/v1/check`. Only with `http`.
    pub path: Option<String>,
    /// The rate limit domain. Default `gateway`.
    pub domain: String,
    /// `exact` (default): one call per request; `leased`: blocks of units reserved per call.
    pub mode: Mode,
    /// Units reserved per call in `leased` mode (1 to 100,000). Default 10. Only with `leased`.
    pub block: Option<u32>,
    /// Per-call timeout in milliseconds (1 to 10,000). Default 50.
    pub timeout_ms: u32,
    /// When the service fails or is slower than the timeout: `allow` (default), `deny` (503) or
    /// `local` (count in this instance at each limit divided by `instances`).
    pub on_error: GlobalOnError,
    /// Gateway instances sharing the service, for `on_error: local` (1 to 10,000). Default 1.
    pub instances: u32,
    /// Calls in flight per worker before further requests count as a failure (1 to 100,000).
    /// Default 1,024.
    pub max_pending: u32,
}

/// How the global store is called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC `ShouldRateLimit`.
    #[default]
    Grpc,
    /// HTTP POST of proto3 JSON.
    Http,
}

/// How requests are counted by the global store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// One call per request.
    #[default]
    Exact,
    /// A block per call, admitted from locally until spent.
    Leased,
}

/// What a failed global check does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GlobalOnError {
    /// Admit the request.
    #[default]
    Allow,
    /// Refuse it with 503 `quota-unavailable`.
    Deny,
    /// Count it in this instance at each limit divided by `instances`.
    Local,
}

fn eight() -> u32 {
    8
}

/// Failure mode names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnErrorName {
    /// Admit.
    #[default]
    Admit,
    /// Refuse with 503.
    Refuse,
}

/// The usage report endpoint.
#[derive(Debug)]
pub struct RawReport {
    /// Path answered locally (required; starts with `/`; compared with `:path` before `?`).
    pub path: String,
    /// Group (from `x-gateway-groups`) allowed to read it (required).
    pub group: String,
}

/// Requests without the identity the key needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unidentified {
    /// Let them through, not metered (counted in `quota_unmetered`).
    #[default]
    Allow,
    /// Refuse them with 403.
    Reject,
}

/// Parses and validates configuration bytes.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    let json = filter_core::config::parse(bytes)?;
    Config::try_from(RawConfig::read(Field::root(&json))?)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
