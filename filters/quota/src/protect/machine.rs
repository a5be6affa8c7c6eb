//! The protection state of one partition (an API, or an API and version or consumer) as pure
//! logic: values in, decision out, the time a parameter. [`State::admit`] decides whether a
//! request may go to the upstream and takes a slot; [`State::release`] gives the slot back with
//! what became of the request. Both say which breaker transition they made, if any.
//!
//! Breaker phases:
//!
//! - **closed**: requests pass (up to `max_in_flight`). Each outcome updates the consecutive
//!   failure count and the sliding window; `consecutive_failures` failures in a row, or a failure
//!   rate of at least `percent` over at least `min_requests` outcomes in the window, open it.
//! - **open** until `until_us`: every request is shed with `Retry-After` the time left.
//! - **half-open**: the first request at or after `until_us` moves the breaker here; at most
//!   `probes` requests are in flight at once, the others are shed. `close_after` successful
//!   probes close it; one failed probe opens it again for a new cool-down.
//!
//! Every transition increments `generation`. A ticket remembers the generation it was admitted
//! in: an outcome only counts in the phase its request was admitted in (a slow success admitted
//! while closed does not close a half-open breaker, a late failure does not reopen a breaker that
//! closed since), while the in-flight slot is always given back. The in-flight count saturates
//! at 0, so a duplicate release (which the filter never makes) could never make it negative.

/// Number of buckets the failure-rate window is divided into.
pub const BUCKETS: usize = 10;

/// One microsecond-resolution second.
const SECOND_US: u64 = 1_000_000;

/// The failure-rate trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Opens at a failure rate of at least this many percent (1 to 100).
    pub percent: u8,
    /// Needs at least this many outcomes in the window.
    pub min_requests: u32,
    /// Window length in microseconds (a multiple of [`BUCKETS`]).
    pub window_us: u64,
}

impl Rate {
    /// Length of one bucket (at least 1 µs).
    pub fn bucket_us(&self) -> u64 {
        (self.window_us / BUCKETS as u64).max(1)
    }
}

/// The breaker's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaker {
    /// Opens after this many failures in a row.
    pub consecutive: Option<u32>,
    /// Opens on a failure rate.
    pub rate: Option<Rate>,
    /// Time open before probing, in microseconds.
    pub cool_down_us: u64,
    /// Probes in flight at once while half-open (at least 1).
    pub probes: u32,
    /// Successful probes that close it (at least 1).
    pub close_after: u32,
}

/// What protects one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Most requests in flight at once.
    pub max_in_flight: Option<u32>,
    /// The circuit breaker.
    pub breaker: Option<Breaker>,
}

/// The breaker's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Requests pass.
    #[default]
    Closed,
    /// Requests are shed until `until_us`.
    Open {
        /// End of the cool-down (µs since the epoch).
        until_us: u64,
    },
    /// A bounded number of probes pass.
    HalfOpen,
}

/// Outcomes counted in one slice of the failure-rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bucket {
    /// `now / bucket_us` of the slice these counts belong to.
    pub id: u64,
    /// Outcomes.
    pub total: u32,
    /// Failures among them.
    pub failures: u32,
}

/// The state of one partition, as stored in shared data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Breaker phase.
    pub phase: Phase,
    /// Incremented (wrapping) at every transition.
    pub generation: u32,
    /// Requests admitted and not yet released.
    pub in_flight: u32,
    /// Probes admitted in this half-open phase and not yet released.
    pub probes: u32,
    /// Successful probes in this half-open phase.
    pub successes: u32,
    /// Failures in a row while closed.
    pub consecutive: u32,
    /// The failure-rate window while closed.
    pub buckets: [Bucket; BUCKETS],
}

/// An admitted request's claim, given back by [`State::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The generation it was admitted in.
    pub generation: u32,
    /// Whether it is a half-open probe.
    pub probe: bool,
}

/// Why a request was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The breaker is open.
    Open,
    /// The breaker is half-open and its probes are all in flight.
    HalfOpen,
    /// `max_in_flight` requests are in flight.
    Concurrency,
}

impl ShedReason {
    /// The name used in problem bodies and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "circuit_open",
            Self::HalfOpen => "circuit_half_open",
            Self::Concurrency => "concurrency_limit",
        }
    }
}

/// A shed request: why, and when trying again may help (µs, at least 1 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// Why.
    pub reason: ShedReason,
    /// Time until a retry may be admitted.
    pub retry_after_us: u64,
}

/// The decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Go on; give the ticket back with [`State::release`].
    Admitted(Ticket),
    /// Answer 503.
    Shed(Shed),
}

/// What became of an admitted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The upstream answered with a status that is not a failure.
    Success,
    /// A failure status, an upstream reset or a timeout.
    Failure,
    /// Nothing learnt about the upstream: the client went away, or a filter answered locally.
    Neutral,
}

/// A breaker transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Closed to open.
    Opened,
    /// Open to half-open (the cool-down ended).
    HalfOpened,
    /// Half-open to closed.
    Closed,
    /// Half-open to open (a probe failed).
    Reopened,
}

impl State {
    /// Decides on a request arriving at `now_us`; an admitted request holds a slot until
    /// [`State::release`].
    pub fn admit(&mut self, policy: &Policy, now_us: u64) -> (Admit, Option<Transition>) {
        let mut transition = None;
        if let (Some(b), Phase::Open { until_us }) = (&policy.breaker, self.phase) {
            // A clock moved back never keeps it open longer than one cool-down.
            let until_us = until_us.min(now_us.saturating_add(b.cool_down_us));
            if now_us < until_us {
                return (
                    Admit::Shed(Shed {
                        reason: ShedReason::Open,
                        retry_after_us: (until_us - now_us).max(SECOND_US),
                    }),
                    None,
                );
            }
            self.enter(Phase::HalfOpen);
            transition = Some(Transition::HalfOpened);
        }
        if policy.breaker.is_none() && self.phase != Phase::Closed {
            // The breaker was configured away: forget it.
            self.enter(Phase::Closed);
        }
        let probe = self.phase == Phase::HalfOpen;
        if let (true, Some(b)) = (probe, &policy.breaker) {
            if self.probes >= b.probes {
                let shed = Shed {
                    reason: ShedReason::HalfOpen,
                    retry_after_us: SECOND_US,
                };
                return (Admit::Shed(shed), transition);
            }
        }
        if let Some(max) = policy.max_in_flight {
            if self.in_flight >= max {
                let shed = Shed {
                    reason: ShedReason::Concurrency,
                    retry_after_us: SECOND_US,
                };
                return (Admit::Shed(shed), transition);
            }
        }
        self.in_flight = self.in_flight.saturating_add(1);
        if probe {
            self.probes = self.probes.saturating_add(1);
        }
        let ticket = Ticket {
            generation: self.generation,
            probe,
        };
        (Admit::Admitted(ticket), transition)
    }

    /// Gives back the slot of `ticket` with the request's outcome, at `now_us`.
    pub fn release(
        &mut self,
        policy: &Policy,
        ticket: Ticket,
        outcome: Outcome,
        now_us: u64,
    ) -> Option<Transition> {
        self.in_flight = self.in_flight.saturating_sub(1);
        let current = ticket.generation == self.generation;
        if !current {
            return None;
        }
        let b = policy.breaker.as_ref()?;
        match self.phase {
            Phase::HalfOpen if ticket.probe => {
                self.probes = self.probes.saturating_sub(1);
                match outcome {
                    Outcome::Neutral => None,
                    Outcome::Success => {
                        self.successes = self.successes.saturating_add(1);
                        if self.successes >= b.close_after {
                            self.enter(Phase::Closed);
                            return Some(Transition::Closed);
                        }
                        None
                    }
                    Outcome::Failure => {
                        self.enter(Phase::Open {
                            until_us: now_us.saturating_add(b.cool_down_us),
                        });
                        Some(Transition::Reopened)
                    }
                }
            }
            Phase::Closed if !ticket.probe => {
                let failed = match outcome {
                    Outcome::Neutral => return None,
                    Outcome::Success => false,
                    Outcome::Failure => true,
                };
                self.consecutive = if failed {
                    self.consecutive.saturating_add(1)
                } else {
                    0
                };
                let mut trips = b.consecutive.is_some_and(|n| self.consecutive >= n);
                if let Some(rate) = &b.rate {
                    self.count(rate, failed, now_us);
                    let (total, failures) = self.window(rate, now_us);
                    trips |= total >= u64::from(rate.min_requests)
                        && failures.saturating_mul(100) >= u64::from(rate.percent) * total;
                }
                if trips {
                    self.enter(Phase::Open {
                        until_us: now_us.saturating_add(b.cool_down_us),
                    });
                    return Some(Transition::Opened);
                }
                None
            }
            _ => None,
        }
    }

    /// Outcomes and failures in the window ending at `now_us`: the buckets of the current slice
    /// and the `BUCKETS - 1` before it.
    pub fn window(&self, rate: &Rate, now_us: u64) -> (u64, u64) {
        let current = now_us / rate.bucket_us();
        self.buckets
            .iter()
            .filter(|b| b.id <= current && b.id.saturating_add(BUCKETS as u64) > current)
            .fold((0u64, 0u64), |(t, f), b| {
                (
                    t.saturating_add(u64::from(b.total)),
                    f.saturating_add(u64::from(b.failures)),
                )
            })
    }

    fn count(&mut self, rate: &Rate, failed: bool, now_us: u64) {
        let id = now_us / rate.bucket_us();
        // BUCKETS is small: the index always fits.
        let slot = (id % BUCKETS as u64) as usize;
        if let Some(b) = self.buckets.get_mut(slot) {
            if b.id != id {
                *b = Bucket {
                    id,
                    ..Bucket::default()
                };
            }
            b.total = b.total.saturating_add(1);
            if failed {
                b.failures = b.failures.saturating_add(1);
            }
        }
    }

    /// Moves to `phase`, starting its counts afresh; the in-flight count carries over.
    fn enter(&mut self, phase: Phase) {
        *self = Self {
            phase,
            generation: self.generation.wrapping_add(1),
            in_flight: self.in_flight,
            ..Self::default()
        };
    }

    /// Whether the breaker is anything but closed.
    pub fn tripped(&self) -> bool {
        self.phase != Phase::Closed
    }
}

// === encoding ===

const MAGIC: u8 = b'P';
const VERSION: u8 = 1;
/// Length of an encoded state.
pub const ENCODED_LEN: usize = 3 + 8 + 5 * 4 + BUCKETS * 16;

/// Encodes a state: `'P' 1 phase until generation in_flight probes successes consecutive`,
/// then each bucket `id total failures`; little-endian.
pub fn encode(s: &State) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENCODED_LEN);
    let (phase, until) = match s.phase {
        Phase::Closed => (0u8, 0u64),
        Phase::Open { until_us } => (1, until_us),
        Phase::HalfOpen => (2, 0),
    };
    out.extend_from_slice(&[MAGIC, VERSION, phase]);
    out.extend_from_slice(&until.to_le_bytes());
    for v in [
        s.generation,
        s.in_flight,
        s.probes,
        s.successes,
        s.consecutive,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for b in &s.buckets {
        out.extend_from_slice(&b.id.to_le_bytes());
        out.extend_from_slice(&b.total.to_le_bytes());
        out.extend_from_slice(&b.failures.to_le_bytes());
    }
    out
}

/// Decodes a stored state; `None` if it is not one (wrong length, magic, version or phase).
pub fn decode(bytes: &[u8]) -> Option<State> {
    if bytes.len() != ENCODED_LEN || bytes.first() != Some(&MAGIC) {
        return None;
    }
    if bytes.get(1) != Some(&VERSION) {
        return None;
    }
    let mut r = Reader(bytes.get(3..)?);
    let until_us = r.u64()?;
    let phase = match bytes.get(2)? {
        0 => Phase::Closed,
        1 => Phase::Open { until_us },
        2 => Phase::HalfOpen,
        _ => return None,
    };
    let mut s = State {
        phase,
        generation: r.u32()?,
        in_flight: r.u32()?,
        probes: r.u32()?,
        successes: r.u32()?,
        consecutive: r.u32()?,
        buckets: [Bucket::default(); BUCKETS],
    };
    for b in &mut s.buckets {
        *b = Bucket {
            id: r.u64()?,
            total: r.u32()?,
            failures: r.u32()?,
        };
    }
    Some(s)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests;
