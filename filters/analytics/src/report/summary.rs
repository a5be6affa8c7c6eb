//! The numbers of the report, computed from events.
//!
//! - Errors: a status of 400 or more (client and server errors, local replies included); `5xx`
//!   is also shown alone. Events without a status count as requests but not as errors.
//! - Latency percentiles use the nearest-rank method on `duration_us` (and `upstream_us`),
//!   reported in milliseconds; events without a duration are left out of them.
//! - The trend splits the time span into equal buckets (default: the smallest of 1 min, 5 min,
//!   15 min, 1 h, 6 h, 1 day giving at most 48 buckets) and counts requests per bucket for the
//!   top consumers, with the rest as `(others)`.

use std::collections::HashMap;
use std::time::Duration;

use crate::event::UsageEvent;

/// Name used for events without a consumer.
pub const ANONYMOUS: &str = "(anonymous)";
/// Name of the aggregate of consumers beyond the top N.
pub const OTHERS: &str = "(others)";

/// Aggregates for one key (a consumer, an API, an API version, or everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Consumer, API, `api version`, or `all`.
    pub key: String,
    /// Requests.
    pub requests: u64,
    /// Responses with status 400..=499.
    pub client_errors: u64,
    /// Responses with status 500..=599.
    pub server_errors: u64,
    /// Refused by auth.
    pub denied: u64,
    /// Refused by quota.
    pub throttled: u64,
    /// Request bytes.
    pub request_bytes: u64,
    /// Response bytes.
    pub response_bytes: u64,
    /// Total latency percentiles p50, p95, p99 in ms.
    pub latency_ms: Option<[f64; 3]>,
    /// Upstream latency percentiles p50, p95, p99 in ms.
    pub upstream_ms: Option<[f64; 3]>,
}

impl Row {
    /// Share of requests with status >= 400, in percent.
    pub fn error_pct(&self) -> f64 {
        pct(self.client_errors + self.server_errors, self.requests)
    }

    /// Share of requests with status >= 500, in percent.
    pub fn server_error_pct(&self) -> f64 {
        pct(self.server_errors, self.requests)
    }
}

/// `part / whole` in percent (0 for an empty whole).
pub fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

fn percentiles_ms(mut v: Vec<u64>) -> Option<[f64; 3]> {
    v.sort_unstable();
    let ms = |p| percentile(&v, p).map(|us| us as f64 / 1000.0);
    Some([ms(50.0)?, ms(95.0)?, ms(99.0)?])
}

#[derive(Default)]
struct Acc {
    row: Row,
    durations: Vec<u64>,
    upstream: Vec<u64>,
}

impl Acc {
    fn add(&mut self, e: &UsageEvent) {
        let r = &mut self.row;
        r.requests += 1;
        match e.status {
            Some(400..=499) => r.client_errors += 1,
            Some(500..=599) => r.server_errors += 1,
            _ => {}
        }
        r.denied += u64::from(e.auth == "denied");
        r.throttled += u64::from(e.quota == "exceeded");
        r.request_bytes = r.request_bytes.saturating_add(e.request_bytes.unwrap_or(0));
        r.response_bytes = r
            .response_bytes
            .saturating_add(e.response_bytes.unwrap_or(0));
        self.durations.extend(e.duration_us);
        self.upstream.extend(e.upstream_us);
    }

    fn finish(self, key: String) -> Row {
        Row {
            key,
            latency_ms: percentiles_ms(self.durations),
            upstream_ms: percentiles_ms(self.upstream),
            ..self.row
        }
    }
}

fn rows(groups: HashMap<String, Acc>) -> Vec<Row> {
    let mut rows: Vec<Row> = groups.into_iter().map(|(k, a)| a.finish(k)).collect();
    rows.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.key.cmp(&b.key)));
    rows
}

/// One trend bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Start, ms since the epoch.
    pub start_ms: u64,
    /// Requests per series (same order as [`Trend::series`]).
    pub by_series: Vec<u64>,
    /// Requests with status >= 400.
    pub errors: u64,
    /// p95 latency in ms, if any event had a duration.
    pub p95_ms: Option<f64>,
}

impl Bucket {
    /// Requests in the bucket.
    pub fn total(&self) -> u64 {
        self.by_series.iter().sum()
    }
}

/// Requests over time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// Bucket width.
    pub width: Duration,
    /// Series names: the top consumers, then [`OTHERS`] if any.
    pub series: Vec<String>,
    /// Buckets in time order, empty ones included.
    pub buckets: Vec<Bucket>,
}

/// Everything the table and chart show.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// All requests together.
    pub overall: Row,
    /// Per consumer, busiest first (all of them).
    pub consumers: Vec<Row>,
    /// Per API, busiest first.
    pub apis: Vec<Row>,
    /// Per `api version`, busiest first.
    pub versions: Vec<Row>,
    /// Requests per status class, in class order.
    pub classes: Vec<(String, u64)>,
    /// First and last event time, ms since the epoch.
    pub span_ms: Option<(u64, u64)>,
    /// The trend.
    pub trend: Trend,
    /// How many rows the "top" views show.
    pub top: usize,
}

const WIDTHS: [u64; 6] = [60, 300, 900, 3600, 21_600, 86_400];

impl Summary {
    /// Summarises `events`, keeping `top` consumers as trend series.
    pub fn new(events: &[UsageEvent], top: usize, bucket: Option<Duration>) -> Self {
        let mut overall = Acc::default();
        let mut consumers: HashMap<String, Acc> = HashMap::new();
        let mut apis: HashMap<String, Acc> = HashMap::new();
        let mut versions: HashMap<String, Acc> = HashMap::new();
        let mut classes: HashMap<String, u64> = HashMap::new();
        for e in events {
            overall.add(e);
            let consumer = e.consumer.as_deref().unwrap_or(ANONYMOUS).to_owned();
            consumers.entry(consumer).or_default().add(e);
            apis.entry(e.api.to_string()).or_default().add(e);
            let version = format!("{} {}", e.api, e.version.as_deref().unwrap_or("-"));
            versions.entry(version).or_default().add(e);
            *classes.entry(e.status_class.to_string()).or_default() += 1;
        }
        let consumers = rows(consumers);
        let mut classes: Vec<(String, u64)> = classes.into_iter().collect();
        classes.sort();
        let span_ms = events
            .iter()
            .map(|e| e.ts_ms)
            .fold(None, |acc: Option<(u64, u64)>, t| {
                Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
            });
        let trend = trend(events, &consumers, top, span_ms, bucket);
        Self {
            overall: overall.finish("all".into()),
            consumers,
            apis: rows(apis),
            versions: rows(versions),
            classes,
            span_ms,
            trend,
            top,
        }
    }
}

fn trend(
    events: &[UsageEvent],
    consumers: &[Row],
    top: usize,
    span_ms: Option<(u64, u64)>,
    bucket: Option<Duration>,
) -> Trend {
    let mut series: Vec<String> = consumers.iter().take(top).map(|r| r.key.clone()).collect();
    if consumers.len() > top {
        series.push(OTHERS.into());
    }
    let Some((first, last)) = span_ms else {
        return Trend {
            width: bucket.unwrap_or(Duration::from_secs(60)),
            series,
            buckets: Vec::new(),
        };
    };
    let span_s = (last - first) / 1000 + 1;
    let width_s = bucket.map(|b| b.as_secs().max(1)).unwrap_or_else(|| {
        WIDTHS
            .iter()
            .copied()
            .find(|w| span_s.div_ceil(*w) <= 48)
            .unwrap_or(span_s.div_ceil(48))
    });
    let width_ms = width_s * 1000;
    let start = first - first % width_ms;
    let n = ((last - start) / width_ms + 1) as usize;
    let index: HashMap<&str, usize> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let mut buckets: Vec<Bucket> = (0..n)
        .map(|i| Bucket {
            start_ms: start + i as u64 * width_ms,
            by_series: vec![0; series.len()],
            errors: 0,
            p95_ms: None,
        })
        .collect();
    let mut durations: Vec<Vec<u64>> = vec![Vec::new(); n];
    for e in events {
        let i = ((e.ts_ms - start) / width_ms) as usize;
        let name = e.consumer.as_deref().unwrap_or(ANONYMOUS);
        let s = index
            .get(name)
            .or_else(|| index.get(OTHERS))
            .copied()
            .unwrap_or(0);
        let (Some(b), Some(d)) = (buckets.get_mut(i), durations.get_mut(i)) else {
            continue;
        };
        if let Some(slot) = b.by_series.get_mut(s) {
            *slot += 1;
        }
        b.errors += u64::from(e.status.is_some_and(|s| s >= 400));
        d.extend(e.duration_us);
    }
    for (b, mut d) in buckets.iter_mut().zip(durations) {
        d.sort_unstable();
        b.p95_ms = percentile(&d, 95.0).map(|us| us as f64 / 1000.0);
    }
    Trend {
        width: Duration::from_secs(width_s),
        series,
        buckets,
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
