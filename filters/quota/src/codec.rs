//! The stored form of a counter: a small versioned binary value, one per counter, holding the
//! window id and counts (or the GCRA arrival time) so that a single CAS protects all of them.
//!
//! Layout (integers little-endian):
//! - window counters: `'Q' 1 'W' id:u64 count:u64 prev:u64` (27 bytes);
//! - GCRA counters: `'Q' 1 'G' tat_us:u64` (11 bytes).
//!
//! Anything else (another length, magic, version or tag) does not decode; callers treat it as a
//! reset and count it.

use crate::limit::Counter;

const MAGIC: u8 = b'Q';
const VERSION: u8 = 1;
const WINDOW: u8 = b'W';
const GCRA: u8 = b'G';

/// Encodes a counter.
pub fn encode(counter: &Counter) -> Vec<u8> {
    match *counter {
        Counter::Window { id, count, prev } => {
            let mut out = Vec::with_capacity(27);
            out.extend_from_slice(&[MAGIC, VERSION, WINDOW]);
            for n in [id, count, prev] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            out
        }
        Counter::Gcra { tat } => {
            let mut out = Vec::with_capacity(11);
            out.extend_from_slice(&[MAGIC, VERSION, GCRA]);
            out.extend_from_slice(&tat.to_le_bytes());
            out
        }
    }
}

/// Decodes a counter; `None` for anything that is not exactly a value [`encode`] produces.
pub fn decode(bytes: &[u8]) -> Option<Counter> {
    let (head, rest) = bytes.split_first_chunk::<3>()?;
    let mut words = rest.chunks_exact(8);
    let mut next = || -> Option<u64> { Some(u64::from_le_bytes(words.next()?.try_into().ok()?)) };
    let counter = match *head {
        [MAGIC, VERSION, WINDOW] if rest.len() == 24 => Counter::Window {
            id: next()?,
            count: next()?,
            prev: next()?,
        },
        [MAGIC, VERSION, GCRA] if rest.len() == 8 => Counter::Gcra { tat: next()? },
        _ => return None,
    };
    Some(counter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for c in [
            Counter::Window {
                id: 1,
                count: u64::MAX,
                prev: 7,
            },
            Counter::Gcra { tat: 42 },
        ] {
            assert_eq!(decode(&encode(&c)), Some(c), "{c:?}");
        }
    }

    #[test]
    fn rejects_anything_else() {
        let good = encode(&Counter::Gcra { tat: 1 });
        let mut wrong_version = good.clone();
        wrong_version[1] = 2;
        let mut wrong_tag = good.clone();
        wrong_tag[2] = b'W';
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"QQ", "too short for a header"),
            (&good[..10], "truncated"),
            (&[good.as_slice(), b"x"].concat(), "trailing byte"),
            (&wrong_version, "unknown version"),
            (&wrong_tag, "tag and length disagree"),
            (b"12345678901", "text"),
        ];
        for (bytes, why) in cases {
            assert_eq!(decode(bytes), None, "{why}");
        }
    }
}
