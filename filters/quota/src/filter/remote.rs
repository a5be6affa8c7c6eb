//! The stream's steps with the global store: check the service (or spend a lease), wait for the
//! answer, and admit, refuse, or follow `on_error` when the service fails.
//!
//! `exact` mode makes one call per request with `hits_addend` = the cost. `leased` mode first
//! takes the cost from the instance's lease (see [`crate::lease`]); when the lease is short it
//! reserves a block in one call and keeps what the request does not use. When the service says
//! fewer than a block remain, or a refill is already in flight on this worker, the request is
//! checked alone (the tail), so the service's count never exceeds a limit. A refill the service
//! refuses (fewer than a block left) is followed at once by a check of the request alone. So that
//! a busy worker rarely finds its lease empty, a request that leaves the lease under half a block
//! (with no refill in flight on the worker) is admitted and then holds its stream for a refill
//! made ahead of need; if that refill fails, the request stays admitted.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use filter_core::{Decision, GrpcCall, Host, HttpCall};

use super::{Metering, QuotaStream};
use crate::config::{Global, GlobalOnError, Mode, Protocol};
use crate::global::{self, Answer};
use crate::lease::{self, Take, Update};
use crate::limit::View;
use crate::metrics::M;
use crate::reply;
use crate::rls;

/// Global store calls in flight on one worker (VM).
#[derive(Debug, Default)]
pub struct Calls {
    /// Calls in flight.
    pending: Cell<u32>,
    /// Leases with a refill in flight.
    refilling: RefCell<HashSet<String>>,
}

/// Which call a stream waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The request alone (`hits_addend` = cost).
    Exact,
    /// A lease block (`hits_addend` = block) for a request that needs it.
    Refill,
    /// A lease block reserved ahead of need by a request already admitted from the lease.
    Prefetch,
}

/// A call a stream waits for.
pub struct Waiting {
    token: u32,
    step: Step,
    metering: Metering,
    /// The lease key (leased mode).
    lease: Option<String>,
}

impl QuotaStream {
    fn global(&self) -> Option<&Global> {
        self.plugin.config.global.as_ref()
    }

    /// Checks a request against the global store: from the lease, or by a call (the stream then
    /// pauses until the answer).
    pub(crate) fn check_global(&mut self, host: &mut dyn Host, m: Metering) -> Decision {
        let Some(g) = self.global() else {
            return Decision::Continue;
        };
        if m.cost == 0 {
            // Nothing to charge (`hits_addend` 0 would mean 1 to the service).
            let n = self.plan_len(m.plan);
            self.admitted(host, &m, &vec![false; n], Vec::new());
            return Decision::Continue;
        }
        if g.mode == Mode::Exact {
            return self.call(host, m, Step::Exact, None);
        }
        let block = g.block;
        let plugin = std::rc::Rc::clone(&self.plugin);
        let p = &*plugin;
        let Some(plan) = p.config.plans.get(m.plan) else {
            return Decision::Continue;
        };
        let key = lease::key(&plan.name, &m.scope, &m.subject);
        let taken = lease::take(&p.store, host, &key, m.cost, m.now, p.config.max_attempts);
        match taken {
            Ok(Take::Taken(l)) => {
                p.bump(host, M::GlobalLeaseAdmitted, 1);
                let views = self.lease_views(m.plan, &l, m.now);
                let n = self.plan_len(m.plan);
                self.admitted(host, &m, &vec![true; n], views);
                let low = l.units.saturating_mul(2) < block;
                if low && !l.tail && !p.calls.refilling.borrow().contains(&key) {
                    return self.call(host, m, Step::Prefetch, Some(key));
                }
                Decision::Continue
            }
            Ok(Take::Short { tail }) => {
                let refilling = p.calls.refilling.borrow().contains(&key);
                let step = if tail || refilling || m.cost > block {
                    Step::Exact
                } else {
                    Step::Refill
                };
                self.call(host, m, step, Some(key))
            }
            Err(e) => {
                log::debug!("quota: lease unavailable: {e}");
                p.bump(host, M::StoreErrors, 1);
                self.call(host, m, Step::Exact, Some(key))
            }
        }
    }

    fn plan_len(&self, plan: usize) -> usize {
        self.plugin
            .config
            .plans
            .get(plan)
            .map_or(0, |p| p.limits.len())
    }

    /// Header-field views of a request admitted from a lease: what the service said remains plus
    /// the units this instance still holds.
    fn lease_views(&self, plan: usize, l: &lease::Lease, now: u64) -> Vec<View> {
        let Some(plan) = self.plugin.config.plans.get(plan) else {
            return Vec::new();
        };
        plan.limits
            .iter()
            .enumerate()
            .map(|(i, pl)| View {
                remaining: l
                    .remaining
                    .get(i)
                    .map_or(0, |r| r.saturating_add(l.units))
                    .min(pl.limit.quota),
                reset_us: window_reset(&pl.limit, now),
            })
            .collect()
    }

    /// Sends a check and pauses, or follows `on_error` if no call can be made.
    fn call(
        &mut self,
        host: &mut dyn Host,
        m: Metering,
        step: Step,
        lease: Option<String>,
    ) -> Decision {
        let plugin = std::rc::Rc::clone(&self.plugin);
        let p = &*plugin;
        let (Some(g), Some(plan)) = (p.config.global.as_ref(), p.config.plans.get(m.plan)) else {
            return Decision::Continue;
        };
        if p.calls.pending.get() >= g.max_pending {
            p.bump(host, M::GlobalOverloaded, 1);
            return self.failed(host, m, step, "too many calls in flight on this worker");
        }
        let hits = match step {
            Step::Exact => m.cost,
            Step::Refill | Step::Prefetch => g.block,
        };
        let hits = u32::try_from(hits).unwrap_or(u32::MAX);
        let mut subject = String::new();
        m.subject.push_key_part(&mut subject);
        let descriptors = global::descriptors(plan, &m.scope, &subject, m.now);
        let dispatched = match g.protocol {
            Protocol::Grpc => host.grpc_call(&GrpcCall {
                upstream: g.cluster.clone(),
                service: rls::SERVICE.to_owned(),
                method: rls::METHOD.to_owned(),
                message: global::encode_grpc(&g.domain, descriptors, hits),
                timeout: g.timeout,
            }),
            Protocol::Http => host.http_call(&HttpCall::post(
                &g.cluster,
                &g.path,
                "application/json",
                global::encode_json(&g.domain, &descriptors, hits),
                g.timeout,
            )),
        };
        let token = match dispatched {
            Ok(token) => token,
            Err(e) => {
                log::warn!(
                    "quota: cannot call the rate limit service on {}: {e}",
                    g.cluster
                );
                return self.failed(host, m, step, "the call could not be made");
            }
        };
        p.bump(host, M::GlobalCalls, 1);
        p.calls.pending.set(p.calls.pending.get().saturating_add(1));
        if step != Step::Exact {
            if let Some(key) = &lease {
                p.calls.refilling.borrow_mut().insert(key.clone());
                p.bump(host, M::GlobalRefills, 1);
            }
        }
        self.waiting = Some(Waiting {
            token,
            step,
            metering: m,
            lease,
        });
        Decision::Pause
    }

    /// Forgets the call this stream waits for (answered, or the stream ended first).
    fn forget(&mut self) -> Option<Waiting> {
        let w = self.waiting.take()?;
        let calls = &self.plugin.calls;
        calls.pending.set(calls.pending.get().saturating_sub(1));
        if w.step != Step::Exact {
            if let Some(key) = &w.lease {
                calls.refilling.borrow_mut().remove(key);
            }
        }
        Some(w)
    }

    /// The stream ended while a call was in flight (client reset): release its slot.
    pub(crate) fn abandon_global_call(&mut self) {
        self.forget();
    }

    /// The service's answer (or the call's failure) to the call with `token`.
    pub(crate) fn on_global_answer(
        &mut self,
        host: &mut dyn Host,
        token: u32,
        body: Result<Vec<u8>, String>,
    ) -> Decision {
        if self.waiting.as_ref().is_none_or(|w| w.token != token) {
            return Decision::Continue;
        }
        let Some(w) = self.forget() else {
            return Decision::Continue;
        };
        let plugin = std::rc::Rc::clone(&self.plugin);
        let p = &*plugin;
        let Some(g) = p.config.global.as_ref() else {
            return Decision::Continue;
        };
        let n = self.plan_len(w.metering.plan);
        let answer = body.and_then(|b| {
            match g.protocol {
                Protocol::Grpc => global::decode_grpc(&b, n),
                Protocol::Http => global::decode_json(&b, n),
            }
            .map_err(str::to_owned)
        });
        let answer = match answer {
            Ok(a) => a,
            Err(reason) => {
                log::warn!("quota: rate limit service check failed: {reason}");
                return self.failed(host, w.metering, w.step, &reason);
            }
        };
        let m = w.metering;
        let remaining: Vec<u64> = answer.statuses.iter().map(|s| s.remaining).collect();
        let least = answer.least_remaining().unwrap_or(u64::MAX);
        match (w.step, answer.admitted) {
            (Step::Prefetch, admitted) => {
                let units = if admitted { g.block } else { 0 };
                let tail = !admitted || least < g.block;
                self.note_lease(host, &m, w.lease.as_deref(), units, tail, remaining);
                Decision::Continue
            }
            (Step::Refill, true) => {
                let spare = g.block.saturating_sub(m.cost);
                self.note_lease(
                    host,
                    &m,
                    w.lease.as_deref(),
                    spare,
                    least < g.block,
                    remaining,
                );
                let views = self.answer_views(&m, &answer);
                self.admitted(host, &m, &vec![true; n], views);
                Decision::Continue
            }
            (Step::Refill, false) => {
                // Fewer than a block left: the tail, one request at a time.
                self.note_lease(host, &m, w.lease.as_deref(), 0, true, remaining);
                self.call(host, m, Step::Exact, w.lease)
            }
            (Step::Exact, true) => {
                if g.mode == Mode::Leased {
                    self.note_lease(host, &m, w.lease.as_deref(), 0, least < g.block, remaining);
                }
                let views = self.answer_views(&m, &answer);
                self.admitted(host, &m, &vec![true; n], views);
                Decision::Continue
            }
            (Step::Exact, false) => {
                if p.config.shadow {
                    p.bump(host, M::ShadowRefused, 1);
                    let views = self.answer_views(&m, &answer);
                    self.admitted(host, &m, &vec![false; n], views);
                    return Decision::Continue;
                }
                let index = answer.violated().unwrap_or(0);
                let views = self.answer_views(&m, &answer);
                let retry = self.retry_after(&m, index, &views);
                self.refused(host, &m, index, retry, &views)
            }
        }
    }

    /// Records in the lease what an answer said.
    fn note_lease(
        &self,
        host: &mut dyn Host,
        m: &Metering,
        key: Option<&str>,
        units: u64,
        tail: bool,
        remaining: Vec<u64>,
    ) {
        let p = &*self.plugin;
        let (Some(key), Some(plan)) = (key, p.config.plans.get(m.plan)) else {
            return;
        };
        let expires_us = plan
            .limits
            .iter()
            .map(|pl| pl.limit.window.bounds(pl.limit.window.id_at(m.now)).1)
            .min()
            .unwrap_or(0);
        let u = Update {
            units,
            tail,
            remaining,
            expires_us,
        };
        // The answer's time may be later than the request's; a lease is judged at the request's.
        let now = m.now;
        if let Err(e) = lease::update(&p.store, host, key, now, &u, p.config.max_attempts) {
            log::debug!("quota: lease not updated: {e}");
            p.bump(host, M::StoreErrors, 1);
        }
    }

    /// Header-field views from an answer (the filter's own window ends where it gave none).
    fn answer_views(&self, m: &Metering, answer: &Answer) -> Vec<View> {
        let Some(plan) = self.plugin.config.plans.get(m.plan) else {
            return Vec::new();
        };
        plan.limits
            .iter()
            .enumerate()
            .map(|(i, pl)| {
                let status = answer.statuses.get(i);
                View {
                    remaining: status.map_or(0, |s| s.remaining).min(pl.limit.quota),
                    reset_us: status
                        .and_then(|s| s.reset_us)
                        .unwrap_or_else(|| window_reset(&pl.limit, m.now)),
                }
            })
            .collect()
    }

    /// Microseconds until a request refused by limit `index` could be admitted; 0 if never.
    fn retry_after(&self, m: &Metering, index: usize, views: &[View]) -> u64 {
        let quota = self
            .plugin
            .config
            .plans
            .get(m.plan)
            .and_then(|p| p.limits.get(index))
            .map_or(0, |pl| pl.limit.quota);
        if m.cost > quota {
            return 0;
        }
        views.get(index).map_or(0, |v| v.reset_us.max(1))
    }

    /// The call for `step` failed: follow `on_error`, except for a refill ahead of need, whose
    /// request was admitted from the lease already.
    fn failed(&mut self, host: &mut dyn Host, m: Metering, step: Step, reason: &str) -> Decision {
        let plugin = std::rc::Rc::clone(&self.plugin);
        let p = &*plugin;
        let Some(g) = p.config.global.as_ref() else {
            return Decision::Continue;
        };
        p.bump(host, M::GlobalFailures, 1);
        if step == Step::Prefetch {
            return Decision::Continue;
        }
        log::debug!(
            "quota: global check failed ({reason}); on_error {:?}",
            g.on_error
        );
        match g.on_error {
            GlobalOnError::Allow => {
                p.bump(host, M::GlobalFailureAllowed, 1);
                Decision::Continue
            }
            GlobalOnError::Deny => {
                p.bump(host, M::GlobalFailureDenied, 1);
                Decision::Respond(reply::unavailable())
            }
            GlobalOnError::Local => {
                p.bump(host, M::GlobalFailureLocal, 1);
                let limits = g.local_limits.get(m.plan).map(Vec::as_slice);
                self.admit_local(host, &m, limits)
            }
        }
    }
}

/// Microseconds from `now` to the end of `limit`'s current window.
fn window_reset(limit: &crate::limit::Limit, now: u64) -> u64 {
    let (_, end) = limit.window.bounds(limit.window.id_at(now));
    end.saturating_sub(now)
}
