//! Gateway-wide state shared by every VM of a [`crate::Gateway`]: virtual clock, captured
//! logs, shared data and queues (per vm_id), metrics, callouts, live streams, properties and the
//! optional hostcall trace. One `World` per gateway behind a mutex: no process globals.

use crate::abi::properties::Prop;
use crate::message::{CallRecord, Headers, LogLevel, LogRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Which host the harness imitates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostProfile {
    /// Envoy 1.40 (default).
    #[default]
    Envoy,
    /// Kong's ngx_wasm_module, as abi.md describes its differences: properties are strings
    /// (`response.code_details`, `.flags`, `.grpc_status`, `.trailers` missing), `http_call`
    /// takes `host:port` and reports failures in a `:dispatch_status` response header, no
    /// gRPC (UNIMPLEMENTED), no `on_queue_ready`, request trailers not given to filters,
    /// metric names prefixed `pw:<filter>:`.
    Nginx,
}

/// The HTTP codec between the gateway and the client and between the gateway and the upstream
/// (both sides use the same one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (default), as Envoy's HTTP/1 codec delivers a message: header values without
    /// leading or trailing whitespace, and a body that ends with the message (content-length or
    /// last chunk) reaches the filters as its data (end_of_stream false) and then an empty
    /// end_of_stream callback.
    #[default]
    Http11,
    /// HTTP/2: the last DATA frame carries END_STREAM, so the last body chunk arrives with
    /// end_of_stream true in one callback; header values are passed as given.
    Http2,
}

impl Protocol {
    /// `request.protocol` as Envoy names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http11 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }
}

/// A registered foreign function: arguments in, result bytes out.
pub type ForeignFn = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Shared data entry: value and its cas.
#[derive(Clone, Debug)]
pub(crate) struct SharedEntry {
    pub value: Vec<u8>,
    pub cas: u32,
}

/// A shared queue registered by one VM.
#[derive(Debug)]
pub(crate) struct Queue {
    pub vm_id: String,
    pub name: String,
    /// (filter index, worker) of the VM that registered it; `on_queue_ready` goes there.
    pub owner: (usize, usize),
    pub items: VecDeque<Vec<u8>>,
}

/// Metric kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (recorded values kept).
    Histogram,
}

/// One metric, stored under its name (Envoy: `wasmcustom.<name>`).
#[derive(Clone, Debug, Serialize)]
pub struct Metric {
    /// Kind.
    pub kind: MetricKind,
    /// Counter or gauge value.
    pub value: i64,
    /// Histogram samples.
    pub samples: Vec<u64>,
}

/// Per-stream data the hostcalls read and write (header maps, the visible body chunk,
/// filter state).
#[derive(Debug, Default)]
pub(crate) struct StreamData {
    pub req_headers: Option<Headers>,
    pub req_trailers: Option<Headers>,
    pub resp_headers: Option<Headers>,
    pub resp_trailers: Option<Headers>,
    /// The body buffer visible to the running body callback, per direction.
    pub body: [Option<Vec<u8>>; 2],
    /// `set_property` values, readable by every filter of the chain.
    pub filter_state: HashMap<String, Vec<u8>>,
    /// Per-request property overrides (path joined with NUL).
    pub props: HashMap<String, Prop>,
    pub started_ns: u64,
    pub req_body_bytes: u64,
    pub resp_body_bytes: u64,
    pub code_details: String,
    /// `connection.id`: the downstream connection the stream arrived on.
    pub connection_id: u64,
    /// Set when a filter changed request headers (Envoy clears the route cache).
    pub route_cache_cleared: u32,
    /// True once the request headers went upstream.
    pub upstream_started: bool,
}

/// One trace event (hostcall or callback), for golden tests.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TraceEvent {
    /// Plugin name.
    pub plugin: String,
    /// Worker.
    pub worker: usize,
    /// Context id the call ran in (effective context for hostcalls).
    pub context: u32,
    /// `hostcall` or `callback`.
    pub kind: &'static str,
    /// Function name.
    pub name: String,
    /// Arguments (callbacks only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<i64>,
    /// Status (hostcalls) or return value (callbacks, -1 when none or trapped).
    pub result: i64,
}

/// The gateway-wide state.
pub(crate) struct World {
    pub now_ns: u64,
    pub mono_ns: u64,
    pub log_level: LogLevel,
    pub logs: Vec<LogRecord>,
    pub shared: HashMap<String, HashMap<String, SharedEntry>>,
    pub next_cas: u32,
    pub queues: Vec<Queue>,
    pub ready_queues: VecDeque<u32>,
    pub metrics: BTreeMap<String, Metric>,
    pub calls: Vec<CallRecord>,
    pub next_call: u64,
    pub streams: HashMap<u64, StreamData>,
    pub props: HashMap<String, Prop>,
    pub clusters: HashSet<String>,
    pub any_cluster: bool,
    pub foreign: HashMap<String, ForeignFn>,
    pub foreign_calls: Vec<(String, Vec<u8>)>,
    pub trace: Option<Vec<TraceEvent>>,
    pub rng: u64,
    pub profile: HostProfile,
    pub protocol: Protocol,
}

impl World {
    pub fn new(seed: u64) -> Self {
        Self {
            now_ns: 1_700_000_000_000_000_000,
            mono_ns: 1_000_000_000,
            log_level: LogLevel::Info,
            logs: Vec::new(),
            shared: HashMap::new(),
            next_cas: 1,
            queues: Vec::new(),
            ready_queues: VecDeque::new(),
            metrics: BTreeMap::new(),
            calls: Vec::new(),
            next_call: 1,
            streams: HashMap::new(),
            props: HashMap::new(),
            clusters: HashSet::new(),
            any_cluster: false,
            foreign: HashMap::new(),
            foreign_calls: Vec::new(),
            trace: None,
            rng: seed,
            profile: HostProfile::Envoy,
            protocol: Protocol::Http11,
        }
    }

    /// splitmix64: deterministic bytes for `random_get`.
    pub fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// Locks the world, ignoring poisoning (a panicking test must not hide other failures).
pub(crate) fn lock(w: &Mutex<World>) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}
