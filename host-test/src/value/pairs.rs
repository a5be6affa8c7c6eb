//! The serialized header-map layout: `N | N x {key_len, value_len} | N x {key\0 value\0}`,
//! all integers little-endian u32. Used for header maps, local-response headers, callout
//! headers, gRPC metadata and map-valued properties.

/// cpp-host's limits: more bytes or pairs than this deserialize to an empty map.
pub const MAX_BYTES: usize = 1 << 20;
/// Maximum number of pairs cpp-host accepts.
pub const MAX_PAIRS: usize = 1024;

/// Serializes pairs; an empty list gives an empty byte string (ptr 0, len 0 on the wire).
pub fn serialize<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    if pairs.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
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

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// Deserializes pairs as cpp-host does: `None` for malformed input (short, missing NUL,
/// trailing bytes, over [`MAX_BYTES`] or [`MAX_PAIRS`]); empty input is an empty map.
pub fn deserialize(b: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if b.is_empty() {
        return Some(Vec::new());
    }
    if b.len() > MAX_BYTES {
        return None;
    }
    let n = u32_at(b, 0)?;
    if n > MAX_PAIRS {
        return None;
    }
    let mut sizes = Vec::with_capacity(n);
    for i in 0..n {
        sizes.push((u32_at(b, 4 + i * 8)?, u32_at(b, 8 + i * 8)?));
    }
    let mut at = 4 + n * 8;
    let mut out = Vec::with_capacity(n);
    for (kl, vl) in sizes {
        let k = b.get(at..at.checked_add(kl)?)?.to_vec();
        at += kl;
        if b.get(at) != Some(&0) {
            return None;
        }
        at += 1;
        let v = b.get(at..at.checked_add(vl)?)?.to_vec();
        at += vl;
        if b.get(at) != Some(&0) {
            return None;
        }
        at += 1;
        out.push((k, v));
    }
    (at == b.len()).then_some(out)
}

/// [`deserialize`] into strings (lossy UTF-8).
pub fn deserialize_str(b: &[u8]) -> Option<Vec<(String, String)>> {
    deserialize(b).map(|v| {
        v.into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    })
}

#[cfg(test)]
mod tests;
