//! Byte-safe header maps with recorded edits.
//!
//! Header values are bytes: a client may send anything, and non-UTF-8 values must never panic a
//! filter. Logic reads a [`HeaderMap`] and edits it; the edits are recorded and the adapter applies
//! them to the host after the callback returns, so logic stays a pure function of its inputs.

/// One change to a header map, applied by the adapter in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderEdit<'a> {
    /// Replace every value of the header with this one (adds it if absent).
    Set(&'a str, &'a [u8]),
    /// Add one more value.
    Add(&'a str, &'a [u8]),
    /// Remove every value of the header.
    Remove(&'a str),
}

/// A header map as the host delivered it (lowercase names, values in order), plus the edits the
/// logic made to it.
///
/// Names and values are ranges of two buffers: the host's serialized map, taken as it came, and
/// one for what edits add (so editing never copies the host's buffer): reading a map and
/// editing it allocate nothing per header. Every name is lowercase UTF-8.
#[derive(Clone, Default)]
pub struct HeaderMap {
    /// The host's serialized map (names lowercased in place).
    wire: Vec<u8>,
    /// Names and values added since; a span at or past `wire.len()` lies here.
    added: Vec<u8>,
    pairs: Vec<Pair>,
    edits: Vec<Edit>,
}

/// Room reserved for the first added names and values, and for pairs beyond the host's.
const ADDED_BYTES: usize = 256;
const ADDED_PAIRS: usize = 8;

/// A range of the concatenation of [`HeaderMap::wire`] and [`HeaderMap::added`].
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    end: usize,
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Self {
            start: r.start,
            end: r.end,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Pair {
    name: Span,
    value: Span,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum EditKind {
    Set,
    Add,
    Remove,
}

#[derive(Debug, Clone, Copy)]
struct Edit {
    kind: EditKind,
    /// The value is empty for a removal.
    pair: Pair,
    /// For a set or a removal: how many values of the header the host's map holds when the
    /// edits are applied (before this one and those after it). Unused for an add.
    host: usize,
}

/// Whether a value may be emitted as a header value: no CR, LF or NUL.
pub fn is_safe_value(value: &[u8]) -> bool {
    !crate::bytes::has_cr_lf_nul(value)
}

/// Whether a name is a valid lowercase header name (an RFC 9110 token, or a pseudo-header).
pub fn is_valid_name(name: &str) -> bool {
    let body = name.strip_prefix(':').unwrap_or(name);
    !body.is_empty()
        && (crate::bytes::is_plain_name(body.as_bytes())
            || body.bytes().all(|b| LOWERCASE_TOKEN[usize::from(b)]))
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
    pub fn from_pairs<N: AsRef<str>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        let mut map = Self::default();
        for (name, value) in pairs {
            let name = map.push(name.as_ref().as_bytes());
            if let Some(raw) = map.added.get_mut(name.start..name.end) {
                raw.make_ascii_lowercase();
            }
            let value = map.push(value.as_ref());
            map.pairs.push(Pair { name, value });
        }
        map
    }

    /// The map serialized in the proxy-wasm layout (see [`crate::pairs`]), taking the buffer as
    /// it is: names are lowercased in place, and a name that is not UTF-8 is replaced by its
    /// lossy form. `None` if the layout is malformed.
    pub fn from_wire(mut bytes: Vec<u8>) -> Option<Self> {
        let mut pairs = Vec::with_capacity(crate::pairs::declared(&bytes) + ADDED_PAIRS);
        let mut non_ascii = false;
        crate::pairs::spans(&bytes, |name, value| {
            pairs.push(Pair {
                name: name.into(),
                value: value.into(),
            });
        })?;
        for p in &pairs {
            let name = bytes.get_mut(p.name.start..p.name.end).unwrap_or_default();
            if !crate::bytes::is_lower_ascii(name) {
                non_ascii |= !name.is_ascii();
                name.make_ascii_lowercase();
            }
        }
        let mut map = Self {
            wire: bytes,
            added: Vec::new(),
            pairs,
            edits: Vec::new(),
        };
        if non_ascii {
            // Rare (names are tokens): a name that is not UTF-8 is replaced by its lossy form.
            let mut pairs = std::mem::take(&mut map.pairs);
            for p in &mut pairs {
                if std::str::from_utf8(map.slice(p.name)).is_err() {
                    let lossy = String::from_utf8_lossy(map.slice(p.name)).into_owned();
                    p.name = map.push(lossy.as_bytes());
                }
            }
            map.pairs = pairs;
        }
        Some(map)
    }

    /// Appends bytes to the added buffer; their span.
    fn push(&mut self, bytes: &[u8]) -> Span {
        if self.added.capacity() == 0 {
            self.added.reserve(ADDED_BYTES.max(bytes.len()));
        }
        let start = self.wire.len() + self.added.len();
        self.added.extend_from_slice(bytes);
        Span {
            start,
            end: start + bytes.len(),
        }
    }

    fn slice(&self, span: Span) -> &[u8] {
        slice(&self.wire, &self.added, span)
    }

    /// A name span as text (always UTF-8, see [`HeaderMap::from_wire`]).
    fn text(&self, span: Span) -> &str {
        std::str::from_utf8(self.slice(span)).unwrap_or_default()
    }

    /// The pairs named `name` (lowercased first if it has uppercase letters: the map's names
    /// are lowercase, and callers almost always ask with lowercase names).
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Pair> + 'a {
        let name = lowercase(name);
        self.pairs.iter().filter(move |p| self.is_named(p, &name))
    }

    fn is_named(&self, pair: &Pair, name: &str) -> bool {
        spans_name(&self.wire, &self.added, pair.name, name.as_bytes())
    }

    /// The first value of `name`, as Envoy's `get_header_map_value` returns it. Names are
    /// case-blind.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        // Looked up by the exact name first: the uppercase check costs a pass only on a miss.
        let found = match self.pairs.iter().find(|p| self.is_named(p, name)) {
            None if has_uppercase(name) => self.named(name).next(),
            found => found,
        };
        found.map(|p| self.slice(p.value))
    }

    /// The first value of `name` if it is valid UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.named(name).map(|p| self.slice(p.value))
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.named(name).count()
    }

    /// How `name` occurs: `Ok(None)` absent, `Ok(Some(value))` exactly once, `Err(n)` `n` > 1
    /// times. One pass, for headers that must not be repeated.
    pub fn single(&self, name: &str) -> Result<Option<&[u8]>, usize> {
        let mut named = self.named(name);
        let Some(first) = named.next() else {
            return Ok(None);
        };
        match named.count() {
            0 => Ok(Some(self.slice(first.value))),
            more => Err(more + 1),
        }
    }

    /// Whether `name` occurs at all.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All pairs in order, as they are now (edits included).
    pub fn pairs(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + '_ {
        self.pairs
            .iter()
            .map(|p| (self.text(p.name), self.slice(p.value)))
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
        let Some(pair) = self.checked_pair(name, value.as_ref()) else {
            return false;
        };
        let host = self.host_copies(pair.name);
        self.forget(pair.name);
        self.pairs.push(pair);
        if host > 1 {
            // ngx_wasm_module replaces a header held more than once by marking every copy
            // removed, the new value too: the copies are removed first, and the replacement
            // then adds the one value. (Envoy's replace is a removal and an add already.)
            self.edits.push(Edit {
                kind: EditKind::Remove,
                pair: Pair {
                    name: pair.name,
                    value: Span::default(),
                },
                host,
            });
        }
        self.edits.push(Edit {
            kind: EditKind::Set,
            pair,
            host,
        });
        true
    }

    /// Adds a value to `name`, keeping the existing ones. Same checks as [`HeaderMap::set`].
    pub fn add(&mut self, name: &str, value: impl AsRef<[u8]>) -> bool {
        let Some(pair) = self.checked_pair(name, value.as_ref()) else {
            return false;
        };
        self.pairs.push(pair);
        self.edits.push(Edit {
            kind: EditKind::Add,
            pair,
            host: 0,
        });
        true
    }

    /// Removes every value of `name`. Recorded only if the header was present; earlier edits of
    /// the header are dropped, as the removal undoes them.
    pub fn remove(&mut self, name: &str) {
        let name = lowercase(name);
        if !self.pairs.iter().any(|p| self.is_named(p, &name)) {
            return;
        }
        let span = self.push(name.as_bytes());
        let host = self.host_copies(span);
        self.forget(span);
        self.edits.push(Edit {
            kind: EditKind::Remove,
            pair: Pair {
                name: span,
                value: Span::default(),
            },
            host,
        });
    }

    /// How many values of the header named by `name` the host's map holds when the recorded
    /// edits are applied: the edits of a header are at most one set or removal (which knows)
    /// followed by adds (which the pairs include).
    fn host_copies(&self, name: Span) -> usize {
        let (wire, added) = (&self.wire, &self.added);
        let name = slice(wire, added, name);
        let mut adds = 0;
        for e in &self.edits {
            if spans_name(wire, added, e.pair.name, name) {
                match e.kind {
                    EditKind::Set | EditKind::Remove => return e.host,
                    EditKind::Add => adds += 1,
                }
            }
        }
        let now = self
            .pairs
            .iter()
            .filter(|p| spans_name(wire, added, p.name, name))
            .count();
        now.saturating_sub(adds)
    }

    /// Drops the pairs named like `name`, and the earlier edits of that header (a set or a
    /// removal replaces whatever they did).
    fn forget(&mut self, name: Span) {
        let (wire, added) = (&self.wire, &self.added);
        let name = slice(wire, added, name);
        let other = |span: Span| !spans_name(wire, added, span, name);
        self.pairs.retain(|p| other(p.name));
        self.edits.retain(|e| other(e.pair.name));
    }

    /// The edits made so far, in order.
    pub fn edits(&self) -> impl ExactSizeIterator<Item = HeaderEdit<'_>> + '_ {
        self.edits.iter().map(|e| {
            let name = self.text(e.pair.name);
            match e.kind {
                EditKind::Set => HeaderEdit::Set(name, self.slice(e.pair.value)),
                EditKind::Add => HeaderEdit::Add(name, self.slice(e.pair.value)),
                EditKind::Remove => HeaderEdit::Remove(name),
            }
        })
    }

    /// The edits as the adapter applies them: kind, name and value bytes (names are valid
    /// tokens by construction, so they need no UTF-8 check on the way out).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn raw_edits(&self) -> impl Iterator<Item = (EditKind, &[u8], &[u8])> + '_ {
        self.edits
            .iter()
            .map(|e| (e.kind, self.slice(e.pair.name), self.slice(e.pair.value)))
    }

    /// Forgets the recorded edits (once they are applied).
    pub fn clear_edits(&mut self) {
        self.edits.clear();
    }

    /// The stored pair for `name` and `value`, if `name` is valid and `value` safe to emit
    /// (else a warning is logged).
    fn checked_pair(&mut self, name: &str, value: &[u8]) -> Option<Pair> {
        // Valid names are usually given in lowercase already: then one pass checks both.
        let lower = if is_valid_name(name) {
            std::borrow::Cow::Borrowed(name)
        } else {
            let lower = lowercase(name);
            if !is_valid_name(&lower) {
                log::warn!("refusing to emit header with invalid name {name:?}");
                return None;
            }
            lower
        };
        if !is_safe_value(value) {
            log::warn!("refusing to emit header {name}: value contains CR, LF or NUL");
            return None;
        }
        let name = self.push(lower.as_bytes());
        let value = self.push(value);
        Some(Pair { name, value })
    }
}

impl std::fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderMap")
            .field(
                "pairs",
                &self
                    .pairs()
                    .map(|(n, v)| (n, String::from_utf8_lossy(v)))
                    .collect::<Vec<_>>(),
            )
            .field("edits", &self.edits().collect::<Vec<_>>())
            .finish()
    }
}

/// Maps are equal when they hold the same pairs in the same order and the same edits.
impl PartialEq for HeaderMap {
    fn eq(&self, other: &Self) -> bool {
        self.pairs().eq(other.pairs()) && self.edits().eq(other.edits())
    }
}

impl Eq for HeaderMap {}

/// The bytes of `span` (empty if it lies outside both buffers, which never happens).
fn slice<'a>(wire: &'a [u8], added: &'a [u8], span: Span) -> &'a [u8] {
    let base = wire.len();
    let range = if span.start >= base {
        added.get(span.start - base..span.end.saturating_sub(base))
    } else {
        wire.get(span.start..span.end)
    };
    range.unwrap_or_default()
}

/// Whether `span` holds `name` (lengths first: most names differ in length). Inlined: it runs
/// once per pair in every scan.
#[inline(always)]
fn spans_name(wire: &[u8], added: &[u8], span: Span, name: &[u8]) -> bool {
    span.end - span.start == name.len() && crate::bytes::eq(slice(wire, added, span), name)
}

fn has_uppercase(name: &str) -> bool {
    !crate::bytes::is_lower_ascii(name.as_bytes()) && name.bytes().any(|b| b.is_ascii_uppercase())
}

/// `name` in lowercase, borrowed when it already is (the usual case).
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if has_uppercase(name) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
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
        assert_eq!(h.single("A"), Err(2), "a repeated header is not single");
        assert_eq!(
            h.single("x-forwarded-for"),
            Ok(Some(&b"1 \xC0\xA7\xC0\xA2"[..]))
        );
        assert_eq!(h.single("absent"), Ok(None));
    }

    #[test]
    fn reads_the_host_layout_in_place() {
        let wire = crate::pairs::encode(&[
            (&b"X-Forwarded-For"[..], &b"1 \xC0\xA7"[..]),
            (b"a\xff", b"2"),
            (b":path", b"/"),
        ]);
        let h = HeaderMap::from_wire(wire.clone()).unwrap();
        assert_eq!(
            h.pairs().collect::<Vec<_>>(),
            [
                ("x-forwarded-for", &b"1 \xC0\xA7"[..]),
                ("a\u{fffd}", b"2"),
                (":path", b"/"),
            ],
            "names lowercased, a non-UTF-8 name made lossy, values untouched"
        );
        assert_eq!(
            h,
            HeaderMap::from_pairs(crate::pairs::decode(&wire).unwrap())
        );
        assert_eq!(h.get("X-FORWARDED-FOR"), Some(&b"1 \xC0\xA7"[..]));
        assert!(HeaderMap::from_wire(wire[..wire.len() - 1].to_vec()).is_none());
        assert_eq!(HeaderMap::from_wire(Vec::new()), Some(HeaderMap::default()));
    }

    #[test]
    fn records_edits_in_order() {
        let mut h = HeaderMap::from_pairs([("x-consumer", "forged"), ("keep", "1")]);
        h.remove("x-consumer");
        h.remove("absent");
        assert!(h.set("X-Consumer", "alice"));
        assert!(h.add("x-group", "a"));
        assert_eq!(
            h.edits().collect::<Vec<_>>(),
            [
                HeaderEdit::Set("x-consumer", b"alice"),
                HeaderEdit::Add("x-group", b"a"),
            ],
            "the set makes the earlier removal of the same header unnecessary"
        );
        assert_eq!(h.get_str("x-consumer"), Some("alice"));
        h.clear_edits();
        assert_eq!(h.edits().len(), 0);
        assert_eq!(
            h.get_str("x-consumer"),
            Some("alice"),
            "clearing edits keeps the pairs"
        );
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
        assert_eq!(h.edits().len(), 0);
        assert!(h.is_empty());
    }

    /// Applies edits the way a host does: Envoy (a replace removes every copy and adds the value
    /// at the end), or ngx_wasm_module (a replace updates a single copy in place, and over
    /// several copies marks them all removed, the new value too).
    fn host_apply<'a>(
        mut pairs: Vec<(&'a str, &'a [u8])>,
        edits: impl Iterator<Item = HeaderEdit<'a>>,
        nginx: bool,
    ) -> Vec<(&'a str, &'a [u8])> {
        for e in edits {
            match e {
                HeaderEdit::Set(n, v) if nginx => {
                    match pairs.iter().filter(|(m, _)| *m == n).count() {
                        0 => pairs.push((n, v)),
                        1 => pairs
                            .iter_mut()
                            .filter(|(m, _)| *m == n)
                            .for_each(|p| p.1 = v),
                        _ => pairs.retain(|(m, _)| *m != n),
                    }
                }
                HeaderEdit::Set(n, v) => {
                    pairs.retain(|(m, _)| *m != n);
                    pairs.push((n, v));
                }
                HeaderEdit::Add(n, v) => pairs.push((n, v)),
                HeaderEdit::Remove(n) => pairs.retain(|(m, _)| *m != n),
            }
        }
        pairs
    }

    #[test]
    fn coalesced_edits_leave_the_host_map_as_the_logic_sees_it() {
        // Every sequence of three operations on two names, from a map holding one of them once
        // or twice, on both hosts.
        let ops = ["set a", "add a", "rm a", "set b", "add b", "rm b"];
        let originals: [Vec<(&str, &[u8])>; 2] = [
            vec![("a", b"0"), ("c", b"1")],
            vec![("a", b"0"), ("c", b"1"), ("a", b"2")],
        ];
        for original in originals {
            for x in ops {
                for y in ops {
                    for z in ops {
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
                        let mut seen: Vec<_> = h.pairs().collect();
                        seen.sort();
                        let edits: Vec<_> = h.edits().collect();
                        for nginx in [false, true] {
                            let mut applied = host_apply(original.clone(), h.edits(), nginx);
                            applied.sort();
                            assert_eq!(
                                applied, seen,
                                "{original:?} nginx {nginx}: {x}, {y}, {z}: {edits:?}"
                            );
                        }
                        // One more (a removal) only where the host holds several copies.
                        let twice = original.iter().filter(|(n, _)| *n == "a").count() > 1;
                        assert!(edits.len() <= 3 + usize::from(twice), "{edits:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_header_held_twice_is_removed_before_it_is_set() {
        let mut h = HeaderMap::from_pairs([("x-consumer", "a"), ("x-consumer", "b")]);
        assert!(h.set("x-consumer", "bob"));
        assert_eq!(
            h.edits().collect::<Vec<_>>(),
            [
                HeaderEdit::Remove("x-consumer"),
                HeaderEdit::Set("x-consumer", b"bob")
            ]
        );
        // Still two copies on the host until the edits are applied: a later set knows it.
        h.remove("x-consumer");
        assert!(h.add("x-consumer", "c"));
        assert!(h.set("x-consumer", "carol"));
        assert_eq!(
            h.edits().collect::<Vec<_>>(),
            [
                HeaderEdit::Remove("x-consumer"),
                HeaderEdit::Set("x-consumer", b"carol")
            ]
        );
        h.clear_edits();
        assert!(h.set("x-consumer", "dave"));
        assert_eq!(
            h.edits().collect::<Vec<_>>(),
            [HeaderEdit::Set("x-consumer", b"dave")],
            "one copy once applied"
        );
    }
}
