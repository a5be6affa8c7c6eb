//! Metrics as the gateway stores them: [`Metric`] and its [`MetricKind`].

use serde::Serialize;

/// Metric kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (recorded values kept).
    Histogram,
}

/// One metric, stored under its name (Envoy: `wasmcustom.<name>`).
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    /// Kind.
    pub kind: MetricKind,
    /// Counter or gauge value.
    pub value: i64,
    /// Histogram samples.
    pub samples: Vec<u64>,
}
