//! Byte-string equality and hashing for keys looked up on every request.
//!
//! wasm32 has no vector compare, and the `memcmp` a wasm32 module links (compiler-builtins', or
//! WASI libc's on wasm32-wasip1) goes byte by byte: comparing a remembered 600-byte bearer token
//! and the 70-byte metric names took a quarter of the gateway bundle's wasm operations
//! (`host-test profile --fuel --callers memcmp`).
//! [`eq`] compares eight bytes at a time instead, and [`KeyTable`] is a hash table of byte-string
//! keys that uses it. [`is_lower_ascii`], [`is_plain_name`], [`is_ident`], [`has_cr_lf_nul`] and
//! [`is_json_plain`] check header names and values, and JSON text, eight bytes at a time.

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

/// Whether `bytes` are all ASCII with no uppercase letter (header names, which hosts deliver
/// lowercase, are checked on every read).
pub fn is_lower_ascii(bytes: &[u8]) -> bool {
    !any_flagged(bytes, b'a', |x| {
        // For ASCII bytes, b + 0x3f reaches bit 7 from `A` up and b + 0x25 from `[` up.
        let upper = from(x, b'A') & !from(x, b'[');
        x | upper
    })
}

/// Whether `bytes` are all lowercase letters, digits and `-`: the header names of nearly every
/// edit (callers check anything else byte by byte).
pub fn is_plain_name(bytes: &[u8]) -> bool {
    !any_flagged(bytes, b'-', |x| {
        let plain = range(x, b'a', b'z') | range(x, b'0', b'9') | range(x, b'-', b'-');
        x | !plain
    })
}

/// Whether `bytes` are all ASCII letters, digits, `_` and `-` (identifiers and label values).
pub fn is_ident(bytes: &[u8]) -> bool {
    !any_flagged(bytes, b'a', |x| {
        let ident = range(x, b'a', b'z')
            | range(x, b'A', b'Z')
            | range(x, b'0', b'9')
            | range(x, b'_', b'_')
            | range(x, b'-', b'-');
        x | !ident
    })
}

/// Whether `bytes` hold a CR, LF or NUL (every header value set is checked).
pub fn has_cr_lf_nul(bytes: &[u8]) -> bool {
    any_flagged(bytes, b' ', |x| {
        zero_byte(x)
            | zero_byte(x ^ (u64::from(b'\r') * ONES))
            | zero_byte(x ^ (u64::from(b'\n') * ONES))
    })
}

/// Whether `bytes` stand for themselves inside a JSON string: printable ASCII but `"` and `\`.
pub fn is_json_plain(bytes: &[u8]) -> bool {
    !any_flagged(bytes, b'a', |x| {
        let printable = from(x, b' ') & !from(x, 0x7f);
        x | !printable
            | zero_byte(x ^ (u64::from(b'"') * ONES))
            | zero_byte(x ^ (u64::from(b'\\') * ONES))
    })
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Whether `flag` sets bit 7 of any byte for some eight bytes of `bytes` (the last word padded
/// with `pad`, which must not be flagged). A check flags every non-ASCII byte through its own
/// bit 7: the additions below may carry out of a non-ASCII byte, never out of an ASCII one, so
/// per-byte results are exact whenever they matter.
#[inline(always)]
fn any_flagged(bytes: &[u8], pad: u8, flag: impl Fn(u64) -> u64) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut flagged = 0;
    for chunk in chunks.by_ref() {
        flagged |= flag(word(chunk));
    }
    let mut last = [pad; 8];
    let rest = chunks.remainder();
    if let Some(dst) = last.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    (flagged | flag(u64::from_ne_bytes(last))) & HIGH != 0
}

/// Bit 7 of each ASCII byte b of `x` is set when b >= `lo` (b + (0x80 - lo), no carry out);
/// `lo` is at most 0x80.
fn from(x: u64, lo: u8) -> u64 {
    x.wrapping_add(u64::from(0x80 - lo) * ONES)
}

/// Bit 7 of each ASCII byte b of `x` is set when `lo` <= b <= `hi`.
fn range(x: u64, lo: u8, hi: u8) -> u64 {
    from(x, lo) & !from(x, hi + 1)
}

/// Non-zero when `v` has a zero byte: the exact test `(v - 0x01..) & !v & 0x80..` (a byte above
/// a zero one may be flagged too, but only when there is a zero byte).
fn zero_byte(v: u64) -> u64 {
    v.wrapping_sub(ONES) & !v & HIGH
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

    /// Compares `fast` with its byte-wise definition for every byte value at every position of
    /// every length up to two words and more, in a base the definition accepts; then with a
    /// second, arbitrary byte after the first (carries from one byte must not hide another).
    fn matches_bytewise(base: &[u8], fast: fn(&[u8]) -> bool, slow: impl Fn(&[u8]) -> bool) {
        assert!(slow(base), "the base must pass");
        for len in 0..=base.len() {
            assert_eq!(fast(&base[..len]), slow(&base[..len]));
            for at in 0..len {
                for v in 0..=255u8 {
                    let mut b = base[..len].to_vec();
                    b[at] = v;
                    assert_eq!(fast(&b), slow(&b), "{b:?}");
                    if at + 1 < len {
                        for w in [0u8, b'\r', b'"', b'A', 0x7f, 0x80, 0xff] {
                            b[at + 1] = w;
                            assert_eq!(fast(&b), slow(&b), "{b:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn word_checks_match_their_bytewise_definitions() {
        matches_bytewise(b"x-request-id-and-more", is_lower_ascii, |b| {
            b.iter().all(|c| c.is_ascii() && !c.is_ascii_uppercase())
        });
        matches_bytewise(b"x-request-id-and-more", is_plain_name, |b| {
            b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        });
        matches_bytewise(b"Consumer_42-beta-and-more", is_ident, |b| {
            b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        });
        matches_bytewise(
            b"Bearer abc.def-ghi_jkl",
            |b| !has_cr_lf_nul(b),
            |b| !b.iter().any(|c| matches!(c, b'\r' | b'\n' | 0)),
        );
        matches_bytewise(b"/v1/orders?id=1&x=~y", is_json_plain, |b| {
            b.iter()
                .all(|&c| (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\')
        });
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
