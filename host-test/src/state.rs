//! `HostState`: the data of one VM's `Store` (one per worker per plugin). Gateway-wide state is
//! reached through `world`; this holds what Envoy keeps per VM: context ids, callout token
//! counters, tick period, metric ids, the effective context and the effects of the running
//! callback (continue, local reply, close) that the gateway applies when it returns
//! (`gateway/iteration.rs`).

use crate::value::{FailurePolicy, Headers, LocalReply, TraceEvent};
use crate::world::{lock, World};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime::StoreLimits;

/// The plugin a VM runs (Envoy's `PluginConfig`).
#[derive(Debug)]
pub(crate) struct PluginInfo {
    pub name: String,
    pub root_id: String,
    pub vm_id: String,
    pub vm_config: Vec<u8>,
    pub plugin_config: Vec<u8>,
    pub index: usize,
    pub policy: FailurePolicy,
    /// Envoy's `allow_on_headers_stop_iteration` (default false: PAUSE from a headers
    /// callback is StopAllIterationAndWatermark).
    pub allow_stop_iteration: bool,
}

/// What a stream context can reach now (Envoy's map and buffer pointers): a map is visible
/// from its callback until the callback returns CONTINUE or `continue_stream` is called.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Vis {
    /// Request headers, request trailers, response headers, response trailers.
    pub map: [bool; 4],
    /// In `on_log`: the access-log view of the maps (read-only).
    pub log: bool,
    /// In a body callback with end_of_stream (trailers may be added), per direction.
    pub body_eos: [bool; 2],
    /// Trailers were added during the last body callback, per direction.
    pub added_trailers: [bool; 2],
}

/// An effect a callback asked for; the gateway applies it after the callback returns.
#[derive(Debug, Clone)]
pub(crate) enum Effect {
    /// `proxy_continue_stream` (0 request, 1 response) on a stream context.
    Continue { ctx: u32, dir: usize },
    /// `proxy_close_stream`.
    Close { ctx: u32 },
    /// `proxy_send_local_response`.
    LocalReply { ctx: u32, reply: LocalReply },
}

/// Callout response data visible during `proxy_on_http_call_response` / gRPC callbacks.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub plugin_config: Option<Vec<u8>>,
    pub call_headers: Option<Headers>,
    pub call_body: Option<Vec<u8>>,
    pub call_trailers: Option<Headers>,
    pub grpc_initial: Option<Headers>,
    pub grpc_trailing: Option<Headers>,
    pub grpc_message: Option<Vec<u8>>,
    pub foreign_args: Option<Vec<u8>>,
}

/// The store data of one VM.
pub(crate) struct HostState {
    pub world: Arc<Mutex<World>>,
    pub plugin: Arc<PluginInfo>,
    pub worker: usize,
    pub root_ctx: u32,
    pub effective: u32,
    pub next_ctx: u32,
    /// Stream context id -> gateway stream id.
    pub stream_ctx: HashMap<u32, u64>,
    /// Per stream context: which maps are reachable now.
    pub vis: HashMap<u32, Vis>,
    pub next_http: u32,
    pub next_grpc_call: u32,
    pub next_grpc_stream: u32,
    /// Token -> gateway call id.
    pub tokens: HashMap<u32, u64>,
    pub tick_ms: u32,
    pub tick_changed: bool,
    pub status: (u32, Vec<u8>),
    pub effects: Vec<Effect>,
    pub scope: Scope,
    /// Metric id -> name.
    pub metric_ids: HashMap<u32, String>,
    pub next_metric: [u32; 3],
    pub limits: StoreLimits,
    pub critical: Option<String>,
    pub tracing: bool,
    pub done_calls: u32,
    /// ABI 0.1.0 module: a missing header value is OK with an empty value.
    pub abi_01: bool,
}

impl HostState {
    pub fn new(world: Arc<Mutex<World>>, plugin: Arc<PluginInfo>, worker: usize) -> Self {
        let tracing = lock(&world).trace.is_some();
        Self {
            world,
            plugin,
            worker,
            root_ctx: 0,
            effective: 0,
            next_ctx: 1,
            stream_ctx: HashMap::new(),
            vis: HashMap::new(),
            next_http: 0,
            next_grpc_call: 1,
            next_grpc_stream: 2,
            tokens: HashMap::new(),
            tick_ms: 0,
            tick_changed: false,
            status: (0, Vec::new()),
            effects: Vec::new(),
            scope: Scope::default(),
            metric_ids: HashMap::new(),
            next_metric: [0, 1, 2],
            limits: StoreLimits::default(),
            critical: None,
            tracing,
            done_calls: 0,
            abi_01: false,
        }
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The gateway stream of the effective context, if it is a stream context.
    pub fn stream(&self) -> Option<u64> {
        self.stream_ctx.get(&self.effective).copied()
    }

    /// Visibility of the effective context.
    pub fn vis(&self) -> Vis {
        self.vis.get(&self.effective).copied().unwrap_or_default()
    }

    pub fn trace_hostcall(&self, name: &'static str, status: i32) {
        if self.tracing {
            self.trace("hostcall", name.to_string(), Vec::new(), status as i64);
        }
    }

    /// Attaches a logged line to the last trace event (the `proxy_log` call that logged it).
    pub fn trace_log(&self, line: String) {
        if let Some(e) = self.world().trace.as_mut().and_then(|t| t.last_mut()) {
            e.log = Some(line);
        }
    }

    /// Appends a trace event; returns its index.
    pub fn trace(&self, kind: &'static str, name: String, args: Vec<i64>, result: i64) -> usize {
        let mut w = self.world();
        let Some(t) = w.trace.as_mut() else { return 0 };
        t.push(TraceEvent {
            plugin: self.plugin.name.clone(),
            worker: self.worker,
            context: self.effective,
            kind,
            name,
            args,
            result,
            log: None,
        });
        t.len() - 1
    }

    /// Sets the result of trace event `i`.
    pub fn trace_result(&self, i: usize, result: i64) {
        if let Some(e) = self.world().trace.as_mut().and_then(|t| t.get_mut(i)) {
            e.result = result;
        }
    }
}
