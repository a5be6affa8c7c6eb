//! Byte-string equality and hashing for keys looked up on every request.
//!
//! wasm32 has no vector compare, and the libc `memcmp` a wasm32-wasip1 module links goes byte by
//! byte: comparing a remembered 600-byte bearer token and the 70-byte metric names took a quarter
//! of the gateway bundle's wasm operations (`host-test profile --fuel --callers memcmp`).
//! [`eq`] compares eight bytes at a time instead, and [`KeyTable`] is a hash table of byte-string
//! keys that uses it. [`is_lower_ascii`] checks header names eight bytes at a time.

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

/// Whether `bytes` are all ASCII with no uppercase letter (eight at a time: header names, which
/// hosts deliver lowercase, are checked on every read).
pub fn is_lower_ascii(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut any = 0;
    for chunk in chunks.by_ref() {
        any |= not_lower_ascii(word(chunk));
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    any | not_lower_ascii(u64::from_ne_bytes(last)) == 0
}

/// Bit 7 of each byte of the result is set for a byte of `x` that is not ASCII or is an uppercase
/// letter. For an ASCII byte `b`, `b + 0x3f` reaches bit 7 from `A` up and `b + 0x25` from `[` up,
/// without carrying into the next byte; a non-ASCII byte sets its own bit 7 whatever the carries.
fn not_lower_ascii(x: u64) -> u64 {
    let upper = x.wrapping_add(0x3f3f_3f3f_3f3f_3f3f) & !x.wrapping_add(0x2525_2525_2525_2525);
    (x | upper) & HIGH
}

/// Whether `bytes` are all lowercase letters, digits and `-`: the header names of nearly every
/// edit, checked eight bytes at a time (callers check anything else byte by byte).
pub fn is_plain_name(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut all = u64::MAX;
    for chunk in chunks.by_ref() {
        all &= plain(word(chunk));
    }
    let mut last = [b'-'; 8];
    let rest = chunks.remainder();
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    all & plain(u64::from_ne_bytes(last)) & HIGH == HIGH
}

/// Whether `bytes` hold a CR, LF or NUL (eight at a time: every header value set is checked).
pub fn has_cr_lf_nul(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut found = 0;
    for chunk in chunks.by_ref() {
        found |= cr_lf_nul(word(chunk));
    }
    let mut last = [b' '; 8];
    let rest = chunks.remainder();
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    found | cr_lf_nul(u64::from_ne_bytes(last)) != 0
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Non-zero when a byte of `x` is CR, LF or NUL: a zero byte of `x`, of `x ^ CR...` or of
/// `x ^ LF...`, found with the exact "has a zero byte" test `(v - 0x01..) & !v & 0x80..`.
fn cr_lf_nul(x: u64) -> u64 {
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    zero(x) | zero(x ^ (u64::from(b'\r') * ONES)) | zero(x ^ (u64::from(b'\n') * ONES))
}

/// Bit 7 of each byte of the result is set for a byte of `x` in `a-z`, `0-9` or `-`.
fn plain(x: u64) -> u64 {
    // For ASCII bytes, bit 7 of b + (0x80 - lo) is set from lo up, with no carry out of the byte.
    let from = |lo: u8| x.wrapping_add(u64::from(0x80 - lo) * ONES);
    let range = |lo: u8, hi: u8| from(lo) & !from(hi + 1);
    (range(b'a', b'z') | range(b'0', b'9') | range(b'-', b'-')) & !x & HIGH
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
    fn lower_ascii_matches_the_bytewise_definition() {
        let bytewise = |b: &[u8]| b.iter().all(|c| c.is_ascii() && !c.is_ascii_uppercase());
        // Every byte value at every position of every length up to two words and a bit, in a
        // lowercase name (so only the byte under test can make it fail).
        let base = b"x-request-id-and-more";
        for len in 1..=base.len() {
            for at in 0..len {
                for v in 0..=255u8 {
                    let mut b = base[..len].to_vec();
                    b[at] = v;
                    assert_eq!(is_lower_ascii(&b), bytewise(&b), "{b:?}");
                }
            }
        }
        assert!(is_lower_ascii(b""));
    }

    #[test]
    fn plain_name_matches_the_bytewise_definition() {
        let bytewise = |b: &[u8]| {
            b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        };
        let base = b"x-request-id-and-more";
        for len in 1..=base.len() {
            for at in 0..len {
                for v in 0..=255u8 {
                    let mut b = base[..len].to_vec();
                    b[at] = v;
                    assert_eq!(is_plain_name(&b), bytewise(&b), "{b:?}");
                }
            }
        }
        assert!(is_plain_name(b""));
    }

    #[test]
    fn cr_lf_nul_matches_the_bytewise_definition() {
        let bytewise = |b: &[u8]| b.iter().any(|c| matches!(c, b'\r' | b'\n' | 0));
        let base = b"Bearer abc.def-ghi_jkl";
        for len in 1..=base.len() {
            for at in 0..len {
                for v in 0..=255u8 {
                    let mut b = base[..len].to_vec();
                    b[at] = v;
                    assert_eq!(has_cr_lf_nul(&b), bytewise(&b), "{b:?}");
                    // A second special byte after the first must not hide or fake anything.
                    if at + 1 < len {
                        b[at + 1] = 0;
                        assert!(has_cr_lf_nul(&b), "{b:?}");
                    }
                }
            }
        }
        assert!(!has_cr_lf_nul(b""));
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
