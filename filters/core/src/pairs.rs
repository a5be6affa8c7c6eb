//! The proxy-wasm serialized header-map layout.
//!
//! `N | N x {key_len, value_len} | N x {key, 0x00, value, 0x00}`, integers little-endian u32. Used
//! for header maps, local-reply headers and callout headers. Decoding never panics: malformed input
//! gives `None`, as Envoy's own decoder refuses it.

use std::ops::Range;

/// Serializes pairs.
pub fn encode<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let size: usize = pairs
        .iter()
        .map(|(k, v)| 10 + k.as_ref().len() + v.as_ref().len())
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Deserializes pairs; names that are not UTF-8 are decoded lossily. Empty input is an empty map.
pub fn decode(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    spans(bytes, |key, value| {
        let key = bytes.get(key).unwrap_or_default();
        let key = match std::str::from_utf8(key) {
            Ok(key) => key.to_owned(),
            Err(_) => String::from_utf8_lossy(key).into_owned(),
        };
        out.push((key, bytes.get(value).unwrap_or_default().to_vec()));
    })?;
    Some(out)
}

/// The number of pairs a serialized map declares, bounded by what its size can hold (10 bytes a
/// pair at least): a capacity to reserve.
pub fn declared(bytes: &[u8]) -> usize {
    read_u32(bytes, 0).map_or(0, |n| n.min(bytes.len() / 10))
}

/// Calls `each` with where each name and value lies in a serialized map, in order, without
/// copying them; returns the number of pairs. `None` if the layout is malformed (`each` may have
/// seen some pairs by then); empty input is an empty map.
pub fn spans(bytes: &[u8], mut each: impl FnMut(Range<usize>, Range<usize>)) -> Option<usize> {
    if bytes.is_empty() {
        return Some(0);
    }
    let n = read_u32(bytes, 0)?;
    let mut data = n.checked_mul(8)?.checked_add(4)?;
    if data > bytes.len() {
        return None;
    }
    for i in 0..n {
        let klen = read_u32(bytes, 4 + i * 8)?;
        let vlen = read_u32(bytes, 8 + i * 8)?;
        let key = data..data.checked_add(klen)?;
        data = key.end;
        if bytes.get(data) != Some(&0) {
            return None;
        }
        data += 1;
        let value = data..data.checked_add(vlen)?;
        data = value.end;
        if bytes.get(data) != Some(&0) {
            return None;
        }
        data += 1;
        each(key, value);
    }
    (data == bytes.len()).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_layout() {
        let bytes = encode(&[(":method", "GET")]);
        assert_eq!(
            bytes,
            [
                1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, b':', b'm', b'e', b't', b'h', b'o', b'd', 0,
                b'G', b'E', b'T', 0
            ]
        );
        assert_eq!(
            decode(&bytes),
            Some(vec![(":method".into(), b"GET".to_vec())])
        );
    }

    #[test]
    fn round_trips_bytes_and_refuses_malformed_input() {
        let pairs = vec![
            ("a".to_string(), b"\xC0\xA7".to_vec()),
            ("b".into(), vec![]),
        ];
        let bytes = encode(&pairs);
        assert_eq!(decode(&bytes), Some(pairs));
        assert_eq!(decode(&[]), Some(vec![]));
        let cases: &[(&str, Vec<u8>)] = &[
            ("truncated", bytes[..bytes.len() - 1].to_vec()),
            ("trailing bytes", [bytes.clone(), vec![0]].concat()),
            ("huge count", vec![0xff, 0xff, 0xff, 0xff]),
            ("short header", vec![1, 0]),
            ("missing NUL", {
                let mut b = bytes.clone();
                let at = b.len() - 1;
                b[at] = 1;
                b
            }),
        ];
        for (what, input) in cases {
            assert_eq!(decode(input), None, "{what}");
        }
    }
}
