//! Configuration parsing whose errors name the offending field.
//!
//! Filters [`parse`] the document into a [`Json`] tree, read their wire structs from it with
//! [`Field`] (unknown members are errors), then validate them into their config type, returning
//! [`ConfigError::new`] with the field's path for range and consistency errors. [`from_json`]
//! deserializes any serde type the same way (the bundle's chain uses it; every generic
//! instantiation adds a derived deserializer to the module, so filters do not).

use serde::de::DeserializeOwned;

mod field;
mod locate;
pub mod testing;

pub use crate::json::{Json, Number};
pub use field::{Field, Object};

/// A configuration error: the field's path (`plans[0].limits[1].window`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration at `{field}`: {message}")]
pub struct ConfigError {
    /// Path of the offending field; `.` for the whole document.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error at `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Largest configuration accepted, in bytes.
pub const MAX_CONFIG_BYTES: usize = 4 << 20;

/// Parses JSON configuration into a tree to read with [`Field::root`]. Empty input parses as
/// `{}`; duplicate members, invalid JSON and trailing characters are errors naming the path.
pub fn parse(bytes: &[u8]) -> Result<Json, ConfigError> {
    from_json(bytes)
}

/// Parses JSON configuration. Empty input parses as `{}` (so missing required fields are named).
/// Unknown fields, duplicate fields, wrong types and invalid JSON are errors naming the path.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ConfigError> {
    if bytes.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::new(
            ".",
            format!(
                "configuration is {} bytes, over the {MAX_CONFIG_BYTES}-byte cap",
                bytes.len()
            ),
        ));
    }
    let trimmed = bytes.iter().all(|b| b.is_ascii_whitespace());
    let bytes = if trimmed { &b"{}"[..] } else { bytes };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de)
        .map_err(|e| ConfigError::new(field_of(&e, bytes), e.to_string()))?;
    de.end()
        .map_err(|e| ConfigError::new(".", format!("trailing characters: {e}")))?;
    Ok(value)
}

/// The path of the field a serde_json error is about, from where parsing stopped: the last byte
/// read (a member's name for an unknown field, the value for a wrong type), or, for a missing
/// field, the object that lacks it (its closing brace is the last byte read).
fn field_of(error: &serde_json::Error, json: &[u8]) -> String {
    if error.line() == 0 {
        return ".".into();
    }
    let line_start = json
        .split_inclusive(|&b| b == b'\n')
        .take(error.line() - 1)
        .map(<[u8]>::len)
        .sum::<usize>();
    let last_read = (line_start + error.column()).saturating_sub(1);
    locate::path_at(json, last_read)
}

/// Fails with an error at `field` if two items share a key (`what` names the key in the message).
pub fn ensure_unique<'a, I>(field: &str, what: &str, keys: I) -> Result<(), ConfigError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut seen = rustc_hash::FxHashSet::default();
    for (i, key) in keys.into_iter().enumerate() {
        if !seen.insert(key) {
            return Err(ConfigError::new(
                format!("{field}[{i}]"),
                format!("duplicate {what} {key:?}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        #[allow(dead_code)]
        plans: Vec<Plan>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Plan {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        limit: u32,
    }

    #[test]
    fn errors_name_the_field() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"plans":[{"name":"a","limit":"x"}]}"#,
                "plans[0].limit",
                "invalid type",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"extra":1}]}"#,
                "plans[0].extra",
                "unknown field",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"limit":2}]}"#,
                "plans[0].limit",
                "duplicate field `limit`",
            ),
            (
                r#"{"plans":[{"name":"a","limit":-1}]}"#,
                "plans[0].limit",
                "invalid value",
            ),
            (
                r#"{"plans":[{"name":"a"}]}"#,
                "plans[0]",
                "missing field `limit`",
            ),
            ("", ".", "missing field `plans`"),
            ("{", ".", "EOF"),
            (r#"{"plans":[]} x"#, ".", "trailing"),
        ];
        for (input, field, message) in cases {
            let err = from_json::<Raw>(input.as_bytes()).unwrap_err();
            assert_eq!(err.field, *field, "input {input}: {err}");
            assert!(err.message.contains(message), "input {input}: {err}");
        }
    }

    #[test]
    fn unique_keys() {
        assert!(ensure_unique("plans", "plan", ["a", "b"]).is_ok());
        let err = ensure_unique("plans", "plan", ["a", "b", "a"]).unwrap_err();
        assert_eq!(err.field, "plans[2]");
        assert!(err.message.contains("duplicate plan \"a\""));
    }
}
