//! Signatures a key has verified in the module, remembered by digest, so a token presented again
//! skips the check; bounded, it starts over when full.

use std::cell::RefCell;
use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// How many verified signatures a key remembers (per worker VM); when full it starts over.
pub const VERIFIED_CACHE_ENTRIES: usize = 1024;

/// Digests of `(message, signature)` pairs a key has verified, so a token presented again skips
/// the signature check (an RSA verification costs millions of wasm instructions; a SHA-256 of
/// the token, a few thousand). Only successes are remembered; claims are still checked on every
/// request. The cache belongs to the key, so it goes away with the key when a key set rotates.
#[derive(Debug, Clone, Default)]
pub struct SignatureCache(RefCell<HashSet<[u8; 32]>>);

impl SignatureCache {
    /// The key a `(message, signature)` pair is remembered by.
    pub fn digest(msg: &[u8], sig: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((msg.len() as u64).to_le_bytes());
        h.update(msg);
        h.update(sig);
        h.finalize().into()
    }

    /// Whether the pair of `digest` was verified.
    pub fn contains(&self, digest: &[u8; 32]) -> bool {
        self.0.borrow().contains(digest)
    }

    /// Remembers the pair of `digest`, starting over first when [`VERIFIED_CACHE_ENTRIES`] are
    /// remembered.
    pub fn insert(&self, digest: [u8; 32]) {
        let mut seen = self.0.borrow_mut();
        if seen.len() >= VERIFIED_CACHE_ENTRIES {
            seen.clear();
        }
        seen.insert(digest);
    }

    /// How many pairs are remembered.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
}
