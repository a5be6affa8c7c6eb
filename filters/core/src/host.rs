//! The port through which filter logic reaches the host.
//!
//! Only effects that cannot be plain values go through [`Host`]: the clock, shared data with CAS,
//! metrics, HTTP callouts, properties, ad-hoc header reads and native signature checks. The proxy-wasm implementation is in
//! the adapter; [`crate::FakeHost`] implements it for native tests.

use std::time::{Duration, SystemTime};

use crate::headers::HeaderMap;
use crate::signature::{NativeSignatures, SignatureCheck};

/// A host call failed with a proxy-wasm status other than OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// NOT_FOUND (1): no such key, property or cluster.
    #[error("not found")]
    NotFound,
    /// BAD_ARGUMENT (2): the host refused the arguments (for example an unknown cluster).
    #[error("bad argument")]
    BadArgument,
    /// CAS_MISMATCH (8): shared data changed since it was read.
    #[error("compare-and-swap mismatch")]
    CasMismatch,
    /// Any other status, with its number.
    #[error("host status {0}")]
    Status(u32),
}

impl HostError {
    /// UNIMPLEMENTED (12): the host does not have the call (for example gRPC on NGINX).
    pub const UNIMPLEMENTED: Self = Self::Status(12);

    /// The error for a raw proxy-wasm status (which must not be OK).
    pub fn from_status(status: u32) -> Self {
        match status {
            1 => Self::NotFound,
            2 => Self::BadArgument,
            8 => Self::CasMismatch,
            other => Self::Status(other),
        }
    }
}

/// A shared-data value with its CAS token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedValue {
    /// The stored bytes.
    pub data: Vec<u8>,
    /// The CAS token to pass to [`Host::set_shared`] to update it.
    pub cas: u32,
}

/// Kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic counter; increments must be positive.
    Counter,
    /// Gauge; takes any delta.
    Gauge,
    /// Histogram; values are recorded.
    Histogram,
}

/// A metric defined through [`Host::define_metric`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricId(pub u32);

/// Which header map to read outside its own callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderKind {
    /// Request headers.
    Request,
    /// Request trailers.
    RequestTrailers,
    /// Response headers.
    Response,
    /// Response trailers.
    ResponseTrailers,
}

/// An HTTP callout to an upstream cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// Envoy cluster name (on NGINX hosts: `host:port`).
    pub upstream: String,
    /// Request headers; must include `:method`, `:path` and `:authority`.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Timeout after which the call fails.
    pub timeout: Duration,
    /// Largest response body taken into the VM: a larger one (by the size the host announces)
    /// is never copied in, and the call fails instead. Default [`HttpCall::MAX_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
}

impl HttpCall {
    /// The default [`HttpCall::max_response_bytes`]: 1 MiB.
    pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

    /// A GET of `path` on `upstream`, with `:authority` set to the upstream name.
    pub fn get(upstream: &str, path: &str, timeout: Duration) -> Self {
        Self {
            upstream: upstream.to_owned(),
            headers: vec![
                (":method".into(), "GET".into()),
                (":path".into(), path.to_owned()),
                (":authority".into(), upstream.to_owned()),
            ],
            body: Vec::new(),
            timeout,
            max_response_bytes: Self::MAX_RESPONSE_BYTES,
        }
    }

    /// A POST of `body` to `path` on `upstream`.
    pub fn post(
        upstream: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        timeout: Duration,
    ) -> Self {
        Self {
            upstream: upstream.to_owned(),
            headers: vec![
                (":method".into(), "POST".into()),
                (":path".into(), path.to_owned()),
                (":authority".into(), upstream.to_owned()),
                ("content-type".into(), content_type.to_owned()),
            ],
            body,
            timeout,
            max_response_bytes: Self::MAX_RESPONSE_BYTES,
        }
    }
}

/// Response to an [`HttpCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResponse {
    /// Response headers, `:status` included.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
}

impl CallResponse {
    /// The `:status`, if present and numeric.
    pub fn status(&self) -> Option<u16> {
        self.headers.status()
    }
}

/// Why a callout produced no response (timeout, reset, connection failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callout failed: {reason}")]
pub struct CallFailure {
    /// What the host reported (for Envoy usually `reset` or `timeout`).
    pub reason: String,
}

/// A unary gRPC call to an upstream cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcCall {
    /// Envoy cluster name.
    pub upstream: String,
    /// Fully qualified service name (`package.Service`).
    pub service: String,
    /// Method name.
    pub method: String,
    /// The serialized request message.
    pub message: Vec<u8>,
    /// Timeout after which the call fails with DEADLINE_EXCEEDED.
    pub timeout: Duration,
}

/// A gRPC call that produced no message: its gRPC status (never 0) and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gRPC call failed with status {status}: {message}")]
pub struct GrpcFailure {
    /// gRPC status code (4 DEADLINE_EXCEEDED, 14 UNAVAILABLE, ...).
    pub status: u32,
    /// The status message the host gave, if any.
    pub message: String,
}

/// Effects available to filter logic.
pub trait Host {
    /// The current wall-clock time as the host reports it.
    fn now(&self) -> SystemTime;

    /// Reads a shared-data value shared by every VM with the same vm_id. `Ok(None)` if missing.
    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError>;

    /// Writes a shared-data value. With `cas = Some(c)` the write fails with
    /// [`HostError::CasMismatch`] unless the value is unchanged since `c` was read; `None` always
    /// writes (also the only way to create a key).
    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError>;

    /// Defines (or looks up) a metric by name.
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError>;

    /// Adds `delta` to a counter or gauge. Errors are logged, not returned: metrics never fail a
    /// request.
    fn increment_metric(&mut self, id: MetricId, delta: i64);

    /// Records a value in a histogram, or sets a gauge.
    fn record_metric(&mut self, id: MetricId, value: u64);

    /// Dispatches an HTTP callout; the response arrives later through the callback of the
    /// context that made it, with the returned token.
    fn http_call(&mut self, call: &HttpCall) -> Result<u32, HostError>;

    /// Dispatches a unary gRPC call; the response arrives later through
    /// [`crate::Stream::on_grpc_response`] of the context that made it, with the returned token.
    /// Hosts without gRPC calls keep this default: [`HostError::UNIMPLEMENTED`].
    fn grpc_call(&mut self, call: &GrpcCall) -> Result<u32, HostError> {
        let _ = call;
        Err(HostError::UNIMPLEMENTED)
    }

    /// Makes the running stream wait on callout `token`, which another context of this VM made
    /// and which is not answered yet: its answer then also reaches this stream's
    /// [`crate::Stream::on_call_response`] (after the context that made it), and so does a
    /// failure if that context ends first. The stream must pause. False when the host cannot
    /// wake one stream from another's callback (ngx_wasm_module), from a root context, or when
    /// too many streams wait: the stream must then decide without the answer. Default: false.
    fn join_call(&mut self, token: u32) -> bool {
        let _ = token;
        false
    }

    /// Reads a property such as `["request", "path"]`. `None` if the host does not have it.
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;

    /// Sets a property (Envoy filter state, readable by later filters).
    fn set_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError>;

    /// Reads the first value of one header outside its callback (for example in `on_log`).
    /// `None` if the map or header does not exist.
    fn header(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>>;

    /// Checks a signature in native code (Envoy's `verify_signature` foreign function, see
    /// [`crate::signature`]): `Some(valid)` when the host checked it, `None` when it cannot (no
    /// such function, a key or hash it refuses, a malformed answer) and the caller must check
    /// it itself. Hosts without native checks keep this default. On a host where
    /// [`Host::native_signatures`] is `Absent` the call traps: do not make it there.
    fn verify_signature(&self, check: &SignatureCheck<'_>) -> Option<bool> {
        let _ = check;
        None
    }

    /// Whether the host has [`Host::verify_signature`], as far as the module can tell without
    /// calling it (see [`NativeSignatures`]). Hosts without native checks keep this default.
    fn native_signatures(&self) -> NativeSignatures {
        NativeSignatures::Unknown
    }
}
