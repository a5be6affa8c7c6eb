//! The fluent API: [`Harness`] (builder, every default listed) -> [`Gateway`] (a running
//! chain of filters on N workers), plus read access to everything a test asserts on.

use crate::abi::properties::{wire_path, Prop};
use crate::engine::{module, runtime};
use crate::error::{Error, Result};
use crate::message::{CallRecord, LogLevel, LogRecord, Outcome, Request};
use crate::state::{HostState, PluginInfo};
use crate::stream::{Exchange, Stream, StreamId};
use crate::vm::Vm;
use crate::world::{lock, ForeignFn, Metric, TraceEvent, World};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What happens to streams once a filter's VM has trapped (Envoy 1.40 `failure_policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailurePolicy {
    /// Every request through the failed VM gets a 503 local reply (Envoy's default).
    #[default]
    FailClosed,
    /// The failed filter is skipped.
    FailOpen,
    /// The VM is recreated on the next request once 1 s (virtual) has passed; 503 before.
    FailReload,
}

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
}

/// A scripted callout responder: gets the call, may answer it.
pub type Responder = Box<dyn FnMut(&CallRecord) -> Option<crate::message::CallReply> + Send>;

/// Builder for a [`Gateway`]. Defaults: 1 worker, no clusters (every callout cluster must be
/// declared, as in Envoy, or use `any_cluster`), log level info, random seed 0, start time
/// 2023-11-14T22:13:20Z, fuel 10^10 per callback, no memory cap, no trace.
pub struct Harness {
    filters: Vec<FilterSpec>,
    workers: usize,
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
            world: World::new(0),
            responders: Vec::new(),
            fuel: 10_000_000_000,
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
    /// Sets a gateway-wide property (dotted path, e.g. `xds.cluster_name`).
    pub fn property(mut self, path: &str, value: Prop) -> Self {
        self.world.props.insert(wire_path(path), value);
        self
    }
    /// The level `proxy_get_log_level` reports; lower logs are dropped.
    pub fn log_level(mut self, l: LogLevel) -> Self {
        self.world.log_level = l;
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
        f: impl FnMut(&CallRecord) -> Option<crate::message::CallReply> + Send + 'static,
    ) -> Self {
        self.world.clusters.insert(cluster.to_string());
        self.responders.push((cluster.to_string(), Box::new(f)));
        self
    }

    /// Answers callouts to any cluster with `f` (checked after cluster responders).
    pub fn responder_any(
        mut self,
        f: impl FnMut(&CallRecord) -> Option<crate::message::CallReply> + Send + 'static,
    ) -> Self {
        self.responders.push((String::new(), Box::new(f)));
        self
    }

    /// Loads every module, starts one VM per filter per worker, and runs each root context's
    /// `on_context_create`, `on_vm_start` and `on_configure`.
    ///
    /// Errors: [`Error::Load`], [`Error::Rejected`] (configure returned false),
    /// [`Error::Trap`].
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
            });
            let module = module(&spec.path)?;
            filters.push(Filter {
                info,
                module,
                vms: Vec::new(),
            });
        }
        let mut gw = Gateway {
            world,
            filters,
            workers: self.workers,
            streams: BTreeMap::new(),
            finished: HashMap::new(),
            next_stream: 1,
            rr: 0,
            responders: self.responders,
            fuel: self.fuel,
            memory_cap: self.memory_cap,
            work: VecDeque::new(),
            pending_effects: Vec::new(),
            offered: std::collections::HashSet::new(),
        };
        for fi in 0..gw.filters.len() {
            for w in 0..gw.workers {
                let vm = gw.new_vm(fi, w)?;
                gw.filters[fi].vms.push(vm);
                gw.after_call(fi, w);
            }
        }
        gw.settle()?;
        Ok(gw)
    }
}

pub(crate) struct Filter {
    pub info: Arc<PluginInfo>,
    pub module: wasmtime::Module,
    pub vms: Vec<Vm>,
}

/// A running gateway: a chain of filters, each with one VM per worker, sharing one world
/// (clock, shared data, metrics, logs, callouts). Not thread-safe; one per test.
pub struct Gateway {
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) workers: usize,
    pub(crate) streams: BTreeMap<u64, crate::chain::StreamRun>,
    pub(crate) finished: HashMap<u64, Outcome>,
    pub(crate) next_stream: u64,
    pub(crate) rr: usize,
    pub(crate) responders: Vec<(String, Responder)>,
    pub(crate) fuel: u64,
    pub(crate) memory_cap: Option<usize>,
    pub(crate) work: VecDeque<crate::chain::Work>,
    pub(crate) pending_effects: Vec<(u64, usize, crate::state::Effect)>,
    pub(crate) offered: std::collections::HashSet<u64>,
}

impl Gateway {
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Creates and starts a VM for filter `fi` on worker `w`.
    pub(crate) fn new_vm(&self, fi: usize, w: usize) -> Result<Vm> {
        let rt = runtime()?;
        let f = &self.filters[fi];
        let state = HostState::new(self.world.clone(), f.info.clone(), w);
        let mut vm = Vm::new(rt, &f.module, state, self.fuel, self.memory_cap)?;
        vm.start_root()?;
        Ok(vm)
    }

    /// A full exchange: `gw.request(req).respond_with(resp)`.
    pub fn request(&mut self, req: Request) -> Exchange<'_> {
        Exchange::new(self, req)
    }

    /// Opens a stream for step-by-step control; nothing is delivered yet.
    pub fn begin(&mut self, req: Request) -> StreamId {
        self.open(req)
    }

    /// Step-by-step handle on an open stream.
    pub fn stream(&mut self, id: StreamId) -> Stream<'_> {
        Stream::new(self, id)
    }

    /// The outcome of a stream (open or finished).
    pub fn outcome(&self, id: StreamId) -> Result<Outcome> {
        if let Some(o) = self.finished.get(&id.0) {
            return Ok(o.clone());
        }
        self.snapshot(id.0)
            .ok_or_else(|| Error::Harness(format!("unknown stream {}", id.0)))
    }

    /// Every callout made so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.world().calls.clone()
    }

    /// Callouts still waiting for a reply.
    pub fn pending_calls(&self) -> Vec<CallRecord> {
        self.world()
            .calls
            .iter()
            .filter(|c| c.pending)
            .cloned()
            .collect()
    }

    /// A metric's value (counter or gauge) by name.
    pub fn metric(&self, name: &str) -> Option<i64> {
        self.world().metrics.get(name).map(|m| m.value)
    }

    /// A metric with its kind and histogram samples.
    pub fn metric_full(&self, name: &str) -> Option<Metric> {
        self.world().metrics.get(name).cloned()
    }

    /// Every metric by name.
    pub fn metrics(&self) -> BTreeMap<String, Metric> {
        self.world().metrics.clone()
    }

    /// Captured logs, in order.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.world().logs.clone()
    }

    /// Captured log messages at `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.world()
            .logs
            .iter()
            .filter(|l| l.level == level)
            .map(|l| l.message.clone())
            .collect()
    }

    /// True when some captured log message contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.world().logs.iter().any(|l| l.message.contains(needle))
    }

    /// Forgets captured logs.
    pub fn clear_logs(&mut self) {
        self.world().logs.clear();
    }

    /// Shared data `(value, cas)` of `key` in vm_id `vm_id` (`""` is Envoy's default).
    pub fn shared_data(&self, vm_id: &str, key: &str) -> Option<(Vec<u8>, u32)> {
        self.world()
            .shared
            .get(vm_id)
            .and_then(|m| m.get(key))
            .map(|e| (e.value.clone(), e.cas))
    }

    /// Writes shared data as a guest would with cas 0.
    pub fn set_shared_data(&mut self, vm_id: &str, key: &str, value: &[u8]) {
        let mut w = self.world();
        let cas = w.next_cas;
        w.next_cas += 1;
        w.shared.entry(vm_id.to_string()).or_default().insert(
            key.to_string(),
            crate::world::SharedEntry {
                value: value.to_vec(),
                cas,
            },
        );
    }

    /// Sets a gateway-wide property.
    pub fn set_property(&mut self, path: &str, value: Prop) {
        self.world().props.insert(wire_path(path), value);
    }

    /// Foreign function calls made so far: (name, arguments).
    pub fn foreign_calls(&self) -> Vec<(String, Vec<u8>)> {
        self.world().foreign_calls.clone()
    }

    /// Virtual realtime, ns since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.world().now_ns
    }

    /// Sets the realtime clock (ticks and timeouts follow the monotonic clock, unchanged).
    pub fn set_time(&mut self, t: SystemTime) {
        self.world().now_ns = t
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    }

    /// The trace so far (empty unless built with [`Harness::trace`]).
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.world().trace.clone().unwrap_or_default()
    }

    /// The trace as pretty JSON, for golden files.
    pub fn trace_json(&self) -> String {
        serde_json::to_string_pretty(&self.trace()).unwrap_or_default()
    }

    /// Fuel consumed so far by filter `name` across its workers (deterministic cost).
    pub fn fuel_used(&self, name: &str) -> u64 {
        self.filters
            .iter()
            .filter(|f| f.info.name == name)
            .flat_map(|f| f.vms.iter())
            .map(|v| v.fuel_used)
            .sum()
    }

    /// Wall time (ns) spent in filter `name`'s guest code so far, across workers.
    pub fn wall_ns(&self, name: &str) -> u64 {
        self.filters
            .iter()
            .filter(|f| f.info.name == name)
            .flat_map(|f| f.vms.iter())
            .map(|v| v.wall_ns)
            .sum()
    }

    /// The filter names, in chain order.
    pub fn filter_names(&self) -> Vec<String> {
        self.filters.iter().map(|f| f.info.name.clone()).collect()
    }

    /// The panic message if filter `name`'s VM on `worker` has failed.
    pub fn vm_failure(&self, name: &str, worker: usize) -> Option<String> {
        self.filters
            .iter()
            .find(|f| f.info.name == name)
            .and_then(|f| f.vms.get(worker))
            .and_then(|v| v.failed.clone())
    }

    /// Advances virtual time by `d`, firing ticks and callout timeouts in time order.
    pub fn advance(&mut self, d: Duration) -> Result<()> {
        self.advance_ns(d.as_nanos() as u64)
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }
}
