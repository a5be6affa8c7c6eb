//! Reading the wire structs from the parsed JSON document (unknown members are errors).

use filter_core::config::Field;
use filter_core::ConfigError;

use super::{RawApi, RawConfig, RawEvents, RawLabels};

type Result<T> = std::result::Result<T, ConfigError>;

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "consumer_header",
            "plan_header",
            "credential_header",
            "version_header",
            "apis",
            "labels",
            "max_metric_names",
            "events",
        ])?;
        Ok(Self {
            consumer_header: o.opt("consumer_header", Field::string)?,
            plan_header: o.opt("plan_header", Field::string)?,
            credential_header: o.opt("credential_header", Field::string)?,
            version_header: o.opt("version_header", Field::string)?,
            apis: o.or_default("apis", |f| f.list(RawApi::read))?,
            labels: o.or_default("labels", RawLabels::read)?,
            max_metric_names: o.opt("max_metric_names", Field::u32)?,
            events: o.opt("events", RawEvents::read)?,
        })
    }
}

impl RawApi {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["name", "path_prefixes"])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            path_prefixes: o.req("path_prefixes", Field::strings)?,
        })
    }
}

impl RawLabels {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "consumer",
            "api",
            "version",
            "route",
            "reason",
            "overflow_value",
        ])?;
        Ok(Self {
            consumer: o.opt("consumer", Field::u32)?,
            api: o.opt("api", Field::u32)?,
            version: o.opt("version", Field::u32)?,
            route: o.opt("route", Field::u32)?,
            reason: o.opt("reason", Field::u32)?,
            overflow_value: o.opt("overflow_value", Field::string)?,
        })
    }
}

impl RawEvents {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "cluster",
            "path",
            "authority",
            "flush_interval_ms",
            "timeout_ms",
            "max_batch_events",
            "max_batch_bytes",
            "max_buffer_events",
            "max_buffer_bytes",
            "backoff_initial_ms",
            "backoff_max_ms",
            "include_path",
        ])?;
        Ok(Self {
            cluster: o.req("cluster", Field::string)?,
            path: o.opt("path", Field::string)?,
            authority: o.opt("authority", Field::string)?,
            flush_interval_ms: o.opt("flush_interval_ms", Field::u64)?,
            timeout_ms: o.opt("timeout_ms", Field::u64)?,
            max_batch_events: o.opt("max_batch_events", Field::u32)?,
            max_batch_bytes: o.opt("max_batch_bytes", Field::u64)?,
            max_buffer_events: o.opt("max_buffer_events", Field::u32)?,
            max_buffer_bytes: o.opt("max_buffer_bytes", Field::u64)?,
            backoff_initial_ms: o.opt("backoff_initial_ms", Field::u64)?,
            backoff_max_ms: o.opt("backoff_max_ms", Field::u64)?,
            include_path: o.opt("include_path", Field::bool)?,
        })
    }
}
