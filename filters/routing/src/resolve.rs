//! Version resolution: which configured version a request names, from the sources in the
//! configured order (path prefix, header, query parameter, `Accept` vendor media type), or the
//! default.
//!
//! A pure function of the configuration, the checked request target and the request headers.
//! Client input is only ever compared with configured names: the result is an index into the
//! configured versions, never a string from the request.

use filter_core::HeaderMap;

use crate::config::{is_version_token, Config, Conflicts, Source};
use crate::reply::Refusal;
use crate::target::Target;

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
