//! Why a request is refused, and the problem+json reply for each reason.
//!
//! Bodies carry only configuration-derived facts (the supported version names, the source
//! that was at fault); nothing the client sent is echoed.

use std::time::SystemTime;

use filter_core::{LocalReply, Problem};
use thiserror::Error;

use crate::config::{Config, Source};
use crate::target::TargetError;

/// A refused request.
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
    /// The status and problem kind.
    pub fn kind(&self, config: &Config) -> (u16, &'static str) {
        match self {
            Refusal::Target(TargetError::TooLong) => (414, "path-too-long"),
            Refusal::Target(_) => (400, "invalid-path"),
            Refusal::UnknownVersion(_) => (config.unknown_status, "unknown-version"),
            Refusal::MissingVersion => (400, "missing-version"),
            Refusal::InvalidVersion(_) => (400, "invalid-version"),
            Refusal::AmbiguousVersion(_) => (400, "ambiguous-version"),
            Refusal::ConflictingVersions => (400, "conflicting-versions"),
            Refusal::InvalidOverride => (400, "invalid-override"),
            Refusal::Retired(_) => (410, "version-retired"),
        }
    }

    /// The metric reason (the kind with `-` replaced by `_`).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Target(TargetError::TooLong) => "path_too_long",
            Refusal::Target(_) => "invalid_path",
            Refusal::UnknownVersion(_) => "unknown_version",
            Refusal::MissingVersion => "missing_version",
            Refusal::InvalidVersion(_) => "invalid_version",
            Refusal::AmbiguousVersion(_) => "ambiguous_version",
            Refusal::ConflictingVersions => "conflicting_versions",
            Refusal::InvalidOverride => "invalid_override",
            Refusal::Retired(_) => "version_retired",
        }
    }

    /// The local reply at `now` (the supported list depends on sunsets).
    pub fn reply(&self, config: &Config, now: SystemTime) -> LocalReply {
        let (status, kind) = self.kind(config);
        let title = match self {
            Refusal::Target(TargetError::TooLong) => "Path too long",
            Refusal::Target(_) => "Invalid path",
            Refusal::UnknownVersion(_) => "Unknown API version",
            Refusal::MissingVersion => "API version required",
            Refusal::InvalidVersion(_) => "Invalid API version",
            Refusal::AmbiguousVersion(_) => "Ambiguous API version",
            Refusal::ConflictingVersions => "Conflicting API versions",
            Refusal::InvalidOverride => "Invalid version override",
            Refusal::Retired(_) => "API version retired",
        };
        let mut problem = Problem::new(status, kind, title).detail(self.to_string());
        if !matches!(self, Refusal::Target(_)) {
            problem = problem.with("supported_versions", config.supported(now));
        }
        if let Refusal::Retired(i) = self {
            if let Some(v) = config.versions.get(*i) {
                problem = problem.with("version", v.name.clone());
            }
        }
        let mut reply = LocalReply::problem(&problem);
        if let Refusal::Retired(i) = self {
            if let Some(v) = config.versions.get(*i) {
                for (name, value) in &v.response_headers {
                    reply = reply.header(name, value.clone());
                }
            }
        }
        reply
    }
}
