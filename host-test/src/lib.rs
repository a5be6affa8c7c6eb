//! host-test: a wasmtime host that runs proxy-wasm modules the way Envoy does, for tests.
//!
//! The crate loads a `.wasm` filter (any SDK, ABI 0.1.0/0.2.0/0.2.1, `wasm32-wasip1` or
//! `wasm32-unknown-unknown`), implements every ABI 0.2.1 hostcall with Envoy's semantics and
//! status codes, and drives requests through a chain of filters on one or more worker VMs.
//! Tests assert on outcomes: the status and local reply, the headers the upstream and the client
//! see, metrics, callouts, logs and shared data. See `README.md` for an example test.
//!
//! Layout, in layers; a module imports only from the layers below it (`scripts/module-cycles
//! host-test/src` finds no two modules that import each other):
//!
//! 1. values: `value/` (header maps, requests and responses, callouts, logs, property values,
//!    status codes, metrics, trace events, the options a test picks; public as [`message`] and
//!    the root re-exports) and `error` ([`Error`]);
//! 2. state: `world` (gateway-wide: clock, shared data, metrics, callouts, streams) and `state`
//!    (one VM's store data);
//! 3. hostcalls: [`abi`] (one file per family), with [`signature`] (Envoy's `verify_signature`)
//!    and [`sampler`] (the sampling profiler behind `host-test profile`);
//! 4. VMs: `engine` (the wasmtime engine, linker and module cache) and `vm` (one instance);
//! 5. the gateway: `gateway/` (Envoy's filter iteration, the stream's two ends, local replies,
//!    the end of a stream, events on root contexts);
//! 6. the test-facing API: `stream` ([`Exchange`], [`Stream`]), `harness` ([`Harness`], the
//!    builder), [`api`] (what a test reads and adjusts on a [`Gateway`]);
//! 7. tools: [`scenario`] (JSON scenarios), [`cli`] (the `host-test` command), [`golden`]
//!    (golden files), [`build`] (compiles workspace crates to `.wasm`).
//!
#![doc = include_str!("../README.md")]

pub mod abi;
pub mod api;
pub mod build;
pub mod cli;
mod engine;
mod error;
mod gateway;
pub mod golden;
mod harness;
pub mod sampler;
pub mod scenario;
pub mod signature;
mod state;
mod stream;
mod value;
mod vm;
mod world;

pub use api::{FailurePolicy, FilterSpec, Gateway, Harness};
pub use error::{Error, Result};
pub use stream::{Exchange, Stream};
/// The values a test exchanges with the harness (`value/message.rs`).
pub use value::message;
pub use value::{
    CallId, CallKind, CallRecord, CallReply, Headers, HostProfile, LocalReply, LogLevel, LogRecord,
    MapKind, Metric, MetricKind, Outcome, Prop, Protocol, Request, Response, Seen, StreamId,
    TraceEvent,
};

/// The sampling profiler under its former module name, kept for callers of `host_test::profile`.
#[doc(hidden)]
pub use sampler as profile;
