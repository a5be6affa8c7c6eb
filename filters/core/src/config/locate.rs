//! Names the configuration field at a position of a JSON document.
//!
//! serde_json errors carry the line and column where parsing stopped; this scans the document up
//! to that byte and returns the path of the member or element being read there
//! (`plans[0].limits[1].window`). Tracking the path while deserializing instead would wrap every
//! generated visitor in a second layer, which doubled each module's deserialization code.

/// One step of a path.
enum Step {
    Key(String),
    Index(usize),
}

/// An open object or array, and the member or element being read in it.
struct Open {
    array: bool,
    next_index: usize,
    step: Option<Step>,
}

/// Path of what byte `at` of `json` belongs to: a member's name, a value, or the structural
/// characters of an object or array (which belong to that container). `.` for the document.
/// Never fails: invalid JSON yields the path of what was open at `at`.
pub(crate) fn path_at(json: &[u8], at: usize) -> String {
    let mut open: Vec<Open> = Vec::new();
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        match b {
            b'{' | b'[' => {
                begin_value(&mut open);
                if i >= at {
                    break;
                }
                open.push(Open {
                    array: b == b'[',
                    next_index: 0,
                    step: None,
                });
            }
            b'}' | b']' => {
                if let Some(top) = open.last_mut() {
                    top.step = None;
                }
                if i >= at {
                    break;
                }
                open.pop();
            }
            b',' => {
                if let Some(top) = open.last_mut() {
                    top.step = None;
                    top.next_index += usize::from(top.array);
                }
            }
            b'"' => {
                let end = string_end(json, i);
                match open.last_mut() {
                    Some(top) if !top.array && top.step.is_none() => {
                        top.step = Some(Step::Key(unescape(&json[i..=end])));
                    }
                    _ => begin_value(&mut open),
                }
                if at <= end {
                    break;
                }
                i = end;
            }
            b':' => {}
            _ if b.is_ascii_whitespace() => {}
            _ => begin_value(&mut open),
        }
        if i >= at {
            break;
        }
        i += 1;
    }
    render(&open)
}

/// A value starts: in an array, it is the next element.
fn begin_value(open: &mut [Open]) {
    if let Some(top) = open.last_mut() {
        if top.array && top.step.is_none() {
            top.step = Some(Step::Index(top.next_index));
        }
    }
}

/// Index of the quote closing the string that opens at `start` (the last byte if unterminated).
fn string_end(json: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    json.len() - 1
}

/// A quoted JSON string's text (escapes resolved when the string is valid).
fn unescape(quoted: &[u8]) -> String {
    // Parsed as a `Json` rather than a `String`: one deserializer instance for the module, and
    // `String`'s visitor would link serde's unexpected-value messages and float formatting.
    match serde_json::from_slice::<super::Json>(quoted) {
        Ok(super::Json::String(s)) => s,
        _ => {
            let inner = quoted
                .get(1..quoted.len().saturating_sub(1))
                .unwrap_or_default();
            String::from_utf8_lossy(inner).into_owned()
        }
    }
}

fn render(open: &[Open]) -> String {
    let mut path = String::new();
    for step in open.iter().filter_map(|o| o.step.as_ref()) {
        match step {
            Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Index(index) => {
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
            }
        }
    }
    if path.is_empty() {
        path.push('.');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::path_at;

    /// The path at the first byte of `marker` in `json`.
    fn at(json: &str, marker: &str) -> String {
        let offset = json.find(marker).expect("marker in document");
        path_at(json.as_bytes(), offset)
    }

    #[test]
    fn names_members_elements_and_containers() {
        let json =
            r#"{"plans": [{"name": "gold", "limits": [1, {"window": "1m"}]}], "x\"y": true}"#;
        assert_eq!(at(json, "{\"plans"), ".");
        assert_eq!(at(json, "\"plans"), "plans");
        assert_eq!(at(json, "[{"), "plans");
        assert_eq!(at(json, "{\"name"), "plans[0]");
        assert_eq!(at(json, "\"gold"), "plans[0].name");
        assert_eq!(at(json, "old\""), "plans[0].name");
        assert_eq!(at(json, "1,"), "plans[0].limits[0]");
        assert_eq!(at(json, ", {\"w"), "plans[0].limits");
        assert_eq!(at(json, "{\"window"), "plans[0].limits[1]");
        assert_eq!(at(json, "\"1m"), "plans[0].limits[1].window");
        assert_eq!(at(json, "}]}]"), "plans[0].limits[1]");
        assert_eq!(at(json, "]}]"), "plans[0].limits");
        assert_eq!(at(json, "true"), "x\"y");
        assert_eq!(path_at(json.as_bytes(), json.len() - 1), ".");
    }

    #[test]
    fn never_fails_on_broken_documents() {
        for json in [
            "",
            "\"",
            "{\"a",
            "{\"a\\",
            "[[[",
            "}}]]",
            "{\"a\":[1,",
            "\u{fffd}{",
        ] {
            for offset in 0..json.len() + 2 {
                assert!(
                    !path_at(json.as_bytes(), offset).is_empty(),
                    "{json:?} at {offset}"
                );
            }
        }
        assert_eq!(path_at(b"{\"a\":[1,", 7), "a");
        assert_eq!(path_at(b"{\"a\":[1,2", 8), "a[1]");
    }
}
