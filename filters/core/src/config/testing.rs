//! Test support for a filter's configuration reader: every document that differs from a valid
//! example in one value must be accepted, or refused without a panic, and a refusal by the
//! reader (a wrong type, an unknown or missing field, an unknown variant, a value out of range)
//! must name the field that was changed or one inside it.

use serde_json::Value;

use super::field::join;
use super::ConfigError;

/// What each value of the example is replaced with, one at a time.
fn candidates() -> [Value; 11] {
    [
        Value::Null,
        Value::Bool(true),
        Value::from(0u64),
        Value::from(-1i64),
        Value::from(1.5f64),
        Value::from(u64::from(u32::MAX) + 1),
        Value::from("x"),
        Value::Array(Vec::new()),
        Value::Array(vec![Value::from(1u64)]),
        Value::Object(serde_json::Map::new()),
        serde_json::json!({ "unexpected": 1 }),
    ]
}

/// Whether an error comes from reading (rather than validating) the document.
pub fn is_reader_error(error: &ConfigError) -> bool {
    [
        "invalid type:",
        "invalid value:",
        "unknown field `",
        "missing field `",
        "unknown variant `",
    ]
    .iter()
    .any(|prefix| error.message.starts_with(prefix))
}

/// Every value of `example` (a valid document) replaced by each candidate in turn: the changed
/// value's path (`plans[0].limits`) and the document.
pub fn one_value_changed(example: &[u8]) -> Result<Vec<(String, Vec<u8>)>, serde_json::Error> {
    let doc: Value = serde_json::from_slice(example)?;
    let mut paths = Vec::new();
    collect(&doc, String::new(), String::new(), &mut paths);
    let mut out = Vec::new();
    for (path, pointer) in paths {
        for candidate in candidates() {
            let mut changed = doc.clone();
            if let Some(slot) = changed.pointer_mut(&pointer) {
                if *slot == candidate {
                    continue;
                }
                *slot = candidate;
                out.push((path.clone(), serde_json::to_vec(&changed)?));
            }
        }
    }
    Ok(out)
}

/// The path and JSON pointer of every value below the document.
fn collect(value: &Value, path: String, pointer: String, out: &mut Vec<(String, String)>) {
    let children: Vec<(String, String, &Value)> = match value {
        Value::Object(members) => members
            .iter()
            .map(|(name, v)| {
                let escaped = name.replace('~', "~0").replace('/', "~1");
                (join(&path, name), format!("{pointer}/{escaped}"), v)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{path}[{i}]"), format!("{pointer}/{i}"), v))
            .collect(),
        _ => Vec::new(),
    };
    for (child, child_pointer, v) in children {
        out.push((child.clone(), child_pointer.clone()));
        collect(v, child, child_pointer, out);
    }
}

/// Runs `parse` over [`one_value_changed`] documents of `example` and checks that every reader
/// error names the changed field or one inside it. Returns how many documents were checked and
/// how many were refused, or the first violation.
pub fn check_reader_errors(
    example: &[u8],
    parse: impl Fn(&[u8]) -> Result<(), ConfigError>,
) -> Result<(usize, usize), String> {
    parse(example).map_err(|e| format!("the example itself is refused: {e}"))?;
    let documents = one_value_changed(example).map_err(|e| e.to_string())?;
    let mut refused = 0;
    for (path, doc) in &documents {
        let Err(error) = parse(doc) else { continue };
        refused += 1;
        let inside = error.field == *path
            || error
                .field
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['));
        if is_reader_error(&error) && !inside {
            return Err(format!(
                "changing `{path}` gave a reader error about another field: {error}\n{}",
                String::from_utf8_lossy(doc)
            ));
        }
        if error.field.is_empty() || error.message.is_empty() {
            return Err(format!("changing `{path}` gave an empty error: {error:?}"));
        }
    }
    Ok((documents.len(), refused))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse, Field};

    #[test]
    fn paths_and_pointers_reach_every_value() {
        let docs = one_value_changed(br#"{"a":{"b/c":[1,{"d":2}]}}"#).unwrap();
        let mut paths: Vec<&str> = docs.iter().map(|(p, _)| p.as_str()).collect();
        paths.dedup();
        assert_eq!(paths, ["a", "a.b/c", "a.b/c[0]", "a.b/c[1]", "a.b/c[1].d"]);
        assert_eq!(docs.len(), 5 * 11, "five values, eleven candidates each");
        let zero = one_value_changed(br#"{"a":0}"#).unwrap();
        assert_eq!(zero.len(), 10, "a value is not replaced by itself");
    }

    /// A reader that names the wrong field is caught.
    #[test]
    fn a_misplaced_error_is_reported() {
        let good = |bytes: &[u8]| -> Result<(), ConfigError> {
            let json = parse(bytes)?;
            let o = Field::root(&json).object(&["n"])?;
            o.req("n", Field::u32).map(drop)
        };
        assert_eq!(check_reader_errors(br#"{"n":1}"#, good), Ok((11, 10)));
        let misplaced = |bytes: &[u8]| -> Result<(), ConfigError> {
            good(bytes).map_err(|e| ConfigError::new("elsewhere", e.message))
        };
        let err = check_reader_errors(br#"{"n":1}"#, misplaced).unwrap_err();
        assert!(
            err.contains("changing `n` gave a reader error about another field"),
            "{err}"
        );
    }
}
