//! The scenario file format (JSON, unknown fields rejected).

use crate::value::{base64, FailurePolicy, HostProfile, LogLevel};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// Header fields in order, as a scenario writes them: a JSON object (its entries in the order
/// written; a name written twice is sent twice) or a list of `[name, value]` pairs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, String)>);

impl HeaderList {
    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header fields or a list of [name, value] pairs")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(HeaderList(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = s.next_element::<(String, String)>()? {
                    out.push((k, v));
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Bytes written as standard base64 text (`body_base64`): any byte, where `body` is UTF-8
/// text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        base64::decode(&s)
            .map(Base64)
            .ok_or_else(|| serde::de::Error::custom(format!("not base64: {s:?}")))
    }
}

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Filters in request order.
    pub filters: Vec<FilterDef>,
    /// Worker VMs per plugin (default 1).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Clusters callouts may target.
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Log level (default info).
    #[serde(default)]
    pub log_level: Option<LogLevel>,
    /// Host to imitate: `envoy` (default) or `nginx`.
    #[serde(default)]
    pub profile: Option<HostProfile>,
    /// Envoy's main thread and its VMs (default true; see `Harness::main_thread`).
    #[serde(default)]
    pub main_thread: Option<bool>,
    /// Gateway-wide string properties (dotted paths; a dot inside a segment is `\.`, written
    /// `\\.` in JSON).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

/// One filter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDef {
    /// `.wasm` path (relative to the scenario file); `--module` overrides it.
    #[serde(default)]
    pub module: Option<PathBuf>,
    /// Plugin name.
    #[serde(default)]
    pub name: Option<String>,
    /// Plugin configuration: a string is passed as is, anything else as JSON text.
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    /// VM configuration string.
    #[serde(default)]
    pub vm_config: Option<String>,
    /// VM id.
    #[serde(default)]
    pub vm_id: Option<String>,
    /// Root id.
    #[serde(default)]
    pub root_id: Option<String>,
    /// FAIL_CLOSED (default), FAIL_OPEN or FAIL_RELOAD.
    #[serde(default)]
    pub failure_policy: Option<FailurePolicy>,
}

/// A request.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    /// Method (default GET).
    #[serde(default)]
    pub method: Option<String>,
    /// Path (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// `:authority` (default `example.com`).
    #[serde(default)]
    pub authority: Option<String>,
    /// Headers, in order (an object or a list of `[name, value]` pairs).
    #[serde(default)]
    pub headers: HeaderList,
    /// Body (one chunk).
    #[serde(default)]
    pub body: Option<String>,
    /// Body as base64 bytes (one chunk), instead of `body`.
    #[serde(default)]
    pub body_base64: Option<Base64>,
    /// Body chunks (instead of `body`).
    #[serde(default)]
    pub chunks: Vec<String>,
    /// Body chunks as base64 bytes (instead of `body` and `chunks`).
    #[serde(default)]
    pub chunks_base64: Vec<Base64>,
    /// Trailers, in order.
    #[serde(default)]
    pub trailers: HeaderList,
    /// Downstream connection label: requests with the same label share one connection (one
    /// `connection.id`, one worker); without it each request is a connection of its own.
    #[serde(default)]
    pub connection: Option<u64>,
    /// String properties of this request only (dotted paths as in the top-level
    /// `properties`), e.g. metadata another filter would have set.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Worker.
    #[serde(default)]
    pub worker: Option<usize>,
}

/// The upstream's response.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResponseDef {
    /// Status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers, in order.
    #[serde(default)]
    pub headers: HeaderList,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
    /// Body as base64 bytes, instead of `body`.
    #[serde(default)]
    pub body_base64: Option<Base64>,
    /// Trailers, in order.
    #[serde(default)]
    pub trailers: HeaderList,
}

/// What happens to the next pending callout (to `cluster` if given) that no earlier entry left
/// unanswered: a reply (the default), a failure, a timeout, or nothing for now.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CallDef {
    /// Only a call to this cluster.
    #[serde(default)]
    pub cluster: Option<String>,
    /// HTTP status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers (gRPC: initial metadata), in order.
    #[serde(default)]
    pub headers: HeaderList,
    /// Body (gRPC: the message).
    #[serde(default)]
    pub body: Option<String>,
    /// Body as base64 bytes (a protobuf message), instead of `body`.
    #[serde(default)]
    pub body_base64: Option<Base64>,
    /// Trailers (gRPC: trailing metadata), in order.
    #[serde(default)]
    pub trailers: HeaderList,
    /// gRPC status (default 0).
    #[serde(default)]
    pub grpc_status: Option<u32>,
    /// gRPC status message.
    #[serde(default)]
    pub grpc_message: Option<String>,
    /// Fail the call instead (HTTP: 0 headers, status 11 reset).
    #[serde(default)]
    pub fail: bool,
    /// Leave the call unanswered: later entries and steps skip it, and it times out when
    /// virtual time reaches its timeout (`advance_ms`), as in Envoy when the upstream never
    /// answers.
    #[serde(default)]
    pub unanswered: bool,
    /// Time the call out now: virtual time advances to its deadline, so it gets Envoy's timeout
    /// (HTTP: a 504 `upstream request timeout` reply; gRPC: status 4) with everything else
    /// due by then (ticks, other timeouts). The call must have a timeout.
    #[serde(default)]
    pub timeout: bool,
}

/// One step: a request (with response and callout replies), a time advance, expectations.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Label for output.
    #[serde(default)]
    pub name: Option<String>,
    /// Advance virtual time first (ms).
    #[serde(default)]
    pub advance_ms: Option<u64>,
    /// The request to send.
    #[serde(default)]
    pub request: Option<RequestDef>,
    /// The upstream response (default 200, empty).
    #[serde(default)]
    pub response: Option<ResponseDef>,
    /// Replies to callouts, in order.
    #[serde(default)]
    pub calls: Vec<CallDef>,
    /// Send the request this many times (default 1); expectations apply to the last.
    #[serde(default)]
    pub repeat: Option<u32>,
    /// What must hold afterwards.
    #[serde(default)]
    pub expect: Option<Expect>,
}

/// Expectations; every field is optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Client status.
    pub status: Option<u16>,
    /// A local reply was (true) or was not (false) sent.
    pub local_reply: Option<bool>,
    /// The request reached (true) or did not reach (false) the upstream.
    pub reached_upstream: Option<bool>,
    /// Headers the upstream saw; `null` means absent.
    #[serde(default)]
    pub upstream_headers: BTreeMap<String, Option<String>>,
    /// Headers the client saw; `null` means absent.
    #[serde(default)]
    pub client_headers: BTreeMap<String, Option<String>>,
    /// Exact upstream body.
    pub upstream_body: Option<String>,
    /// Exact upstream body as base64 bytes.
    pub upstream_body_base64: Option<Base64>,
    /// Substring of the client body.
    pub client_body_contains: Option<String>,
    /// Exact client body as base64 bytes.
    pub client_body_base64: Option<Base64>,
    /// Number of callouts the stream made.
    pub calls: Option<usize>,
    /// Metric values by name.
    #[serde(default)]
    pub metrics: BTreeMap<String, i64>,
    /// Substrings some captured log must contain.
    #[serde(default)]
    pub logs_contain: Vec<String>,
    /// Shared data values (vm_id "") by key.
    #[serde(default)]
    pub shared_data: BTreeMap<String, String>,
}
