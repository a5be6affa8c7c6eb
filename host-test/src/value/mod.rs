//! The bottom layer: the values every other module passes around (header maps, requests and
//! responses, callouts, logs, property values, status codes, metrics, trace events, the options a
//! test picks). Nothing here imports another module of the crate, so the state, the hostcalls,
//! the VMs and the gateway all import their values from here, one way. Inside, `headers` and
//! `pairs` are at the bottom, `prop` uses `pairs`, `callout` uses `headers`, and `message` uses
//! `headers`, `prop` and `callout`.
//!
//! The public paths are the crate root's re-exports, `host_test::message` (this `message`),
//! and `host_test::abi::{pairs, status, properties::Prop}`, where these lived before.

pub mod base64;
pub mod callout;
pub mod headers;
pub mod message;
pub mod metric;
pub mod options;
pub mod pairs;
pub mod prop;
pub mod status;
pub mod trace;

pub use callout::{CallId, CallKind, CallRecord, CallReply, Responder};
pub use headers::{Headers, MapKind};
pub use message::{LocalReply, LogLevel, LogRecord, Outcome, Request, Response, Seen, StreamId};
pub use metric::{Metric, MetricKind};
pub use options::{FailurePolicy, HostProfile, Protocol};
pub use prop::{dotted_path, wire_path, Prop};
pub use trace::TraceEvent;

/// Serializes bytes as (lossy) UTF-8 text, for readable JSON output (bodies in outcomes and
/// callout records).
pub(crate) fn text<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

/// [`text`] for a list of byte strings (the messages sent on a gRPC stream).
pub(crate) fn texts<S: serde::Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|b| String::from_utf8_lossy(b).into_owned()))
}
