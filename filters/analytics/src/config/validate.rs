//! Validation of the wire structs into the runtime [`Config`]: defaults applied, ranges and
//! names checked; every error names the field's path.

use std::time::Duration;

use filter_core::config::ensure_unique;
use filter_core::headers::is_valid_name;
use filter_core::ConfigError;

use super::wire::{RawApi, RawConfig, RawEvents, RawLabels};
use super::{Api, Config, EventsConfig, LabelLimits, MAX_APIS};
use crate::labels::is_label_safe;

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
    let limit = |name: &str, v: Option<u64>, d: u64| {
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
