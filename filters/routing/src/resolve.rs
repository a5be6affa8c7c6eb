//! Version resolution: which configured version a request names, from the sources in the
//! configured order (path prefix, header, query parameter, `Accept` vendor media type), or the
//! default; and why a request is refused ([`Refusal`], each with its [`Reason`]).
//!
//! A pure function of the configuration, the checked request target and the request headers.
//! Client input is only ever compared with configured names: the result is an index into the
//! configured versions, never a string from the request.

use filter_core::HeaderMap;
use thiserror::Error;

use crate::config::{Config, Conflicts, Source};
use crate::target::{Target, TargetError};
use crate::version::is_version_token;

/// A refused request (its reply is built by [`crate::reply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The request target is ambiguous or malformed: 400 (414 when too long).
    #[error("{0}")]
    Target(#[from] TargetError),
    /// A source names a version that is not configured: `unknown_status` (404 or 400).
    #[error("the {} names a version that does not exist", source_name(*.0))]
    UnknownVersion(Source),
    /// No source names a version and there is no default: 400.
    #[error("the request names no version and there is no default")]
    MissingVersion,
    /// A version value is malformed (not a token, too long, not UTF-8): 400.
    #[error("the {} holds a malformed version", source_name(*.0))]
    InvalidVersion(Source),
    /// A source gives several values (repeated header or parameter, several media types): 400.
    #[error("the {} names several versions", source_name(*.0))]
    AmbiguousVersion(Source),
    /// Two sources name different versions: 400.
    #[error("the request names different versions in different places")]
    ConflictingVersions,
    /// An allowed caller's override header is repeated, malformed or names no version: 400.
    #[error("the override header does not name exactly one configured version")]
    InvalidOverride,
    /// The version is retired or past its sunset: 410.
    #[error("the version is no longer served")]
    Retired(usize),
}

/// How a source is named in problem details.
pub fn source_name(source: Source) -> &'static str {
    match source {
        Source::Path => "path",
        Source::Header => "version header",
        Source::Query => "version query parameter",
        Source::Accept => "Accept header",
    }
}

impl Refusal {
    /// Why the request was refused.
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::Target(TargetError::TooLong) => Reason::PathTooLong,
            Refusal::Target(_) => Reason::InvalidPath,
            Refusal::UnknownVersion(_) => Reason::UnknownVersion,
            Refusal::MissingVersion => Reason::MissingVersion,
            Refusal::InvalidVersion(_) => Reason::InvalidVersion,
            Refusal::AmbiguousVersion(_) => Reason::AmbiguousVersion,
            Refusal::ConflictingVersions => Reason::ConflictingVersions,
            Refusal::InvalidOverride => Reason::InvalidOverride,
            Refusal::Retired(_) => Reason::VersionRetired,
        }
    }
}

/// Why a request is refused, named once: the metric `routing_rejected.<name>` and the problem
/// kind of the reply (the name with `-` for `_`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The request target is ambiguous or malformed.
    InvalidPath,
    /// The path is longer than `max_path_bytes`.
    PathTooLong,
    /// A source names a version that is not configured.
    UnknownVersion,
    /// No source names a version and there is no default.
    MissingVersion,
    /// A version value is malformed.
    InvalidVersion,
    /// A source gives several values.
    AmbiguousVersion,
    /// Two sources name different versions.
    ConflictingVersions,
    /// The override header does not name exactly one configured version.
    InvalidOverride,
    /// The version is retired or past its sunset.
    VersionRetired,
}

impl Reason {
    /// Every reason, in the order their metrics are defined.
    pub const ALL: [Reason; 9] = [
        Reason::InvalidPath,
        Reason::PathTooLong,
        Reason::UnknownVersion,
        Reason::MissingVersion,
        Reason::InvalidVersion,
        Reason::AmbiguousVersion,
        Reason::ConflictingVersions,
        Reason::InvalidOverride,
        Reason::VersionRetired,
    ];

    /// The metric name of the reason (after `routing_rejected.`).
    pub fn name(self) -> &'static str {
        self.names().0
    }

    /// The problem kind of the reply (`urn:gateway:problem:<kind>`).
    pub fn kind(self) -> &'static str {
        self.names().1
    }

    /// The metric name and the problem kind, side by side.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Reason::InvalidPath => ("invalid_path", "invalid-path"),
            Reason::PathTooLong => ("path_too_long", "path-too-long"),
            Reason::UnknownVersion => ("unknown_version", "unknown-version"),
            Reason::MissingVersion => ("missing_version", "missing-version"),
            Reason::InvalidVersion => ("invalid_version", "invalid-version"),
            Reason::AmbiguousVersion => ("ambiguous_version", "ambiguous-version"),
            Reason::ConflictingVersions => ("conflicting_versions", "conflicting-versions"),
            Reason::InvalidOverride => ("invalid_override", "invalid-override"),
            Reason::VersionRetired => ("version_retired", "version-retired"),
        }
    }
}

/// Longest header value inspected for a version (longer is refused).
pub const MAX_VALUE_LEN: usize = 256;

/// The outcome of resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Index of the version.
    pub version: usize,
    /// Whether a source named it (false: the default version).
    pub explicit: bool,
    /// Whether the first path segment is the version segment (it may be stripped).
    pub in_path: bool,
}

/// What one source says.
type Found = Option<usize>;

/// Resolves the version of a request. `headers` are the request headers.
pub fn resolve(
    config: &Config,
    target: &Target<'_>,
    headers: &HeaderMap,
) -> Result<Resolved, Refusal> {
    let mut path_version = None;
    let mut chosen: Option<usize> = None;
    for source in &config.sources {
        let is_path = *source == Source::Path;
        // In `first` mode later sources are skipped once one matched, except the path, whose
        // version segment the router and upstream see whatever this filter decides.
        if chosen.is_some() && config.conflicts == Conflicts::First && !is_path {
            continue;
        }
        let found = match source {
            Source::Path => {
                let v = from_path(config, target)?;
                path_version = v;
                v
            }
            Source::Header => from_header(config, headers)?,
            Source::Query => from_query(config, target)?,
            Source::Accept => from_accept(config, headers)?,
        };
        match (chosen, found) {
            (_, None) => {}
            (None, Some(v)) => chosen = Some(v),
            (Some(c), Some(v)) if c == v => {}
            (Some(_), Some(_)) if config.conflicts == Conflicts::First && !is_path => {}
            (Some(_), Some(_)) => return Err(Refusal::ConflictingVersions),
        }
    }
    if let (Some(p), Some(c)) = (path_version, chosen) {
        if p != c {
            return Err(Refusal::ConflictingVersions);
        }
    }
    match chosen {
        Some(version) => Ok(Resolved {
            version,
            explicit: true,
            in_path: path_version.is_some(),
        }),
        None => config
            .default_version
            .map(|version| Resolved {
                version,
                explicit: false,
                in_path: false,
            })
            .ok_or(Refusal::MissingVersion),
    }
}

/// Whether a path segment looks like a version (`v` or `V`, a digit, then token characters),
/// so that an unconfigured one is refused rather than forwarded as an ordinary path.
pub fn looks_like_version(segment: &str) -> bool {
    let b = segment.as_bytes();
    matches!(b.first(), Some(b'v' | b'V'))
        && b.get(1).is_some_and(u8::is_ascii_digit)
        && is_version_token(segment)
}

fn from_path(config: &Config, target: &Target<'_>) -> Result<Found, Refusal> {
    let segment = target.first_segment();
    if let Some(v) = config.find(segment) {
        return Ok(Some(v));
    }
    // `/V1` with case-sensitive names, or `/v9`: a version the configuration does not have.
    if looks_like_version(segment) || config.find_ignoring_case(segment).is_some() {
        return Err(Refusal::UnknownVersion(Source::Path));
    }
    Ok(None)
}

fn from_header(config: &Config, headers: &HeaderMap) -> Result<Found, Refusal> {
    match headers.count(&config.header) {
        0 => Ok(None),
        1 => lookup(
            config,
            Source::Header,
            headers.get(&config.header).unwrap_or_default(),
        ),
        _ => Err(Refusal::AmbiguousVersion(Source::Header)),
    }
}

fn from_query(config: &Config, target: &Target<'_>) -> Result<Found, Refusal> {
    let mut values = target.query_values(&config.query);
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => lookup(config, Source::Query, v.as_bytes()),
        (Some(_), Some(_)) => Err(Refusal::AmbiguousVersion(Source::Query)),
    }
}

fn from_accept(config: &Config, headers: &HeaderMap) -> Result<Found, Refusal> {
    let Some(prefix) = &config.vendor_prefix else {
        return Ok(None);
    };
    let mut found: Found = None;
    for value in headers.get_all("accept") {
        if value.len() > 4 * MAX_VALUE_LEN {
            return Err(Refusal::InvalidVersion(Source::Accept));
        }
        // Media types are ASCII; anything else cannot name a vendor type of ours.
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        for range in value.split(',') {
            let media = range.split(';').next().unwrap_or("").trim();
            let Some(head) = media.get(..prefix.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(prefix) {
                continue;
            }
            let rest = &media[prefix.len()..];
            // `v2+json`, or `v2` with no structured suffix.
            let candidate = rest.split('+').next().unwrap_or("");
            let v = lookup(config, Source::Accept, candidate.as_bytes())?;
            match (found, v) {
                (Some(a), Some(b)) if a != b => {
                    return Err(Refusal::AmbiguousVersion(Source::Accept))
                }
                (_, Some(_)) => found = v,
                _ => {}
            }
        }
    }
    Ok(found)
}

/// Matches one client-supplied value against the configured names.
fn lookup(config: &Config, source: Source, raw: &[u8]) -> Result<Found, Refusal> {
    if raw.len() > MAX_VALUE_LEN {
        return Err(Refusal::InvalidVersion(source));
    }
    let value = std::str::from_utf8(raw)
        .map_err(|_| Refusal::InvalidVersion(source))?
        .trim_matches([' ', '\t']);
    if !is_version_token(value) {
        return Err(Refusal::InvalidVersion(source));
    }
    config
        .find(value)
        .map(Some)
        .ok_or(Refusal::UnknownVersion(source))
}

#[cfg(test)]
mod tests;
