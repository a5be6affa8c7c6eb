//! Configuration: the JSON wire structs ([`RawConfig`]) and their validation into [`Config`].
//!
//! Every wire struct refuses unknown fields; every error names the field path
//! (`events.max_batch_events`, `apis[1].path_prefixes[0]`).

use std::time::Duration;

use filter_core::config::{ensure_unique, parse, Field};
use filter_core::headers::is_valid_name;
use filter_core::ConfigError;

use crate::labels::is_label_safe;

mod read;

/// The plugin configuration as written in JSON. Every field is optional.
#[derive(Debug, Default)]
pub struct RawConfig {
    /// Request header with the consumer id set by auth. Default `x-gateway-consumer`.
    pub consumer_header: Option<String>,
    /// Request header with the consumer's plan. Default `x-gateway-plan`.
    pub plan_header: Option<String>,
    /// Request header naming how the consumer authenticated. Default `x-gateway-credential`.
    pub credential_header: Option<String>,
    /// Request header with the version resolved by routing. Default `x-gateway-version`.
    pub version_header: Option<String>,
    /// APIs recognised by path prefix, first match wins. Default: none (every request is API
    /// `unknown`).
    pub apis: Vec<RawApi>,
    /// The cardinality guard. Default: see [`RawLabels`].
    pub labels: RawLabels,
    /// Hard cap on distinct labelled metric names a VM defines. Default 10000; 1..=1000000.
    pub max_metric_names: Option<u32>,
    /// Usage events sent to a collector. Default: none (metrics only).
    pub events: Option<RawEvents>,
}

/// One API: a label value and the path prefixes that select it.
#[derive(Debug)]
pub struct RawApi {
    /// Label value: 1 to 64 of `A-Z a-z 0-9 _ -`. Required; unique.
    pub name: String,
    /// Path prefixes (each starting with `/`). Required, non-empty. A prefix matches the whole
    /// path, or the path up to a `/`, `?` or `#` that follows the prefix
    /// (`/orders` matches `/orders`, `/orders/1`, `/orders?x` but not `/ordersx`).
    pub path_prefixes: Vec<String>,
}

/// Maximum distinct values per label, per Envoy process (shared by all worker VMs).
#[derive(Debug, Default)]
pub struct RawLabels {
    /// Distinct consumers. Default 100.
    pub consumer: Option<u32>,
    /// Distinct APIs. Default 50.
    pub api: Option<u32>,
    /// Distinct versions. Default 20.
    pub version: Option<u32>,
    /// Distinct routes. Default 100.
    pub route: Option<u32>,
    /// Distinct local-reply reasons. Default 50.
    pub reason: Option<u32>,
    /// The value used beyond the maximum. Default `other`; label-safe characters only.
    pub overflow_value: Option<String>,
}

/// Usage event delivery.
#[derive(Debug)]
pub struct RawEvents {
    /// Envoy cluster of the collector. Required.
    pub cluster: String,
    /// Path the batches are POSTed to. Default `/events`.
    pub path: Option<String>,
    /// `:authority` of the POST. Default: the cluster name.
    pub authority: Option<String>,
    /// Tick period: how often a partial batch is sent (a whole batch goes as soon as the previous
    /// one succeeds). Default 1000; 10..=3600000 ms.
    pub flush_interval_ms: Option<u64>,
    /// Timeout of one POST. Default 5000; 1..=600000 ms.
    pub timeout_ms: Option<u64>,
    /// Most events in one POST. Default 500; 1..=100000.
    pub max_batch_events: Option<u32>,
    /// Most bytes in one POST (one oversized event is still sent alone). Default 1048576;
    /// 1024..=67108864.
    pub max_batch_bytes: Option<u64>,
    /// Most events buffered per VM; beyond it the oldest are dropped. Default 10000;
    /// 1..=10000000, at least `max_batch_events`.
    pub max_buffer_events: Option<u32>,
    /// Most bytes buffered per VM; beyond it the oldest are dropped. Default 4194304;
    /// 1024..=1073741824, at least `max_batch_bytes`.
    pub max_buffer_bytes: Option<u64>,
    /// First wait after a failed POST. Default 1000; 1..=3600000 ms.
    pub backoff_initial_ms: Option<u64>,
    /// Longest wait after repeated failures. Default 60000; at least `backoff_initial_ms`,
    /// at most 3600000 ms.
    pub backoff_max_ms: Option<u64>,
    /// Whether events carry the request path (query string never included). Default true.
    pub include_path: Option<bool>,
}

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

impl Config {
    /// Parses and validates JSON configuration bytes (empty means all defaults).
    pub fn parse(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::try_from(RawConfig::read(Field::root(&parse(bytes)?))?)
    }
}

fn header_name(field: &str, value: Option<String>, default: &str) -> Result<String, ConfigError> {
    let name = value.unwrap_or_else(|| default.to_owned());
    if name.starts_with(':') || !is_valid_name(&name) {
        return Err(ConfigError::new(
            field,
            "must be a lowercase header name (RFC 9110 token)",
        ));
    }
    Ok(name)
}

fn ranged<T: PartialOrd + std::fmt::Display + Copy>(
    field: &str,
    value: Option<T>,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(default);
    if v < min || v > max {
        return Err(ConfigError::new(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
    }
    Ok(v)
}

fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Most APIs a configuration may list.
pub const MAX_APIS: usize = 1000;

fn validate_apis(raw: Vec<RawApi>) -> Result<Vec<Api>, ConfigError> {
    if raw.len() > MAX_APIS {
        return Err(ConfigError::new(
            "apis",
            format!("at most {MAX_APIS} APIs, got {}", raw.len()),
        ));
    }
    ensure_unique("apis", "API name", raw.iter().map(|a| a.name.as_str()))?;
    let mut apis = Vec::with_capacity(raw.len());
    for (i, api) in raw.into_iter().enumerate() {
        if !is_label_safe(&api.name) {
            return Err(ConfigError::new(
                format!("apis[{i}].name"),
                "must be 1 to 64 of A-Z a-z 0-9 _ -",
            ));
        }
        if api.path_prefixes.is_empty() || api.path_prefixes.len() > 100 {
            return Err(ConfigError::new(
                format!("apis[{i}].path_prefixes"),
                "must list 1 to 100 prefixes",
            ));
        }
        for (j, p) in api.path_prefixes.iter().enumerate() {
            let bad = !p.starts_with('/')
                || p.len() > 1024
                || p.bytes()
                    .any(|b| b.is_ascii_control() || b == b'?' || b == b'#');
            if bad {
                return Err(ConfigError::new(
                    format!("apis[{i}].path_prefixes[{j}]"),
                    "must start with `/`, have no `?`, `#` or control characters, at most 1024 bytes",
                ));
            }
        }
        apis.push(Api {
            name: api.name,
            path_prefixes: api.path_prefixes,
        });
    }
    Ok(apis)
}

fn validate_labels(raw: RawLabels) -> Result<LabelLimits, ConfigError> {
    let limit = |name: &str, v: Option<u32>, d: u32| {
        ranged(&format!("labels.{name}"), v, d, 1, 100_000).map(|v| v as usize)
    };
    let overflow = raw.overflow_value.unwrap_or_else(|| "other".into());
    if !is_label_safe(&overflow) {
        return Err(ConfigError::new(
            "labels.overflow_value",
            "must be 1 to 64 of A-Z a-z 0-9 _ -",
        ));
    }
    Ok(LabelLimits {
        consumer: limit("consumer", raw.consumer, 100)?,
        api: limit("api", raw.api, 50)?,
        version: limit("version", raw.version, 20)?,
        route: limit("route", raw.route, 100)?,
        reason: limit("reason", raw.reason, 50)?,
        overflow,
    })
}

fn validate_events(raw: RawEvents) -> Result<EventsConfig, ConfigError> {
    let text_ok = |s: &str| !s.is_empty() && s.len() <= 256 && !s.bytes().any(|b| b <= b' ');
    if !text_ok(&raw.cluster) {
        return Err(ConfigError::new(
            "events.cluster",
            "must be 1 to 256 bytes without spaces or control characters",
        ));
    }
    let path = raw.path.unwrap_or_else(|| "/events".into());
    if !path.starts_with('/') || !text_ok(&path) {
        return Err(ConfigError::new(
            "events.path",
            "must start with `/`, at most 256 bytes, no spaces or control characters",
        ));
    }
    let authority = raw.authority.unwrap_or_else(|| raw.cluster.clone());
    if !text_ok(&authority) {
        return Err(ConfigError::new(
            "events.authority",
            "must be 1 to 256 bytes without spaces or control characters",
        ));
    }
    let ms = |name: &str, v: Option<u64>, d: u64, min: u64, max: u64| {
        ranged(&format!("events.{name}"), v, d, min, max).map(Duration::from_millis)
    };
    let flush_interval = ms(
        "flush_interval_ms",
        raw.flush_interval_ms,
        1000,
        10,
        3_600_000,
    )?;
    let timeout = ms("timeout_ms", raw.timeout_ms, 5000, 1, 600_000)?;
    let backoff_initial = ms(
        "backoff_initial_ms",
        raw.backoff_initial_ms,
        1000,
        1,
        3_600_000,
    )?;
    let backoff_max = ms(
        "backoff_max_ms",
        raw.backoff_max_ms,
        60_000.max(backoff_initial.as_millis() as u64),
        backoff_initial.as_millis() as u64,
        3_600_000,
    )?;
    let max_batch_events = ranged(
        "events.max_batch_events",
        raw.max_batch_events,
        500,
        1,
        100_000,
    )?;
    let max_batch_bytes = ranged(
        "events.max_batch_bytes",
        raw.max_batch_bytes,
        1 << 20,
        1024,
        64 << 20,
    )?;
    let max_buffer_events = ranged(
        "events.max_buffer_events",
        raw.max_buffer_events,
        10_000.max(max_batch_events),
        max_batch_events,
        10_000_000,
    )?;
    let max_buffer_bytes = ranged(
        "events.max_buffer_bytes",
        raw.max_buffer_bytes,
        (4u64 << 20).max(max_batch_bytes),
        max_batch_bytes,
        1 << 30,
    )?;
    Ok(EventsConfig {
        cluster: raw.cluster,
        path,
        authority,
        flush_interval,
        timeout,
        max_batch_events: max_batch_events as usize,
        max_batch_bytes: to_usize(max_batch_bytes),
        max_buffer_events: max_buffer_events as usize,
        max_buffer_bytes: to_usize(max_buffer_bytes),
        backoff_initial,
        backoff_max,
        include_path: raw.include_path.unwrap_or(true),
    })
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        Ok(Self {
            consumer_header: header_name(
                "consumer_header",
                raw.consumer_header,
                "x-gateway-consumer",
            )?,
            plan_header: header_name("plan_header", raw.plan_header, "x-gateway-plan")?,
            credential_header: header_name(
                "credential_header",
                raw.credential_header,
                "x-gateway-credential",
            )?,
            version_header: header_name("version_header", raw.version_header, "x-gateway-version")?,
            apis: validate_apis(raw.apis)?,
            limits: validate_labels(raw.labels)?,
            max_metric_names: ranged(
                "max_metric_names",
                raw.max_metric_names,
                10_000,
                1,
                1_000_000,
            )? as usize,
            events: raw.events.map(validate_events).transpose()?,
        })
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
#[path = "config_tests.rs"]
mod tests;
