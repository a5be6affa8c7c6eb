//! The configuration as JSON: the wire structs ([`RawConfig`] and its members, every one
//! denying unknown members) and their reading from the parsed document. Each field's doc
//! states its default.

use filter_core::config::Field;
use filter_core::ConfigError;

use crate::window::Unit;

type Result<T> = std::result::Result<T, ConfigError>;

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "plans",
            "default_plan",
            "consumers",
            "key",
            "identity",
            "routes",
            "cost",
            "headers",
            "shadow",
            "store",
            "report",
            "unidentified",
            "protect",
        ])?;
        Ok(Self {
            plans: o.req("plans", |f| f.list(RawPlan::read))?,
            default_plan: o.opt("default_plan", Field::string)?,
            consumers: o.or_default("consumers", |f| f.list(RawConsumer::read))?,
            key: o.or_default("key", RawKey::read)?,
            identity: o.or_default("identity", RawIdentity::read)?,
            routes: o.or_default("routes", |f| f.list(RawRoute::read))?,
            cost: o.or_default("cost", RawCost::read)?,
            headers: o.or_default("headers", RawHeaders::read)?,
            shadow: o.or_default("shadow", Field::bool)?,
            store: o.or_default("store", RawStore::read)?,
            report: o.opt("report", RawReport::read)?,
            unidentified: o.or_default("unidentified", |f| {
                f.choice(&[
                    ("allow", Unidentified::Allow),
                    ("reject", Unidentified::Reject),
                ])
            })?,
            protect: o.opt("protect", crate::protect::config::read)?,
        })
    }
}

impl RawPlan {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "limits"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            limits: o.req("limits", |f| f.list(RawLimit::read))?,
        })
    }
}

impl RawLimit {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "name",
            "limit",
            "window",
            "window_size",
            "calendar",
            "algorithm",
            "burst",
            "charge",
        ])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            limit: o.req("limit", Field::u64)?,
            window: o.req("window", unit)?,
            window_size: o.or("window_size", Field::u32, one())?,
            calendar: o.or_default("calendar", Field::bool)?,
            algorithm: o.or_default("algorithm", |f| {
                f.choice(&[
                    ("fixed_window", AlgorithmName::FixedWindow),
                    ("sliding_window", AlgorithmName::SlidingWindow),
                    ("gcra", AlgorithmName::Gcra),
                ])
            })?,
            burst: o.opt("burst", Field::u64)?,
            charge: o.or_default("charge", |f| {
                f.choice(&[
                    ("request", ChargeAt::Request),
                    ("response", ChargeAt::Response),
                ])
            })?,
        })
    }
}

fn unit(f: Field<'_>) -> Result<Unit> {
    f.choice(&[
        ("second", Unit::Second),
        ("minute", Unit::Minute),
        ("hour", Unit::Hour),
        ("day", Unit::Day),
        ("week", Unit::Week),
        ("month", Unit::Month),
    ])
}

impl RawConsumer {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["id", "plan"])?;
        Ok(Self {
            id: o.req("id", Field::string)?,
            plan: o.opt("plan", Field::string)?,
        })
    }
}

impl RawKey {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["source", "header", "buckets", "per"])?;
        Ok(Self {
            source: o.or_default("source", |f| {
                f.choice(&[
                    ("consumer", KeySource::Consumer),
                    ("api_key", KeySource::ApiKey),
                    ("client_address", KeySource::ClientAddress),
                    ("header", KeySource::Header),
                ])
            })?,
            header: o.opt("header", Field::string)?,
            buckets: o.opt("buckets", Field::u32)?,
            per: o.or_default("per", |f| {
                f.choice(&[
                    ("none", Scope::None),
                    ("api", Scope::Api),
                    ("route", Scope::Route),
                    ("version", Scope::Version),
                ])
            })?,
        })
    }
}

impl RawIdentity {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "consumer_header",
            "plan_header",
            "groups_header",
            "credential_header",
        ])?;
        Ok(Self {
            consumer_header: o.or("consumer_header", Field::string, consumer_header())?,
            plan_header: o.or("plan_header", Field::string, plan_header())?,
            groups_header: o.or("groups_header", Field::string, groups_header())?,
            credential_header: o.or("credential_header", Field::string, credential_header())?,
        })
    }
}

impl RawRoute {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "path_prefix", "methods", "api", "version", "cost"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            path_prefix: o.req("path_prefix", Field::string)?,
            methods: o.or_default("methods", Field::strings)?,
            api: o.opt("api", Field::string)?,
            version: o.opt("version", Field::string)?,
            cost: o.opt("cost", Field::u64)?,
        })
    }
}

impl RawCost {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "min", "max", "response_header", "response_max"])?;
        Ok(Self {
            header: o.opt("header", Field::string)?,
            min: o.or("min", Field::u64, one_u64())?,
            max: o.or("max", Field::u64, thousand())?,
            response_header: o.opt("response_header", Field::string)?,
            response_max: o.or("response_max", Field::u64, million())?,
        })
    }
}

impl RawHeaders {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["on_success", "ietf", "x_ratelimit"])?;
        Ok(Self {
            on_success: o.or_default("on_success", Field::bool)?,
            ietf: o.or("ietf", Field::bool, yes())?,
            x_ratelimit: o.or("x_ratelimit", Field::bool, yes())?,
        })
    }
}

impl RawStore {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["max_attempts", "on_error", "global"])?;
        Ok(Self {
            max_attempts: o.or("max_attempts", Field::u32, eight())?,
            on_error: o.or_default("on_error", |f| {
                f.choice(&[
                    ("admit", OnErrorName::Admit),
                    ("refuse", OnErrorName::Refuse),
                ])
            })?,
            global: o.opt("global", RawGlobal::read)?,
        })
    }
}

impl RawGlobal {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "cluster",
            "protocol",
            "path",
            "domain",
            "mode",
            "block",
            "timeout_ms",
            "on_error",
            "instances",
            "max_pending",
        ])?;
        Ok(Self {
            cluster: o.req("cluster", Field::string)?,
            protocol: o.or_default("protocol", |f| {
                f.choice(&[("grpc", Protocol::Grpc), ("http", Protocol::Http)])
            })?,
            path: o.opt("path", Field::string)?,
            domain: o.or("domain", Field::string, "gateway".to_owned())?,
            mode: o.or_default("mode", |f| {
                f.choice(&[("exact", Mode::Exact), ("leased", Mode::Leased)])
            })?,
            block: o.opt("block", Field::u32)?,
            timeout_ms: o.or("timeout_ms", Field::u32, 50)?,
            on_error: o.or_default("on_error", |f| {
                f.choice(&[
                    ("allow", GlobalOnError::Allow),
                    ("deny", GlobalOnError::Deny),
                    ("local", GlobalOnError::Local),
                ])
            })?,
            instances: o.or("instances", Field::u32, 1)?,
            max_pending: o.or("max_pending", Field::u32, 1_024)?,
        })
    }
}

impl RawReport {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["path", "group"])?;
        Ok(Self {
            path: o.req("path", Field::string)?,
            group: o.req("group", Field::string)?,
        })
    }
}

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
    /// Upstream protection: concurrency limits and circuit breakers per API
    /// ([`crate::protect`]). Default: none.
    pub protect: Option<crate::protect::config::Protect>,
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
