//! Reading configuration by hand from the parsed [`Json`] tree: a [`Field`] is a value and its
//! path, an [`Object`] a field whose member names have been checked. Every error names the path
//! (`plans[0].limits[1].window`) and says what was expected, in serde's words (`missing field`,
//! `unknown field`, `invalid type`, `invalid value`, `unknown variant`).
//!
//! ```
//! use filter_core::config::{parse, ConfigError, Field};
//!
//! struct Limit { window: String, requests: u32 }
//!
//! fn limit(f: Field<'_>) -> Result<Limit, ConfigError> {
//!     let o = f.object(&["window", "requests"])?;
//!     Ok(Limit {
//!         window: o.or("window", Field::string, "1m".into())?,
//!         requests: o.req("requests", Field::u32)?,
//!     })
//! }
//!
//! let json = parse(br#"{"limits": [{"requests": 10}, {"requests": -1}]}"#).unwrap();
//! let root = Field::root(&json).object(&["limits"]).unwrap();
//! let err = root.req("limits", |f| f.list(limit)).err().unwrap();
//! assert_eq!(err.field, "limits[1].requests");
//! ```

use super::ConfigError;
use crate::json::{Json, Number};

/// A configuration value and its path.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    path: String,
    json: &'a Json,
}

/// An object whose member names are all known; fields are read from it by name.
#[derive(Debug, Clone)]
pub struct Object<'a> {
    path: String,
    members: &'a [(String, Json)],
}

impl<'a> Field<'a> {
    /// The whole document.
    pub fn root(json: &'a Json) -> Self {
        Self {
            path: String::new(),
            json,
        }
    }

    /// The field's path; `.` for the document.
    pub fn path(&self) -> &str {
        shown(&self.path)
    }

    /// The value.
    pub fn json(&self) -> &'a Json {
        self.json
    }

    /// An error about this field.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path(), message)
    }

    fn invalid_type(&self, expected: &str) -> ConfigError {
        self.error(format!(
            "invalid type: {}, expected {expected}",
            self.json.kind()
        ))
    }

    /// `None` for `null`.
    pub fn nullable(self) -> Option<Self> {
        (!matches!(self.json, Json::Null)).then_some(self)
    }

    /// A string, borrowed from the document.
    pub fn str(&self) -> Result<&'a str, ConfigError> {
        match self.json {
            Json::String(s) => Ok(s),
            _ => Err(self.invalid_type("a string")),
        }
    }

    /// A string.
    pub fn string(self) -> Result<String, ConfigError> {
        self.str().map(str::to_owned)
    }

    /// `true` or `false`.
    pub fn bool(self) -> Result<bool, ConfigError> {
        match self.json {
            Json::Bool(b) => Ok(*b),
            _ => Err(self.invalid_type("a boolean")),
        }
    }

    /// A whole number from 0 to `max`.
    fn whole(&self, max: u64) -> Result<u64, ConfigError> {
        match self.json {
            Json::Number(Number::Unsigned(n)) if *n <= max => Ok(*n),
            Json::Number(Number::Unsigned(n)) => Err(self.out_of_range(&n.to_string(), max)),
            Json::Number(Number::Negative(n)) => Err(self.out_of_range(&n.to_string(), max)),
            // A whole number beyond 64 bits parses as a float; it is still out of range, not a
            // float (a float in range, `1.5` or `1e3`, is the wrong type).
            Json::Number(Number::Float(f)) if f.fract() == 0.0 && f.abs() >= 2f64.powi(63) => {
                Err(self.out_of_range(&format!("{f:e}"), max))
            }
            _ => Err(self.invalid_type("an integer")),
        }
    }

    fn out_of_range(&self, value: &str, max: u64) -> ConfigError {
        self.error(format!(
            "invalid value: {value}, expected an integer from 0 to {max}"
        ))
    }

    /// A whole number from 0 to `u64::MAX`.
    pub fn u64(self) -> Result<u64, ConfigError> {
        self.whole(u64::MAX)
    }

    /// A whole number from 0 to `u32::MAX`.
    pub fn u32(self) -> Result<u32, ConfigError> {
        // In range by the check.
        self.whole(u32::MAX.into()).map(|n| n as u32)
    }

    /// A whole number from 0 to `u16::MAX`.
    pub fn u16(self) -> Result<u16, ConfigError> {
        // In range by the check.
        self.whole(u16::MAX.into()).map(|n| n as u16)
    }

    /// A whole number from 0 to `u32::MAX` (configuration sizes stay below 4 GiB on every
    /// target, wasm32 included).
    pub fn usize(self) -> Result<usize, ConfigError> {
        // In range by the check on wasm32 and on 64-bit hosts.
        self.whole(u32::MAX.into()).map(|n| n as usize)
    }

    /// Any number.
    pub fn f64(self) -> Result<f64, ConfigError> {
        match self.json {
            Json::Number(Number::Unsigned(n)) => Ok(*n as f64),
            Json::Number(Number::Negative(n)) => Ok(*n as f64),
            Json::Number(Number::Float(n)) => Ok(*n),
            _ => Err(self.invalid_type("a number")),
        }
    }

    /// One of `variants` (a string), as its value.
    pub fn choice<T: Copy>(self, variants: &[(&str, T)]) -> Result<T, ConfigError> {
        let s = self.str()?;
        match variants.iter().find(|(name, _)| *name == s) {
            Some((_, value)) => Ok(*value),
            None => Err(self.error(format!(
                "unknown variant `{s}`, expected {}",
                one_of(variants.iter().map(|(name, _)| *name))
            ))),
        }
    }

    /// An array, each element read by `read`.
    pub fn list<T>(
        self,
        mut read: impl FnMut(Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<Vec<T>, ConfigError> {
        let Json::Array(items) = self.json else {
            return Err(self.invalid_type("an array"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, json) in items.iter().enumerate() {
            out.push(read(Field {
                path: format!("{}[{i}]", self.path),
                json,
            })?);
        }
        Ok(out)
    }

    /// An array of strings.
    pub fn strings(self) -> Result<Vec<String>, ConfigError> {
        self.list(Field::string)
    }

    /// An object's members in document order, for objects keyed by names the configuration
    /// chooses (consumers, plans).
    pub fn entries(self) -> Result<Vec<(&'a str, Field<'a>)>, ConfigError> {
        let Json::Object(members) = self.json else {
            return Err(self.invalid_type("an object"));
        };
        Ok(members
            .iter()
            .map(|(name, json)| (name.as_str(), self.child(name, json)))
            .collect())
    }

    /// An object whose members are all named in `fields`; any other member is an error at its
    /// path.
    pub fn object(self, fields: &[&str]) -> Result<Object<'a>, ConfigError> {
        let Json::Object(members) = self.json else {
            return Err(self.invalid_type("an object"));
        };
        if let Some((name, json)) = members.iter().find(|(n, _)| !fields.contains(&n.as_str())) {
            return Err(self.child(name, json).error(format!(
                "unknown field `{name}`, expected {}",
                one_of(fields.iter().copied())
            )));
        }
        Ok(Object {
            path: self.path,
            members,
        })
    }

    fn child(&self, name: &str, json: &'a Json) -> Field<'a> {
        Field {
            path: join(&self.path, name),
            json,
        }
    }
}

impl<'a> Object<'a> {
    /// The object's path; `.` for the document.
    pub fn path(&self) -> &str {
        shown(&self.path)
    }

    /// An error about the object as a whole.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path(), message)
    }

    /// The member `name`, `null` included; `None` when absent.
    pub fn field(&self, name: &str) -> Option<Field<'a>> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(n, json)| Field {
                path: join(&self.path, n),
                json,
            })
    }

    /// A required member.
    pub fn req<T>(
        &self,
        name: &str,
        read: impl FnOnce(Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        match self.field(name) {
            Some(f) => read(f),
            None => Err(self.error(format!("missing field `{name}`"))),
        }
    }

    /// An optional member: `None` when absent or `null`.
    pub fn opt<T>(
        &self,
        name: &str,
        read: impl FnOnce(Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.field(name)
            .and_then(Field::nullable)
            .map(read)
            .transpose()
    }

    /// A member with a default when absent (`null` is read like any other value). The default
    /// is a value rather than a closure: one instance of this function per value type and
    /// reader, not one per default.
    pub fn or<T>(
        &self,
        name: &str,
        read: impl FnOnce(Field<'a>) -> Result<T, ConfigError>,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.field(name) {
            Some(f) => read(f),
            None => Ok(default),
        }
    }

    /// A member defaulting to `T::default()` when absent.
    pub fn or_default<T: Default>(
        &self,
        name: &str,
        read: impl FnOnce(Field<'a>) -> Result<T, ConfigError>,
    ) -> Result<T, ConfigError> {
        self.or(name, read, T::default())
    }
}

/// A path as errors show it: `.` for the document.
fn shown(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}

/// The path of member `name` of the value at `path` (`""` is the document).
pub(super) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// "`a`, `b` or `c`" as serde words it: "one of `a`, `b`, `c`" (or "`a`" alone).
fn one_of<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let names: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    match names.len() {
        0 => "nothing".to_owned(),
        1 => names.concat(),
        _ => format!("one of {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Plan {
        name: String,
        limit: u32,
        burst: Option<u16>,
        tier: Tier,
        tags: Vec<String>,
    }

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Tier {
        Free,
        Paid,
    }

    fn plan(f: Field<'_>) -> Result<Plan, ConfigError> {
        let o = f.object(&["name", "limit", "burst", "tier", "tags"])?;
        Ok(Plan {
            name: o.req("name", Field::string)?,
            limit: o.req("limit", Field::u32)?,
            burst: o.opt("burst", Field::u16)?,
            tier: o.or(
                "tier",
                |f| f.choice(&[("free", Tier::Free), ("paid", Tier::Paid)]),
                Tier::Free,
            )?,
            tags: o.or_default("tags", Field::strings)?,
        })
    }

    fn plans(doc: &str) -> Result<Vec<Plan>, ConfigError> {
        let json = parse(doc.as_bytes())?;
        let root = Field::root(&json).object(&["plans"])?;
        root.req("plans", |f| f.list(plan))
    }

    #[test]
    fn reads_fields_and_defaults() {
        let got = plans(
            r#"{"plans":[{"name":"a","limit":5},
               {"name":"b","limit":4294967295,"burst":null,"tier":"paid","tags":["x"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Plan {
                    name: "a".into(),
                    limit: 5,
                    burst: None,
                    tier: Tier::Free,
                    tags: vec![],
                },
                Plan {
                    name: "b".into(),
                    limit: u32::MAX,
                    burst: None,
                    tier: Tier::Paid,
                    tags: vec!["x".into()],
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_field_and_what_was_expected() {
        let cases: &[(&str, &str, &str)] = &[
            (
                r#"{"plans":[{"name":"a","limit":"x"}]}"#,
                "plans[0].limit",
                "invalid type: a string, expected an integer",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1.5}]}"#,
                "plans[0].limit",
                "invalid type: a floating-point number",
            ),
            (
                r#"{"plans":[{"name":"a","limit":-1}]}"#,
                "plans[0].limit",
                "invalid value: -1, expected an integer from 0",
            ),
            (
                r#"{"plans":[{"name":"a","limit":100000000000000000000}]}"#,
                "plans[0].limit",
                "invalid value: 1e20, expected an integer from 0 to 4294967295",
            ),
            (
                r#"{"plans":[{"name":"a","limit":-100000000000000000000}]}"#,
                "plans[0].limit",
                "invalid value: -1e20, expected an integer from 0 to 4294967295",
            ),
            (
                r#"{"plans":[{"name":"a","limit":4294967296}]}"#,
                "plans[0].limit",
                "from 0 to 4294967295",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"burst":65536}]}"#,
                "plans[0].burst",
                "from 0 to 65535",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"extra":1}]}"#,
                "plans[0].extra",
                "unknown field `extra`, expected one of `name`, `limit`",
            ),
            (
                r#"{"plans":[{"name":"a"}]}"#,
                "plans[0]",
                "missing field `limit`",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"tier":"gold"}]}"#,
                "plans[0].tier",
                "unknown variant `gold`, expected one of `free`, `paid`",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"tags":[1]}]}"#,
                "plans[0].tags[0]",
                "expected a string",
            ),
            (
                r#"{"plans":[{"name":null,"limit":1}]}"#,
                "plans[0].name",
                "invalid type: null",
            ),
            (
                r#"{"plans":{}}"#,
                "plans",
                "invalid type: an object, expected an array",
            ),
            (
                r#"{"plans":[{"name":"a","limit":1,"limit":2}]}"#,
                "plans[0].limit",
                "duplicate field `limit`",
            ),
            ("", ".", "missing field `plans`"),
            ("[]", ".", "invalid type: an array, expected an object"),
            ("{", ".", "EOF"),
            (r#"{"plans":[]} x"#, ".", "trailing"),
        ];
        for (input, field, message) in cases {
            let err = plans(input).unwrap_err();
            assert_eq!(err.field, *field, "input {input}: {err}");
            assert!(err.message.contains(message), "input {input}: {err}");
        }
    }

    #[test]
    fn entries_keep_document_order_and_paths() {
        let json = parse(br#"{"consumers":{"b":1,"a":"x"}}"#).unwrap();
        let root = Field::root(&json).object(&["consumers"]).unwrap();
        let entries = root.req("consumers", Field::entries).unwrap();
        let names: Vec<_> = entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["b", "a"]);
        let err = entries[1].1.clone().u32().unwrap_err();
        assert_eq!(err.field, "consumers.a");
    }

    #[test]
    fn numbers_as_floats() {
        let json = parse(br#"{"a":1,"b":-2,"c":2.25,"d":"1"}"#).unwrap();
        let o = Field::root(&json).object(&["a", "b", "c", "d"]).unwrap();
        assert_eq!(o.req("a", Field::f64).unwrap(), 1.0);
        assert_eq!(o.req("b", Field::f64).unwrap(), -2.0);
        assert_eq!(o.req("c", Field::f64).unwrap(), 2.25);
        assert_eq!(o.req("d", Field::f64).unwrap_err().field, "d");
    }
}
