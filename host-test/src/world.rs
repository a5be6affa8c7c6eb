//! Gateway-wide state shared by every VM of a [`crate::Gateway`]: virtual clock, captured
//! logs, shared data and queues (per vm_id), metrics, callouts, live streams, properties and the
//! optional hostcall trace. One `World` per gateway behind a mutex: no process globals.

use crate::value::{
    CallRecord, Headers, HostProfile, LogLevel, LogRecord, Metric, Prop, Protocol, TraceEvent,
};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// The host imitated.
    pub host: HostProfile,
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
            host: HostProfile::Envoy,
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
