//! Values a test exchanges with the harness: requests, responses, what each end saw, local
//! replies, logs, stream ids and the outcome of a stream. Header maps and callouts have modules
//! of their own (`value/headers.rs`, `value/callout.rs`), re-exported here so that
//! `host_test::message` names every value of an exchange.

pub use super::callout::{CallId, CallKind, CallRecord, CallReply};
pub use super::headers::Headers;
use super::prop::{dotted_path, Prop};
use super::text;
use serde::{Deserialize, Serialize};

/// A stream's id in its [`Gateway`](crate::Gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// A request the downstream client sends. Defaults: `:scheme` `http`, `:authority`
/// `example.com`, no body, no trailers, a downstream connection of its own (new
/// `connection.id`), next worker round-robin.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// Headers including pseudo-headers.
    pub headers: Headers,
    /// Body chunks, delivered one `on_request_body` each; over HTTP/1.1 (the default) the end of
    /// the body is one more, empty, callback with end_of_stream (no trailers) as in Envoy.
    pub chunks: Vec<Vec<u8>>,
    /// Trailers, if any.
    pub trailers: Option<Headers>,
    /// Worker (VM index) that handles the stream; `None` = round-robin.
    pub worker: Option<usize>,
    /// Per-request property values (e.g. `source.address`).
    pub props: Vec<(String, Prop)>,
    /// The downstream connection, as a label: requests with the same label share one
    /// connection (one `connection.id`, one worker). `None`: a connection of its own.
    pub connection: Option<u64>,
}

impl Request {
    /// A request with `method` and `path`.
    pub fn new(method: &str, path: &str) -> Self {
        let mut headers = Headers::new();
        headers.add(":authority", "example.com");
        headers.add(":path", path);
        headers.add(":method", method);
        headers.add(":scheme", "http");
        Self {
            headers,
            ..Self::default()
        }
    }
    /// `GET path`.
    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }
    /// `POST path`.
    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }
    /// Appends a header.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.headers.add(key, value);
        self
    }
    /// Replaces a header (all its values), e.g. a pseudo-header like `:scheme`.
    pub fn set_header(mut self, key: &str, value: &str) -> Self {
        self.headers.set(key, value);
        self
    }
    /// Removes a header.
    pub fn without_header(mut self, key: &str) -> Self {
        self.headers.remove(key);
        self
    }
    /// Sets `:authority`.
    pub fn authority(mut self, host: &str) -> Self {
        self.headers.set(":authority", host);
        self
    }
    /// Adds a body chunk (call again for several chunks).
    pub fn body(mut self, chunk: impl Into<Vec<u8>>) -> Self {
        self.chunks.push(chunk.into());
        self
    }
    /// Adds a trailer.
    pub fn trailer(mut self, key: &str, value: &str) -> Self {
        self.trailers
            .get_or_insert_with(Headers::new)
            .add(key, value);
        self
    }
    /// Runs the stream on worker `w`.
    pub fn on_worker(mut self, w: usize) -> Self {
        self.worker = Some(w);
        self
    }
    /// Sets a property for this request only (dotted path, e.g. `source.address`; `\.` is a
    /// dot inside a segment).
    pub fn property(mut self, path: &str, value: Prop) -> Self {
        self.props.push((path.to_string(), value));
        self
    }
    /// Sets a property for this request only by its path segments, which may contain dots
    /// (`&["metadata", "filter_metadata", "envoy.filters.http.lua", "key"]`).
    pub fn property_at(self, segments: &[&str], value: Prop) -> Self {
        self.property(&dotted_path(segments), value)
    }
    /// Sends this request on downstream connection `label`: requests with the same label share
    /// the connection, so they see the same `connection.id` and run on the worker that took the
    /// connection's first request (as Envoy keeps a connection on one worker; the connection's
    /// worker wins over [`Request::on_worker`]). Without it every request opens a connection of
    /// its own, with a new, increasing `connection.id`.
    pub fn connection(mut self, label: u64) -> Self {
        self.connection = Some(label);
        self
    }
}

/// A response the upstream sends. Default: `:status 200`, no body.
#[derive(Clone, Debug, Default)]
pub struct Response {
    /// Headers including `:status`.
    pub headers: Headers,
    /// Body chunks.
    pub chunks: Vec<Vec<u8>>,
    /// Trailers, if any.
    pub trailers: Option<Headers>,
}

impl Response {
    /// A response with status `code`.
    pub fn status(code: u16) -> Self {
        let mut headers = Headers::new();
        headers.add(":status", &code.to_string());
        Self {
            headers,
            ..Self::default()
        }
    }
    /// `200 OK`.
    pub fn ok() -> Self {
        Self::status(200)
    }
    /// Appends a header.
    pub fn header(mut self, key: &str, value: &str) -> Self {
        self.headers.add(key, value);
        self
    }
    /// Replaces a header (all its values).
    pub fn set_header(mut self, key: &str, value: &str) -> Self {
        self.headers.set(key, value);
        self
    }
    /// Adds a body chunk.
    pub fn body(mut self, chunk: impl Into<Vec<u8>>) -> Self {
        self.chunks.push(chunk.into());
        self
    }
    /// Adds a trailer.
    pub fn trailer(mut self, key: &str, value: &str) -> Self {
        self.trailers
            .get_or_insert_with(Headers::new)
            .add(key, value);
        self
    }
}

/// A local reply sent by a filter with `proxy_send_local_response` (or by the harness for a
/// failed VM under FAIL_CLOSED: status 503, details `wasm_fail_stream`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LocalReply {
    /// Name of the filter that sent it.
    pub filter: String,
    /// HTTP status.
    pub status: u16,
    /// Body.
    #[serde(serialize_with = "text")]
    pub body: Vec<u8>,
    /// Extra headers the filter asked for.
    pub headers: Headers,
    /// The details string (`response.code_details`).
    pub details: String,
    /// gRPC status, when not -1.
    pub grpc_status: Option<u32>,
}

impl LocalReply {
    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What one side saw: headers, body, trailers, and whether the stream ended. In JSON the body
/// is text (lossy UTF-8), with `body_base64` beside it when the bytes are not UTF-8.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Headers, once they passed every filter.
    pub headers: Option<Headers>,
    /// Body bytes received so far.
    pub body: Vec<u8>,
    /// Trailers, if any passed.
    pub trailers: Option<Headers>,
    /// True once end_of_stream arrived.
    pub end_of_stream: bool,
}

impl Serialize for Seen {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let binary = std::str::from_utf8(&self.body).is_err();
        let mut st = s.serialize_struct("Seen", 4 + usize::from(binary))?;
        st.serialize_field("headers", &self.headers)?;
        st.serialize_field("body", &String::from_utf8_lossy(&self.body))?;
        if binary {
            st.serialize_field("body_base64", &super::base64::encode(&self.body))?;
        }
        st.serialize_field("trailers", &self.trailers)?;
        st.serialize_field("end_of_stream", &self.end_of_stream)?;
        st.end()
    }
}

impl Seen {
    /// The first value of a header, if the headers arrived and carry it.
    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.as_ref().and_then(|h| h.get(key))
    }
    /// The body as UTF-8 (lossy).
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Proxy-wasm log levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// 0
    Trace = 0,
    /// 1
    Debug = 1,
    /// 2 (Envoy's default)
    Info = 2,
    /// 3
    Warn = 3,
    /// 4
    Error = 4,
    /// 5: the Rust SDK's panic hook logs here.
    Critical = 5,
}

impl LogLevel {
    /// From the ABI value.
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => Self::Trace,
            1 => Self::Debug,
            2 => Self::Info,
            3 => Self::Warn,
            4 => Self::Error,
            5 => Self::Critical,
            _ => return None,
        })
    }
}

/// One captured log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    /// Plugin name.
    pub plugin: String,
    /// Worker index.
    pub worker: usize,
    /// Level.
    pub level: LogLevel,
    /// Message.
    pub message: String,
}

/// The state of a stream after the harness drove it as far as it could.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The stream.
    pub stream: u64,
    /// What the upstream received.
    pub upstream: Seen,
    /// What the client received.
    pub client: Seen,
    /// The local reply, if a filter (or a failure policy) sent one.
    pub local_reply: Option<LocalReply>,
    /// True when a filter closed the stream or a reply could not be delivered.
    pub reset: bool,
    /// True when `on_log`/`on_done`/`on_delete` ran.
    pub finished: bool,
    /// Callouts made during this stream (by its contexts).
    pub calls: Vec<CallRecord>,
    /// Times the route cache was cleared (request header edits, `clear_route_cache`).
    pub route_cache_cleared: u32,
}

impl Outcome {
    /// The client's `:status`, or 0 when no response headers reached the client.
    pub fn status(&self) -> u16 {
        self.client
            .header(":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }
    /// The local reply, if any.
    pub fn local_reply(&self) -> Option<&LocalReply> {
        self.local_reply.as_ref()
    }
    /// What the upstream saw (headers `None` when nothing reached it).
    pub fn upstream_request(&self) -> &Seen {
        &self.upstream
    }
    /// What the client saw.
    pub fn client_response(&self) -> &Seen {
        &self.client
    }
    /// True when the request reached the upstream.
    pub fn reached_upstream(&self) -> bool {
        self.upstream.headers.is_some()
    }
}
