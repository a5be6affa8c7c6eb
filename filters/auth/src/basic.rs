//! Basic credentials (`Authorization: Basic`), checked against salted password hashes:
//! PBKDF2-HMAC-SHA256 in Django's `pbkdf2_sha256$iterations$salt$hash` format, or a single salted
//! SHA-256 (`sha256$salt$hexdigest`, digest of salt followed by password). Comparisons are
//! constant time. A verified password is remembered for a while by a SHA-256 digest (never in
//! plain text) so the slow hash is not paid on every request, and a refused one is remembered the
//! same way, so a client repeating a wrong password costs one hash: a request costs at most one
//! hash (one credential, one user), of at most `basic.max_iterations` PBKDF2 iterations.

use std::cell::Cell;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::digest_cache::{self, DigestCache};

/// A stored password hash.
#[derive(Clone)]
pub enum PasswordHash {
    /// PBKDF2-HMAC-SHA256.
    Pbkdf2 {
        /// Iteration count.
        iterations: u32,
        /// Salt bytes.
        salt: Vec<u8>,
        /// Derived key.
        hash: Vec<u8>,
    },
    /// SHA-256 of salt followed by password.
    Sha256 {
        /// Salt bytes.
        salt: Vec<u8>,
        /// Digest.
        digest: [u8; 32],
    },
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// Most PBKDF2 iterations accepted (each costs two SHA-256 blocks per request not cached).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// The default most PBKDF2 iterations of a configured hash (`basic.max_iterations`).
pub const DEFAULT_MAX_ITERATIONS: u32 = 100_000;

impl PasswordHash {
    /// Parses a stored hash; the error says what is wrong without quoting it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('$').collect();
        match parts.as_slice() {
            ["pbkdf2_sha256", iterations, salt, hash] => {
                let iterations: u32 = iterations
                    .parse()
                    .map_err(|_| "iterations is not a number".to_string())?;
                if !(1000..=MAX_ITERATIONS).contains(&iterations) {
                    return Err(format!("iterations must be 1000..={MAX_ITERATIONS}"));
                }
                let hash = STANDARD
                    .decode(hash)
                    .map_err(|_| "hash is not base64".to_string())?;
                if hash.len() < 32 || salt.is_empty() {
                    return Err("hash under 32 bytes or empty salt".into());
                }
                Ok(Self::Pbkdf2 {
                    iterations,
                    salt: salt.as_bytes().to_vec(),
                    hash,
                })
            }
            ["sha256", salt, hex] => {
                let digest = crate::apikey::parse_digest(hex)
                    .ok_or_else(|| "digest is not 64 hex characters".to_string())?;
                if salt.len() < 8 {
                    return Err("salt under 8 characters".into());
                }
                Ok(Self::Sha256 {
                    salt: salt.as_bytes().to_vec(),
                    digest,
                })
            }
            _ => Err("expected pbkdf2_sha256$iterations$salt$hash or sha256$salt$hex".into()),
        }
    }

    /// The PBKDF2 iteration count (`None` for a salted SHA-256).
    pub fn iterations(&self) -> Option<u32> {
        match self {
            Self::Pbkdf2 { iterations, .. } => Some(*iterations),
            Self::Sha256 { .. } => None,
        }
    }

    /// Whether `password` matches.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Self::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => {
                let mut out = vec![0u8; hash.len()];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, *iterations, &mut out);
                out.ct_eq(hash).into()
            }
            Self::Sha256 { salt, digest } => {
                let mut h = Sha256::new();
                h.update(salt);
                h.update(password);
                let got: [u8; 32] = h.finalize().into();
                got.ct_eq(digest).into()
            }
        }
    }
}

/// One basic user.
#[derive(Debug, Clone)]
pub struct BasicUser {
    /// User name.
    pub username: String,
    /// Password hash.
    pub hash: PasswordHash,
    /// Consumer index.
    pub consumer: usize,
}

/// Basic settings and users.
#[derive(Debug, Clone)]
pub struct BasicConfig {
    /// Remove `Authorization` before the upstream.
    pub strip: bool,
    /// Seconds a verified password stays cached; 0 disables the cache.
    pub cache_seconds: u64,
    /// Users (names unique).
    pub users: Vec<BasicUser>,
}

/// Why basic credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BasicError {
    /// Not `base64(user:password)`.
    #[error("malformed basic credentials")]
    Malformed,
    /// Unknown user or wrong password (not told apart).
    #[error("invalid user name or password")]
    Invalid,
}

/// Splits the credentials of `Authorization: Basic <credentials>`.
pub fn decode(credentials: &[u8]) -> Result<(Vec<u8>, Vec<u8>), BasicError> {
    if credentials.len() > 4096 {
        return Err(BasicError::Malformed);
    }
    let plain = STANDARD
        .decode(credentials)
        .map_err(|_| BasicError::Malformed)?;
    let colon = plain
        .iter()
        .position(|b| *b == b':')
        .ok_or(BasicError::Malformed)?;
    Ok((plain[..colon].to_vec(), plain[colon + 1..].to_vec()))
}

/// Most remembered verifications per VM, and most remembered refusals.
pub const CACHE_CAP: usize = 1024;

/// The hashing one or more requests caused, for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BasicWork {
    /// Password hashes computed (PBKDF2 or salted SHA-256).
    pub hashed: u32,
    /// Wrong passwords refused from memory, without a hash.
    pub remembered: u32,
}

/// What a worker remembers of basic credentials, by SHA-256(user index, password), never the
/// password: verified ones until they expire (`cache_seconds`), and refused ones (a wrong password
/// stays wrong while the configuration lasts, and a new configuration starts a new cache). Each
/// holds at most [`CACHE_CAP`] entries, then starts over.
#[derive(Debug, Default)]
pub struct PasswordCache {
    /// Expiry (Unix seconds) of each verified credential.
    verified: DigestCache<u64, CACHE_CAP>,
    /// Credentials refused.
    refused: DigestCache<(), CACHE_CAP>,
    work: Cell<BasicWork>,
}

impl PasswordCache {
    /// The work done since the last call (and none from now).
    pub fn take_work(&self) -> BasicWork {
        self.work.take()
    }

    /// How many refused credentials are remembered.
    pub fn refused_len(&self) -> usize {
        self.refused.len()
    }

    /// Most bytes the two tables take (see [`DigestCache::MAX_BYTES`]).
    pub const MAX_BYTES: usize =
        DigestCache::<u64, CACHE_CAP>::MAX_BYTES + DigestCache::<(), CACHE_CAP>::MAX_BYTES;

    fn count(&self, f: impl FnOnce(&mut BasicWork)) {
        let mut work = self.work.get();
        f(&mut work);
        self.work.set(work);
    }
}

fn cache_key(user: usize, password: &[u8]) -> digest_cache::Digest {
    digest_cache::digest(&[&(user as u64).to_le_bytes(), password])
}

impl BasicConfig {
    /// The consumer index for the credentials at `now`.
    pub fn authenticate(
        &self,
        credentials: &[u8],
        now: u64,
        cache: &PasswordCache,
    ) -> Result<usize, BasicError> {
        let (user, password) = decode(credentials)?;
        let (index, entry) = self
            .users
            .iter()
            .enumerate()
            .find(|(_, u)| u.username.as_bytes() == user.as_slice())
            .ok_or(BasicError::Invalid)?;
        let key = cache_key(index, &password);
        if self.cache_seconds > 0 {
            if let Some(until) = cache.verified.get(&key) {
                if now < until {
                    return Ok(entry.consumer);
                }
            }
        }
        if cache.refused.contains(&key) {
            cache.count(|w| w.remembered += 1);
            return Err(BasicError::Invalid);
        }
        cache.count(|w| w.hashed += 1);
        if !entry.hash.verify(&password) {
            cache.refused.insert(key, ());
            return Err(BasicError::Invalid);
        }
        if self.cache_seconds > 0 {
            if cache.verified.is_full() {
                cache.verified.retain(|until| now < *until);
            }
            cache
                .verified
                .insert(key, now.saturating_add(self.cache_seconds));
        }
        Ok(entry.consumer)
    }
}

#[cfg(test)]
mod tests;
