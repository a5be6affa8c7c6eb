//! Upstream protection: per API (and optionally per version or consumer) a **concurrency limit**
//! and a **circuit breaker**, counted across every worker VM of the instance in shared data, and
//! checked before the quota is: a shed request is never charged.
//!
//! Layout: [`machine`] (one partition's state and its transitions, pure, time a parameter, and
//! its stored encoding), [`store`] (the typed store of states over shared data with CAS),
//! [`outcome`] (what became of a request, from the stream's end), [`config`] (the `protect`
//! section), [`reply`] (the 503), [`metrics`] (names), and here [`Protector`], which the filter
//! calls: [`Protector::admit`] on the request headers, [`Protector::release`] in `on_log`, which
//! the adapter runs exactly once per stream whatever ended it (a response, a local reply of any
//! filter, a client or upstream reset, a timeout), so every admitted request gives its slot back
//! exactly once.
//!
//! A release that cannot be written (the host failed, or every attempt met another worker's
//! write) is kept and retried at the worker's next admissions and releases (a few per call); at most
//! [`MAX_DEFERRED`] are kept, a further one is dropped and counted (its slot stays taken).

use std::cell::RefCell;

use filter_core::{Host, LocalReply, MetricId, MetricKind};

pub mod config;
pub mod machine;
pub mod metrics;
pub mod outcome;
pub mod reply;
pub mod store;

use config::{ApiProtect, Protect};
use machine::{Admit, Outcome, Ticket, Transition};
use metrics::{in_flight_name, open_name, shed_name, NAMES, P};
use store::{key, States, Stats};

/// Most releases kept for retry per worker.
pub const MAX_DEFERRED: usize = 4_096;
/// Most kept releases retried per admission or release.
pub const RETRIES_PER_CALL: usize = 8;

/// An admitted request's slot, held by its stream until `on_log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Index of the protected API.
    pub api: usize,
    /// Its partition's key.
    pub key: String,
    /// The claim to give back.
    pub ticket: Ticket,
}

#[derive(Debug, Clone, Copy)]
struct ApiMetrics {
    in_flight: Option<MetricId>,
    open: Option<MetricId>,
    shed: Option<MetricId>,
}

/// Upstream protection of one plugin (per VM).
#[derive(Debug)]
pub struct Protector {
    /// The configuration.
    pub config: Protect,
    states: States,
    metrics: Vec<Option<MetricId>>,
    apis: Vec<ApiMetrics>,
    deferred: RefCell<Vec<(Held, Outcome)>>,
}

impl Protector {
    /// Defines the metrics.
    pub fn new(config: Protect, host: &mut dyn Host) -> Self {
        let metrics = NAMES
            .iter()
            .map(|n| host.define_metric(MetricKind::Counter, n).ok())
            .collect();
        let apis = config
            .apis
            .iter()
            .map(|a| ApiMetrics {
                in_flight: host
                    .define_metric(MetricKind::Gauge, &in_flight_name(&a.api))
                    .ok(),
                open: host
                    .define_metric(MetricKind::Gauge, &open_name(&a.api))
                    .ok(),
                shed: host
                    .define_metric(MetricKind::Counter, &shed_name(&a.api))
                    .ok(),
            })
            .collect();
        Self {
            states: States {
                max_attempts: config.max_attempts,
            },
            config,
            metrics,
            apis,
            deferred: RefCell::new(Vec::new()),
        }
    }

    fn bump(&self, host: &mut dyn Host, p: P, n: u64) {
        if let (Some(Some(id)), true) = (self.metrics.get(p as usize), n > 0) {
            host.increment_metric(*id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    fn gauge(host: &mut dyn Host, id: Option<MetricId>, delta: i64) {
        if let Some(id) = id {
            host.increment_metric(id, delta);
        }
    }

    fn transition(&self, host: &mut dyn Host, api: usize, t: Option<Transition>) {
        let open = self.apis.get(api).and_then(|m| m.open);
        match t {
            None => {}
            Some(Transition::Opened) => {
                self.bump(host, P::Opened, 1);
                Self::gauge(host, open, 1);
            }
            Some(Transition::HalfOpened) => self.bump(host, P::HalfOpened, 1),
            Some(Transition::Reopened) => self.bump(host, P::Reopened, 1),
            Some(Transition::Closed) => {
                self.bump(host, P::Closed, 1);
                Self::gauge(host, open, -1);
            }
        }
    }

    fn record(&self, host: &mut dyn Host, s: &Stats) {
        self.bump(host, P::CasConflicts, s.conflicts);
        self.bump(host, P::CorruptResets, s.corrupt_resets);
    }

    /// The protection of a request to `api`, if it has one.
    pub fn api(&self, api: &str) -> Option<(usize, &ApiProtect)> {
        self.config.api(api)
    }

    /// Decides on a request to the protected API `api` (an index from [`Protector::api`]) with
    /// this version and consumer label (used as the partition says): `Ok(Some(held))` admitted
    /// with a slot to release, `Ok(None)` admitted without one (the store failed: protection
    /// fails open), `Err(reply)` shed.
    pub fn admit(
        &self,
        host: &mut dyn Host,
        api: usize,
        version: Option<&str>,
        consumer: &str,
        now_us: u64,
    ) -> Result<Option<Held>, LocalReply> {
        self.retry_deferred(host, now_us);
        let Some(a) = self.config.apis.get(api) else {
            return Ok(None);
        };
        let key = key(
            &a.api,
            version.filter(|_| a.per.version()),
            Some(consumer).filter(|_| a.per.consumer()),
        );
        let mut stats = Stats::default();
        let result = self
            .states
            .update(host, &key, &mut stats, |s| s.admit(&a.policy, now_us));
        self.record(host, &stats);
        let m = self.apis.get(api).copied();
        match result {
            Ok((Admit::Admitted(ticket), t)) => {
                self.transition(host, api, t);
                self.bump(host, P::Admitted, 1);
                Self::gauge(host, m.and_then(|m| m.in_flight), 1);
                Ok(Some(Held { api, key, ticket }))
            }
            Ok((Admit::Shed(shed), t)) => {
                self.transition(host, api, t);
                self.bump(
                    host,
                    match shed.reason {
                        machine::ShedReason::Open => P::ShedOpen,
                        machine::ShedReason::HalfOpen => P::ShedHalfOpen,
                        machine::ShedReason::Concurrency => P::ShedConcurrency,
                    },
                    1,
                );
                if let Some(id) = m.and_then(|m| m.shed) {
                    host.increment_metric(id, 1);
                }
                Err(reply::shed(&a.api, &shed))
            }
            Err(_) => {
                self.bump(host, P::StoreErrors, 1);
                Ok(None)
            }
        }
    }

    /// Gives back the slot of an admitted request with its outcome (read from the host by
    /// [`outcome::read`]). Called once per held slot, from `on_log`.
    pub fn release(&self, host: &mut dyn Host, held: Held, outcome: Outcome, now_us: u64) {
        self.bump(
            host,
            match outcome {
                Outcome::Success => P::Successes,
                Outcome::Failure => P::Failures,
                Outcome::Neutral => P::Neutral,
            },
            1,
        );
        if !self.apply(host, &held, outcome, now_us) {
            self.defer(host, held, outcome);
        }
        self.retry_deferred(host, now_us);
    }

    /// Classifies the stream's end and releases.
    pub fn release_at_end(&self, host: &mut dyn Host, held: Held, now_us: u64) {
        let statuses = self
            .config
            .apis
            .get(held.api)
            .map_or(&config::DEFAULT_STATUSES[..], |a| &a.failure_statuses);
        let outcome = outcome::read(host, statuses);
        self.release(host, held, outcome, now_us);
    }

    /// Writes one release; false if it could not be written.
    fn apply(&self, host: &mut dyn Host, held: &Held, outcome: Outcome, now_us: u64) -> bool {
        let Some(a) = self.config.apis.get(held.api) else {
            return true;
        };
        let mut stats = Stats::default();
        let result = self.states.update(host, &held.key, &mut stats, |s| {
            s.release(&a.policy, held.ticket, outcome, now_us)
        });
        self.record(host, &stats);
        match result {
            Ok(t) => {
                self.transition(host, held.api, t);
                let m = self.apis.get(held.api).and_then(|m| m.in_flight);
                Self::gauge(host, m, -1);
                true
            }
            Err(_) => {
                self.bump(host, P::StoreErrors, 1);
                false
            }
        }
    }

    fn defer(&self, host: &mut dyn Host, held: Held, outcome: Outcome) {
        let mut deferred = self.deferred.borrow_mut();
        if deferred.len() < MAX_DEFERRED {
            deferred.push((held, outcome));
            self.bump(host, P::ReleaseDeferred, 1);
        } else {
            self.bump(host, P::ReleaseDropped, 1);
        }
    }

    /// Retries the releases kept on this worker, at most [`RETRIES_PER_CALL`] per call (oldest
    /// first), so a store that keeps failing costs each request a bounded amount of work.
    pub fn retry_deferred(&self, host: &mut dyn Host, now_us: u64) {
        let batch: Vec<_> = {
            let mut deferred = self.deferred.borrow_mut();
            let n = deferred.len().min(RETRIES_PER_CALL);
            deferred.drain(..n).collect()
        };
        let mut left = Vec::new();
        for (held, outcome) in batch {
            if !self.apply(host, &held, outcome, now_us) {
                left.push((held, outcome));
            }
        }
        if !left.is_empty() {
            let mut deferred = self.deferred.borrow_mut();
            left.append(&mut deferred);
            *deferred = left;
        }
    }

    /// Releases kept for retry on this worker.
    pub fn deferred(&self) -> usize {
        self.deferred.borrow().len()
    }

    /// The stored state of a partition (for tests and diagnostics).
    pub fn state(&self, host: &mut dyn Host, key: &str) -> machine::State {
        self.states.read(host, key)
    }
}

#[cfg(test)]
mod tests;
