//! Leases of the global store's `leased` mode: units a gateway instance reserved from the rate
//! limit service in one call and admits from locally, kept in shared data so that every worker of
//! the instance spends the same block.
//!
//! One lease per plan, scope and subject, under `quota/lease/1/<plan>/<scope>/<subject>`. A lease
//! holds the units left, when it expires (the end of the earliest window of the plan's limits
//! when it was filled: units left then are lost, so the gateway refuses a little early and never
//! admits over a limit), whether the service said fewer than a block remain (then requests are
//! checked one by one, the *tail*), and the units the service said remain per limit (for the
//! header fields of requests admitted from the lease).
//!
//! Value: `'L' 1 expires units tail n remaining[n]` (little-endian u64s, `tail` and `n` one byte).

use filter_core::Host;

use crate::key::Subject;
use crate::store::{CounterStore, StoreError};

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lease {
    /// Microseconds since the epoch at which the lease's units are void.
    pub expires_us: u64,
    /// Units left to admit from.
    pub units: u64,
    /// The service said fewer than a block remain: check each request.
    pub tail: bool,
    /// Units the service said remain, per limit of the plan, when the lease was last updated.
    pub remaining: Vec<u64>,
}

/// The shared-data key of a lease.
pub fn key(plan: &str, scope: &str, subject: &Subject) -> String {
    let mut key = String::with_capacity(32 + plan.len() + scope.len());
    key.push_str("quota/lease/1/");
    key.push_str(plan);
    key.push('/');
    key.push_str(scope);
    key.push('/');
    subject.push_key_part(&mut key);
    key
}

impl Lease {
    /// Whether the lease's units may still be spent at `now_us`.
    pub fn live(&self, now_us: u64) -> bool {
        now_us < self.expires_us
    }

    /// The stored bytes.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.remaining.len().min(usize::from(u8::MAX));
        let mut out = Vec::with_capacity(20 + 8 * n);
        out.extend_from_slice(b"L\x01");
        out.extend_from_slice(&self.expires_us.to_le_bytes());
        out.extend_from_slice(&self.units.to_le_bytes());
        out.push(u8::from(self.tail));
        out.push(n as u8);
        for r in self.remaining.iter().take(n) {
            out.extend_from_slice(&r.to_le_bytes());
        }
        out
    }

    /// Decodes stored bytes; `None` for anything that is not a lease of this version.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let rest = bytes.strip_prefix(b"L\x01")?;
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_le_bytes(rest.get(at..at + 8)?.try_into().ok()?))
        };
        let expires_us = u64_at(0)?;
        let units = u64_at(8)?;
        let tail = match rest.get(16)? {
            0 => false,
            1 => true,
            _ => return None,
        };
        let n = usize::from(*rest.get(17)?);
        if rest.len() != 18 + 8 * n {
            return None;
        }
        let remaining = (0..n).map(|i| u64_at(18 + 8 * i)).collect::<Option<_>>()?;
        Some(Self {
            expires_us,
            units,
            tail,
            remaining,
        })
    }
}

/// What [`take`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// `cost` units were taken; the lease as left.
    Taken(Lease),
    /// The lease is missing, expired or short: a call is needed. `tail` when the service said
    /// fewer than a block remain in the current windows.
    Short {
        /// Check this request alone instead of refilling.
        tail: bool,
    },
}

/// Takes `cost` units from the lease under `key` if it is live and holds them.
pub fn take(
    store: &dyn CounterStore,
    host: &mut dyn Host,
    key: &str,
    cost: u64,
    now_us: u64,
    attempts: u32,
) -> Result<Take, StoreError> {
    for _ in 0..attempts {
        let Some(stored) = store.load(host, key)? else {
            return Ok(Take::Short { tail: false });
        };
        let Some(mut lease) = Lease::decode(&stored.data).filter(|l| l.live(now_us)) else {
            return Ok(Take::Short { tail: false });
        };
        if lease.units < cost {
            return Ok(Take::Short { tail: lease.tail });
        }
        lease.units -= cost;
        if store.replace(host, key, &lease.encode(), stored.version)? {
            return Ok(Take::Taken(lease));
        }
    }
    // Contention: let the request be checked by the service instead.
    Ok(Take::Short { tail: true })
}

/// What an answer of the service changes in a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Units added (a block's units beyond the request that reserved it).
    pub units: u64,
    /// Whether fewer than a block remain.
    pub tail: bool,
    /// Units remaining per limit, as the service said.
    pub remaining: Vec<u64>,
    /// Expiry of a lease started by this update.
    pub expires_us: u64,
}

/// Applies `update` to the lease under `key` (a new lease if it is missing or expired).
pub fn update(
    store: &dyn CounterStore,
    host: &mut dyn Host,
    key: &str,
    now_us: u64,
    update: &Update,
    attempts: u32,
) -> Result<bool, StoreError> {
    for _ in 0..attempts {
        let stored = store.load(host, key)?;
        let current = stored
            .as_ref()
            .and_then(|s| Lease::decode(&s.data))
            .filter(|l| l.live(now_us));
        let next = match current {
            Some(l) => Lease {
                expires_us: l.expires_us,
                units: l.units.saturating_add(update.units),
                tail: update.tail,
                remaining: update.remaining.clone(),
            },
            None => Lease {
                expires_us: update.expires_us,
                units: update.units,
                tail: update.tail,
                remaining: update.remaining.clone(),
            },
        };
        let written = match &stored {
            Some(s) => store.replace(host, key, &next.encode(), s.version)?,
            None => store.create(host, key, &next.encode())?,
        };
        if written {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
