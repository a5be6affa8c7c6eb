//! The filter: [`AnalyticsPlugin`] (per-VM state: config, metric ids, label guards, event sink)
//! and [`AnalyticsStream`] (remembers the request target, measures everything in `on_log`).
//!
//! The filter never pauses, answers or edits a request: every callback continues, and all the
//! work happens in `on_log`, which Envoy runs for every stream, local replies included. Events
//! leave the VM only from `on_tick`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use filter_core::{
    CallFailure, CallResponse, ConfigError, Decision, HeaderMap, Host, Plugin, Stream,
};

use crate::config::Config;
use crate::event;
use crate::measure::{strip_query, Measurement, Seen, SeenHeaders};
use crate::metrics::{MetricSet, RequestMetrics, EVENTS_TOTAL};
use crate::sink::Sink;

/// Per-VM state.
#[derive(Debug)]
pub struct AnalyticsPlugin {
    config: Config,
    metrics: MetricSet,
    /// The label guards and row key of the request metrics.
    requests: RequestMetrics,
    sink: Option<RefCell<Sink>>,
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

    /// Records the metrics and the event of one finished request.
    pub fn record(&self, m: &Measurement, host: &mut dyn Host) {
        self.requests.record(&self.metrics, m, host);
        if let (Some(sink), Some(events)) = (&self.sink, &self.config.events) {
            self.metrics.bump(host, EVENTS_TOTAL);
            let line = event::line(m, events.include_path);
            sink.borrow_mut().push(line, &self.metrics, host);
        }
    }
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
            requests: RequestMetrics::new(limits),
            sink: config.events.clone().map(|e| RefCell::new(Sink::new(e))),
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
