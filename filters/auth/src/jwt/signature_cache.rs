//! Signatures a key has verified in the module, remembered by a digest of the token's signing
//! input and signature, so a token presented again skips the check (an RSA verification costs
//! millions of wasm instructions; a SHA-256 of the token, a few thousand). The same digest finds
//! the refusals a worker remembers (`refusals`).

use crate::digest_cache::{self, Digest, DigestCache};

/// How many verified signatures a key remembers (per worker VM); when full it starts over.
pub const VERIFIED_CACHE_ENTRIES: usize = 1024;

/// The key a `(message, signature)` pair is remembered by.
pub fn digest(msg: &[u8], sig: &[u8]) -> Digest {
    digest_cache::digest(&[msg, sig])
}

/// Digests of `(message, signature)` pairs a key has verified, so a token presented again skips
/// the signature check. Only successes are remembered; claims are still checked on every
/// request. The cache belongs to the key, so it goes away with the key when a key set rotates.
pub type SignatureCache = DigestCache<(), VERIFIED_CACHE_ENTRIES>;
