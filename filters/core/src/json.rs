//! JSON as a tree: configurations and untrusted documents (JWT headers and claims, JWKS) parse
//! into [`Json`] with serde_json's parser.
//!
//! One tree type instead of a derived deserializer per configuration struct: serde_json's parser
//! is instantiated once per module, and the readers are plain functions. Derived visitors (one
//! parser instance per struct, and serde's value-formatting error messages with float
//! formatting) cost each filter 40 to 60 KB after wasm-opt. Objects keep their members in
//! document order in a `Vec`: no ordered map is linked, and the small objects of tokens are
//! looked up by a scan.
//!
//! Duplicate member names are refused at any depth (RFC 7515 §4 and RFC 8725 §3.11 require it of
//! JOSE headers; in a configuration a duplicate is a mistake). [`parse`] also bounds the nesting
//! and says why a document was refused without quoting it.

use std::cell::Cell;
use std::fmt;

use rustc_hash::FxHashSet;
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value. Objects keep their members in document order; duplicate member names are
/// refused while parsing.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: its members in document order.
    Object(Vec<(String, Json)>),
}

/// A JSON number as serde_json read it: a whole number when it has no fraction or exponent and
/// fits in 64 bits, else a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// A non-negative whole number.
    Unsigned(u64),
    /// A negative whole number.
    Negative(i64),
    /// Anything else.
    Float(f64),
}

/// Why [`parse`] refused a document. The messages never quote the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON, or trailing data.
    #[error("invalid JSON")]
    Invalid,
    /// The same member name twice in one object.
    #[error("duplicate member name")]
    Duplicate,
    /// Objects or arrays nested deeper than allowed.
    #[error("nested too deeply")]
    TooDeep,
}

/// Parses `bytes` as one JSON value, refusing duplicate member names, trailing data and nesting
/// deeper than `max_depth` (an object holding a scalar has depth 1; at most 127, serde_json's own
/// limit).
pub fn parse(bytes: &[u8], max_depth: usize) -> Result<Json, JsonError> {
    let refused = Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let tree = Tree {
        depth_left: max_depth,
        refused: Some(&refused),
    };
    let json = tree
        .deserialize(&mut de)
        .map_err(|_| refused.get().unwrap_or(JsonError::Invalid))?;
    de.end().map_err(|_| JsonError::Invalid)?;
    Ok(json)
}

impl Json {
    /// What the value is, for error messages: `a string`, `an object`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(Number::Float(_)) => "a floating-point number",
            Json::Number(Number::Negative(_)) => "a negative number",
            Json::Number(Number::Unsigned(_)) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }

    /// The member `name` of an object; `None` for other values.
    pub fn get(&self, name: &str) -> Option<&Json> {
        let Json::Object(members) = self else {
            return None;
        };
        members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Whether the value is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Configurations: serde_json's recursion limit bounds the depth.
        Tree {
            depth_left: usize::MAX,
            refused: None,
        }
        .deserialize(deserializer)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(Number::Unsigned(n)) => s.serialize_u64(*n),
            Json::Number(Number::Negative(n)) => s.serialize_i64(*n),
            Json::Number(Number::Float(n)) => s.serialize_f64(*n),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

/// Builds the tree, `depth_left` levels of arrays and objects deep at most; records why it
/// refused in `refused` (for [`parse`]).
#[derive(Clone, Copy)]
struct Tree<'a> {
    depth_left: usize,
    refused: Option<&'a Cell<Option<JsonError>>>,
}

impl Tree<'_> {
    fn refuse<E: de::Error>(self, why: JsonError, message: fmt::Arguments<'_>) -> E {
        if let Some(cell) = self.refused {
            cell.set(Some(why));
        }
        E::custom(message)
    }

    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        match self.depth_left.checked_sub(1) {
            Some(depth_left) => Ok(Self { depth_left, ..self }),
            None => Err(self.refuse(JsonError::TooDeep, format_args!("nested too deeply"))),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = Json;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(Number::Unsigned(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(match u64::try_from(v) {
            Ok(u) => Number::Unsigned(u),
            Err(_) => Number::Negative(v),
        }))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(Number::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let inner = self.deeper()?;
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut seen = FxHashSet::default();
        while let Some(name) = map.next_key::<String>()? {
            // Checked as the name is read, so that a configuration error points at the duplicate.
            // FxHash: std's seeded SipHash costs every module about 5 KB.
            if !seen.insert(name.clone()) {
                return Err(self.refuse(
                    JsonError::Duplicate,
                    format_args!("duplicate field `{name}`"),
                ));
            }
            let value = map.next_value_seed(inner)?;
            members.push((name, value));
        }
        Ok(Json::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Json, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn builds_the_tree_in_document_order() {
        let json = parse(r#"{"b":[1,-2,2.5,"x"],"a":{"n":null,"t":true}}"#).unwrap();
        assert_eq!(
            json,
            Json::Object(vec![
                (
                    "b".into(),
                    Json::Array(vec![
                        Json::Number(Number::Unsigned(1)),
                        Json::Number(Number::Negative(-2)),
                        Json::Number(Number::Float(2.5)),
                        Json::String("x".into()),
                    ])
                ),
                (
                    "a".into(),
                    Json::Object(vec![
                        ("n".into(), Json::Null),
                        ("t".into(), Json::Bool(true)),
                    ])
                ),
            ])
        );
    }

    #[test]
    fn refuses_duplicate_members_at_any_depth() {
        for doc in [r#"{"a":1,"a":2}"#, r#"{"x":[{"a":1,"b":2,"a":3}]}"#] {
            let err = parse(doc).unwrap_err();
            assert!(
                err.to_string().contains("duplicate field `a`"),
                "{doc}: {err}"
            );
        }
        assert!(parse(r#"{"a":{"a":1}}"#).is_ok(), "same name at two depths");
    }

    #[test]
    fn untrusted_documents_are_refused_by_kind() {
        let cases: &[(&str, Result<(), JsonError>, &str)] = &[
            (r#"{"a":1,"b":[1,{"c":2}]}"#, Ok(()), "plain object"),
            (
                r#"{"a":1,"a":1}"#,
                Err(JsonError::Duplicate),
                "top-level duplicate",
            ),
            (
                r#"{"x":{"a":1,"a":2}}"#,
                Err(JsonError::Duplicate),
                "nested duplicate",
            ),
            (
                r#"{"\u0061":1,"a":2}"#,
                Err(JsonError::Duplicate),
                "escaped duplicate",
            ),
            (
                r#"[[[[[[1]]]]]]"#,
                Err(JsonError::TooDeep),
                "six levels over a limit of 5",
            ),
            (r#"[[[[[1]]]]]"#, Ok(()), "five levels at a limit of 5"),
            (
                r#"{"a":{"b":{"c":{"d":{"e":1}}}}}"#,
                Ok(()),
                "five objects at a limit of 5",
            ),
            (
                r#"{"a":{"b":{"c":{"d":{"e":{}}}}}}"#,
                Err(JsonError::TooDeep),
                "six objects",
            ),
            (r#"{"a":1} x"#, Err(JsonError::Invalid), "trailing data"),
            (r#"{"a":1"#, Err(JsonError::Invalid), "truncated"),
            ("\u{feff}{}", Err(JsonError::Invalid), "byte order mark"),
            (
                r#"{"a":"\ud800"}"#,
                Err(JsonError::Invalid),
                "lone surrogate",
            ),
        ];
        for (input, want, msg) in cases {
            let got = super::parse(input.as_bytes(), 5).map(|_| ());
            assert_eq!(&got, want, "{msg}: {input}");
        }
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(super::parse(deep.as_bytes(), 16), Err(JsonError::TooDeep));
        let deep = r#"{"a":"#.repeat(100_000);
        assert_eq!(super::parse(deep.as_bytes(), 16), Err(JsonError::TooDeep));
    }

    #[test]
    fn reads_members_and_writes_compact_json() {
        let doc =
            r#"{"s":"x\"y","n":[1,-2,2.5,1e300,18446744073709551616],"o":{"t":true,"z":null}}"#;
        let json = super::parse(doc.as_bytes(), 4).unwrap();
        assert_eq!(json.get("s").and_then(Json::as_str), Some("x\"y"));
        assert_eq!(
            json.get("n").and_then(Json::as_array).map(<[Json]>::len),
            Some(5)
        );
        assert!(json.get("o").is_some_and(Json::is_object));
        assert_eq!(json.get("o").and_then(|o| o.get("z")), Some(&Json::Null));
        assert_eq!(json.get("missing"), None);
        assert_eq!(
            json.get("s").and_then(|s| s.get("s")),
            None,
            "a string has no members"
        );
        // What serde_json's own tree writes for the same document, members in document order.
        let text = serde_json::to_string(&json).unwrap();
        assert_eq!(
            text,
            r#"{"s":"x\"y","n":[1,-2,2.5,1e+300,1.8446744073709552e+19],"o":{"t":true,"z":null}}"#
        );
        let again: serde_json::Value = serde_json::from_slice(doc.as_bytes()).unwrap();
        let ours: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(again["n"], ours["n"]);
        assert_eq!(again["s"], ours["s"]);
    }
}
