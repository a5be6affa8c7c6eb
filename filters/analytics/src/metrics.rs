//! Every metric name of the filter, declared once, and the per-VM cache of metric ids.
//!
//! Labelled metrics carry their labels inside the name, in the declared order:
//! `gateway_requests_total.consumer=alice.api=orders.version=v2.status_class=2xx`. Envoy stores
//! it as `wasmcustom.<name>`; the `stats_tags` in `stats_tags.yaml` strip each `.key=value` part
//! back out as a Prometheus label, giving `gateway_requests_total{consumer="alice",...}`.
//! Label values are label-safe (see [`crate::labels`]) and bounded by the cardinality guard; the
//! number of names a VM defines is also capped (`max_metric_names`): beyond it a name falls back
//! to the same metric with every label set to the overflow value.
//!
//! [`RequestMetrics`] (in `request`) writes the metrics of one finished request.

use std::cell::RefCell;

use filter_core::bytes::KeyTable;
use filter_core::{Host, MetricId, MetricKind};

mod request;

pub use request::RequestMetrics;

/// A labelled metric: base name, kind and label keys in name order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelledMetric {
    /// Base name (the Prometheus metric name).
    pub name: &'static str,
    /// Counter or histogram.
    pub kind: MetricKind,
    /// Label keys, in the order they appear in the name.
    pub labels: &'static [&'static str],
    /// Position in [`LABELLED`] (its slot in a [`Row`]).
    pub slot: usize,
}

const fn m(
    slot: usize,
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
) -> LabelledMetric {
    LabelledMetric {
        name,
        kind,
        labels,
        slot,
    }
}

/// Requests by consumer, API, version and status class (`1xx`..`5xx`, `none`).
pub const REQUESTS_TOTAL: LabelledMetric = m(
    0,
    "gateway_requests_total",
    MetricKind::Counter,
    &["consumer", "api", "version", "status_class"],
);
/// Responses by API, route, method and exact status code.
pub const RESPONSES_TOTAL: LabelledMetric = m(
    1,
    "gateway_responses_total",
    MetricKind::Counter,
    &["api", "route", "method", "status_code"],
);
/// Request bytes (headers and body) by consumer, API and version.
pub const REQUEST_BYTES_TOTAL: LabelledMetric = m(
    2,
    "gateway_request_bytes_total",
    MetricKind::Counter,
    &["consumer", "api", "version"],
);
/// Response bytes (headers and body) by consumer, API and version.
pub const RESPONSE_BYTES_TOTAL: LabelledMetric = m(
    3,
    "gateway_response_bytes_total",
    MetricKind::Counter,
    &["consumer", "api", "version"],
);
/// Total request latency in milliseconds, by API, version and status class.
pub const REQUEST_DURATION_MS: LabelledMetric = m(
    4,
    "gateway_request_duration_ms",
    MetricKind::Histogram,
    &["api", "version", "status_class"],
);
/// Upstream latency in milliseconds (`x-envoy-upstream-service-time`), by API and version.
pub const UPSTREAM_DURATION_MS: LabelledMetric = m(
    5,
    "gateway_upstream_duration_ms",
    MetricKind::Histogram,
    &["api", "version"],
);
/// Local replies (from any filter or Envoy itself) by API, reason and status code.
pub const LOCAL_REPLIES_TOTAL: LabelledMetric = m(
    6,
    "gateway_local_replies_total",
    MetricKind::Counter,
    &["api", "reason", "status_code"],
);
/// Requests by consumer, API, auth outcome and quota outcome.
pub const ACCESS_TOTAL: LabelledMetric = m(
    7,
    "gateway_access_total",
    MetricKind::Counter,
    &["consumer", "api", "auth", "quota"],
);

/// Every labelled metric.
pub const LABELLED: &[LabelledMetric] = &[
    REQUESTS_TOTAL,
    RESPONSES_TOTAL,
    REQUEST_BYTES_TOTAL,
    RESPONSE_BYTES_TOTAL,
    REQUEST_DURATION_MS,
    UPSTREAM_DURATION_MS,
    LOCAL_REPLIES_TOTAL,
    ACCESS_TOTAL,
];

/// Every label key used in a name (each has one `stats_tags` entry).
pub const LABEL_KEYS: &[&str] = &[
    "consumer",
    "api",
    "version",
    "route",
    "method",
    "status_code",
    "status_class",
    "reason",
    "auth",
    "quota",
];

/// Events produced (one per request).
pub const EVENTS_TOTAL: &str = "analytics_events_total";
/// Events the collector accepted (2xx).
pub const EVENTS_SENT_TOTAL: &str = "analytics_events_sent_total";
/// Events dropped because the buffer was full (oldest first).
pub const EVENTS_DROPPED_TOTAL: &str = "analytics_events_dropped_total";
/// Batches POSTed.
pub const FLUSHES_TOTAL: &str = "analytics_flushes_total";
/// Batches that failed (dispatch error, timeout, reset or non-2xx).
pub const FLUSH_FAILURES_TOTAL: &str = "analytics_flush_failures_total";
/// Label values replaced by the overflow value.
pub const LABEL_OVERFLOWS_TOTAL: &str = "analytics_label_overflows_total";
/// Metric names that fell back to the all-overflow name because of `max_metric_names`.
pub const NAME_OVERFLOWS_TOTAL: &str = "analytics_name_overflows_total";

/// Every unlabelled metric with its kind.
pub const HEALTH: &[(&str, MetricKind)] = &[
    (EVENTS_TOTAL, MetricKind::Counter),
    (EVENTS_SENT_TOTAL, MetricKind::Counter),
    (EVENTS_DROPPED_TOTAL, MetricKind::Counter),
    (FLUSHES_TOTAL, MetricKind::Counter),
    (FLUSH_FAILURES_TOTAL, MetricKind::Counter),
    (LABEL_OVERFLOWS_TOTAL, MetricKind::Counter),
    (NAME_OVERFLOWS_TOTAL, MetricKind::Counter),
];

/// The full name of `metric` with `values` (label-safe, in key order).
pub fn labelled_name(metric: &LabelledMetric, values: &[&str]) -> String {
    let mut name = String::new();
    write_labelled_name(&mut name, metric, values);
    name
}

/// Writes the full name of `metric` with `values` into `name` (cleared first).
fn write_labelled_name(name: &mut String, metric: &LabelledMetric, values: &[&str]) {
    name.clear();
    name.push_str(metric.name);
    for (key, value) in metric.labels.iter().zip(values) {
        name.push('.');
        name.push_str(key);
        name.push('=');
        name.push_str(value);
    }
}

/// The ids of the labelled metrics for one combination of label values, each looked up when a
/// request first needs it (a request updates up to eight: one lookup of the combination
/// replaces building and looking up eight names).
#[derive(Debug, Clone, Copy, Default)]
pub struct Row {
    ids: [Option<MetricId>; 8],
    resolved: u8,
}

/// Metric ids of one VM, cached by full name.
#[derive(Debug)]
pub struct MetricSet {
    max_names: usize,
    overflow: String,
    /// Looked up on every request: a fast hash suffices, as the names are bounded by `max_names`
    /// and their label values by the cardinality guard.
    ids: RefCell<KeyTable<MetricId>>,
    /// Where a labelled name is written to be looked up, reused across requests.
    scratch: RefCell<String>,
    /// Rows by the label values they stand for (bounded like the names: each row holds at
    /// least one name of its own).
    rows: RefCell<KeyTable<Row>>,
}

impl MetricSet {
    /// A set that caches at most `max_names` labelled names, using `overflow` for the fallback.
    pub fn new(max_names: usize, overflow: &str) -> Self {
        Self {
            max_names,
            overflow: overflow.to_owned(),
            ids: RefCell::new(KeyTable::default()),
            scratch: RefCell::new(String::new()),
            rows: RefCell::new(KeyTable::default()),
        }
    }

    /// The row remembered for the label values `key` (a new, empty one if none).
    pub fn row(&self, key: &[u8]) -> Row {
        self.rows.borrow().get(key).copied().unwrap_or_default()
    }

    /// Remembers `row` for `key` if it resolved ids it did not have, while the name cap is not
    /// reached (past it, every lookup goes through [`MetricSet::labelled`], which counts the
    /// overflows).
    pub fn keep_row(&self, key: &[u8], row: Row, before: Row) {
        if row.resolved != before.resolved && self.len() < self.max_names {
            self.rows.borrow_mut().insert(key, row);
        }
    }

    /// The id of `metric` with `values`, from `row` or looked up (and put in `row`).
    fn row_id(
        &self,
        host: &mut dyn Host,
        row: &mut Row,
        metric: &LabelledMetric,
        values: &[&str],
    ) -> Option<MetricId> {
        let bit = 1u8 << (metric.slot % 8);
        if row.resolved & bit != 0 {
            return row.ids.get(metric.slot).copied().flatten();
        }
        let id = self.labelled(host, metric, values);
        if let Some(slot) = row.ids.get_mut(metric.slot) {
            *slot = id;
            row.resolved |= bit;
        }
        id
    }

    /// Adds `delta` (> 0) to a labelled counter, through `row` (the row of the request's label
    /// values, `values` among them: an id it holds is used without looking at `values`).
    pub fn add_in(
        &self,
        host: &mut dyn Host,
        row: &mut Row,
        metric: &LabelledMetric,
        values: &[&str],
        delta: u64,
    ) {
        if delta == 0 {
            return;
        }
        if let Some(id) = self.row_id(host, row, metric, values) {
            host.increment_metric(id, i64::try_from(delta).unwrap_or(i64::MAX));
        }
    }

    /// Records a histogram value, through `row`.
    pub fn record_in(
        &self,
        host: &mut dyn Host,
        row: &mut Row,
        metric: &LabelledMetric,
        values: &[&str],
        v: u64,
    ) {
        if let Some(id) = self.row_id(host, row, metric, values) {
            host.record_metric(id, v);
        }
    }

    /// Defines every unlabelled metric (at configure time, so they show as 0).
    pub fn define_health(&self, host: &mut dyn Host) {
        for (name, kind) in HEALTH {
            self.id(host, *kind, name);
        }
    }

    /// Number of cached names.
    pub fn len(&self) -> usize {
        self.ids.borrow().len()
    }

    /// Whether no name is cached.
    pub fn is_empty(&self) -> bool {
        self.ids.borrow().is_empty()
    }

    /// The id of an unlabelled metric (defining it on first use).
    pub fn id(&self, host: &mut dyn Host, kind: MetricKind, name: &str) -> Option<MetricId> {
        if let Some(id) = self.ids.borrow().get(name.as_bytes()) {
            return Some(*id);
        }
        match host.define_metric(kind, name) {
            Ok(id) => {
                self.ids.borrow_mut().insert(name.as_bytes(), id);
                Some(id)
            }
            Err(e) => {
                log::warn!("analytics: cannot define metric {name}: {e}");
                None
            }
        }
    }

    /// The id of `metric` with `values`, respecting the name cap.
    pub fn labelled(
        &self,
        host: &mut dyn Host,
        metric: &LabelledMetric,
        values: &[&str],
    ) -> Option<MetricId> {
        let mut scratch = self.scratch.borrow_mut();
        write_labelled_name(&mut scratch, metric, values);
        if let Some(id) = self.ids.borrow().get(scratch.as_bytes()) {
            return Some(*id);
        }
        let name = std::mem::take(&mut *scratch);
        drop(scratch);
        if self.len() >= self.max_names {
            self.bump(host, NAME_OVERFLOWS_TOTAL);
            let all: Vec<&str> = metric
                .labels
                .iter()
                .map(|_| self.overflow.as_str())
                .collect();
            return self.id(host, metric.kind, &labelled_name(metric, &all));
        }
        self.id(host, metric.kind, &name)
    }

    /// Adds 1 to an unlabelled counter.
    pub fn bump(&self, host: &mut dyn Host, name: &str) {
        self.count(host, name, 1);
    }

    /// Adds `delta` to an unlabelled counter or gauge (counters ignore `delta <= 0`).
    pub fn count(&self, host: &mut dyn Host, name: &str, delta: i64) {
        let kind = HEALTH
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(MetricKind::Counter, |(_, k)| *k);
        if kind == MetricKind::Counter && delta <= 0 {
            return;
        }
        if let Some(id) = self.id(host, kind, name) {
            host.increment_metric(id, delta);
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
