//! API keys: read from the configured sources, hashed with SHA-256 and compared in constant time
//! against the configured digests (the configuration never holds a key in plain text). A
//! consumer may hold several keys, each with an optional expiry, so keys rotate without
//! downtime.

use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};

use crate::source::Source;

/// One configured key.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    /// SHA-256 of the key.
    pub digest: [u8; 32],
    /// Unix seconds from which the key is refused.
    pub expires_at: Option<u64>,
    /// Index of the consumer.
    pub consumer: usize,
}

/// API-key settings and keys.
#[derive(Debug, Clone)]
pub struct ApiKeyConfig {
    /// Where keys are read from.
    pub sources: Vec<Source>,
    /// Remove the key before the upstream.
    pub strip: bool,
    /// Longest key accepted.
    pub max_length: usize,
    /// Every configured key (digests unique).
    pub keys: Vec<KeyEntry>,
}

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// Empty, too long, or holding control characters (refused before hashing).
    #[error("malformed API key")]
    Malformed,
    /// No configured key has this digest.
    #[error("unknown API key")]
    Unknown,
    /// The key expired.
    #[error("expired API key")]
    Expired,
}

/// Parses a 64-character hex SHA-256 digest.
pub fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl ApiKeyConfig {
    /// The consumer index for `key` at `now` (Unix seconds).
    ///
    /// Every configured digest is compared, in constant time, whatever matches.
    pub fn authenticate(&self, key: &[u8], now: u64) -> Result<usize, ApiKeyError> {
        if key.is_empty()
            || key.len() > self.max_length
            || key.iter().any(|b| *b < 0x20 || *b == 0x7f)
        {
            return Err(ApiKeyError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(key).into();
        let mut found = subtle::Choice::from(0);
        let mut index = 0u64;
        for (i, entry) in self.keys.iter().enumerate() {
            let eq = entry.digest.ct_eq(&digest);
            index = u64::conditional_select(&index, &(i as u64), eq);
            found |= eq;
        }
        if !bool::from(found) {
            return Err(ApiKeyError::Unknown);
        }
        let entry = usize::try_from(index)
            .ok()
            .and_then(|i| self.keys.get(i))
            .ok_or(ApiKeyError::Unknown)?;
        if entry.expires_at.is_some_and(|at| now >= at) {
            return Err(ApiKeyError::Expired);
        }
        Ok(entry.consumer)
    }
}

#[cfg(test)]
mod tests;
