//! [`Harness`]: the builder for a [`Gateway`], with every default listed, and
//! [`FilterSpec`], one filter of the chain.

use crate::engine::module;
use crate::error::Result;
use crate::gateway::{Filter, Gateway};
use crate::state::PluginInfo;
use crate::value::{
    dotted_path, wire_path, CallRecord, CallReply, FailurePolicy, HostProfile, LogLevel, Prop,
    Protocol, Responder,
};
use crate::world::{lock, ForeignFn, World};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// One filter of the chain. Defaults: name = file stem, root_id `""`, vm_id `""` (Envoy's
/// default, so plugins without a vm_id share data), empty VM and plugin configuration,
/// FAIL_CLOSED.
#[derive(Clone, Debug)]
pub struct FilterSpec {
    path: PathBuf,
    name: Option<String>,
    root_id: String,
    vm_id: String,
    vm_config: Vec<u8>,
    config: Vec<u8>,
    policy: FailurePolicy,
    allow_stop_iteration: bool,
}

impl FilterSpec {
    /// A filter loaded from a `.wasm` file.
    pub fn wasm(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_path_buf(),
            name: None,
            root_id: String::new(),
            vm_id: String::new(),
            vm_config: Vec::new(),
            config: Vec::new(),
            policy: FailurePolicy::default(),
            allow_stop_iteration: false,
        }
    }
    /// Plugin name (logs, metrics of failures, `plugin_name`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }
    /// Root id (`plugin_root_id`).
    pub fn root_id(mut self, id: &str) -> Self {
        self.root_id = id.to_string();
        self
    }
    /// VM id: plugins with the same vm_id share data and queues.
    pub fn vm_id(mut self, id: &str) -> Self {
        self.vm_id = id.to_string();
        self
    }
    /// Plugin configuration as JSON text.
    pub fn config_json(self, v: &serde_json::Value) -> Self {
        self.config(v.to_string())
    }
    /// Plugin configuration bytes (given to `proxy_on_configure`).
    pub fn config(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.config = bytes.into();
        self
    }
    /// VM configuration bytes (given to `proxy_on_vm_start`).
    pub fn vm_config(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.vm_config = bytes.into();
        self
    }
    /// Failure policy.
    pub fn failure_policy(mut self, p: FailurePolicy) -> Self {
        self.policy = p;
        self
    }
    /// Envoy's `allow_on_headers_stop_iteration` (default false). When false, PAUSE from a
    /// headers callback stops all iteration: later body chunks and trailers are buffered and
    /// delivered to this filter only after it continues. When true, body chunks still reach
    /// the paused filter and a CONTINUE from its body callback resumes the headers.
    pub fn allow_on_headers_stop_iteration(mut self, allow: bool) -> Self {
        self.allow_stop_iteration = allow;
        self
    }
}

/// Builder for a [`Gateway`]. Defaults: 1 worker, no clusters (every callout cluster must be
/// declared, as in Envoy, or use `any_cluster`), log level info, random seed 0, start time
/// 2023-11-14T22:13:20Z, fuel 10^9 per callback (about a second of guest work), no memory cap,
/// no trace, Envoy's main thread modelled (see [`Harness::main_thread`]).
pub struct Harness {
    filters: Vec<FilterSpec>,
    workers: usize,
    main_thread: bool,
    world: World,
    responders: Vec<(String, Responder)>,
    fuel: u64,
    memory_cap: Option<usize>,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness with the defaults above.
    pub fn new() -> Self {
        Self {
            filters: Vec::new(),
            workers: 1,
            main_thread: true,
            world: World::new(0),
            responders: Vec::new(),
            fuel: 1_000_000_000,
            memory_cap: None,
        }
    }
    /// Appends a filter to the chain (request order).
    pub fn filter(mut self, f: FilterSpec) -> Self {
        self.filters.push(f);
        self
    }
    /// Number of worker VMs per plugin.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }
    /// Envoy's main thread (default on; the Envoy profile only, ngx_wasm_module has none).
    /// Loading a plugin, Envoy's main thread runs the module in three more VMs than the
    /// workers: the base VM (`_initialize`/`main` only, never a root context), a configuration
    /// canary (root context, `on_vm_start`, `on_configure`, then dropped without `on_done`, its
    /// callouts cancelled) and the main thread's own VM, which lives on: its root context gets
    /// `on_vm_start`, `on_configure`, ticks, callout replies and queue notifications, but never a
    /// stream. So `on_vm_start` and `on_configure` run `workers + 2` times, ticks `workers + 1`
    /// times per period, and whatever they do to shared data and metrics counts that often, as
    /// in Envoy 1.40 (checked with its trace log). The main thread's VM is worker index
    /// [`Gateway::workers`] (after the workers) in logs, callouts and `vm_failure`.
    /// `main_thread(false)` runs the workers' VMs only.
    pub fn main_thread(mut self, on: bool) -> Self {
        self.main_thread = on;
        self
    }
    /// Declares a cluster callouts may target.
    pub fn cluster(mut self, name: &str) -> Self {
        self.world.clusters.insert(name.to_string());
        self
    }
    /// Accepts any cluster name.
    pub fn any_cluster(mut self) -> Self {
        self.world.any_cluster = true;
        self
    }
    /// Sets a gateway-wide property (dotted path, e.g. `xds.cluster_name`; `\.` is a dot
    /// inside a segment, as in `"metadata.filter_metadata.envoy\\.filters\\.http\\.lua.key"`).
    pub fn property(mut self, path: &str, value: Prop) -> Self {
        self.world.props.insert(wire_path(path), value);
        self
    }
    /// Sets a gateway-wide property by its path segments, which may contain dots
    /// (`&["metadata", "filter_metadata", "envoy.filters.http.lua", "key"]`).
    pub fn property_at(self, segments: &[&str], value: Prop) -> Self {
        self.property(&dotted_path(segments), value)
    }
    /// The level `proxy_get_log_level` reports; lower logs are dropped.
    pub fn log_level(mut self, l: LogLevel) -> Self {
        self.world.log_level = l;
        self
    }
    /// The HTTP codec of the client and upstream connections (default HTTP/1.1, as Envoy's
    /// HTTP/1 codec delivers: header values trimmed, a body's end as a separate empty
    /// end_of_stream callback); see [`Protocol`].
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.world.protocol = p;
        self
    }
    /// The host to imitate (default Envoy); see [`HostProfile`].
    pub fn profile(mut self, p: HostProfile) -> Self {
        self.world.host = p;
        self
    }
    /// Seed of `random_get`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.world.rng = seed;
        self
    }
    /// Start time (realtime clock).
    pub fn start_time(mut self, t: SystemTime) -> Self {
        self.world.now_ns = t
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self
    }
    /// Records every hostcall and callback (see [`Gateway::trace_json`]).
    pub fn trace(mut self) -> Self {
        self.world.trace = Some(Vec::new());
        self
    }
    /// Fuel per guest callback; running out traps (stops infinite loops).
    pub fn fuel_per_callback(mut self, fuel: u64) -> Self {
        self.fuel = fuel;
        self
    }
    /// Caps each VM's linear memory (bytes); growing beyond fails.
    pub fn memory_cap(mut self, bytes: usize) -> Self {
        self.memory_cap = Some(bytes);
        self
    }
    /// Registers a foreign function.
    pub fn foreign(
        mut self,
        name: &str,
        f: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        let f: ForeignFn = Arc::new(f);
        self.world.foreign.insert(name.to_string(), f);
        self
    }
    /// Answers callouts to `cluster` automatically (declares the cluster too).
    pub fn responder(
        mut self,
        cluster: &str,
        f: impl FnMut(&CallRecord) -> Option<CallReply> + Send + 'static,
    ) -> Self {
        self.world.clusters.insert(cluster.to_string());
        self.responders.push((cluster.to_string(), Box::new(f)));
        self
    }

    /// Answers callouts to any cluster with `f` (checked after cluster responders).
    pub fn responder_any(
        mut self,
        f: impl FnMut(&CallRecord) -> Option<CallReply> + Send + 'static,
    ) -> Self {
        self.responders.push((String::new(), Box::new(f)));
        self
    }

    /// Loads every module, starts one VM per filter per worker, and runs each root context's
    /// `on_context_create`, `on_vm_start` and `on_configure`.
    ///
    /// Errors: [`Error::Load`](crate::Error::Load), [`Error::Rejected`](crate::Error::Rejected)
    /// (configure returned false), [`Error::Trap`](crate::Error::Trap).
    pub fn build(self) -> Result<Gateway> {
        let world = Arc::new(Mutex::new(self.world));
        let mut filters = Vec::new();
        let mut names = HashMap::<String, usize>::new();
        for (index, spec) in self.filters.into_iter().enumerate() {
            let stem = spec
                .path
                .file_stem()
                .map_or("filter".into(), |s| s.to_string_lossy().into_owned());
            let mut name = spec.name.clone().unwrap_or(stem);
            let seen = names.entry(name.clone()).or_insert(0);
            *seen += 1;
            if *seen > 1 {
                name = format!("{name}#{seen}");
            }
            let info = Arc::new(PluginInfo {
                name,
                root_id: spec.root_id.clone(),
                vm_id: spec.vm_id.clone(),
                vm_config: spec.vm_config.clone(),
                plugin_config: spec.config.clone(),
                index,
                policy: spec.policy,
                allow_stop_iteration: spec.allow_stop_iteration,
            });
            let module = module(&spec.path)?;
            filters.push(Filter {
                info,
                module,
                vms: Vec::new(),
            });
        }
        let main_thread = self.main_thread && lock(&world).host == HostProfile::Envoy;
        let mut gw = Gateway {
            world,
            filters,
            workers: self.workers,
            main_thread,
            streams: BTreeMap::new(),
            finished: HashMap::new(),
            next_stream: 1,
            rr: 0,
            responders: self.responders,
            fuel: self.fuel,
            memory_cap: self.memory_cap,
            work: VecDeque::new(),
            pending_effects: Vec::new(),
            offered: HashSet::new(),
            connections: HashMap::new(),
            next_connection: 1,
        };
        // Envoy loads each plugin on its main thread first; the workers start afterwards.
        let mut main_vms = Vec::new();
        if main_thread {
            for fi in 0..gw.filters.len() {
                main_vms.push(gw.start_main_thread(fi)?);
            }
        }
        for fi in 0..gw.filters.len() {
            for w in 0..gw.workers {
                let vm = gw.new_vm(fi, w)?;
                gw.filters[fi].vms.push(vm);
                gw.after_call(fi, w);
            }
        }
        for (fi, vm) in main_vms.into_iter().enumerate() {
            gw.filters[fi].vms.push(vm);
            gw.after_call(fi, gw.workers);
        }
        gw.settle()?;
        Ok(gw)
    }
}
