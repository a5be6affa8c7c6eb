//! The configuration as written in JSON: the wire structs ([`RawConfig`] and its members), and
//! their reading from the parsed document. Every struct refuses unknown members; every field is
//! optional unless its doc says required, and its doc states the default.

use filter_core::config::Field;
use filter_core::ConfigError;

type Result<T> = std::result::Result<T, ConfigError>;

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
    pub max_metric_names: Option<u64>,
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
    pub consumer: Option<u64>,
    /// Distinct APIs. Default 50.
    pub api: Option<u64>,
    /// Distinct versions. Default 20.
    pub version: Option<u64>,
    /// Distinct routes. Default 100.
    pub route: Option<u64>,
    /// Distinct local-reply reasons. Default 50.
    pub reason: Option<u64>,
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
    pub max_batch_events: Option<u64>,
    /// Most bytes in one POST (one oversized event is still sent alone). Default 1048576;
    /// 1024..=67108864.
    pub max_batch_bytes: Option<u64>,
    /// Most events buffered per VM; beyond it the oldest are dropped. Default 10000;
    /// 1..=10000000, at least `max_batch_events`.
    pub max_buffer_events: Option<u64>,
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
            max_metric_names: o.opt("max_metric_names", Field::u64)?,
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
            consumer: o.opt("consumer", Field::u64)?,
            api: o.opt("api", Field::u64)?,
            version: o.opt("version", Field::u64)?,
            route: o.opt("route", Field::u64)?,
            reason: o.opt("reason", Field::u64)?,
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
            max_batch_events: o.opt("max_batch_events", Field::u64)?,
            max_batch_bytes: o.opt("max_batch_bytes", Field::u64)?,
            max_buffer_events: o.opt("max_buffer_events", Field::u64)?,
            max_buffer_bytes: o.opt("max_buffer_bytes", Field::u64)?,
            backoff_initial_ms: o.opt("backoff_initial_ms", Field::u64)?,
            backoff_max_ms: o.opt("backoff_max_ms", Field::u64)?,
            include_path: o.opt("include_path", Field::bool)?,
        })
    }
}
