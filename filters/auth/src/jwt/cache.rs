//! Tokens this worker has already decoded and verified, so a token presented again skips
//! base64, JSON parsing and the signature check (together most of a request's cost in wasm).
//!
//! An entry is found only by the exact token bytes and only while the key set that verified it is
//! still the provider's current one, so a rotated key set invalidates its tokens. Every request
//! still checks the clock against the window its claims passed in (`nbf`/`iat` to `exp`, with the
//! leeway; outside it the claims are checked again in full): a cached token expires exactly when
//! it would without the cache. Only successes are kept.
//! Bounded by entries and by token bytes; when either bound is reached the cache starts over.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use filter_core::bytes::KeyTable;
use filter_core::json::Json;

use super::keys::KeySet;

/// Most tokens remembered per worker VM.
pub const TOKEN_CACHE_ENTRIES: usize = 1024;
/// Most token bytes remembered per worker VM.
pub const TOKEN_CACHE_BYTES: usize = 1 << 20;

/// A token whose signature verified.
#[derive(Debug)]
pub struct Verified {
    /// Index of the provider whose keys verified it.
    pub provider: usize,
    /// The key set that verified it.
    pub keys: Rc<KeySet>,
    /// Its claims set (an object).
    pub claims: Json,
    /// When its claims pass without checking them again (see `ClaimRules::window`).
    pub window: (i64, i64),
}

/// Verified tokens by their exact bytes. A fast hash (FxHash) rather than SipHash: only verified
/// tokens are stored, so a client cannot fill the table with colliding keys, and hashing and
/// comparing a 600-byte token byte by byte cost more than the rest of a cache hit.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: RefCell<KeyTable<Rc<Verified>>>,
    bytes: Cell<usize>,
}

impl TokenCache {
    /// The entry for exactly `token`, if its key set is still `current(provider)`.
    pub fn get(
        &self,
        token: &[u8],
        current: impl FnOnce(usize) -> Option<Rc<KeySet>>,
    ) -> Option<Rc<Verified>> {
        let entry = self.entries.borrow().get(token).cloned()?;
        let keys = current(entry.provider)?;
        Rc::ptr_eq(&keys, &entry.keys).then_some(entry)
    }

    /// Remembers a verified token and returns its entry.
    pub fn insert(&self, token: &[u8], verified: Verified) -> Rc<Verified> {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= TOKEN_CACHE_ENTRIES
            || self.bytes.get().saturating_add(token.len()) > TOKEN_CACHE_BYTES
        {
            entries.clear();
            self.bytes.set(0);
        }
        let entry = Rc::new(verified);
        if entries.insert(token, Rc::clone(&entry)).is_none() {
            self.bytes.set(self.bytes.get().saturating_add(token.len()));
        }
        entry
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}
