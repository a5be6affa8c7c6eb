//! host-test: a wasmtime host that runs proxy-wasm modules the way Envoy does, for tests.
//!
//! The crate loads a `.wasm` filter (any SDK, ABI 0.1.0/0.2.0/0.2.1, `wasm32-wasip1` or
//! `wasm32-unknown-unknown`), implements every ABI 0.2.1 hostcall with Envoy's semantics and
//! status codes, and drives requests through a chain of filters on one or more worker VMs.
//! Tests assert on outcomes: the status and local reply, the headers the upstream and the client
//! see, metrics, callouts, logs and shared data. See `README.md` for an example test.
//!
//! Layout: [`api`] (the fluent builder and [`Gateway`]), [`message`] (requests, responses,
//! outcomes), `chain` (Envoy's filter iteration), `vm` (one instance per worker), `abi/*` (the
//! hostcalls, one file per family), [`build`] (compiles workspace crates to `.wasm`).
//!
#![doc = include_str!("../README.md")]

pub mod abi;
pub mod api;
pub mod build;
mod callout;
mod chain;
pub mod cli;
mod dispatch;
mod endpoints;
mod engine;
mod error;
pub mod golden;
mod harness;
mod local_reply;
pub mod message;
pub mod profile;
pub mod scenario;
pub mod signature;
mod state;
mod stream;
mod stream_end;
mod vm;
mod world;

pub use abi::properties::Prop;
pub use api::{FailurePolicy, FilterSpec, Gateway, Harness};
pub use error::{Error, Result};
pub use message::{
    CallId, CallKind, CallRecord, CallReply, Headers, LocalReply, LogLevel, LogRecord, Outcome,
    Request, Response, Seen,
};
pub use stream::{Exchange, Stream, StreamId};
pub use world::{HostProfile, Metric, MetricKind, Protocol, TraceEvent};
