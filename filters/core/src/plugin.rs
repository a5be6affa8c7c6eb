//! The two traits a filter implements: [`Plugin`] (per-VM state, built once from the
//! configuration) and [`Stream`] (per-request logic), and the [`Decision`] each callback returns.

use std::rc::Rc;
use std::time::Duration;

use crate::config::ConfigError;
use crate::headers::HeaderMap;
use crate::host::{CallFailure, CallResponse, GrpcFailure, Host};
use crate::reply::LocalReply;

/// What should happen to the stream after a callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Go on to the next filter.
    Continue,
    /// Hold the stream (waiting for a callout response or the request body). A later callback
    /// decides.
    Pause,
    /// Answer locally; the upstream never sees the request.
    Respond(LocalReply),
}

impl From<LocalReply> for Decision {
    fn from(reply: LocalReply) -> Self {
        Decision::Respond(reply)
    }
}

/// A filter's per-VM state, built once in `on_configure` and shared by every stream of the VM.
///
/// State that streams change (caches, buffers) uses interior mutability; callbacks never run
/// concurrently within one VM.
pub trait Plugin: Sized + 'static {
    /// Short name used in log lines.
    const NAME: &'static str;
    /// The per-request logic.
    type Stream: Stream;

    /// Validates the plugin configuration (JSON bytes; empty if none was given) and builds the
    /// state. An error names the offending field; the adapter logs it and refuses the config.
    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError>;

    /// A new stream for one request.
    fn new_stream(plugin: &Rc<Self>) -> Self::Stream;

    /// How often `on_tick` should run; `None` for never.
    fn tick_period(&self) -> Option<Duration> {
        None
    }

    /// Periodic work (refreshing key sets, flushing events).
    fn on_tick(&self, _host: &mut dyn Host) {}

    /// The response to a callout made from the root context.
    fn on_call_response(
        &self,
        _token: u32,
        _response: Result<CallResponse, CallFailure>,
        _host: &mut dyn Host,
    ) {
    }
}

/// Per-request logic. Every method has a default that lets the request through untouched.
pub trait Stream: 'static {
    /// Request headers arrived. Edits to `headers` are applied before the decision takes effect.
    fn on_request_headers(
        &mut self,
        _headers: &mut HeaderMap,
        _end_of_stream: bool,
        _host: &mut dyn Host,
    ) -> Decision {
        Decision::Continue
    }

    /// The request headers as a chain forwards them: called by [`crate::chain::Chain`] on each
    /// member that ran, once every member has continued (after any callout one paused on), so a
    /// member sees what later members set without asking the host again. Not called when a member
    /// replies, nor for a filter running alone (filters after it in the proxy may still change
    /// the headers). Default: nothing.
    fn on_request_forwarded(&mut self, _headers: &HeaderMap) {}

    /// Whether the stream needs the whole request body. Asked after `on_request_headers`
    /// returned `Continue`; when true, the adapter buffers the body and calls `on_request_body`
    /// once the request is complete (at end of stream, or when trailers arrive).
    ///
    /// Envoy turns a paused headers callback into "stop all iteration", which also withholds the
    /// body from the filter, so the headers go on to the next filter (and the router starts the
    /// upstream request) before the body is inspected. Only the body is held back: a `Respond`
    /// from `on_request_body` resets the upstream request before it sees any body byte.
    fn wants_request_body(&self) -> bool {
        false
    }

    /// The complete request body (at most `body_cap` bytes; a larger one gets 413 first), with
    /// the request headers as they were forwarded (kept by the adapter: Envoy no longer exposes
    /// them once the headers callback has continued).
    fn on_request_body(
        &mut self,
        _body: &[u8],
        _headers: &HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        Decision::Continue
    }

    /// Largest request body the stream accepts; a larger one gets 413 before `on_request_body`.
    fn body_cap(&self) -> usize {
        1 << 20
    }

    /// The response to a callout this stream made while paused. `headers` are the request
    /// headers, still editable.
    fn on_call_response(
        &mut self,
        _token: u32,
        _response: Result<CallResponse, CallFailure>,
        _headers: &mut HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        Decision::Continue
    }

    /// The answer to a unary gRPC call this stream made while paused: the response message, or
    /// the call's failure (any non-OK gRPC status, timeouts included). `headers` are the request
    /// headers, still editable.
    fn on_grpc_response(
        &mut self,
        _token: u32,
        _response: Result<Vec<u8>, GrpcFailure>,
        _headers: &mut HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        Decision::Continue
    }

    /// Whether `on_response_headers` reads the response headers. When false the adapter does not
    /// fetch them from the host (one host call and a copy of every header saved per request) and
    /// passes an empty map: `set` and `add` still reach the response, but `get` finds nothing and
    /// `remove` has nothing to remove. Asked when the response headers arrive. Default true.
    fn reads_response_headers(&self) -> bool {
        true
    }

    /// Response headers arrived (from the upstream or a local reply of a later filter).
    fn on_response_headers(
        &mut self,
        _headers: &mut HeaderMap,
        _end_of_stream: bool,
        _host: &mut dyn Host,
    ) -> Decision {
        Decision::Continue
    }

    /// The stream is complete (also after local replies). Runs exactly once.
    fn on_log(&mut self, _host: &mut dyn Host) {}
}
