//! JSON parsing that refuses what `serde_json::Value` silently accepts: duplicate member names
//! (RFC 8725 §3.11 and RFC 7515 §4: a JOSE header with duplicates must be rejected) and nesting
//! deeper than a caller-given limit.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was refused. The messages never quote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// Parses `bytes` as one JSON value, refusing duplicate member names and nesting deeper than
/// `max_depth` (an object holding a scalar has depth 1).
pub fn parse(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Seed {
        depth: 0,
        max_depth,
    }
    .deserialize(&mut de)
    .map_err(|e| classify(&e))?;
    de.end().map_err(|_| JsonError::Invalid)?;
    Ok(value)
}

/// Parses `bytes` as a JSON object (see [`parse`]).
pub fn parse_object(bytes: &[u8], max_depth: usize) -> Result<Map<String, Value>, JsonError> {
    match parse(bytes, max_depth)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::Invalid),
    }
}

const DUPLICATE: &str = "\u{0}duplicate";
const TOO_DEEP: &str = "\u{0}too-deep";

fn classify(e: &serde_json::Error) -> JsonError {
    let text = e.to_string();
    if text.starts_with(DUPLICATE) {
        JsonError::Duplicate
    } else if text.starts_with(TOO_DEEP) || text.contains("recursion limit") {
        JsonError::TooDeep
    } else {
        JsonError::Invalid
    }
}

#[derive(Clone, Copy)]
struct Seed {
    depth: usize,
    max_depth: usize,
}

impl Seed {
    fn deeper<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.max_depth {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Self {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let value = map.next_value_seed(inner)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_depth_and_garbage() {
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
            (r#"{"a":1} x"#, Err(JsonError::Invalid), "trailing data"),
            (r#"{"a":1"#, Err(JsonError::Invalid), "truncated"),
            ("\u{feff}{}", Err(JsonError::Invalid), "byte order mark"),
        ];
        for (input, want, msg) in cases {
            let got = parse(input.as_bytes(), 5).map(|_| ());
            assert_eq!(&got, want, "{msg}: {input}");
        }
    }

    #[test]
    fn deep_nesting_never_overflows_the_stack() {
        let deep = "[".repeat(100_000);
        assert_eq!(parse(deep.as_bytes(), 16), Err(JsonError::TooDeep));
        assert!(parse_object(b"[]", 4).is_err(), "an array is not an object");
    }
}
