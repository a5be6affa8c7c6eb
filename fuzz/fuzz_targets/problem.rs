//! Problem bodies (`filter_core::reply`): every local reply's `application/problem+json` body is
//! written by hand (no serde), from text that may come from a request (a version a client asked
//! for, a header name, a consumer id).
//!
//! Asserts: the body is valid JSON that serde_json and `filter_core::json` read alike, its
//! members are the problem's (`type` is the prefix and kind, `title`, `status`, `detail`, the
//! extensions in order, a standard member never overridden), and the reply's details are one
//! token and its safe headers carry no CR, LF or NUL.
#![no_main]

use arbitrary::Arbitrary;
use filter_core::reply::PROBLEM_TYPE_PREFIX;
use filter_core::{Extension, LocalReply, Problem};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Debug, Arbitrary)]
enum Ext {
    Text(String),
    Count(u64),
    Flag(bool),
    List(Vec<Ext>),
    Object(Vec<(String, Ext)>),
}

impl Ext {
    fn build(&self, depth: usize) -> Extension {
        match self {
            _ if depth > 8 => Extension::Flag(false),
            Ext::Text(s) => Extension::Text(s.clone()),
            Ext::Count(n) => Extension::Count(*n),
            Ext::Flag(b) => Extension::Flag(*b),
            Ext::List(items) => Extension::List(items.iter().map(|e| e.build(depth + 1)).collect()),
            Ext::Object(members) => Extension::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.build(depth + 1)))
                    .collect(),
            ),
        }
    }
}

fn expected(e: &Extension) -> Value {
    match e {
        Extension::Text(s) => Value::String(s.clone()),
        Extension::Count(n) => Value::from(*n),
        Extension::Flag(b) => Value::Bool(*b),
        Extension::List(items) => Value::Array(items.iter().map(expected).collect()),
        // Duplicate names in an extension object: the last one wins when read back.
        Extension::Object(members) => {
            let mut map = serde_json::Map::new();
            for (k, v) in members {
                map.insert(k.clone(), expected(v));
            }
            Value::Object(map)
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    kind: String,
    title: String,
    detail: Option<String>,
    extensions: Vec<(String, Ext)>,
    headers: Vec<(String, String)>,
}

fuzz_target!(|input: Input| {
    let mut problem = Problem::new(input.status, input.kind.clone(), input.title.clone());
    if let Some(d) = &input.detail {
        problem = problem.detail(d.clone());
    }
    for (k, v) in &input.extensions {
        problem = problem.with(k, v.build(0));
    }
    let body = problem.to_json();
    let value: Value = serde_json::from_slice(&body).expect("a problem body is JSON");
    let ours = filter_core::json::parse(&body, 127);
    let has_duplicate_names = problem.extensions.iter().any(|(_, e)| has_duplicates(e));
    if !has_duplicate_names {
        let ours = ours.expect("our parser reads a problem body");
        assert_eq!(
            serde_json::to_value(&ours).expect("serializes"),
            value,
            "the two parsers disagree"
        );
    }
    let obj = value.as_object().expect("an object");
    assert_eq!(
        obj["type"],
        Value::String(format!("{PROBLEM_TYPE_PREFIX}{}", input.kind))
    );
    assert_eq!(obj["title"], Value::String(input.title.clone()));
    assert_eq!(obj["status"], Value::from(input.status));
    match &input.detail {
        Some(d) => assert_eq!(obj["detail"], Value::String(d.clone())),
        None => assert!(!obj.contains_key("detail")),
    }
    assert_eq!(
        obj.len(),
        3 + usize::from(input.detail.is_some()) + problem.extensions.len()
    );
    for (k, v) in &problem.extensions {
        assert!(!matches!(
            k.as_str(),
            "type" | "title" | "status" | "detail" | "instance"
        ));
        assert_eq!(obj[k.as_str()], expected(v), "extension {k:?}");
    }

    let mut reply = LocalReply::problem(&problem);
    assert!(reply.details.starts_with("gateway_"));
    assert!(
        reply
            .details
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "details {:?} is not one token",
        reply.details
    );
    for (n, v) in &input.headers {
        reply = reply.header(n, v.clone());
    }
    for (n, v) in reply.safe_headers() {
        assert!(filter_core::headers::is_valid_name(n));
        assert!(!v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)));
    }
});

fn has_duplicates(e: &Extension) -> bool {
    match e {
        Extension::List(items) => items.iter().any(has_duplicates),
        Extension::Object(members) => {
            let mut names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            names.windows(2).any(|w| w[0] == w[1]) || members.iter().any(|(_, v)| has_duplicates(v))
        }
        _ => false,
    }
}
