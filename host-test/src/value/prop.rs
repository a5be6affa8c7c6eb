//! Property values and paths: [`Prop`], a typed value encoded as Envoy (or ngx_wasm_module)
//! hands it to a guest, and the conversions between a dotted path a test writes
//! (`request.headers.x-id`) and the NUL-separated path a guest asks for.

use super::pairs;
use serde::{Deserialize, Serialize};

/// A typed property value, encoded as Envoy does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Prop {
    /// Raw UTF-8.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// 8-byte little-endian signed.
    Int(i64),
    /// 8-byte little-endian unsigned.
    Uint(u64),
    /// One byte, 0 or 1.
    Bool(bool),
    /// 8-byte little-endian f64.
    Double(f64),
    /// Nanoseconds since the epoch, int64.
    Timestamp(i64),
    /// Nanoseconds, int64.
    Duration(i64),
    /// Pair layout (like header maps).
    Map(Vec<(String, String)>),
}

impl Prop {
    /// The value as ngx_wasm_module returns it: text.
    pub fn encode_text(&self) -> Vec<u8> {
        match self {
            Self::Int(i) | Self::Timestamp(i) | Self::Duration(i) => i.to_string().into_bytes(),
            Self::Uint(u) => u.to_string().into_bytes(),
            Self::Bool(b) => b.to_string().into_bytes(),
            Self::Double(d) => d.to_string().into_bytes(),
            other => other.encode(),
        }
    }
    /// A string property.
    pub fn str(s: &str) -> Self {
        Self::Str(s.to_string())
    }
    /// The bytes a guest receives.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Str(s) => s.as_bytes().to_vec(),
            Self::Bytes(b) => b.clone(),
            Self::Int(i) | Self::Timestamp(i) | Self::Duration(i) => i.to_le_bytes().to_vec(),
            Self::Uint(u) => u.to_le_bytes().to_vec(),
            Self::Bool(b) => vec![u8::from(*b)],
            Self::Double(d) => d.to_le_bytes().to_vec(),
            Self::Map(m) => pairs::serialize(m),
        }
    }
}

/// Converts a dotted path (`request.headers.x-id`) to the wire form (NUL-separated). A segment
/// that contains a dot writes it `\.` (and a backslash `\\`), e.g.
/// `metadata.filter_metadata.envoy\.filters\.http\.lua.key`; any other backslash is kept.
pub fn wire_path(dotted: &str) -> String {
    let mut out = String::with_capacity(dotted.len());
    let mut chars = dotted.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('.' | '\\')) => {
                out.extend(chars.next());
            }
            '.' => out.push('\0'),
            c => out.push(c),
        }
    }
    out
}

/// The dotted path (as [`wire_path`] reads it) of `segments`, escaping their dots.
pub fn dotted_path(segments: &[&str]) -> String {
    segments
        .iter()
        .map(|s| s.replace('\\', "\\\\").replace('.', "\\."))
        .collect::<Vec<_>>()
        .join(".")
}
