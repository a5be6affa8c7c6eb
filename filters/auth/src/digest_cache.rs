//! The one shape of every bounded memory the filter keeps per worker VM of work a client can
//! cause: signatures a key verified, signatures refused under a key set, basic passwords verified
//! or refused, unknown `kid`s refetched for. Entries are found by a SHA-256 digest of what they
//! remember, so an entry takes the same bytes whatever the size of its input, and a table bounded
//! by entries is bounded by bytes ([`DigestCache::MAX_BYTES`]). When full it starts over: losing
//! an entry only costs the check it saved once more, and starting over costs nothing per request
//! (an LRU would cost bookkeeping on every hit).

use std::cell::RefCell;
use std::collections::HashMap;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest, the key of every entry.
pub type Digest = [u8; 32];

/// The digest of `parts`, every part but the last preceded by its length (so `("ab", "c")` and
/// `("a", "bc")` differ).
pub fn digest(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    if let Some((last, rest)) = parts.split_last() {
        for part in rest {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(last);
    }
    h.finalize().into()
}

/// At most `CAP` values by digest; when full, the next new entry starts it over.
///
/// A std `HashMap` (SipHash), not FxHash: clients choose what is digested, and a keyed hash keeps
/// them from lining entries up in one probe sequence.
#[derive(Debug, Clone)]
pub struct DigestCache<V, const CAP: usize> {
    entries: RefCell<HashMap<Digest, V>>,
}

impl<V, const CAP: usize> Default for DigestCache<V, CAP> {
    fn default() -> Self {
        Self {
            entries: RefCell::new(HashMap::new()),
        }
    }
}

impl<V: Clone, const CAP: usize> DigestCache<V, CAP> {
    /// Most entries.
    pub const ENTRIES: usize = CAP;

    /// Most bytes the table's storage takes (the std table keeps a power of two of slots, at
    /// least 8/7 of its entries, each an entry and a control byte; it keeps them when it starts
    /// over). On wasm32 pointers are 4 bytes: values holding one take less there than natively.
    pub const MAX_BYTES: usize =
        (CAP * 8 / 7).next_power_of_two() * (std::mem::size_of::<(Digest, V)>() + 1);

    /// The value remembered for `key`.
    pub fn get(&self, key: &Digest) -> Option<V> {
        self.entries.borrow().get(key).cloned()
    }

    /// Whether `key` is remembered.
    pub fn contains(&self, key: &Digest) -> bool {
        self.entries.borrow().contains_key(key)
    }

    /// Remembers `value` for `key`, starting over first if `CAP` other entries are remembered.
    pub fn insert(&self, key: Digest, value: V) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= CAP && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, value);
    }

    /// Keeps only the entries `keep` accepts.
    pub fn retain(&self, mut keep: impl FnMut(&V) -> bool) {
        self.entries.borrow_mut().retain(|_, v| keep(v));
    }

    /// Whether `CAP` entries are remembered.
    pub fn is_full(&self) -> bool {
        self.len() >= CAP
    }

    /// How many entries are remembered.
    pub fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }
}

#[cfg(test)]
mod tests;
