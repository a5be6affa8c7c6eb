//! Byte-safe header maps with recorded edits.
//!
//! Header values are bytes: a client may send anything, and non-UTF-8 values must never panic a
//! filter. Logic reads a [`HeaderMap`] and edits it; the edits are recorded and the adapter applies
//! them to the host after the callback returns, so logic stays a pure function of its inputs.

/// One change to a header map, applied by the adapter in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replace every value of the header with this one (adds it if absent).
    Set(String, Vec<u8>),
    /// Add one more value.
    Add(String, Vec<u8>),
    /// Remove every value of the header.
    Remove(String),
}

/// A header map as the host delivered it (lowercase names, values in order), plus the edits the
/// logic made to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    pairs: Vec<(String, Vec<u8>)>,
    edits: Vec<HeaderEdit>,
}

/// Whether a value may be emitted as a header value: no CR, LF or NUL.
pub fn is_safe_value(value: &[u8]) -> bool {
    !value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// Whether a name is a valid lowercase header name (an RFC 9110 token, or a pseudo-header).
pub fn is_valid_name(name: &str) -> bool {
    let body = name.strip_prefix(':').unwrap_or(name);
    !body.is_empty() && body.bytes().all(|b| LOWERCASE_TOKEN[usize::from(b)])
}

/// The bytes of a lowercase RFC 9110 token: lowercase letters, digits and ``!#$%&'*+-.^_`|~``.
static LOWERCASE_TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

impl HeaderMap {
    /// A map of the given pairs; names are lowercased as the host would deliver them.
    pub fn from_pairs<N: Into<String>, V: Into<Vec<u8>>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(n, v)| {
                    let mut name = n.into();
                    name.make_ascii_lowercase();
                    (name, v.into())
                })
                .collect(),
            edits: Vec::new(),
        }
    }

    /// The first value of `name`, as Envoy's `get_header_map_value` returns it. Names are
    /// case-blind (the map's names are lowercase; `name` is lowercased when it is not).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        let found = self.pairs.iter().find(|(n, _)| n == name);
        let found = match found {
            None if has_uppercase(name) => self
                .pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name)),
            found => found,
        };
        found.map(|(_, v)| v.as_slice())
    }

    /// The first value of `name` if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = lowercase(name);
        self.pairs
            .iter()
            .filter(move |(n, _)| *n == *name)
            .map(|(_, v)| v.as_slice())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        let name = lowercase(name);
        self.pairs.iter().filter(|(n, _)| *n == *name).count()
    }

    /// Whether `name` occurs at all.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All pairs in order, as they are now (edits included).
    pub fn pairs(&self) -> &[(String, Vec<u8>)] {
        &self.pairs
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the map has no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `:path`, the request target as the router sees it.
    pub fn path(&self) -> Option<&[u8]> {
        self.get(":path")
    }

    /// `:method`.
    pub fn method(&self) -> Option<&[u8]> {
        self.get(":method")
    }

    /// `:authority`.
    pub fn authority(&self) -> Option<&[u8]> {
        self.get(":authority")
    }

    /// `:status` of a response, parsed.
    pub fn status(&self) -> Option<u16> {
        self.get_str(":status").and_then(|s| s.parse().ok())
    }

    /// Replaces every value of `name` with `value`.
    ///
    /// A value with CR, LF or NUL, or an invalid name, is never emitted: the edit is dropped and
    /// a warning logged (without the value, which may be secret). Returns whether it was applied.
    pub fn set(&mut self, name: &str, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        let Some(name) = Self::checked_name(name, value) else {
            return false;
        };
        // The first replaced pair's buffers hold the new pair (no allocation when it fits).
        let mut replaced: Option<(String, Vec<u8>)> = None;
        self.pairs.retain_mut(|(n, v)| {
            if *n != *name {
                return true;
            }
            if replaced.is_none() {
                replaced = Some((std::mem::take(n), std::mem::take(v)));
            }
            false
        });
        let (pair_name, mut pair_value) =
            replaced.unwrap_or_else(|| (name.clone().into_owned(), Vec::new()));
        pair_value.clear();
        pair_value.extend_from_slice(value);
        self.pairs.push((pair_name, pair_value));
        // A set replaces every value: earlier edits of this header no longer matter.
        self.edits.retain(|e| e.name() != name);
        self.edits
            .push(HeaderEdit::Set(name.into_owned(), value.to_vec()));
        true
    }

    /// Adds a value to `name`, keeping the existing ones. Same checks as [`HeaderMap::set`].
    pub fn add(&mut self, name: &str, value: impl AsRef<[u8]>) -> bool {
        let value = value.as_ref();
        let Some(name) = Self::checked_name(name, value) else {
            return false;
        };
        self.pairs.push((name.clone().into_owned(), value.to_vec()));
        self.edits
            .push(HeaderEdit::Add(name.into_owned(), value.to_vec()));
        true
    }

    /// Removes every value of `name`. Recorded only if the header was present; earlier edits of
    /// the header are dropped, as the removal undoes them.
    pub fn remove(&mut self, name: &str) {
        let name = lowercase(name);
        let before = self.pairs.len();
        self.pairs.retain(|(n, _)| *n != *name);
        if self.pairs.len() != before {
            self.edits.retain(|e| e.name() != name);
            self.edits.push(HeaderEdit::Remove(name.into_owned()));
        }
    }

    /// The edits made so far, in order.
    pub fn edits(&self) -> &[HeaderEdit] {
        &self.edits
    }

    /// Takes the recorded edits, leaving none.
    pub fn take_edits(&mut self) -> Vec<HeaderEdit> {
        std::mem::take(&mut self.edits)
    }

    /// The lowercase name, if `name` is valid and `value` safe to emit (else a warning is logged).
    fn checked_name<'a>(name: &'a str, value: &[u8]) -> Option<std::borrow::Cow<'a, str>> {
        let lower = lowercase(name);
        if !is_valid_name(&lower) {
            log::warn!("refusing to emit header with invalid name {name:?}");
            return None;
        }
        if !is_safe_value(value) {
            log::warn!("refusing to emit header {name}: value contains CR, LF or NUL");
            return None;
        }
        Some(lower)
    }
}

fn has_uppercase(name: &str) -> bool {
    name.bytes().any(|b| b.is_ascii_uppercase())
}

/// `name` in lowercase, borrowed when it already is (the usual case).
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if has_uppercase(name) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

impl HeaderEdit {
    /// The header the edit changes.
    pub fn name(&self) -> &str {
        match self {
            Self::Set(name, _) | Self::Add(name, _) | Self::Remove(name) => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bytes_without_utf8() {
        let h = HeaderMap::from_pairs([
            ("X-Forwarded-For", b"1 \xC0\xA7\xC0\xA2".to_vec()),
            ("a", b"1".to_vec()),
            ("a", b"2".to_vec()),
        ]);
        assert_eq!(h.get("x-forwarded-for"), Some(&b"1 \xC0\xA7\xC0\xA2"[..]));
        assert_eq!(h.get_str("x-forwarded-for"), None, "non-UTF-8 is not a str");
        assert_eq!(
            h.get("A"),
            Some(&b"1"[..]),
            "first value wins, names are case-blind"
        );
        assert_eq!(h.count("a"), 2);
    }

    #[test]
    fn records_edits_in_order() {
        let mut h = HeaderMap::from_pairs([("x-consumer", "forged"), ("keep", "1")]);
        h.remove("x-consumer");
        h.remove("absent");
        assert!(h.set("X-Consumer", "alice"));
        assert!(h.add("x-group", "a"));
        assert_eq!(
            h.take_edits(),
            vec![
                HeaderEdit::Set("x-consumer".into(), b"alice".to_vec()),
                HeaderEdit::Add("x-group".into(), b"a".to_vec()),
            ],
            "the set makes the earlier removal of the same header unnecessary"
        );
        assert_eq!(h.get_str("x-consumer"), Some("alice"));
        assert!(h.edits().is_empty());
    }

    #[test]
    fn never_emits_unsafe_values_or_names() {
        let mut h = HeaderMap::default();
        for bad in [&b"a\r\nb"[..], b"a\nb", b"a\0b"] {
            assert!(!h.set("x", bad), "value {bad:?} must be refused");
            assert!(!h.add("x", bad), "value {bad:?} must be refused");
        }
        for bad in ["", "a b", "x:y", "é"] {
            assert!(!h.set(bad, "v"), "name {bad:?} must be refused");
        }
        assert!(h.edits().is_empty());
        assert!(h.is_empty());
    }

    /// Applies edits the way a host does.
    fn host_apply(
        mut pairs: Vec<(String, Vec<u8>)>,
        edits: &[HeaderEdit],
    ) -> Vec<(String, Vec<u8>)> {
        for e in edits {
            match e {
                HeaderEdit::Set(n, v) => {
                    pairs.retain(|(m, _)| m != n);
                    pairs.push((n.clone(), v.clone()));
                }
                HeaderEdit::Add(n, v) => pairs.push((n.clone(), v.clone())),
                HeaderEdit::Remove(n) => pairs.retain(|(m, _)| m != n),
            }
        }
        pairs.sort();
        pairs
    }

    #[test]
    fn coalesced_edits_leave_the_host_map_as_the_logic_sees_it() {
        // Every sequence of three operations on two names, from a map holding one of them.
        let ops = ["set a", "add a", "rm a", "set b", "add b", "rm b"];
        for x in ops {
            for y in ops {
                for z in ops {
                    let original = vec![
                        ("a".to_owned(), b"0".to_vec()),
                        ("c".to_owned(), b"1".to_vec()),
                    ];
                    let mut h = HeaderMap::from_pairs(original.clone());
                    for (i, op) in [x, y, z].iter().enumerate() {
                        let (verb, name) = op.split_once(' ').unwrap();
                        let value = format!("v{i}");
                        match verb {
                            "set" => assert!(h.set(name, value)),
                            "add" => assert!(h.add(name, value)),
                            _ => h.remove(name),
                        }
                    }
                    let mut seen = h.pairs().to_vec();
                    seen.sort();
                    let edits = h.take_edits();
                    assert_eq!(
                        host_apply(original, &edits),
                        seen,
                        "{x}, {y}, {z}: {edits:?}"
                    );
                    assert!(edits.len() <= 3);
                }
            }
        }
    }
}
