//! Admission against several limits at once, on top of a [`CounterStore`].
//!
//! Every counter is updated by read-modify-write: load the value and its version, compute the
//! next counter, replace it only if the version is unchanged, and on a conflict re-read and
//! re-decide, at most `max_attempts` times. A missing key is first created empty (see
//! `store.rs`) and re-read. A value that does not decode is treated as an empty counter and
//! replaced under its version; the reset is counted when the replacement lands.
//!
//! # Check all, then charge
//!
//! A request with several limits (10 per second and 1,000 per hour) is decided in two phases:
//! 1. **Check**: read every counter and check the cost against each. If any limit refuses, the
//!    request is refused and nothing is written.
//! 2. **Charge**: charge the limits one by one, in configuration order, each with its own CAS
//!    loop that re-checks the limit against the value it replaces.
//!
//! Under contention another request may take the last unit of limit *k* between the two
//! phases. Then limit *k* refuses in phase 2, and the charges already made to limits before *k*
//! are refunded (each with its own CAS loop) before the request is refused. Consequences:
//! - No limit ever admits more than its quota: every charge is a CAS from the state it was checked
//!   against, so exactly `limit` units are admitted per window however requests interleave.
//! - A refused request leaves no charge once its refund is written. Between its charge and its
//!   refund, a concurrent request may see that limit fuller than it ends up and be refused too
//!   (a brief under-admission, never an over-admission). A refund that exhausts its retries
//!   leaves the charge in place (over-counting, counted in `quota_rollback_failures`).
//!
//! Store failures (a host error, or retries exhausted) follow the configured [`OnError`]: admit
//! (keeping charges already written) or refuse (refunding them). In shadow mode nothing is
//! refused: every limit is charged whatever it says and the would-be refusal is reported.

use crate::codec;
use crate::limit::{Counter, Limit, Verdict, View};
use crate::store::{CounterStore, StoreError};
use filter_core::Host;

/// What to do when the store fails or retries run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Let the request through (default).
    #[default]
    Admit,
    /// Refuse it with 503.
    Refuse,
}

/// One limit a request is checked against.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// Store key of the counter.
    pub key: String,
    /// The limit.
    pub limit: &'a Limit,
    /// Units to check (and to charge, if `charge`).
    pub cost: u64,
    /// Whether to charge `cost` now; false for limits charged after the response, which only
    /// need room for `cost`.
    pub charge: bool,
}

/// Counts of store events during one or more operations; the filter turns them into metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// CAS conflicts (each one retried).
    pub conflicts: u64,
    /// Operations that ran out of attempts.
    pub exhausted: u64,
    /// Store errors.
    pub errors: u64,
    /// Corrupt values replaced by a reset.
    pub corrupt_resets: u64,
    /// Creates that found the key created by someone else.
    pub create_races: u64,
    /// Requests refused in the charge phase whose earlier charges were refunded.
    pub rollbacks: u64,
    /// Refunds that could not be written.
    pub rollback_failures: u64,
}

/// The decision for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted and charged. `views[i]` describes item `i` after the charge.
    Admitted {
        /// Per item.
        views: Vec<View>,
        /// In shadow mode: the item that would have refused.
        shadow_refused: Option<usize>,
    },
    /// Refused by item `index`; nothing is left charged.
    Refused {
        /// The refusing item (the one that frees up last).
        index: usize,
        /// Microseconds until the request could be admitted; 0 if it never can.
        retry_after_us: u64,
        /// Per item, as seen when refusing.
        views: Vec<View>,
    },
    /// The store failed; `admitted` tells what the configured failure mode chose.
    Failed {
        /// Whether the request goes on.
        admitted: bool,
    },
}

/// Why an operation gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fail {
    Exhausted,
    Store(StoreError),
}

struct Snap {
    counter: Counter,
    version: u32,
    corrupt: bool,
}

/// Runs admissions and post-charges against a store.
pub struct Engine<'s> {
    store: &'s dyn CounterStore,
    max_attempts: u32,
    on_error: OnError,
    /// Store events so far.
    pub stats: Stats,
}

impl<'s> Engine<'s> {
    /// An engine over `store` making at most `max_attempts` attempts per counter update.
    pub fn new(store: &'s dyn CounterStore, max_attempts: u32, on_error: OnError) -> Self {
        Self {
            store,
            max_attempts: max_attempts.max(1),
            on_error,
            stats: Stats::default(),
        }
    }

    /// Decides a request against `items` at `now_us` (see the module docs).
    pub fn admit(
        &mut self,
        host: &mut dyn Host,
        now_us: u64,
        items: &[Item],
        shadow: bool,
    ) -> Outcome {
        // Phase 1: check every limit against what is stored now.
        let mut snaps = Vec::with_capacity(items.len());
        for item in items {
            match self.snapshot(host, &item.key, item.limit) {
                Ok(snap) => snaps.push(snap),
                Err(fail) => return self.fail(host, fail, &[], items, shadow),
            }
        }
        let mut views = Vec::with_capacity(items.len());
        let mut refusal: Option<(usize, u64)> = None;
        for (i, (item, snap)) in items.iter().zip(&snaps).enumerate() {
            match item.limit.check(snap.counter, now_us, item.cost) {
                Verdict::Admit { view, .. } if item.charge => views.push(view),
                Verdict::Admit { .. } => views.push(item.limit.usage(snap.counter, now_us).1),
                Verdict::Refuse {
                    retry_after_us,
                    view,
                } => {
                    views.push(view);
                    if later(retry_after_us, refusal.map(|r| r.1)) {
                        refusal = Some((i, retry_after_us));
                    }
                }
            }
        }
        // How each limit stands before any charge (what a refusal reports for the others).
        let uncharged: Vec<View> = items
            .iter()
            .zip(&snaps)
            .map(|(item, snap)| item.limit.usage(snap.counter, now_us).1)
            .collect();
        if let (Some((index, retry_after_us)), false) = (refusal, shadow) {
            let mut standing = uncharged;
            if let (Some(slot), Some(view)) = (standing.get_mut(index), views.get(index)) {
                *slot = *view;
            }
            return Outcome::Refused {
                index,
                retry_after_us,
                views: standing,
            };
        }
        // Phase 2: charge, re-checking each limit against the value its CAS replaces.
        let mut charged: Vec<(usize, Counter)> = Vec::new();
        for (i, (item, snap)) in items.iter().zip(snaps).enumerate() {
            if !item.charge {
                continue;
            }
            let mut last = None;
            let result = self.update(host, &item.key, item.limit, snap, |counter| {
                if shadow {
                    let (next, view) = item.limit.force(counter, now_us, item.cost);
                    last = Some(Verdict::Admit { next, view });
                    return Some(next);
                }
                let verdict = item.limit.check(counter, now_us, item.cost);
                last = Some(verdict);
                match verdict {
                    Verdict::Admit { next, .. } => Some(next),
                    Verdict::Refuse { .. } => None,
                }
            });
            match (result, last) {
                (Ok(Some(next)), Some(Verdict::Admit { view, .. })) => {
                    if let Some(slot) = views.get_mut(i) {
                        *slot = view;
                    }
                    charged.push((i, next));
                }
                (
                    Ok(_),
                    Some(Verdict::Refuse {
                        retry_after_us,
                        view,
                    }),
                ) => {
                    let mut standing = uncharged;
                    if let Some(slot) = standing.get_mut(i) {
                        *slot = view;
                    }
                    self.stats.rollbacks += 1;
                    self.refund(host, items, &charged);
                    return Outcome::Refused {
                        index: i,
                        retry_after_us,
                        views: standing,
                    };
                }
                (Ok(_), _) => return self.fail(host, Fail::Exhausted, &charged, items, shadow),
                (Err(fail), _) => return self.fail(host, fail, &charged, items, shadow),
            }
        }
        Outcome::Admitted {
            views,
            shadow_refused: refusal.map(|r| r.0),
        }
    }

    /// Charges `cost` to one counter whatever its limit says (charging after the response).
    /// Returns the limit's view after the charge, or `None` if the store failed.
    pub fn charge(
        &mut self,
        host: &mut dyn Host,
        now_us: u64,
        key: &str,
        limit: &Limit,
        cost: u64,
    ) -> Option<View> {
        let snap = self.snapshot(host, key, limit).ok()?;
        let mut view = None;
        let written = self.update(host, key, limit, snap, |counter| {
            let (next, v) = limit.force(counter, now_us, cost);
            view = Some(v);
            Some(next)
        });
        match written {
            Ok(Some(_)) => view,
            _ => None,
        }
    }

    /// Creates a counter if it is missing (pre-creating known keys at configure time). Returns
    /// whether it exists afterwards.
    pub fn ensure(&mut self, host: &mut dyn Host, key: &str, limit: &Limit) -> bool {
        self.snapshot(host, key, limit).is_ok()
    }

    /// Reads one counter without creating it (usage reports). `None` if missing or unreadable.
    pub fn peek(&mut self, host: &mut dyn Host, key: &str, limit: &Limit) -> Option<Counter> {
        let stored = self.store.load(host, key).ok()??;
        codec::decode(&stored.data).filter(|c| limit.accepts(c))
    }

    fn fail(
        &mut self,
        host: &mut dyn Host,
        fail: Fail,
        charged: &[(usize, Counter)],
        items: &[Item],
        shadow: bool,
    ) -> Outcome {
        if let Fail::Store(e) = fail {
            log::warn!("quota: {e}");
            self.stats.errors += 1;
        }
        let admitted = shadow || self.on_error == OnError::Admit;
        if !admitted {
            self.refund(host, items, charged);
        }
        Outcome::Failed { admitted }
    }

    fn refund(&mut self, host: &mut dyn Host, items: &[Item], charged: &[(usize, Counter)]) {
        for &(i, written) in charged {
            let Some(item) = items.get(i) else { continue };
            let done = self.snapshot(host, &item.key, item.limit).and_then(|snap| {
                self.update(host, &item.key, item.limit, snap, |now| {
                    Some(item.limit.refund(now, written, item.cost))
                })
            });
            if !matches!(done, Ok(Some(_))) {
                self.stats.rollback_failures += 1;
            }
        }
    }

    /// Loads a counter, creating it empty if missing.
    fn snapshot(&mut self, host: &mut dyn Host, key: &str, limit: &Limit) -> Result<Snap, Fail> {
        for _ in 0..self.max_attempts {
            match self.store.load(host, key).map_err(Fail::Store)? {
                Some(stored) => {
                    let decoded = codec::decode(&stored.data).filter(|c| limit.accepts(c));
                    return Ok(Snap {
                        counter: decoded.unwrap_or_else(|| limit.empty()),
                        version: stored.version,
                        corrupt: decoded.is_none(),
                    });
                }
                None => {
                    let empty = codec::encode(&limit.empty());
                    if !self.store.create(host, key, &empty).map_err(Fail::Store)? {
                        self.stats.create_races += 1;
                    }
                }
            }
        }
        self.stats.exhausted += 1;
        Err(Fail::Exhausted)
    }

    /// The CAS loop: `next` maps the stored counter to the one to write, or `None` to stop
    /// without writing. Returns what was written.
    fn update(
        &mut self,
        host: &mut dyn Host,
        key: &str,
        limit: &Limit,
        mut snap: Snap,
        mut next: impl FnMut(Counter) -> Option<Counter>,
    ) -> Result<Option<Counter>, Fail> {
        for attempt in 1..=self.max_attempts {
            let Some(counter) = next(snap.counter) else {
                return Ok(None);
            };
            let value = codec::encode(&counter);
            if self
                .store
                .replace(host, key, &value, snap.version)
                .map_err(Fail::Store)?
            {
                if snap.corrupt {
                    self.stats.corrupt_resets += 1;
                }
                return Ok(Some(counter));
            }
            self.stats.conflicts += 1;
            if attempt < self.max_attempts {
                snap = self.snapshot(host, key, limit)?;
            }
        }
        self.stats.exhausted += 1;
        Err(Fail::Exhausted)
    }
}

/// Whether a refusal that frees up after `a` is later than one after `b` (0 means never).
fn later(a: u64, b: Option<u64>) -> bool {
    match b {
        None => true,
        Some(0) => false,
        Some(b) => a == 0 || a > b,
    }
}

#[cfg(test)]
mod tests;
