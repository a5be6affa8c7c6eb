//! The configuration as JSON: the wire structs ([`RawConfig`] and its members, every one denying
//! unknown members), their defaults, and their reading from the parsed document.

use filter_core::config::Field;
use filter_core::ConfigError;

use super::{Conflicts, Source};
use crate::lifecycle::Lifecycle;

type Result<T> = std::result::Result<T, ConfigError>;

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

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "api",
            "sources",
            "header",
            "query",
            "default_version",
            "unknown_status",
            "conflicts",
            "case_sensitive",
            "strip_prefix",
            "max_path_bytes",
            "identity",
            "output",
            "versions",
            "canaries",
            "sticky",
            "override",
        ])?;
        Ok(Self {
            api: o.opt("api", Field::string)?,
            sources: o.opt("sources", |f| f.list(source))?,
            header: o.or("header", Field::string, default_version_param())?,
            query: o.or("query", Field::string, default_version_param())?,
            default_version: o.opt("default_version", Field::string)?,
            unknown_status: o.or("unknown_status", Field::u16, default_unknown_status())?,
            conflicts: o.or_default("conflicts", |f| {
                f.choice(&[("reject", Conflicts::Reject), ("first", Conflicts::First)])
            })?,
            case_sensitive: o.or("case_sensitive", Field::bool, yes())?,
            strip_prefix: o.or("strip_prefix", Field::bool, yes())?,
            max_path_bytes: o.or("max_path_bytes", Field::usize, default_max_path())?,
            identity: o.or_default("identity", RawIdentity::read)?,
            output: o.or_default("output", RawOutput::read)?,
            versions: o.req("versions", |f| f.list(RawVersion::read))?,
            canaries: o.or_default("canaries", |f| f.list(RawCanary::read))?,
            sticky: o.or_default("sticky", RawSticky::read)?,
            override_: o.opt("override", RawOverride::read)?,
        })
    }
}

fn source(f: Field<'_>) -> Result<Source> {
    f.choice(&[
        ("path", Source::Path),
        ("header", Source::Header),
        ("query", Source::Query),
        ("accept", Source::Accept),
    ])
}

impl RawIdentity {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["consumer_header", "groups_header", "credential_header"])?;
        Ok(Self {
            consumer_header: o.or("consumer_header", Field::string, default_consumer_header())?,
            groups_header: o.or("groups_header", Field::string, default_groups_header())?,
            credential_header: o.or(
                "credential_header",
                Field::string,
                default_credential_header(),
            )?,
        })
    }
}

impl RawOutput {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["cluster_header", "version_header"])?;
        Ok(Self {
            cluster_header: o.or("cluster_header", Field::string, default_cluster_header())?,
            version_header: o.or("version_header", Field::string, default_version_header())?,
        })
    }
}

impl RawVersion {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "name",
            "aliases",
            "cluster",
            "status",
            "deprecation",
            "sunset",
            "successor",
            "successor_url",
            "deprecation_url",
        ])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            aliases: o.or_default("aliases", Field::strings)?,
            cluster: o.opt("cluster", Field::string)?,
            status: o.or_default("status", |f| {
                f.choice(&[
                    ("preview", Lifecycle::Preview),
                    ("stable", Lifecycle::Stable),
                    ("deprecated", Lifecycle::Deprecated),
                    ("retired", Lifecycle::Retired),
                ])
            })?,
            deprecation: o.opt("deprecation", Field::string)?,
            sunset: o.opt("sunset", Field::string)?,
            successor: o.opt("successor", Field::string)?,
            successor_url: o.opt("successor_url", Field::string)?,
            deprecation_url: o.opt("deprecation_url", Field::string)?,
        })
    }
}

impl RawCanary {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["from", "to", "percent", "ramp", "explicit"])?;
        Ok(Self {
            from: o.req("from", Field::string)?,
            to: o.req("to", Field::string)?,
            percent: o.opt("percent", Field::f64)?,
            ramp: o.opt("ramp", RawRamp::read)?,
            explicit: o.or_default("explicit", Field::bool)?,
        })
    }
}

impl RawRamp {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["start", "end", "steps", "from_percent", "to_percent"])?;
        Ok(Self {
            start: o.req("start", Field::string)?,
            end: o.req("end", Field::string)?,
            steps: o.or("steps", Field::u32, default_steps())?,
            from_percent: o.or_default("from_percent", Field::f64)?,
            to_percent: o.or("to_percent", Field::f64, hundred())?,
        })
    }
}

impl RawSticky {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "cookie"])?;
        Ok(Self {
            header: o.opt("header", Field::string)?,
            // `null` turns the cookie off; absent keeps the default one.
            cookie: match o.field("cookie") {
                None => default_cookie(),
                Some(f) => f.nullable().map(RawCookie::read).transpose()?,
            },
        })
    }
}

impl RawCookie {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "max_age_seconds", "secure"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            max_age_seconds: o.or("max_age_seconds", Field::u64, default_max_age())?,
            secure: o.or_default("secure", Field::bool)?,
        })
    }
}

impl RawOverride {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["header", "groups"])?;
        Ok(Self {
            header: o.or("header", Field::string, default_override_header())?,
            groups: o.req("groups", Field::strings)?,
        })
    }
}
