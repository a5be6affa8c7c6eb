//! The analytics filter of the gateway suite.
//!
//! Measures every request in `on_log` (local replies such as 401 and 429 included): consumer,
//! API, version, route, method, status, bytes, total and upstream latency, local reply or not,
//! auth and quota outcome. It publishes them as Envoy metrics whose names carry labels
//! (`gateway_requests_total.consumer=alice.api=orders.version=v2.status_class=2xx`, turned into
//! Prometheus labels by the `stats_tags` in `stats_tags.yaml`) behind a cardinality guard, and as
//! usage events (JSON lines) batched and POSTed on tick to a collector cluster. The `kpi-report`
//! command reads collected events back and renders a table and an SVG chart.
//!
//! Modules, in the order a request's data flows through them:
//! - [`config`]: the runtime configuration and `parse` (wire structs in `config::wire`,
//!   validation in `config::validate`);
//! - [`measure`]: what one request measured, from headers and Envoy properties;
//! - [`labels`]: the label values of a request, and the cardinality guard;
//! - [`metrics`]: every metric name, the per-VM metric id cache, and the metrics one request
//!   updates;
//! - [`event`]: the usage event of a measurement, as one JSON line;
//! - [`sink`]: the event buffer, its batches to the collector and their backoff;
//! - [`filter`]: the plugin and stream, which drive the modules above;
//! - `report` (native only): the KPI report the `kpi-report` command prints from collected events.
//!
//! Each module's tests are in `<module>/tests.rs`; golden files (`testdata/golden/`) are compared
//! with `host_test::golden`.

pub mod config;
pub mod event;
pub mod filter;
pub mod labels;
pub mod measure;
pub mod metrics;
pub mod sink;

#[cfg(not(target_arch = "wasm32"))]
pub mod report;

pub use filter::{AnalyticsPlugin, AnalyticsStream};

// Off (`default-features = false`) when the crate is linked into the bundle module.
#[cfg(all(target_arch = "wasm32", feature = "export"))]
filter_core::export_plugin!(AnalyticsPlugin);
