//! Version lifecycle: the stages a version goes through and the response headers announcing
//! them (RFC 9745 `Deprecation`, RFC 8594 `Sunset`, RFC 8288 `Link`).
//!
//! Every header value is built once from configuration at configure time; nothing from a
//! request ever reaches them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Lifecycle stage of a version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lifecycle {
    /// Served, not yet stable. No extra headers.
    Preview,
    /// Served.
    #[default]
    Stable,
    /// Served with `Deprecation` (and `Sunset`/`Link` when configured).
    Deprecated,
    /// Not served: 410.
    Retired,
}

/// `Deprecation` value: an RFC 9651 structured date, `@<unix seconds>` (RFC 9745).
pub fn deprecation_value(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("@{secs}")
}

/// One `Link` value, `<target>; rel="<rel>"`. `target` is validated by the configuration.
pub fn link(target: &str, rel: &str) -> String {
    format!("<{target}>; rel=\"{rel}\"")
}

#[cfg(test)]
mod tests;
