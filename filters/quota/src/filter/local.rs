//! The stream's steps with this instance's counters: admit or refuse a metered request
//! against the plan's limits (or the global store's `on_error: local` fallback), and record what
//! the response phase needs; the 429 and the header-field views of a plan.

use std::rc::Rc;

use filter_core::{Decision, Host};

use super::{window_secs, Metered, Metering, QuotaStream};
use crate::admission::{Item, Outcome};
use crate::config::{ChargeAt, Config};
use crate::key::counter_key;
use crate::limit::{Algorithm, Limit, View};
use crate::metrics::{refused_name, usage_name, M};
use crate::reply::{self, Shown};

impl QuotaStream {
    pub(super) fn shown<'a>(
        config: &'a Config,
        plan: usize,
        views: &[View],
        now: u64,
    ) -> Vec<Shown<'a>> {
        let Some(plan) = config.plans.get(plan) else {
            return Vec::new();
        };
        plan.limits
            .iter()
            .zip(views)
            .map(|(pl, view)| {
                let l = &pl.limit;
                // A bucket advertises its size and the time to refill it, so that r <= q.
                let (quota, window_secs) = match l.algorithm {
                    Algorithm::Gcra { burst } => {
                        (burst, reply::secs(burst.saturating_mul(l.interval_us())))
                    }
                    _ => (l.quota, window_secs(l, now)),
                };
                Shown {
                    limit: l,
                    view: *view,
                    quota,
                    window_secs,
                }
            })
            .collect()
    }

    /// Admits or refuses a request against this instance's counters: the configured limits, or
    /// `fallback` limits (the global store's `on_error: local`) under keys of their own.
    pub(crate) fn admit_local(
        &mut self,
        host: &mut dyn Host,
        m: &Metering,
        fallback: Option<&[Limit]>,
    ) -> Decision {
        let plugin = Rc::clone(&self.plugin);
        let p = &*plugin;
        let c = &p.config;
        let Some(plan) = c.plans.get(m.plan) else {
            return Decision::Continue;
        };
        let cost = m.cost;
        let items: Vec<Item> = plan
            .limits
            .iter()
            .enumerate()
            .map(|(i, pl)| {
                let at_request = pl.charge == ChargeAt::Request;
                let limit = fallback.and_then(|f| f.get(i)).unwrap_or(&pl.limit);
                let mut key = counter_key(&plan.name, limit, &m.scope, &m.subject);
                if fallback.is_some() {
                    key.insert_str(0, "local/");
                }
                Item {
                    key,
                    limit,
                    // Limits charged after the response only need one unit left.
                    cost: if at_request { cost } else { 1 },
                    charge: at_request && cost > 0,
                }
            })
            .collect();
        let mut engine = p.engine();
        let outcome = engine.admit(host, m.now, &items, c.shadow);
        p.record(host, &engine.stats);
        match outcome {
            Outcome::Admitted {
                views,
                shadow_refused,
            } => {
                if let Some(i) = shadow_refused {
                    p.bump(host, M::ShadowRefused, 1);
                    if let Some(item) = items.get(i) {
                        let name = refused_name(&m.label, &plan.name, &item.limit.name);
                        p.bump_named(host, name, 1);
                    }
                }
                let charged: Vec<bool> = items.iter().map(|i| i.charge).collect();
                self.admitted(host, m, &charged, views);
                self.metered_keys(items.into_iter().map(|i| i.key).collect());
                Decision::Continue
            }
            Outcome::Refused {
                index,
                retry_after_us,
                views,
            } => self.refused(host, m, index, retry_after_us, &views),
            Outcome::Failed { admitted: true } => {
                p.bump(host, M::FailureAdmitted, 1);
                Decision::Continue
            }
            Outcome::Failed { admitted: false } => {
                p.bump(host, M::FailureRefused, 1);
                Decision::Respond(reply::unavailable())
            }
        }
    }

    /// Records an admitted request: metrics, and what the response phase needs. `charged[i]`
    /// says whether limit `i` was charged the cost.
    pub(crate) fn admitted(
        &mut self,
        host: &mut dyn Host,
        m: &Metering,
        charged: &[bool],
        views: Vec<View>,
    ) {
        let p = &*self.plugin;
        p.bump(host, M::Admitted, 1);
        if let Some(plan) = p.config.plans.get(m.plan) {
            for (pl, _) in plan.limits.iter().zip(charged).filter(|(_, c)| **c) {
                p.bump_named(
                    host,
                    usage_name(&m.label, &plan.name, &pl.limit.name),
                    m.cost,
                );
            }
        }
        self.metered = Some(Metered {
            plan: m.plan,
            label: m.label.clone(),
            keys: Vec::new(),
            views,
            at: m.now,
        });
    }

    fn metered_keys(&mut self, keys: Vec<String>) {
        if let Some(metered) = &mut self.metered {
            metered.keys = keys;
        }
    }

    /// The 429 for a request refused by limit `index`.
    pub(crate) fn refused(
        &mut self,
        host: &mut dyn Host,
        m: &Metering,
        index: usize,
        retry_after_us: u64,
        views: &[View],
    ) -> Decision {
        let p = &*self.plugin;
        let c = &p.config;
        let Some(plan) = c.plans.get(m.plan) else {
            return Decision::Continue;
        };
        p.bump(host, M::Refused, 1);
        if let Some(pl) = plan.limits.get(index) {
            p.bump_named(host, refused_name(&m.label, &plan.name, &pl.limit.name), 1);
        }
        let shown = Self::shown(c, m.plan, views, m.now);
        Decision::Respond(reply::refusal(
            &c.headers,
            &plan.name,
            &shown,
            index,
            retry_after_us,
            m.cost,
        ))
    }
}
