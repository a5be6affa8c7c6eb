//! Configuration: the runtime [`Config`] every stream shares (with its lookups), and [`parse`],
//! which reads the wire format ([`wire`]) and validates it (`validate`) into it.
//!
//! Every wire struct denies unknown fields; every error names the field's path. Dates are
//! RFC 3339 (`2026-06-30T00:00:00Z`); weights are percentages with at most two decimals, kept
//! as basis points (1/100 of a percent).

use std::time::SystemTime;

use filter_core::config::Field;
use filter_core::ConfigError;

use crate::lifecycle::Lifecycle;

mod validate;
pub mod wire;

pub use wire::{
    RawCanary, RawConfig, RawCookie, RawIdentity, RawOutput, RawOverride, RawRamp, RawSticky,
    RawVersion,
};

/// Most versions a configuration may declare.
pub const MAX_VERSIONS: usize = 64;
/// Longest URL in a `Link` header.
pub const MAX_URL_LEN: usize = 2048;
/// 100 % in basis points.
pub const FULL: u32 = 10_000;

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

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Lowercased API name for the vendor media type.
    pub api: Option<String>,
    /// `application/vnd.{api}.`, the start of the vendor media types that name a version.
    pub vendor_prefix: Option<String>,
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

/// Parses and validates JSON configuration.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    let json = filter_core::config::parse(bytes)?;
    Config::try_from(RawConfig::read(Field::root(&json))?)
}

#[cfg(test)]
pub(crate) mod tests;
