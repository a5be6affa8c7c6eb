//! Byte-string equality and hashing for keys looked up on every request.
//!
//! wasm32 has no vector compare, and the libc `memcmp` a wasm32-wasip1 module links goes byte by
//! byte: comparing a remembered 600-byte bearer token and the 70-byte metric names took a quarter
//! of the gateway bundle's wasm operations (`host-test profile --fuel --callers memcmp`).
//! [`eq`] compares eight bytes at a time instead, and [`KeyTable`] is a hash table of byte-string
//! keys that uses it.

use std::hash::Hasher;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

/// Whether `a` and `b` hold the same bytes (eight at a time).
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for (p, q) in x.by_ref().zip(y.by_ref()) {
        if word(p) != word(q) {
            return false;
        }
    }
    x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

fn word(chunk: &[u8]) -> u64 {
    <[u8; 8]>::try_from(chunk).map_or(0, u64::from_ne_bytes)
}

/// A fast, non-cryptographic hash of `bytes` (FxHash): for tables whose keys an attacker cannot
/// choose freely, or that are bounded.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

/// A map from byte-string keys to values, found with [`hash`] and [`eq`].
#[derive(Debug, Clone)]
pub struct KeyTable<V> {
    table: HashTable<(u64, Box<[u8]>, V)>,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        Self {
            table: HashTable::new(),
        }
    }
}

impl<V> KeyTable<V> {
    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.table
            .find(hash(key), |(_, k, _)| eq(k, key))
            .map(|(_, _, v)| v)
    }

    /// Sets the value of `key`; the previous value, if any.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        let h = hash(key);
        match self.table.find_mut(h, |(_, k, _)| eq(k, key)) {
            Some((_, _, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.table
                    .insert_unique(h, (h, key.into(), value), |(h, _, _)| *h);
                None
            }
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.table.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_matches_slice_equality() {
        let base: Vec<u8> = (0..40u8).collect();
        for len in 0..base.len() {
            let a = &base[..len];
            assert!(eq(a, a));
            for i in 0..len {
                let mut b = a.to_vec();
                b[i] ^= 0x80;
                assert!(!eq(a, &b), "len {len}, byte {i} differs");
            }
            assert!(!eq(a, &base[..len + 1]), "lengths differ");
        }
    }

    #[test]
    fn table_finds_exact_keys_only() {
        let mut t = KeyTable::default();
        assert_eq!(t.insert(b"alpha", 1), None);
        assert_eq!(t.insert(b"beta", 2), None);
        assert_eq!(t.insert(b"alpha", 3), Some(1));
        assert_eq!(
            (t.get(b"alpha"), t.get(b"beta"), t.get(b"alph")),
            (Some(&3), Some(&2), None)
        );
        assert_eq!(t.len(), 2);
        t.clear();
        assert!(t.is_empty() && t.get(b"alpha").is_none());
    }
}
