//! Configuration: the runtime [`Config`] the filter works from, and [`parse`], which reads the
//! wire format ([`wire`]) and validates it (`validate`) into it.
//!
//! Every wire struct refuses unknown fields; every error names the field path
//! (`events.max_batch_events`, `apis[1].path_prefixes[0]`).

use std::time::Duration;

use filter_core::config::Field;
use filter_core::ConfigError;

mod validate;
pub mod wire;

pub use wire::{RawApi, RawConfig, RawEvents, RawLabels};

/// Most APIs a configuration may list.
pub const MAX_APIS: usize = 1000;

/// Validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Consumer header name.
    pub consumer_header: String,
    /// Plan header name.
    pub plan_header: String,
    /// Credential header name.
    pub credential_header: String,
    /// Version header name.
    pub version_header: String,
    /// APIs in match order.
    pub apis: Vec<Api>,
    /// Cardinality limits.
    pub limits: LabelLimits,
    /// Hard cap on labelled metric names per VM.
    pub max_metric_names: usize,
    /// Event delivery, if configured.
    pub events: Option<EventsConfig>,
}

/// A validated API.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Label value.
    pub name: String,
    /// Path prefixes.
    pub path_prefixes: Vec<String>,
}

/// Validated cardinality limits.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelLimits {
    /// Per-label maximum of distinct values.
    pub consumer: usize,
    /// APIs.
    pub api: usize,
    /// Versions.
    pub version: usize,
    /// Routes.
    pub route: usize,
    /// Local-reply reasons.
    pub reason: usize,
    /// Overflow value.
    pub overflow: String,
}

/// Validated event delivery settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsConfig {
    /// Collector cluster.
    pub cluster: String,
    /// POST path.
    pub path: String,
    /// POST authority.
    pub authority: String,
    /// Tick period.
    pub flush_interval: Duration,
    /// POST timeout.
    pub timeout: Duration,
    /// Events per batch.
    pub max_batch_events: usize,
    /// Bytes per batch.
    pub max_batch_bytes: usize,
    /// Buffered events.
    pub max_buffer_events: usize,
    /// Buffered bytes.
    pub max_buffer_bytes: usize,
    /// First backoff.
    pub backoff_initial: Duration,
    /// Longest backoff.
    pub backoff_max: Duration,
    /// Whether events carry the path.
    pub include_path: bool,
}

/// Parses and validates JSON configuration bytes. An empty configuration is refused, as the
/// other filters' are (`{}` asks for every default): a plugin whose configuration went missing
/// on the way to the host must not run on defaults unnoticed.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ConfigError::new(
            ".",
            "the configuration is empty; write {} for every default",
        ));
    }
    let json = filter_core::config::parse(bytes)?;
    Config::try_from(RawConfig::read(Field::root(&json))?)
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
