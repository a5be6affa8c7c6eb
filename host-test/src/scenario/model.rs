//! The scenario file format (JSON, unknown fields rejected).

use crate::value::{FailurePolicy, HostProfile, LogLevel};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body (one chunk).
    #[serde(default)]
    pub body: Option<String>,
    /// Body chunks (instead of `body`).
    #[serde(default)]
    pub chunks: Vec<String>,
    /// Trailers.
    #[serde(default)]
    pub trailers: BTreeMap<String, String>,
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
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body.
    #[serde(default)]
    pub body: Option<String>,
}

/// A reply to the next pending callout (to `cluster` if given).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CallDef {
    /// Only answer a call to this cluster.
    #[serde(default)]
    pub cluster: Option<String>,
    /// HTTP status (default 200).
    #[serde(default)]
    pub status: Option<u16>,
    /// Headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body (gRPC: the message).
    #[serde(default)]
    pub body: Option<String>,
    /// gRPC status (default 0).
    #[serde(default)]
    pub grpc_status: Option<u32>,
    /// Fail the call instead (HTTP: 0 headers, status 11 reset).
    #[serde(default)]
    pub fail: bool,
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
    /// Substring of the client body.
    pub client_body_contains: Option<String>,
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
