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
mod tests {
    use super::*;

    fn digest(key: &str) -> [u8; 32] {
        Sha256::digest(key.as_bytes()).into()
    }

    #[test]
    fn authenticates_rotating_keys() {
        let cfg = ApiKeyConfig {
            sources: vec![Source::Header("x-api-key".into())],
            strip: true,
            max_length: 32,
            keys: vec![
                KeyEntry {
                    digest: digest("old"),
                    expires_at: Some(1000),
                    consumer: 0,
                },
                KeyEntry {
                    digest: digest("new"),
                    expires_at: None,
                    consumer: 0,
                },
                KeyEntry {
                    digest: digest("bob"),
                    expires_at: None,
                    consumer: 1,
                },
            ],
        };
        let long = "k".repeat(33);
        type Case<'a> = (&'a [u8], u64, Result<usize, ApiKeyError>, &'a str);
        let cases: &[Case] = &[
            (b"old", 999, Ok(0), "old key before expiry"),
            (b"old", 1000, Err(ApiKeyError::Expired), "old key at expiry"),
            (b"new", 5000, Ok(0), "new key"),
            (b"bob", 5000, Ok(1), "other consumer"),
            (b"nope", 5000, Err(ApiKeyError::Unknown), "unknown"),
            (b"", 5000, Err(ApiKeyError::Malformed), "empty"),
            (b"ne\nw", 5000, Err(ApiKeyError::Malformed), "LF"),
            (b"ne\rw", 5000, Err(ApiKeyError::Malformed), "CR"),
            (b"ne\0w", 5000, Err(ApiKeyError::Malformed), "NUL"),
            (
                long.as_bytes(),
                5000,
                Err(ApiKeyError::Malformed),
                "over the length cap",
            ),
        ];
        for (key, now, want, msg) in cases {
            assert_eq!(cfg.authenticate(key, *now), *want, "{msg}");
        }
    }

    #[test]
    fn digests_parse() {
        let hex = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        assert_eq!(parse_digest(hex), Some(digest("foo")));
        assert_eq!(parse_digest(&hex.to_uppercase()), Some(digest("foo")));
        assert_eq!(parse_digest(&hex[1..]), None, "63 characters");
        assert_eq!(parse_digest(&format!("{}g", &hex[1..])), None, "not hex");
        assert_eq!(parse_digest(&"é".repeat(32)), None, "multi-byte characters");
    }
}
