//! The configuration document as a tree: serde_json parses it once into [`Json`], and filters
//! read their fields from it by hand through [`Field`](super::Field).
//!
//! One tree type instead of a derived deserializer per configuration struct: serde_json's parser
//! is instantiated once per module, and the readers are plain functions. Derived visitors (one
//! parser instance per struct, and serde's value-formatting error messages with float
//! formatting) cost each filter 40 to 60 KB after wasm-opt.

use std::fmt;

use rustc_hash::FxHashSet;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

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
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
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
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        let mut seen = FxHashSet::default();
        while let Some(name) = map.next_key::<String>()? {
            // Checked as the name is read, so that the error points at the duplicate. FxHash: the
            // configuration comes from the operator, and std's seeded SipHash costs every
            // module about 5 KB.
            if !seen.insert(name.clone()) {
                return Err(de::Error::custom(format_args!("duplicate field `{name}`")));
            }
            let value = map.next_value()?;
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
}
