//! The problem+json reply for each reason a request is refused.
//!
//! Bodies carry only configuration-derived facts (the supported version names, the source
//! that was at fault); nothing the client sent is echoed.

use std::time::SystemTime;

use filter_core::{LocalReply, Problem};

use crate::config::Config;
use crate::resolve::{Reason, Refusal};

impl Refusal {
    /// The status and problem kind.
    pub fn kind(&self, config: &Config) -> (u16, &'static str) {
        let reason = self.reason();
        (status(reason, config), reason.kind())
    }

    /// The local reply at `now` (the supported list depends on sunsets).
    pub fn reply(&self, config: &Config, now: SystemTime) -> LocalReply {
        let (status, kind) = self.kind(config);
        let title = title(self.reason());
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

/// The status of the reply for `reason`.
fn status(reason: Reason, config: &Config) -> u16 {
    match reason {
        Reason::PathTooLong => 414,
        Reason::UnknownVersion => config.unknown_status,
        Reason::VersionRetired => 410,
        Reason::InvalidPath
        | Reason::MissingVersion
        | Reason::InvalidVersion
        | Reason::AmbiguousVersion
        | Reason::ConflictingVersions
        | Reason::InvalidOverride => 400,
    }
}

/// The problem title for `reason`.
fn title(reason: Reason) -> &'static str {
    match reason {
        Reason::PathTooLong => "Path too long",
        Reason::InvalidPath => "Invalid path",
        Reason::UnknownVersion => "Unknown API version",
        Reason::MissingVersion => "API version required",
        Reason::InvalidVersion => "Invalid API version",
        Reason::AmbiguousVersion => "Ambiguous API version",
        Reason::ConflictingVersions => "Conflicting API versions",
        Reason::InvalidOverride => "Invalid version override",
        Reason::VersionRetired => "API version retired",
    }
}
