//! Configuration: the JSON wire structs ([`RawConfig`]) and their validation into the runtime
//! [`Config`] that every stream shares.
//!
//! Every wire struct denies unknown fields; every error names the field's path. Dates are
//! RFC 3339 (`2026-06-30T00:00:00Z`); weights are percentages with at most two decimals, kept
//! as basis points (1/100 of a percent).

use crate::lifecycle::Lifecycle;

mod read;
mod runtime;
mod validate;

pub use runtime::{Canary, Config, Cookie, Override, Ramp, Version, Weight};
pub use validate::is_version_token;

#[cfg(test)]
pub(crate) mod tests;

/// Most versions a configuration may declare.
pub const MAX_VERSIONS: usize = 64;
/// Longest version name or alias.
pub const MAX_NAME_LEN: usize = 32;
/// Longest URL in a `Link` header.
pub const MAX_URL_LEN: usize = 2048;
/// 100 % in basis points.
pub const FULL: u32 = 10_000;

/// The plugin configuration as JSON.
#[derive(Debug)]
pub struct RawConfig {
    /// API name in the vendor media type `application/vnd.<api>.<version>+json`. Default: none;
    /// required when `sources` contains `accept`.
    pub api: Option<String>,
    /// Where the version is looked for, in order. Default: `["path", "header", "query", "accept"]`
    /// (`accept` is dropped from the default when `api` is not set).
    pub sources: Option<Vec<Source>>,
    /// Request header naming the version. Default: `api-version`.
    pub header: String,
    /// Query parameter naming the version. Default: `api-version`.
    pub query: String,
    /// Version used when no source names one. Default: none (such requests get 400).
    pub default_version: Option<String>,
    /// Status for a version that is not configured: 404 or 400. Default: 404.
    pub unknown_status: u16,
    /// What to do when two sources name different versions. Default: `reject`.
    pub conflicts: Conflicts,
    /// Whether version names match case-sensitively (`/V1` is not `v1`). Default: true.
    pub case_sensitive: bool,
    /// Whether the version segment is removed from the path (`/v2/x` -> `/x`). Default: true.
    pub strip_prefix: bool,
    /// Longest `:path` accepted (query included); longer gets 414. Default: 8192.
    pub max_path_bytes: usize,
    /// Headers carrying the identity set by the auth filter. Default: the contract's names.
    pub identity: RawIdentity,
    /// Headers the filter sets for the router. Default: the contract's names.
    pub output: RawOutput,
    /// The versions (1 to 64). Required.
    pub versions: Vec<RawVersion>,
    /// Canary splits. Default: none.
    pub canaries: Vec<RawCanary>,
    /// How anonymous clients are kept on one side of a canary. Default: see [`RawSticky`].
    pub sticky: RawSticky,
    /// A header that forces a version for some groups. Default: none (no override).
    pub override_: Option<RawOverride>,
}

/// A place the version may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// First path segment: `/v2/...`.
    Path,
    /// The `header` request header.
    Header,
    /// The `query` parameter.
    Query,
    /// The `Accept` vendor media type `application/vnd.<api>.v2+json`.
    Accept,
}

/// Policy for sources that disagree.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Conflicts {
    /// 400 `conflicting-versions`.
    #[default]
    Reject,
    /// The first source in `sources` order wins (a version segment in the path must still
    /// agree unless it is stripped).
    First,
}

/// Identity headers (set by the auth filter, which removes client copies).
#[derive(Debug)]
pub struct RawIdentity {
    /// Consumer id. Default: `x-gateway-consumer`.
    pub consumer_header: String,
    /// Comma-separated groups. Default: `x-gateway-groups`.
    pub groups_header: String,
    /// How the consumer authenticated; `anonymous` counts as no consumer. Default:
    /// `x-gateway-credential`.
    pub credential_header: String,
}

impl Default for RawIdentity {
    fn default() -> Self {
        Self {
            consumer_header: default_consumer_header(),
            groups_header: default_groups_header(),
            credential_header: default_credential_header(),
        }
    }
}

/// Headers set for the router and upstream (client copies are removed first).
#[derive(Debug)]
pub struct RawOutput {
    /// The chosen Envoy cluster (the route's `cluster_header`). Default: `x-gateway-cluster`.
    pub cluster_header: String,
    /// The chosen version name. Default: `x-gateway-version`.
    pub version_header: String,
}

impl Default for RawOutput {
    fn default() -> Self {
        Self {
            cluster_header: default_cluster_header(),
            version_header: default_version_header(),
        }
    }
}

/// One API version.
#[derive(Debug)]
pub struct RawVersion {
    /// Name (`v2`): letters, digits, `.`, `_`, `-`; at most 32 characters. Required.
    pub name: String,
    /// Other spellings accepted in headers, query and `Accept` (for example `2`). Default: none.
    pub aliases: Vec<String>,
    /// Envoy cluster serving it. Required unless `status` is `retired`.
    pub cluster: Option<String>,
    /// Lifecycle stage. Default: `stable`.
    pub status: Lifecycle,
    /// When it is (or will be) deprecated, RFC 3339; sent as `Deprecation: @<unix>`.
    /// Default: none; required when `status` is `deprecated`.
    pub deprecation: Option<String>,
    /// When it stops being served, RFC 3339; sent as `Sunset`; from then on requests get 410.
    /// Default: none.
    pub sunset: Option<String>,
    /// The version replacing it (a configured, non-retired version). Default: none.
    pub successor: Option<String>,
    /// Target of the `Link: <...>; rel="successor-version"`. Default: `/<successor>`.
    pub successor_url: Option<String>,
    /// Target of the `Link: <...>; rel="deprecation"` (the deprecation policy). Default: none.
    pub deprecation_url: Option<String>,
}

/// A canary: part of the requests resolved to `from` goes to `to`.
#[derive(Debug)]
pub struct RawCanary {
    /// Version whose requests are split. Required.
    pub from: String,
    /// Version receiving the share. Required.
    pub to: String,
    /// Share sent to `to`, 0 to 100. Exactly one of `percent` and `ramp` is required.
    pub percent: Option<f64>,
    /// A share that grows over time. Exactly one of `percent` and `ramp` is required.
    pub ramp: Option<RawRamp>,
    /// Whether requests that named `from` explicitly are split too (otherwise only requests
    /// that fell back to the default version). Default: false.
    pub explicit: bool,
}

/// A share rising from `from_percent` to `to_percent` in `steps` equal steps between `start`
/// and `end`; the last step is reached at `end`.
#[derive(Debug)]
pub struct RawRamp {
    /// Start, RFC 3339. Required.
    pub start: String,
    /// End, RFC 3339, after `start`. Required.
    pub end: String,
    /// Number of steps, 1 to 1000. Default: 10.
    pub steps: u32,
    /// Share before `start`. Default: 0.
    pub from_percent: f64,
    /// Share from `end` on. Default: 100.
    pub to_percent: f64,
}

/// Stickiness for clients without a consumer id.
#[derive(Debug)]
pub struct RawSticky {
    /// A request header carrying a client-chosen sticky key. Default: none.
    pub header: Option<String>,
    /// A cookie carrying the sticky key, set by the filter when absent; `null` disables it.
    /// Default: `{"name": "gw_version_key"}`.
    pub cookie: Option<RawCookie>,
}

impl Default for RawSticky {
    fn default() -> Self {
        Self {
            header: None,
            cookie: default_cookie(),
        }
    }
}

/// The sticky cookie.
#[derive(Debug)]
pub struct RawCookie {
    /// Cookie name (an RFC 9110 token). Required.
    pub name: String,
    /// `Max-Age` in seconds, 1 to 400 days. Default: 2592000 (30 days).
    pub max_age_seconds: u64,
    /// Whether the cookie carries `Secure`. Default: false.
    pub secure: bool,
}

/// The override header.
#[derive(Debug)]
pub struct RawOverride {
    /// Header naming the forced version. Default: `x-api-version-override`.
    pub header: String,
    /// Groups (from the groups header) allowed to use it; at least one. Required.
    pub groups: Vec<String>,
}

fn default_version_param() -> String {
    "api-version".into()
}
fn default_unknown_status() -> u16 {
    404
}
fn yes() -> bool {
    true
}
fn default_max_path() -> usize {
    8192
}
fn default_consumer_header() -> String {
    "x-gateway-consumer".into()
}
fn default_groups_header() -> String {
    "x-gateway-groups".into()
}
fn default_credential_header() -> String {
    "x-gateway-credential".into()
}
fn default_cluster_header() -> String {
    "x-gateway-cluster".into()
}
fn default_version_header() -> String {
    "x-gateway-version".into()
}
fn default_steps() -> u32 {
    10
}
fn hundred() -> f64 {
    100.0
}
fn default_cookie() -> Option<RawCookie> {
    Some(RawCookie {
        name: "gw_version_key".into(),
        max_age_seconds: default_max_age(),
        secure: false,
    })
}
fn default_max_age() -> u64 {
    30 * 24 * 3600
}
fn default_override_header() -> String {
    "x-api-version-override".into()
}
