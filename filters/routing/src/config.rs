//! Configuration: the JSON wire structs ([`RawConfig`]) and their validation into the runtime
//! [`Config`] that every stream shares.
//!
//! Every wire struct denies unknown fields; every error names the field's path. Dates are
//! RFC 3339 (`2026-06-30T00:00:00Z`); weights are percentages with at most two decimals, kept
//! as basis points (1/100 of a percent).

use std::time::{SystemTime, UNIX_EPOCH};

use filter_core::config::from_json;
use filter_core::ConfigError;
use serde::Deserialize;

use crate::lifecycle::{self, Lifecycle};

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

// === wire format ===

/// The plugin configuration as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// API name in the vendor media type `application/vnd.<api>.<version>+json`. Default: none;
    /// required when `sources` contains `accept`.
    #[serde(default)]
    pub api: Option<String>,
    /// Where the version is looked for, in order. Default: `["path", "header", "query", "accept"]`
    /// (`accept` is dropped from the default when `api` is not set).
    #[serde(default)]
    pub sources: Option<Vec<Source>>,
    /// Request header naming the version. Default: `api-version`.
    #[serde(default = "default_version_param")]
    pub header: String,
    /// Query parameter naming the version. Default: `api-version`.
    #[serde(default = "default_version_param")]
    pub query: String,
    /// Version used when no source names one. Default: none (such requests get 400).
    #[serde(default)]
    pub default_version: Option<String>,
    /// Status for a version that is not configured: 404 or 400. Default: 404.
    #[serde(default = "default_unknown_status")]
    pub unknown_status: u16,
    /// What to do when two sources name different versions. Default: `reject`.
    #[serde(default)]
    pub conflicts: Conflicts,
    /// Whether version names match case-sensitively (`/V1` is not `v1`). Default: true.
    #[serde(default = "yes")]
    pub case_sensitive: bool,
    /// Whether the version segment is removed from the path (`/v2/x` -> `/x`). Default: true.
    #[serde(default = "yes")]
    pub strip_prefix: bool,
    /// Longest `:path` accepted (query included); longer gets 414. Default: 8192.
    #[serde(default = "default_max_path")]
    pub max_path_bytes: usize,
    /// Headers carrying the identity set by the auth filter. Default: the contract's names.
    #[serde(default)]
    pub identity: RawIdentity,
    /// Headers the filter sets for the router. Default: the contract's names.
    #[serde(default)]
    pub output: RawOutput,
    /// The versions (1 to 64). Required.
    pub versions: Vec<RawVersion>,
    /// Canary splits. Default: none.
    #[serde(default)]
    pub canaries: Vec<RawCanary>,
    /// How anonymous clients are kept on one side of a canary. Default: see [`RawSticky`].
    #[serde(default)]
    pub sticky: RawSticky,
    /// A header that forces a version for some groups. Default: none (no override).
    #[serde(default, rename = "override")]
    pub override_: Option<RawOverride>,
}

/// A place the version may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conflicts {
    /// 400 `conflicting-versions`.
    #[default]
    Reject,
    /// The first source in `sources` order wins (a version segment in the path must still
    /// agree unless it is stripped).
    First,
}

/// Identity headers (set by the auth filter, which removes client copies).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// Consumer id. Default: `x-gateway-consumer`.
    #[serde(default = "default_consumer_header")]
    pub consumer_header: String,
    /// Comma-separated groups. Default: `x-gateway-groups`.
    #[serde(default = "default_groups_header")]
    pub groups_header: String,
    /// How the consumer authenticated; `anonymous` counts as no consumer. Default:
    /// `x-gateway-credential`.
    #[serde(default = "default_credential_header")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// The chosen Envoy cluster (the route's `cluster_header`). Default: `x-gateway-cluster`.
    #[serde(default = "default_cluster_header")]
    pub cluster_header: String,
    /// The chosen version name. Default: `x-gateway-version`.
    #[serde(default = "default_version_header")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVersion {
    /// Name (`v2`): letters, digits, `.`, `_`, `-`; at most 32 characters. Required.
    pub name: String,
    /// Other spellings accepted in headers, query and `Accept` (for example `2`). Default: none.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Envoy cluster serving it. Required unless `status` is `retired`.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Lifecycle stage. Default: `stable`.
    #[serde(default)]
    pub status: Lifecycle,
    /// When it is (or will be) deprecated, RFC 3339; sent as `Deprecation: @<unix>`.
    /// Default: none; required when `status` is `deprecated`.
    #[serde(default)]
    pub deprecation: Option<String>,
    /// When it stops being served, RFC 3339; sent as `Sunset`; from then on requests get 410.
    /// Default: none.
    #[serde(default)]
    pub sunset: Option<String>,
    /// The version replacing it (a configured, non-retired version). Default: none.
    #[serde(default)]
    pub successor: Option<String>,
    /// Target of the `Link: <...>; rel="successor-version"`. Default: `/<successor>`.
    #[serde(default)]
    pub successor_url: Option<String>,
    /// Target of the `Link: <...>; rel="deprecation"` (the deprecation policy). Default: none.
    #[serde(default)]
    pub deprecation_url: Option<String>,
}

/// A canary: part of the requests resolved to `from` goes to `to`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    /// Version whose requests are split. Required.
    pub from: String,
    /// Version receiving the share. Required.
    pub to: String,
    /// Share sent to `to`, 0 to 100. Exactly one of `percent` and `ramp` is required.
    #[serde(default)]
    pub percent: Option<f64>,
    /// A share that grows over time. Exactly one of `percent` and `ramp` is required.
    #[serde(default)]
    pub ramp: Option<RawRamp>,
    /// Whether requests that named `from` explicitly are split too (otherwise only requests
    /// that fell back to the default version). Default: false.
    #[serde(default)]
    pub explicit: bool,
}

/// A share rising from `from_percent` to `to_percent` in `steps` equal steps between `start`
/// and `end`; the last step is reached at `end`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    /// Start, RFC 3339. Required.
    pub start: String,
    /// End, RFC 3339, after `start`. Required.
    pub end: String,
    /// Number of steps, 1 to 1000. Default: 10.
    #[serde(default = "default_steps")]
    pub steps: u32,
    /// Share before `start`. Default: 0.
    #[serde(default)]
    pub from_percent: f64,
    /// Share from `end` on. Default: 100.
    #[serde(default = "hundred")]
    pub to_percent: f64,
}

/// Stickiness for clients without a consumer id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSticky {
    /// A request header carrying a client-chosen sticky key. Default: none.
    #[serde(default)]
    pub header: Option<String>,
    /// A cookie carrying the sticky key, set by the filter when absent; `null` disables it.
    /// Default: `{"name": "gw_version_key"}`.
    #[serde(default = "default_cookie")]
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCookie {
    /// Cookie name (an RFC 9110 token). Required.
    pub name: String,
    /// `Max-Age` in seconds, 1 to 400 days. Default: 2592000 (30 days).
    #[serde(default = "default_max_age")]
    pub max_age_seconds: u64,
    /// Whether the cookie carries `Secure`. Default: false.
    #[serde(default)]
    pub secure: bool,
}

/// The override header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    /// Header naming the forced version. Default: `x-api-version-override`.
    #[serde(default = "default_override_header")]
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

// === runtime configuration ===

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Lowercased API name for the vendor media type.
    pub api: Option<String>,
    /// Sources in order.
    pub sources: Vec<Source>,
    /// Version request header (lowercase).
    pub header: String,
    /// Version query parameter.
    pub query: String,
    /// Index of the default version.
    pub default_version: Option<usize>,
    /// 404 or 400.
    pub unknown_status: u16,
    /// Conflict policy.
    pub conflicts: Conflicts,
    /// Case-sensitive version names.
    pub case_sensitive: bool,
    /// Strip the version segment from the path.
    pub strip_prefix: bool,
    /// Longest `:path`.
    pub max_path_bytes: usize,
    /// Consumer header (lowercase).
    pub consumer_header: String,
    /// Groups header (lowercase).
    pub groups_header: String,
    /// Credential header (lowercase).
    pub credential_header: String,
    /// Cluster header (lowercase).
    pub cluster_header: String,
    /// Version header (lowercase).
    pub version_header: String,
    /// Versions, in configuration order.
    pub versions: Vec<Version>,
    /// Canaries.
    pub canaries: Vec<Canary>,
    /// Sticky key header (lowercase).
    pub sticky_header: Option<String>,
    /// Sticky cookie.
    pub cookie: Option<Cookie>,
    /// Override header (lowercase) and allowed groups.
    pub override_: Option<Override>,
}

/// A validated version.
#[derive(Debug, Clone)]
pub struct Version {
    /// Name.
    pub name: String,
    /// Aliases.
    pub aliases: Vec<String>,
    /// Cluster (none only when retired).
    pub cluster: Option<String>,
    /// Lifecycle stage.
    pub status: Lifecycle,
    /// Sunset instant.
    pub sunset: Option<SystemTime>,
    /// Response headers announcing the lifecycle (`Deprecation`, `Sunset`, `Link`), built once.
    pub response_headers: Vec<(&'static str, String)>,
}

/// A validated canary.
#[derive(Debug, Clone)]
pub struct Canary {
    /// Split version.
    pub from: usize,
    /// Receiving version.
    pub to: usize,
    /// The share over time.
    pub weight: Weight,
    /// Split explicit requests too.
    pub explicit: bool,
    /// Hash salt (`<from>><to>`), so canaries bucket independently.
    pub salt: String,
}

/// A canary's share, in basis points.
#[derive(Debug, Clone, PartialEq)]
pub enum Weight {
    /// Constant.
    Fixed(u32),
    /// Rising in steps.
    Ramp(Ramp),
}

/// A validated ramp.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    /// Start.
    pub start: SystemTime,
    /// End (after start).
    pub end: SystemTime,
    /// Steps (>= 1).
    pub steps: u32,
    /// Share before start, basis points.
    pub from: u32,
    /// Share from end on, basis points.
    pub to: u32,
}

/// The sticky cookie.
#[derive(Debug, Clone)]
pub struct Cookie {
    /// Name.
    pub name: String,
    /// Max-Age.
    pub max_age: u64,
    /// Secure flag.
    pub secure: bool,
}

/// The override header.
#[derive(Debug, Clone)]
pub struct Override {
    /// Header name (lowercase).
    pub header: String,
    /// Allowed groups.
    pub groups: Vec<String>,
}

impl Config {
    /// Parses and validates JSON configuration.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::try_from(from_json::<RawConfig>(bytes)?)
    }

    /// The version named `candidate` (name or alias), honouring `case_sensitive`.
    pub fn find(&self, candidate: &str) -> Option<usize> {
        let eq = |a: &str| {
            if self.case_sensitive {
                a == candidate
            } else {
                a.eq_ignore_ascii_case(candidate)
            }
        };
        self.versions
            .iter()
            .position(|v| eq(&v.name) || v.aliases.iter().any(|a| eq(a)))
    }

    /// Whether `candidate` names a version when case is ignored (to spot `/V1`).
    pub fn find_ignoring_case(&self, candidate: &str) -> Option<usize> {
        self.versions.iter().position(|v| {
            v.name.eq_ignore_ascii_case(candidate)
                || v.aliases.iter().any(|a| a.eq_ignore_ascii_case(candidate))
        })
    }

    /// Whether version `i` answers 410 at `now` (retired, or past its sunset).
    pub fn is_retired(&self, i: usize, now: SystemTime) -> bool {
        self.versions
            .get(i)
            .is_none_or(|v| v.status == Lifecycle::Retired || v.sunset.is_some_and(|s| now >= s))
    }

    /// Names of the versions served at `now`, in configuration order.
    pub fn supported(&self, now: SystemTime) -> Vec<String> {
        (0..self.versions.len())
            .filter(|&i| !self.is_retired(i, now))
            .filter_map(|i| self.versions.get(i).map(|v| v.name.clone()))
            .collect()
    }
}

// === validation ===

/// Whether `s` is a version name: 1 to 32 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn is_version_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn header_name(field: &str, name: &str) -> Result<String, ConfigError> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with(':') || !filter_core::headers::is_valid_name(&lower) {
        return Err(ConfigError::new(field, "not a valid header name"));
    }
    Ok(lower)
}

fn date(field: &str, value: &str) -> Result<SystemTime, ConfigError> {
    let t = humantime::parse_rfc3339(value)
        .map_err(|e| ConfigError::new(field, format!("not an RFC 3339 date: {e}")))?;
    if t < UNIX_EPOCH {
        return Err(ConfigError::new(field, "date before 1970"));
    }
    Ok(t)
}

fn percent(field: &str, p: f64) -> Result<u32, ConfigError> {
    if !p.is_finite() || !(0.0..=100.0).contains(&p) {
        return Err(ConfigError::new(
            field,
            "must be a percentage from 0 to 100",
        ));
    }
    // In range, so the rounded product fits in u32.
    Ok((p * 100.0).round() as u32)
}

fn url(field: &str, value: &str) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_URL_LEN
        && value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !matches!(b, b'<' | b'>' | b'"' | b'\\'));
    if !ok {
        return Err(ConfigError::new(
            field,
            "must be 1 to 2048 visible ASCII characters without <, >, \" or \\",
        ));
    }
    Ok(value.to_owned())
}

fn cluster(field: &str, value: &str) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if !ok {
        return Err(ConfigError::new(
            field,
            "must be 1 to 128 of letters, digits, '.', '_', '-', ':'",
        ));
    }
    Ok(value.to_owned())
}

fn token(field: &str, value: &str) -> Result<String, ConfigError> {
    if !filter_core::headers::is_valid_name(&value.to_ascii_lowercase()) || value.starts_with(':') {
        return Err(ConfigError::new(field, "must be an RFC 9110 token"));
    }
    Ok(value.to_owned())
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let api = match &raw.api {
            Some(api) if is_version_token(api) => Some(api.to_ascii_lowercase()),
            Some(_) => return Err(ConfigError::new("api", "must be 1 to 32 of [A-Za-z0-9._-]")),
            None => None,
        };
        let sources = match raw.sources {
            Some(s) => s,
            None if api.is_some() => {
                vec![Source::Path, Source::Header, Source::Query, Source::Accept]
            }
            None => vec![Source::Path, Source::Header, Source::Query],
        };
        if sources.is_empty() {
            return Err(ConfigError::new("sources", "must name at least one source"));
        }
        for (i, s) in sources.iter().enumerate() {
            if sources[..i].contains(s) {
                return Err(ConfigError::new(
                    format!("sources[{i}]"),
                    "duplicate source",
                ));
            }
        }
        if sources.contains(&Source::Accept) && api.is_none() {
            return Err(ConfigError::new(
                "api",
                "required when sources contain accept",
            ));
        }
        let query = match &raw.query {
            q if is_version_token(q) => q.clone(),
            _ => {
                return Err(ConfigError::new(
                    "query",
                    "must be 1 to 32 of [A-Za-z0-9._-]",
                ))
            }
        };
        if !matches!(raw.unknown_status, 400 | 404) {
            return Err(ConfigError::new("unknown_status", "must be 400 or 404"));
        }
        if !(16..=65_536).contains(&raw.max_path_bytes) {
            return Err(ConfigError::new("max_path_bytes", "must be 16 to 65536"));
        }

        let versions = validate_versions(&raw.versions, raw.case_sensitive)?;
        let mut config = Config {
            api,
            sources,
            header: header_name("header", &raw.header)?,
            query,
            default_version: None,
            unknown_status: raw.unknown_status,
            conflicts: raw.conflicts,
            case_sensitive: raw.case_sensitive,
            strip_prefix: raw.strip_prefix,
            max_path_bytes: raw.max_path_bytes,
            consumer_header: header_name(
                "identity.consumer_header",
                &raw.identity.consumer_header,
            )?,
            groups_header: header_name("identity.groups_header", &raw.identity.groups_header)?,
            credential_header: header_name(
                "identity.credential_header",
                &raw.identity.credential_header,
            )?,
            cluster_header: header_name("output.cluster_header", &raw.output.cluster_header)?,
            version_header: header_name("output.version_header", &raw.output.version_header)?,
            versions,
            canaries: Vec::new(),
            sticky_header: match &raw.sticky.header {
                Some(h) => Some(header_name("sticky.header", h)?),
                None => None,
            },
            cookie: match &raw.sticky.cookie {
                Some(c) => {
                    if !(1..=400 * 24 * 3600).contains(&c.max_age_seconds) {
                        return Err(ConfigError::new(
                            "sticky.cookie.max_age_seconds",
                            "must be 1 to 34560000 (400 days)",
                        ));
                    }
                    Some(Cookie {
                        name: token("sticky.cookie.name", &c.name)?,
                        max_age: c.max_age_seconds,
                        secure: c.secure,
                    })
                }
                None => None,
            },
            override_: None,
        };
        if config.cluster_header == config.version_header {
            return Err(ConfigError::new(
                "output.version_header",
                "must differ from output.cluster_header",
            ));
        }

        let live = |field: &str, name: &str, config: &Config| -> Result<usize, ConfigError> {
            let i = config
                .versions
                .iter()
                .position(|v| v.name == name)
                .ok_or_else(|| ConfigError::new(field, format!("no version named {name:?}")))?;
            if config.versions[i].status == Lifecycle::Retired {
                return Err(ConfigError::new(
                    field,
                    format!("version {name:?} is retired"),
                ));
            }
            Ok(i)
        };
        if let Some(d) = &raw.default_version {
            config.default_version = Some(live("default_version", d, &config)?);
        }
        for (i, v) in raw.versions.iter().enumerate() {
            if let Some(s) = &v.successor {
                let field = format!("versions[{i}].successor");
                let j = live(&field, s, &config)?;
                if j == i {
                    return Err(ConfigError::new(field, "a version cannot succeed itself"));
                }
                let target = match &v.successor_url {
                    Some(u) => url(&format!("versions[{i}].successor_url"), u)?,
                    None => format!("/{s}"),
                };
                config.versions[i]
                    .response_headers
                    .push(("link", lifecycle::link(&target, "successor-version")));
            } else if v.successor_url.is_some() {
                return Err(ConfigError::new(
                    format!("versions[{i}].successor_url"),
                    "needs successor",
                ));
            }
        }

        if raw.canaries.len() > MAX_VERSIONS {
            return Err(ConfigError::new("canaries", "at most 64 canaries"));
        }
        for (i, c) in raw.canaries.iter().enumerate() {
            let field = |f: &str| format!("canaries[{i}].{f}");
            let from = live(&field("from"), &c.from, &config)?;
            let to = live(&field("to"), &c.to, &config)?;
            if from == to {
                return Err(ConfigError::new(field("to"), "must differ from `from`"));
            }
            if config.canaries.iter().any(|k: &Canary| k.from == from) {
                return Err(ConfigError::new(
                    field("from"),
                    "another canary already splits this version",
                ));
            }
            let weight = match (c.percent, &c.ramp) {
                (Some(p), None) => Weight::Fixed(percent(&field("percent"), p)?),
                (None, Some(r)) => Weight::Ramp(ramp(&field("ramp"), r)?),
                _ => {
                    return Err(ConfigError::new(
                        format!("canaries[{i}]"),
                        "exactly one of `percent` and `ramp` is required",
                    ))
                }
            };
            config.canaries.push(Canary {
                from,
                to,
                weight,
                explicit: c.explicit,
                salt: format!("{}>{}", c.from, c.to),
            });
        }

        if let Some(o) = &raw.override_ {
            if o.groups.is_empty() {
                return Err(ConfigError::new("override.groups", "at least one group"));
            }
            let mut groups = Vec::new();
            for (i, g) in o.groups.iter().enumerate() {
                groups.push(token(&format!("override.groups[{i}]"), g)?);
            }
            config.override_ = Some(Override {
                header: header_name("override.header", &o.header)?,
                groups,
            });
        }
        check_header_clashes(&config)?;
        Ok(config)
    }
}

fn ramp(field: &str, r: &RawRamp) -> Result<Ramp, ConfigError> {
    let start = date(&format!("{field}.start"), &r.start)?;
    let end = date(&format!("{field}.end"), &r.end)?;
    if end <= start {
        return Err(ConfigError::new(
            format!("{field}.end"),
            "must be after start",
        ));
    }
    if !(1..=1000).contains(&r.steps) {
        return Err(ConfigError::new(
            format!("{field}.steps"),
            "must be 1 to 1000",
        ));
    }
    Ok(Ramp {
        start,
        end,
        steps: r.steps,
        from: percent(&format!("{field}.from_percent"), r.from_percent)?,
        to: percent(&format!("{field}.to_percent"), r.to_percent)?,
    })
}

fn validate_versions(
    raw: &[RawVersion],
    case_sensitive: bool,
) -> Result<Vec<Version>, ConfigError> {
    if raw.is_empty() || raw.len() > MAX_VERSIONS {
        return Err(ConfigError::new("versions", "must hold 1 to 64 versions"));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut spellings: Vec<(String, String)> = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let field = |f: &str| format!("versions[{i}].{f}");
        let mut names = vec![(field("name"), v.name.clone())];
        names.extend(
            v.aliases
                .iter()
                .enumerate()
                .map(|(j, a)| (field(&format!("aliases[{j}]")), a.clone())),
        );
        for (f, name) in names {
            if !is_version_token(&name) {
                return Err(ConfigError::new(f, "must be 1 to 32 of [A-Za-z0-9._-]"));
            }
            let key = if case_sensitive {
                name.clone()
            } else {
                name.to_ascii_lowercase()
            };
            if spellings.iter().any(|(_, k)| *k == key) {
                return Err(ConfigError::new(f, format!("{name:?} names two versions")));
            }
            spellings.push((f, key));
        }
        let cluster = match (&v.cluster, v.status) {
            (Some(c), _) => Some(cluster(&field("cluster"), c)?),
            (None, Lifecycle::Retired) => None,
            (None, _) => return Err(ConfigError::new(field("cluster"), "required")),
        };
        let deprecation = match &v.deprecation {
            Some(d) => Some(date(&field("deprecation"), d)?),
            None if v.status == Lifecycle::Deprecated => {
                return Err(ConfigError::new(
                    field("deprecation"),
                    "required when status is deprecated",
                ))
            }
            None => None,
        };
        let sunset = match &v.sunset {
            Some(s) => Some(date(&field("sunset"), s)?),
            None => None,
        };
        if let (Some(d), Some(s)) = (deprecation, sunset) {
            if s < d {
                return Err(ConfigError::new(
                    field("sunset"),
                    "must not precede deprecation",
                ));
            }
        }
        let mut response_headers = Vec::new();
        if let Some(d) = deprecation {
            response_headers.push(("deprecation", lifecycle::deprecation_value(d)));
        }
        if let Some(s) = sunset {
            response_headers.push(("sunset", httpdate::fmt_http_date(s)));
        }
        if let Some(u) = &v.deprecation_url {
            let u = url(&field("deprecation_url"), u)?;
            response_headers.push(("link", lifecycle::link(&u, "deprecation")));
        }
        out.push(Version {
            name: v.name.clone(),
            aliases: v.aliases.clone(),
            cluster,
            status: v.status,
            sunset,
            response_headers,
        });
    }
    Ok(out)
}

fn check_header_clashes(config: &Config) -> Result<(), ConfigError> {
    let outputs = [&config.cluster_header, &config.version_header];
    let mut inputs = vec![
        ("header", &config.header),
        ("identity.consumer_header", &config.consumer_header),
        ("identity.groups_header", &config.groups_header),
        ("identity.credential_header", &config.credential_header),
    ];
    if let Some(h) = &config.sticky_header {
        inputs.push(("sticky.header", h));
    }
    if let Some(o) = &config.override_ {
        inputs.push(("override.header", &o.header));
    }
    for (field, name) in inputs {
        if outputs.contains(&name) {
            return Err(ConfigError::new(
                field,
                "must differ from the output headers the filter sets",
            ));
        }
    }
    Ok(())
}
