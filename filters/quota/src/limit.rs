//! One limit and its algorithm: fixed window, sliding window or GCRA, as pure functions from a
//! stored counter, the time and a cost to a verdict and the next counter.
//!
//! Boundaries (all pinned by the tests below; times in microseconds):
//! - **Fixed window**: `count + cost <= limit` admits; the count restarts at 0 at the first
//!   microsecond of the next window (`Window::bounds`).
//! - **Sliding window** (two-window weighted approximation, as Cloudflare and Kong do): the used
//!   amount is `current + ceil(previous * (end - now) / length)`, the previous window's count
//!   weighted by the share of the sliding window that still overlaps it. Rounding up never admits
//!   more than an exact sliding log would under a uniform previous window.
//! - **GCRA** (a token bucket of `burst` tokens refilled at `limit` per window): each unit moves
//!   the theoretical arrival time (TAT) by the emission interval `ceil(window / limit)`; a request
//!   is admitted when `max(TAT, now) + cost * interval <= now + burst * interval`.
//!
//! Clock rewinds: a stored window id larger than the current one is kept (the count goes on in the
//! later window), and a stored TAT in the future only makes GCRA stricter, so a clock that jumps
//! back never grants extra calls. All arithmetic saturates.

use crate::window::Window;

/// The algorithm of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Count per window, restarting at each boundary.
    FixedWindow,
    /// Weighted current and previous window.
    SlidingWindow,
    /// Generic cell rate algorithm with a bucket of `burst` units.
    Gcra {
        /// Bucket capacity (units admitted at once when idle).
        burst: u64,
    },
}

impl Algorithm {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::FixedWindow => "fixed_window",
            Algorithm::SlidingWindow => "sliding_window",
            Algorithm::Gcra { .. } => "gcra",
        }
    }
}

/// A limit: at most `quota` units per `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Name, unique in its plan (`per-minute`).
    pub name: String,
    /// Units per window.
    pub quota: u64,
    /// The window.
    pub window: Window,
    /// The algorithm.
    pub algorithm: Algorithm,
}

/// A stored counter, decoded (see `codec.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Fixed and sliding windows: the window id, its count and the previous window's count.
    Window {
        /// Window id (`Window::id_at`).
        id: u64,
        /// Units charged in window `id`.
        count: u64,
        /// Units charged in window `id - 1` (sliding window only).
        prev: u64,
    },
    /// GCRA: the theoretical arrival time in microseconds.
    Gcra {
        /// Theoretical arrival time.
        tat: u64,
    },
}

/// What clients are told about a limit (for the rate-limit header fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Units left now.
    pub remaining: u64,
    /// Microseconds until the quota is fully restored (fixed and sliding: end of the window).
    pub reset_us: u64,
}

/// The outcome of checking a cost against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted: store `next`.
    Admit {
        /// The counter after charging the cost.
        next: Counter,
        /// The limit as seen after the charge.
        view: View,
    },
    /// Refused; nothing to store.
    Refuse {
        /// Microseconds until the same cost could be admitted (0 if it never can).
        retry_after_us: u64,
        /// The limit as seen now.
        view: View,
    },
}

// === impl Limit ===

impl Limit {
    /// The counter of a limit nobody has charged yet.
    pub fn empty(&self) -> Counter {
        match self.algorithm {
            Algorithm::Gcra { .. } => Counter::Gcra { tat: 0 },
            _ => Counter::Window {
                id: 0,
                count: 0,
                prev: 0,
            },
        }
    }

    /// GCRA emission interval: microseconds per unit, rounded up, at least 1.
    pub fn interval_us(&self) -> u64 {
        self.window.nominal_us().div_ceil(self.quota.max(1)).max(1)
    }

    /// Whether `counter` has the shape this limit stores.
    pub fn accepts(&self, counter: &Counter) -> bool {
        matches!(
            (self.algorithm, counter),
            (Algorithm::Gcra { .. }, Counter::Gcra { .. })
                | (
                    Algorithm::FixedWindow | Algorithm::SlidingWindow,
                    Counter::Window { .. }
                )
        )
    }

    /// Rolls a window counter forward to the window of `now_us` (never backward): returns
    /// `(id, count, prev)` for the effective window.
    fn roll(&self, counter: Counter, now_us: u64) -> (u64, u64, u64) {
        let now_id = self.window.id_at(now_us);
        let (id, count, prev) = match counter {
            Counter::Window { id, count, prev } => (id, count, prev),
            Counter::Gcra { .. } => (0, 0, 0),
        };
        if id >= now_id {
            (id, count, prev)
        } else if id.saturating_add(1) == now_id {
            (now_id, 0, count)
        } else {
            (now_id, 0, 0)
        }
    }

    /// Units used in the effective window, and the window's bounds.
    fn used(&self, id: u64, count: u64, prev: u64, now_us: u64) -> (u64, (u64, u64)) {
        let bounds = self.window.bounds(id);
        let used = match self.algorithm {
            Algorithm::SlidingWindow => count.saturating_add(weighted(prev, bounds, now_us)),
            _ => count,
        };
        (used, bounds)
    }

    /// Checks `cost` against the counter at `now_us`.
    pub fn check(&self, counter: Counter, now_us: u64, cost: u64) -> Verdict {
        if let Algorithm::Gcra { burst } = self.algorithm {
            return self.check_gcra(counter, now_us, cost, burst);
        }
        let (id, count, prev) = self.roll(counter, now_us);
        let (used, (start, end)) = self.used(id, count, prev, now_us);
        let reset_us = end.saturating_sub(now_us);
        let after = used.saturating_add(cost);
        if after <= self.quota {
            let next = Counter::Window {
                id,
                count: count.saturating_add(cost),
                prev,
            };
            let view = View {
                remaining: self.quota - after,
                reset_us,
            };
            return Verdict::Admit { next, view };
        }
        let view = View {
            remaining: self.quota.saturating_sub(used),
            reset_us,
        };
        let retry_after_us = match self.algorithm {
            Algorithm::SlidingWindow => self.sliding_retry(count, prev, (start, end), now_us, cost),
            _ if cost > self.quota => 0,
            _ => reset_us,
        };
        Verdict::Refuse {
            retry_after_us,
            view,
        }
    }

    /// When the weighted previous count has decayed enough for `cost` (or, if the current window
    /// alone is too full, when the next window would admit it).
    fn sliding_retry(
        &self,
        count: u64,
        prev: u64,
        (start, end): (u64, u64),
        now: u64,
        cost: u64,
    ) -> u64 {
        if cost > self.quota {
            return 0;
        }
        let len = end.saturating_sub(start).max(1);
        let (room, prev, end) = match (self.quota - cost).checked_sub(count) {
            Some(room) => (room, prev, end),
            // Next window: the current count becomes the previous one.
            None => (self.quota - cost, count, end.saturating_add(len)),
        };
        if prev == 0 {
            return end.saturating_sub(now).max(1);
        }
        // Admitted once ceil(prev * (end - t) / len) <= room, i.e. end - t <= room * len / prev.
        let span = (u128::from(room) * u128::from(len) / u128::from(prev)).min(u128::from(len));
        end.saturating_sub(span as u64).saturating_sub(now).max(1)
    }

    fn check_gcra(&self, counter: Counter, now_us: u64, cost: u64, burst: u64) -> Verdict {
        let interval = self.interval_us();
        let stored = match counter {
            Counter::Gcra { tat } => tat,
            Counter::Window { .. } => 0,
        };
        let tat = stored.max(now_us);
        let capacity = burst.saturating_mul(interval);
        let horizon = now_us.saturating_add(capacity);
        let new_tat = tat.saturating_add(cost.saturating_mul(interval));
        if new_tat <= horizon {
            let view = View {
                remaining: (horizon - new_tat) / interval,
                reset_us: new_tat - now_us,
            };
            let next = Counter::Gcra { tat: new_tat };
            return Verdict::Admit { next, view };
        }
        let view = View {
            remaining: horizon.saturating_sub(tat) / interval,
            reset_us: tat - now_us,
        };
        let retry_after_us = if cost > burst {
            0
        } else {
            new_tat.saturating_sub(capacity).saturating_sub(now_us)
        };
        Verdict::Refuse {
            retry_after_us,
            view,
        }
    }

    /// Charges `cost` whatever the limit says (post-charging and shadow mode); saturates.
    pub fn force(&self, counter: Counter, now_us: u64, cost: u64) -> (Counter, View) {
        match self.check(counter, now_us, cost) {
            Verdict::Admit { next, view } => (next, view),
            Verdict::Refuse { view, .. } => {
                let next = match self.algorithm {
                    Algorithm::Gcra { .. } => {
                        let tat = match counter {
                            Counter::Gcra { tat } => tat,
                            Counter::Window { .. } => 0,
                        };
                        let charge = cost.saturating_mul(self.interval_us());
                        Counter::Gcra {
                            tat: tat.max(now_us).saturating_add(charge),
                        }
                    }
                    _ => {
                        let (id, count, prev) = self.roll(counter, now_us);
                        Counter::Window {
                            id,
                            count: count.saturating_add(cost),
                            prev,
                        }
                    }
                };
                (
                    next,
                    View {
                        remaining: 0,
                        ..view
                    },
                )
            }
        }
    }

    /// Takes back `cost` charged into `charged` (the counter this request stored) from the
    /// counter now stored. A window counter refunds the window the charge went to, if it is still
    /// the current or previous one; GCRA moves the TAT back. Never below zero.
    pub fn refund(&self, now: Counter, charged: Counter, cost: u64) -> Counter {
        match (now, charged) {
            (Counter::Gcra { tat }, _) => Counter::Gcra {
                tat: tat.saturating_sub(cost.saturating_mul(self.interval_us())),
            },
            (Counter::Window { id, count, prev }, Counter::Window { id: at, .. }) => {
                if id == at {
                    Counter::Window {
                        id,
                        count: count.saturating_sub(cost),
                        prev,
                    }
                } else if id == at.saturating_add(1) {
                    Counter::Window {
                        id,
                        count,
                        prev: prev.saturating_sub(cost),
                    }
                } else {
                    now
                }
            }
            (now, Counter::Gcra { .. }) => now,
        }
    }

    /// The limit as seen at `now_us` without charging (usage reports): units used and the view.
    pub fn usage(&self, counter: Counter, now_us: u64) -> (u64, View) {
        if let Algorithm::Gcra { burst } = self.algorithm {
            let tat = match counter {
                Counter::Gcra { tat } => tat.max(now_us),
                Counter::Window { .. } => now_us,
            };
            let used = (tat - now_us).div_ceil(self.interval_us());
            let view = View {
                remaining: burst.saturating_sub(used),
                reset_us: tat - now_us,
            };
            return (used, view);
        }
        let (id, count, prev) = self.roll(counter, now_us);
        let (used, (_, end)) = self.used(id, count, prev, now_us);
        let view = View {
            remaining: self.quota.saturating_sub(used),
            reset_us: end.saturating_sub(now_us),
        };
        (used, view)
    }
}

/// `ceil(prev * (end - now) / (end - start))`, with `now` clamped into the window.
fn weighted(prev: u64, (start, end): (u64, u64), now_us: u64) -> u64 {
    let len = end.saturating_sub(start).max(1);
    let left = end.saturating_sub(now_us.clamp(start, end));
    let w = (u128::from(prev) * u128::from(left)).div_ceil(u128::from(len));
    u64::try_from(w).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
