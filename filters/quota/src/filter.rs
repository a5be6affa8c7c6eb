//! The filter: [`QuotaPlugin`] (validated configuration, metrics, the counter store) and
//! [`QuotaStream`] (one request: answer the usage report, or identify, price and route it
//! (`Metering`), then admit or refuse it against this instance's counters (`local`) or the
//! global store (`remote`); on the response, post-charge and add the header fields).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use filter_core::bytes::KeyTable;
use filter_core::{
    CallFailure, CallResponse, ConfigError, Decision, GrpcFailure, HeaderMap, Host, MetricId,
    MetricKind, Plugin, Stream,
};

use crate::admission::{Engine, Stats};
use crate::config::{self, ChargeAt, Config, Scope, Source, Unidentified};
use crate::cost::{match_route, parse_amount, request_cost};
use crate::key::{consumer_id, counter_key, scope_part, subject, Subject};
use crate::limit::{Limit, View};
use crate::metrics::{usage_name, M, NAMES, OTHER};
use crate::protect::{Held, Protector};
use crate::reply;
use crate::report;
use crate::store::SharedData;
use crate::window::SECOND_US;
use remote::Calls;

mod local;
mod remote;

/// Bound on the per-consumer metric ids cached per VM (names are bounded by configuration too).
const MAX_DYNAMIC_METRICS: usize = 100_000;

/// Per-VM state.
pub struct QuotaPlugin {
    /// The configuration.
    pub config: Config,
    pub(crate) store: SharedData,
    metrics: Vec<Option<MetricId>>,
    dynamic: RefCell<KeyTable<Option<MetricId>>>,
    /// Global store calls in flight on this worker.
    pub(crate) calls: Calls,
    /// Upstream protection, when configured.
    pub protect: Option<Protector>,
}

/// The current time in microseconds since the epoch (0 before it).
pub fn now_us(host: &dyn Host) -> u64 {
    host.now()
        .duration_since(UNIX_EPOCH)
        .map(filter_core::time::micros)
        .unwrap_or(0)
}

/// Length in seconds of the window of `limit` containing `now_us` (`w` of `RateLimit-Policy`).
pub fn window_secs(limit: &Limit, now_us: u64) -> u64 {
    let (start, end) = limit.window.bounds(limit.window.id_at(now_us));
    end.saturating_sub(start) / SECOND_US
}

// === impl QuotaPlugin ===

impl QuotaPlugin {
    /// Builds the plugin from a validated configuration, defining its metrics and creating the
    /// counters of configured consumers.
    pub fn new(config: Config, host: &mut dyn Host) -> Self {
        let metrics = NAMES
            .iter()
            .map(|n| host.define_metric(MetricKind::Counter, n).ok())
            .collect();
        let protect = config.protect.clone().map(|p| Protector::new(p, host));
        let plugin = Self {
            config,
            protect,
            store: SharedData,
            metrics,
            dynamic: RefCell::new(KeyTable::default()),
            calls: Calls::default(),
        };
        plugin.precreate(host);
        plugin
    }

    /// Creates (if absent) the counters of configured consumers, so their first requests do not
    /// race to create them. Only for per-consumer keys without an extra scope.
    fn precreate(&self, host: &mut dyn Host) {
        let c = &self.config;
        if c.key.source != Source::Consumer || c.key.per != Scope::None {
            return;
        }
        let mut engine = self.engine();
        for consumer in &c.consumers {
            let Some(plan) = consumer.plan.and_then(|i| c.plans.get(i)) else {
                continue;
            };
            let subject = Subject::Consumer(consumer.id.clone());
            for pl in &plan.limits {
                let key = counter_key(&plan.name, &pl.limit, "-", &subject);
                engine.ensure(host, &key, &pl.limit);
            }
        }
        self.record(host, &engine.stats);
    }

    /// An engine over this plugin's store.
    pub fn engine(&self) -> Engine<'_> {
        Engine::new(&self.store, self.config.max_attempts, self.config.on_error)
    }

    /// Adds `n` to a fixed counter.
    pub fn bump(&self, host: &mut dyn Host, m: M, n: u64) {
        if let (Some(Some(id)), true) = (self.metrics.get(m as usize), n > 0) {
            host.increment_metric(*id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Adds `n` to a per-consumer counter (its name is built from configuration only).
    pub(crate) fn bump_named(&self, host: &mut dyn Host, name: String, n: u64) {
        if n == 0 {
            return;
        }
        let mut dynamic = self.dynamic.borrow_mut();
        let id = match dynamic.get(name.as_bytes()) {
            Some(id) => *id,
            None => {
                let id = host.define_metric(MetricKind::Counter, &name).ok();
                if dynamic.len() < MAX_DYNAMIC_METRICS {
                    dynamic.insert(name.as_bytes(), id);
                }
                id
            }
        };
        if let Some(id) = id {
            host.increment_metric(id, i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Turns store events into metrics.
    pub(crate) fn record(&self, host: &mut dyn Host, s: &Stats) {
        self.bump(host, M::CasConflicts, s.conflicts);
        self.bump(host, M::RetriesExhausted, s.exhausted);
        self.bump(host, M::StoreErrors, s.errors);
        self.bump(host, M::CorruptResets, s.corrupt_resets);
        self.bump(host, M::CreateRaces, s.create_races);
        self.bump(host, M::Rollbacks, s.rollbacks);
        self.bump(host, M::RollbackFailures, s.rollback_failures);
    }

    /// The plan of a request: the plan header if it names a configured plan, else the
    /// configured consumer's plan, else the default plan.
    fn plan(
        &self,
        host: &mut dyn Host,
        headers: &HeaderMap,
        consumer: Option<&str>,
    ) -> Option<usize> {
        let c = &self.config;
        if let Some(value) = headers.get(&c.identity.plan_header) {
            match std::str::from_utf8(value)
                .ok()
                .and_then(|n| c.plan_index(n))
            {
                Some(i) => return Some(i),
                None => self.bump(host, M::UnknownPlan, 1),
            }
        }
        match consumer.and_then(|id| c.consumer(id)) {
            Some(known) => known.plan,
            None => c.default_plan,
        }
    }
}

impl Plugin for QuotaPlugin {
    const NAME: &'static str = "quota";
    type Stream = QuotaStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        Ok(Self::new(config::parse(config)?, host))
    }

    fn new_stream(plugin: &Rc<Self>) -> QuotaStream {
        QuotaStream {
            plugin: Rc::clone(plugin),
            metered: None,
            waiting: None,
            held: None,
        }
    }
}

// === impl QuotaStream ===

/// What an admitted request was charged, for the response phase.
#[derive(Debug)]
struct Metered {
    plan: usize,
    label: String,
    keys: Vec<String>,
    views: Vec<View>,
    /// When the views were taken.
    at: u64,
}

/// One request.
pub struct QuotaStream {
    pub(crate) plugin: Rc<QuotaPlugin>,
    metered: Option<Metered>,
    /// The global store call this stream waits for.
    pub(crate) waiting: Option<remote::Waiting>,
    /// The upstream protection slot this request holds until `on_log`.
    held: Option<Held>,
}

/// What a request is metered as, once identified, priced and routed.
pub(crate) struct Metering {
    /// Index of the plan.
    pub plan: usize,
    /// The scope part of its keys.
    pub scope: String,
    /// Who it is metered as.
    pub subject: Subject,
    /// Its cost.
    pub cost: u64,
    /// The per-consumer metrics label.
    pub label: String,
    /// When it arrived.
    pub now: u64,
}

impl QuotaStream {
    /// Upstream protection, before any quota is charged: a shed request is answered 503 here
    /// and never reaches admission. An admitted one holds its slot until `on_log`.
    fn protect(&mut self, headers: &HeaderMap, host: &mut dyn Host, now: u64) -> Option<Decision> {
        let plugin = Rc::clone(&self.plugin);
        let protector = plugin.protect.as_ref()?;
        let c = &plugin.config;
        let route = match_route(&c.routes, headers)?;
        let (api, _) = protector.api(&route.api)?;
        let consumer = match consumer_id(c, headers).and_then(|id| c.consumer(id)) {
            Some(known) => known.id.as_str(),
            None => OTHER,
        };
        match protector.admit(host, api, route.version.as_deref(), consumer, now) {
            Ok(held) => {
                self.held = held;
                None
            }
            Err(reply) => Some(Decision::Respond(reply)),
        }
    }

    /// Identifies, prices and routes a request: what it is metered as, or the decision if it is
    /// not metered.
    fn metering(
        &self,
        headers: &HeaderMap,
        host: &mut dyn Host,
        now: u64,
    ) -> Result<Metering, Decision> {
        let p = &*self.plugin;
        let c = &p.config;
        let Some(subject) = subject(c, headers, host) else {
            return Err(match c.unidentified {
                Unidentified::Allow => {
                    p.bump(host, M::Unmetered, 1);
                    Decision::Continue
                }
                Unidentified::Reject => {
                    p.bump(host, M::UnidentifiedRejected, 1);
                    Decision::Respond(reply::unidentified())
                }
            });
        };
        let consumer = consumer_id(c, headers);
        let Some(plan) = p.plan(host, headers, consumer) else {
            p.bump(host, M::Unmetered, 1);
            return Err(Decision::Continue);
        };
        let route = match_route(&c.routes, headers);
        let cost = request_cost(c, route, headers).map_err(|detail| {
            p.bump(host, M::InvalidCost, 1);
            Decision::Respond(reply::invalid_cost(detail))
        })?;
        let label = match consumer.and_then(|id| c.consumer(id)) {
            Some(known) => known.id.clone(),
            None => OTHER.to_owned(),
        };
        Ok(Metering {
            plan,
            scope: scope_part(c.key.per, route),
            subject,
            cost,
            label,
            now,
        })
    }
}

impl Stream for QuotaStream {
    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        _eos: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let plugin = Rc::clone(&self.plugin);
        let p = &*plugin;
        let c = &p.config;
        let now = now_us(host);
        if let Some(r) = &c.report {
            let path = headers.path().unwrap_or_default();
            if path.split(|&b| b == b'?').next() == Some(r.path.as_bytes()) {
                p.bump(host, M::ReportRequests, 1);
                return Decision::Respond(report::serve(c, headers, host, now));
            }
        }
        if let Some(decision) = self.protect(headers, host, now) {
            return decision;
        }
        let m = match self.metering(headers, host, now) {
            Ok(m) => m,
            Err(decision) => return decision,
        };
        if c.plans.get(m.plan).is_none() {
            return Decision::Continue;
        }
        match &c.global {
            Some(_) => self.check_global(host, m),
            None => self.admit_local(host, &m, None),
        }
    }

    fn on_grpc_response(
        &mut self,
        token: u32,
        response: Result<Vec<u8>, GrpcFailure>,
        _headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        self.on_global_answer(host, token, response.map_err(|f| f.to_string()))
    }

    fn on_call_response(
        &mut self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        _headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        let body = match response {
            Ok(r) if r.status() == Some(200) => Ok(r.body),
            Ok(r) => Err(format!(
                "the rate limit service answered HTTP {}",
                r.status().unwrap_or(0)
            )),
            Err(f) => Err(f.to_string()),
        };
        self.on_global_answer(host, token, body)
    }

    fn on_log(&mut self, host: &mut dyn Host) {
        self.abandon_global_call();
        if let (Some(held), Some(protector)) = (self.held.take(), &self.plugin.protect) {
            let now = now_us(host);
            protector.release_at_end(host, held, now);
        }
    }

    fn reads_response_headers(&self) -> bool {
        // Only post-charging reads a response header; the rate-limit fields are only set.
        self.metered.is_some() && self.plugin.config.cost.response_header.is_some()
    }

    fn on_response_headers(
        &mut self,
        headers: &mut HeaderMap,
        _eos: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let Some(mut metered) = self.metered.take() else {
            return Decision::Continue;
        };
        let plugin = Rc::clone(&self.plugin);
        let p = &*plugin;
        let c = &p.config;
        let Some(plan) = c.plans.get(metered.plan) else {
            return Decision::Continue;
        };
        let now = now_us(host);
        // Resets were measured at the request; count down the time the upstream took.
        let elapsed = now.saturating_sub(metered.at);
        for view in &mut metered.views {
            view.reset_us = view.reset_us.saturating_sub(elapsed);
        }
        if let Some(name) = &c.cost.response_header {
            let amount = match headers.get(name) {
                None => 0,
                Some(v) => match parse_amount(v) {
                    Some(n) => n.min(c.cost.response_max),
                    None => {
                        p.bump(host, M::PostChargeInvalid, 1);
                        0
                    }
                },
            };
            if amount > 0 {
                let mut engine = p.engine();
                for (i, pl) in plan.limits.iter().enumerate() {
                    if pl.charge != ChargeAt::Response {
                        continue;
                    }
                    let Some(key) = metered.keys.get(i) else {
                        continue;
                    };
                    if let Some(view) = engine.charge(host, now, key, &pl.limit, amount) {
                        if let Some(slot) = metered.views.get_mut(i) {
                            *slot = view;
                        }
                        p.bump_named(
                            host,
                            usage_name(&metered.label, &plan.name, &pl.limit.name),
                            amount,
                        );
                    }
                }
                p.bump(host, M::PostCharged, amount);
                p.record(host, &engine.stats);
            }
        }
        if c.headers.on_success {
            let shown = Self::shown(c, metered.plan, &metered.views, now);
            reply::fields(&c.headers, &shown, |name, value| {
                headers.set(name, value);
            });
        }
        Decision::Continue
    }
}

#[cfg(test)]
mod tests;
