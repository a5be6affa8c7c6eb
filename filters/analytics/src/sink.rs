//! The event sink: a bounded per-VM buffer of event lines, flushed on tick as one
//! `application/x-ndjson` POST to the collector cluster, with exponential backoff on failure.
//! When a POST succeeds and a whole batch (`max_batch_events` or `max_batch_bytes`) is already
//! waiting, it is sent at once: under load the sink drains at one batch per collector round trip,
//! not one per tick. (Batches are sent from root callbacks only: Envoy cancels a stream's
//! callouts when the stream ends.)
//!
//! - `push` never blocks and never fails a request: beyond `max_buffer_events` or
//!   `max_buffer_bytes` the oldest events are dropped and counted.
//! - At most one batch is in flight. A batch that fails (dispatch error such as BAD_ARGUMENT for a
//!   missing cluster, timeout, reset, non-2xx) goes back to the front of the buffer (where it is
//!   the first to be dropped if new events need room), and the next attempt waits
//!   `backoff_initial * 2^(failures-1)`, at most `backoff_max`. A success resets the backoff.
//! - If the host never answers a call, the batch counts as failed after twice the timeout plus one
//!   flush interval; a late answer with that token is ignored.
//! - Accounting is exact: produced = sent + dropped + held (buffered or in flight).
//!   Memory is bounded by `max_buffer_bytes` plus one batch (at most `max_batch_bytes`, or one
//!   event if a single event is larger).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use filter_core::{CallFailure, CallResponse, Host, HttpCall};

use crate::config::EventsConfig;
use crate::metrics::{
    MetricSet, EVENTS_DROPPED_TOTAL, EVENTS_SENT_TOTAL, FLUSHES_TOTAL, FLUSH_FAILURES_TOTAL,
};

/// Content type of a batch.
pub const BATCH_CONTENT_TYPE: &str = "application/x-ndjson";

#[derive(Debug)]
struct InFlight {
    token: u32,
    events: Vec<Vec<u8>>,
    sent_at: SystemTime,
}

/// The buffer and delivery state of one VM.
#[derive(Debug)]
pub struct Sink {
    cfg: EventsConfig,
    buffer: VecDeque<Vec<u8>>,
    bytes: usize,
    in_flight: Option<InFlight>,
    failures: u32,
    next_attempt: Option<SystemTime>,
}

impl Sink {
    /// An empty sink.
    pub fn new(cfg: EventsConfig) -> Self {
        Self {
            cfg,
            buffer: VecDeque::new(),
            bytes: 0,
            in_flight: None,
            failures: 0,
            next_attempt: None,
        }
    }

    /// Events buffered (not counting the batch in flight).
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Bytes buffered.
    pub fn buffered_bytes(&self) -> usize {
        self.bytes
    }

    /// Events in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.as_ref().map_or(0, |f| f.events.len())
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the next POST may be attempted after a failure.
    pub fn next_attempt(&self) -> Option<SystemTime> {
        self.next_attempt
    }

    /// Adds one event line (no newline inside), dropping the oldest events beyond the bounds.
    pub fn push(&mut self, mut line: Vec<u8>, metrics: &MetricSet, host: &mut dyn Host) {
        if line.len() + 1 > self.cfg.max_buffer_bytes {
            // It could never fit: drop it rather than everything buffered before it.
            metrics.count(host, EVENTS_DROPPED_TOTAL, 1);
            return;
        }
        // A buffered line holds only its bytes, so the bounds (counted in bytes) bound memory:
        // lines are written into a larger buffer, up to twice their length.
        line.shrink_to_fit();
        self.bytes += line.len() + 1;
        self.buffer.push_back(line);
        self.enforce_bounds(metrics, host);
    }

    /// Sends a batch if none is in flight, the backoff has passed and events are waiting.
    pub fn on_tick(&mut self, metrics: &MetricSet, host: &mut dyn Host) {
        let now = host.now();
        if let Some(flight) = &self.in_flight {
            let stale = self.cfg.timeout * 2 + self.cfg.flush_interval;
            if now.duration_since(flight.sent_at).unwrap_or(Duration::ZERO) < stale {
                return;
            }
            log::warn!("analytics: collector call {} never answered", flight.token);
            if let Some(flight) = self.in_flight.take() {
                self.fail(flight.events, metrics, host);
            }
        }
        if self.next_attempt.is_some_and(|t| now < t) || self.buffer.is_empty() {
            return;
        }
        self.send(now, metrics, host);
    }

    /// Whether a whole batch is waiting (by events or by bytes).
    fn batch_ready(&self) -> bool {
        self.buffer.len() >= self.cfg.max_batch_events || self.bytes >= self.cfg.max_batch_bytes
    }

    /// POSTs the next batch and holds it in flight (or back in the buffer if the call fails).
    fn send(&mut self, now: SystemTime, metrics: &MetricSet, host: &mut dyn Host) {
        let batch = self.take_batch();
        let mut body = Vec::with_capacity(batch.iter().map(|e| e.len() + 1).sum());
        for line in &batch {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        let mut call = HttpCall::post(
            &self.cfg.cluster,
            &self.cfg.path,
            BATCH_CONTENT_TYPE,
            body,
            self.cfg.timeout,
        );
        for (k, v) in &mut call.headers {
            if k == ":authority" {
                v.clone_from(&self.cfg.authority);
            }
        }
        metrics.bump(host, FLUSHES_TOTAL);
        match host.http_call(&call) {
            Ok(token) => {
                self.in_flight = Some(InFlight {
                    token,
                    events: batch,
                    sent_at: now,
                });
            }
            Err(e) => {
                log::warn!(
                    "analytics: cannot call collector cluster {}: {e}",
                    self.cfg.cluster
                );
                self.fail(batch, metrics, host);
            }
        }
    }

    /// The collector's answer to call `token`.
    pub fn on_response(
        &mut self,
        token: u32,
        result: Result<CallResponse, CallFailure>,
        metrics: &MetricSet,
        host: &mut dyn Host,
    ) {
        let Some(flight) = self.in_flight.take_if(|f| f.token == token) else {
            return;
        };
        match result {
            Ok(resp) if resp.status().is_some_and(|s| (200..300).contains(&s)) => {
                let n = flight.events.len() as i64;
                metrics.count(host, EVENTS_SENT_TOTAL, n);
                self.failures = 0;
                self.next_attempt = None;
                // Under load a tick's worth of events is many batches: the next whole batch
                // goes now, from this root callback, rather than waiting for the next tick.
                if self.batch_ready() {
                    self.send(host.now(), metrics, host);
                }
            }
            Ok(resp) => {
                log::warn!("analytics: collector answered status {:?}", resp.status());
                self.fail(flight.events, metrics, host);
            }
            Err(e) => {
                log::warn!("analytics: collector call failed: {}", e.reason);
                self.fail(flight.events, metrics, host);
            }
        }
    }

    fn take_batch(&mut self) -> Vec<Vec<u8>> {
        let mut batch = Vec::new();
        let mut size = 0;
        while let Some(next) = self.buffer.front() {
            let len = next.len() + 1;
            let full = batch.len() >= self.cfg.max_batch_events
                || (!batch.is_empty() && size + len > self.cfg.max_batch_bytes);
            if full {
                break;
            }
            size += len;
            self.bytes -= len;
            if let Some(line) = self.buffer.pop_front() {
                batch.push(line);
            }
        }
        batch
    }

    fn fail(&mut self, events: Vec<Vec<u8>>, metrics: &MetricSet, host: &mut dyn Host) {
        metrics.bump(host, FLUSH_FAILURES_TOTAL);
        for line in events.into_iter().rev() {
            self.bytes += line.len() + 1;
            self.buffer.push_front(line);
        }
        self.enforce_bounds(metrics, host);
        let shift = self.failures.min(31);
        let wait = self
            .cfg
            .backoff_initial
            .saturating_mul(1u32 << shift)
            .min(self.cfg.backoff_max);
        self.failures = self.failures.saturating_add(1);
        self.next_attempt = host.now().checked_add(wait);
    }

    fn enforce_bounds(&mut self, metrics: &MetricSet, host: &mut dyn Host) {
        let mut dropped = 0i64;
        while self.buffer.len() > self.cfg.max_buffer_events
            || self.bytes > self.cfg.max_buffer_bytes
        {
            match self.buffer.pop_front() {
                Some(old) => {
                    self.bytes -= old.len() + 1;
                    dropped += 1;
                }
                None => break,
            }
        }
        metrics.count(host, EVENTS_DROPPED_TOTAL, dropped);
    }

    /// Events held: buffered, plus in flight. Not a metric: the events produced, less those sent
    /// and those dropped, count the same across workers on every host (ngx_wasm_module's gauges
    /// take no increments).
    pub fn held(&self) -> usize {
        self.buffer.len() + self.in_flight()
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
