//! The filter: [`AnalyticsPlugin`] (per-VM state: config, label guards, metric ids, event sink)
//! and [`AnalyticsStream`] (remembers the request target, measures everything in `on_log`).
//!
//! The filter never pauses, answers or edits a request: every callback continues, and all the
//! work happens in `on_log`, which Envoy runs for every stream, local replies included. Events
//! leave the VM only from `on_tick`.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use filter_core::{
    CallFailure, CallResponse, ConfigError, Decision, HeaderMap, Host, Plugin, Stream,
};

use crate::config::Config;
use crate::event;
use crate::labels::{sanitize, Admission, LabelGuard};
use crate::measure::{
    method_label, reason, status_class, strip_query, Measurement, Seen, SeenHeaders,
};
use crate::metrics::{
    MetricSet, ACCESS_TOTAL, EVENTS_TOTAL, LABEL_OVERFLOWS_TOTAL, LOCAL_REPLIES_TOTAL,
    REQUESTS_TOTAL, REQUEST_BYTES_TOTAL, REQUEST_DURATION_MS, RESPONSES_TOTAL,
    RESPONSE_BYTES_TOTAL, UPSTREAM_DURATION_MS,
};
use crate::sink::Sink;

/// Per-VM state.
#[derive(Debug)]
pub struct AnalyticsPlugin {
    config: Config,
    metrics: MetricSet,
    consumer: LabelGuard,
    api: LabelGuard,
    version: LabelGuard,
    route: LabelGuard,
    reason: LabelGuard,
    sink: Option<RefCell<Sink>>,
    /// Where a request's row key is written, reused across requests.
    row_key: RefCell<Vec<u8>>,
}

/// Label values of one request, after the cardinality guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    /// Consumer (`anonymous` without identity).
    pub consumer: Cow<'a, str>,
    /// API (`unknown` when no prefix matched).
    pub api: Cow<'a, str>,
    /// Version (`none` when routing set none).
    pub version: Cow<'a, str>,
    /// Route (`unknown` without one).
    pub route: Cow<'a, str>,
    /// Method (a standard method or `other`).
    pub method: &'static str,
    /// Status code (`none` without one).
    pub status_code: String,
    /// Status class.
    pub status_class: &'static str,
}

impl AnalyticsPlugin {
    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The event sink, if events are configured.
    pub fn sink(&self) -> Option<&RefCell<Sink>> {
        self.sink.as_ref()
    }

    fn guarded<'a>(
        &'a self,
        guard: &LabelGuard,
        raw: Option<&'a [u8]>,
        absent: &'a str,
        host: &mut dyn Host,
    ) -> Cow<'a, str> {
        let Some(raw) = raw else {
            return Cow::Borrowed(absent);
        };
        let value = sanitize(raw, absent);
        match guard.admit(&value, host) {
            Admission::Admitted => value,
            Admission::Overflow => {
                self.metrics.bump(host, LABEL_OVERFLOWS_TOTAL);
                Cow::Borrowed(&self.config.limits.overflow)
            }
        }
    }

    /// The guarded label values of a measurement.
    pub fn labels<'a>(&'a self, m: &'a Measurement, host: &mut dyn Host) -> Labels<'a> {
        Labels {
            consumer: self.guarded(&self.consumer, m.consumer.as_deref(), "anonymous", host),
            api: self.guarded(&self.api, Some(m.api.as_bytes()), "unknown", host),
            version: self.guarded(&self.version, m.version.as_deref(), "none", host),
            route: self.guarded(&self.route, m.route.as_deref(), "unknown", host),
            method: method_label(m.method.as_deref()),
            status_code: m.status.filter(|s| (100..=599).contains(s)).map_or_else(
                || "none".to_owned(),
                |s| itoa::Buffer::new().format(s).to_owned(),
            ),
            status_class: status_class(m.status),
        }
    }

    /// Records the metrics and the event of one finished request.
    pub fn record(&self, m: &Measurement, host: &mut dyn Host) {
        let l = self.labels(m, host);
        let why = m.local.then(|| {
            self.guarded(
                &self.reason,
                m.details.as_deref().map(reason),
                "unknown",
                host,
            )
        });
        let ms = &self.metrics;
        let (c, a, v) = (&*l.consumer, &*l.api, &*l.version);
        let (auth, quota) = (m.auth.as_str(), m.quota.as_str());
        // Every label value of the request: the key of its row of metric ids.
        let mut key = self.row_key.borrow_mut();
        key.clear();
        let values = [
            c,
            a,
            v,
            l.status_class,
            &l.route,
            l.method,
            &l.status_code,
            auth,
            quota,
        ];
        for value in values.into_iter().chain(why.as_deref()) {
            key.extend_from_slice(value.as_bytes());
            key.push(b'\n');
        }
        let before = ms.row(&key);
        let mut row = before;
        ms.add_in(
            host,
            &mut row,
            &REQUESTS_TOTAL,
            &[c, a, v, l.status_class],
            1,
        );
        let response = [a, &l.route, l.method, &l.status_code];
        ms.add_in(host, &mut row, &RESPONSES_TOTAL, &response, 1);
        if let Some(b) = m.request_bytes {
            ms.add_in(host, &mut row, &REQUEST_BYTES_TOTAL, &[c, a, v], b);
        }
        if let Some(b) = m.response_bytes {
            ms.add_in(host, &mut row, &RESPONSE_BYTES_TOTAL, &[c, a, v], b);
        }
        if let Some(d) = m.duration {
            let values = [a, v, l.status_class];
            ms.record_in(host, &mut row, &REQUEST_DURATION_MS, &values, millis(d));
        }
        if let Some(d) = m.upstream {
            ms.record_in(host, &mut row, &UPSTREAM_DURATION_MS, &[a, v], millis(d));
        }
        if let Some(why) = &why {
            let values = [a, why, &l.status_code];
            ms.add_in(host, &mut row, &LOCAL_REPLIES_TOTAL, &values, 1);
        }
        ms.add_in(host, &mut row, &ACCESS_TOTAL, &[c, a, auth, quota], 1);
        ms.keep_row(&key, row, before);
        drop(key);
        if let (Some(sink), Some(events)) = (&self.sink, &self.config.events) {
            ms.bump(host, EVENTS_TOTAL);
            let line = event::line(m, events.include_path);
            sink.borrow_mut().push(line, ms, host);
        }
    }
}

fn millis(d: Duration) -> u64 {
    filter_core::time::millis(d)
}

impl Plugin for AnalyticsPlugin {
    const NAME: &'static str = "analytics";
    type Stream = AnalyticsStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        let config = crate::config::parse(config)?;
        let limits = &config.limits;
        let metrics = MetricSet::new(config.max_metric_names, &limits.overflow);
        metrics.define_health(host);
        Ok(Self {
            consumer: LabelGuard::new("consumer", limits.consumer),
            api: LabelGuard::new("api", limits.api),
            version: LabelGuard::new("version", limits.version),
            route: LabelGuard::new("route", limits.route),
            reason: LabelGuard::new("reason", limits.reason),
            sink: config.events.clone().map(|e| RefCell::new(Sink::new(e))),
            row_key: RefCell::new(Vec::new()),
            metrics,
            config,
        })
    }

    fn new_stream(plugin: &Rc<Self>) -> AnalyticsStream {
        AnalyticsStream {
            plugin: Rc::clone(plugin),
            seen: Seen::default(),
            logged: false,
        }
    }

    fn tick_period(&self) -> Option<Duration> {
        self.config.events.as_ref().map(|e| e.flush_interval)
    }

    fn on_tick(&self, host: &mut dyn Host) {
        if let Some(sink) = &self.sink {
            sink.borrow_mut().on_tick(&self.metrics, host);
        }
    }

    fn on_call_response(
        &self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    ) {
        if let Some(sink) = &self.sink {
            sink.borrow_mut()
                .on_response(token, response, &self.metrics, host);
        }
    }
}

/// Per-request state.
#[derive(Debug)]
pub struct AnalyticsStream {
    plugin: Rc<AnalyticsPlugin>,
    seen: Seen,
    logged: bool,
}

impl Stream for AnalyticsStream {
    fn reads_response_headers(&self) -> bool {
        false
    }

    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        _end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        self.seen = Seen {
            // Enough for any configured prefix (at most 1024 bytes) plus its boundary.
            path: headers
                .path()
                .map(|p| strip_query(p).iter().take(1100).copied().collect()),
            method: headers.method().map(<[u8]>::to_vec),
            started: Some(host.now()),
            headers: Some(SeenHeaders::capture(&self.plugin.config, headers)),
        };
        Decision::Continue
    }

    fn on_request_forwarded(&mut self, headers: &HeaderMap) {
        // In a chain, routing (after analytics) sets the version: take it from the forwarded
        // headers rather than reading it from the host in on_log.
        if let Some(seen) = self.seen.headers.as_mut() {
            seen.forwarded(&self.plugin.config, headers);
        }
    }

    fn on_log(&mut self, host: &mut dyn Host) {
        if std::mem::replace(&mut self.logged, true) {
            return;
        }
        let m = Measurement::collect(&self.plugin.config, std::mem::take(&mut self.seen), host);
        self.plugin.record(&m, host);
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
