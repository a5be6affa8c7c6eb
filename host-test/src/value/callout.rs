//! Callouts as the host records them ([`CallRecord`]), the replies a test scripts for them
//! ([`CallReply`]), and the scripted responder that gives such replies ([`Responder`]).

use super::headers::Headers;
use super::texts;
use serde::Serialize;

/// Identifies a callout across all VMs of a gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CallId(pub u64);

/// The kind of callout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CallKind {
    /// `proxy_http_call`.
    Http,
    /// `proxy_grpc_call`.
    GrpcCall,
    /// `proxy_grpc_stream`.
    GrpcStream,
}

/// A callout a filter made, as the host recorded it.
#[derive(Clone, Debug, Serialize)]
pub struct CallRecord {
    /// Harness-wide id (pass to `reply_call` / `fail_call`).
    pub id: CallId,
    /// The token the guest got (cpp-host: HTTP 4, 8, ...; gRPC call 5, 9, ...; stream 6, 10, ...).
    pub token: u32,
    /// The kind of callout.
    pub kind: CallKind,
    /// Filter (plugin name) that made it.
    pub filter: String,
    /// Index of that filter in the chain.
    pub filter_index: usize,
    /// The gateway stream whose context made it (None from a root context).
    pub stream: Option<u64>,
    /// Worker whose VM made it.
    pub worker: usize,
    /// Cluster (upstream) name.
    pub cluster: String,
    /// Request headers (HTTP) or initial metadata (gRPC).
    pub headers: Headers,
    /// Request body (HTTP) or first message (gRPC call).
    #[serde(serialize_with = "super::text")]
    pub body: Vec<u8>,
    /// HTTP trailers.
    pub trailers: Headers,
    /// gRPC service and method.
    pub service: String,
    /// gRPC method.
    pub method: String,
    /// Messages sent on a gRPC stream with `proxy_grpc_send`.
    #[serde(serialize_with = "texts")]
    pub sent: Vec<Vec<u8>>,
    /// Timeout in milliseconds (0 = none).
    pub timeout_ms: u32,
    /// Virtual time (ns) when it was made.
    pub at_ns: u64,
    /// True while no reply was delivered.
    pub pending: bool,
}

impl CallRecord {
    /// The first value of a request header.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key)
    }
}

/// A scripted reply to a callout. For HTTP: headers (with `:status`), body, trailers. For gRPC:
/// initial metadata, one message, trailing metadata and the gRPC status (`grpc_status`).
#[derive(Clone, Debug, Default)]
pub struct CallReply {
    /// Response headers / initial metadata.
    pub headers: Headers,
    /// Response body / gRPC message.
    pub body: Vec<u8>,
    /// Trailers / trailing metadata.
    pub trailers: Headers,
    /// gRPC status code delivered with `proxy_on_grpc_close` (0 = OK).
    pub grpc_status: u32,
    /// gRPC status message.
    pub grpc_message: String,
}

impl CallReply {
    /// `200` with `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self::status(200).body(body)
    }
    /// A response with `code` and no body.
    pub fn status(code: u16) -> Self {
        let mut headers = Headers::new();
        headers.add(":status", &code.to_string());
        Self {
            headers,
            ..Self::default()
        }
    }
    /// A gRPC reply: one message and status 0.
    pub fn grpc(message: impl Into<Vec<u8>>) -> Self {
        Self {
            body: message.into(),
            ..Self::default()
        }
    }
    /// A gRPC failure with `code` and `message`.
    pub fn grpc_error(code: u32, message: &str) -> Self {
        Self {
            grpc_status: code,
            grpc_message: message.to_string(),
            ..Self::default()
        }
    }
    /// Adds a header.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.headers.add(key, value);
        self
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    /// Adds a trailer.
    pub fn trailer(mut self, key: &str, value: &str) -> Self {
        self.trailers.add(key, value);
        self
    }
}

/// A scripted callout responder: gets the call, may answer it.
pub type Responder = Box<dyn FnMut(&CallRecord) -> Option<CallReply> + Send>;
