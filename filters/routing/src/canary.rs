//! Canary splits: the share of a canary at a given time (fixed, or a stepped ramp) and the
//! sticky bucket of a client (whose key comes from [`crate::sticky`]).
//!
//! A client's bucket is `SHA-256(salt || 0x00 || key)`, its first 8 bytes read as a big-endian
//! integer, modulo 10 000; the client goes to the canary when its bucket is below the share in
//! basis points. The hash is fixed (not std's per-process randomized hasher), so every worker
//! and every Envoy instance puts a client in the same bucket, and since the bucket does not
//! depend on the share, a client that reached the canary stays there while a ramp grows.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::config::{Ramp, Weight, FULL};
use crate::sticky::StickyKey;

/// The share (basis points) of `weight` at `now`.
pub fn share(weight: &Weight, now: SystemTime) -> u32 {
    match weight {
        Weight::Fixed(bp) => *bp,
        Weight::Ramp(ramp) => ramp_share(ramp, now),
    }
}

/// A ramp's share: `from` before `start`, `to` from `end` on, and in between
/// `from + (to - from) * k / steps` where `k` is the number of whole steps elapsed.
pub fn ramp_share(ramp: &Ramp, now: SystemTime) -> u32 {
    let (Ok(elapsed), Ok(total)) = (
        now.duration_since(ramp.start),
        ramp.end.duration_since(ramp.start),
    ) else {
        return ramp.from;
    };
    if elapsed >= total || total.is_zero() {
        return ramp.to;
    }
    let steps = u128::from(ramp.steps);
    let k = elapsed.as_nanos().saturating_mul(steps) / total.as_nanos().max(1);
    let (from, to) = (i128::from(ramp.from), i128::from(ramp.to));
    // k < steps, so the result lies between `from` and `to`.
    let bp = from + (to - from) * k as i128 / steps as i128;
    u32::try_from(bp.clamp(0, i128::from(FULL))).unwrap_or(ramp.from)
}

/// The bucket (0 to 9 999) of `key` for a canary with `salt`.
pub fn bucket(salt: &str, key: &StickyKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0u8]);
    hasher.update(key.material());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(FULL)) as u32
}

/// Whether a client with `key` goes to the canary whose share is `share_bp`.
pub fn diverts(salt: &str, key: Option<&StickyKey>, share_bp: u32) -> bool {
    match (share_bp, key) {
        (0, _) => false,
        (s, _) if s >= FULL => true,
        // No sticky key: stay on the stable side rather than flip between requests.
        (_, None) => false,
        (s, Some(k)) => bucket(salt, k) < s,
    }
}

#[cfg(test)]
mod tests;
