//! Signatures refused under a key set, remembered per worker VM by the digest that also keys
//! the verified ones (`signature_cache`): the same bogus token costs its signature checks once.

use std::rc::{Rc, Weak};

use crate::digest_cache::{Digest, DigestCache};

use super::keys::KeySet;
use super::JwtError;

/// How many refused signatures a worker VM remembers; when full it starts over.
pub const REFUSED_CACHE_ENTRIES: usize = 1024;

/// A refusal remembered: under which key set, and the error it answered.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The key set that refused it. Weak, so a rotated set is freed (its entries then match no
    /// current set: the allocation a `Weak` holds is never reused for another set).
    keys: Weak<KeySet>,
    /// The refusal.
    error: JwtError,
}

/// Signatures refused under a key set, per worker VM: the same bogus token costs its signature
/// checks once, then is answered with the same refusal from here while its issuer's key set is
/// the one that refused it. Only refusals of the signature are remembered (no key verified it, or
/// the request's signature checks ran out), never those of claims, which depend on the clock.
#[derive(Debug, Default)]
pub struct RefusalCache(DigestCache<Refusal, REFUSED_CACHE_ENTRIES>);

impl RefusalCache {
    /// The refusal remembered for the pair of `digest` under `keys`.
    pub fn get(&self, digest: &Digest, keys: &Rc<KeySet>) -> Option<JwtError> {
        self.0
            .get(digest)
            .filter(|r| std::ptr::eq(r.keys.as_ptr(), Rc::as_ptr(keys)))
            .map(|r| r.error)
    }

    /// Remembers that `keys` refused the pair of `digest` with `error`.
    pub fn insert(&self, digest: Digest, keys: &Rc<KeySet>, error: JwtError) {
        self.0.insert(
            digest,
            Refusal {
                keys: Rc::downgrade(keys),
                error,
            },
        );
    }

    /// How many refusals are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no refusal is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Most bytes the cache takes (see [`DigestCache::MAX_BYTES`]).
    pub const MAX_BYTES: usize = DigestCache::<Refusal, REFUSED_CACHE_ENTRIES>::MAX_BYTES;
}
