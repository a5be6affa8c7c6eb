//! The test-facing side of a [`Gateway`] (built by [`Harness`]): opening streams, and reading and
//! adjusting what a test asserts on (callouts, metrics, logs, shared data, properties, time,
//! fuel, memory). The methods that drive the gateway's machinery (`outcome`, `reply_call`,
//! `fail_call`, `grpc_message`) are with it in `gateway/`.

pub use crate::gateway::Gateway;
pub use crate::harness::{FilterSpec, Harness};
pub use crate::value::{FailurePolicy, Responder};

use crate::error::{Error, Result};
use crate::stream::{Exchange, Stream};
use crate::value::{
    dotted_path, wire_path, CallRecord, LogLevel, LogRecord, Metric, Prop, Request, Response,
    StreamId, TraceEvent,
};
use crate::vm::Vm;
use crate::world::SharedEntry;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl Gateway {
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

    /// A metric's value (counter or gauge) by name; Envoy's `wasmcustom.` prefix is accepted.
    pub fn metric(&self, name: &str) -> Option<i64> {
        let name = name.strip_prefix("wasmcustom.").unwrap_or(name);
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
            SharedEntry {
                value: value.to_vec(),
                cas,
            },
        );
    }

    /// Enqueues `item` on the shared queue `name` of `vm_id` as a guest would (the
    /// registering VM gets `on_queue_ready`). Errors when no VM registered the queue.
    pub fn enqueue(&mut self, vm_id: &str, name: &str, item: &[u8]) -> Result<()> {
        {
            let mut w = self.world();
            let i = w
                .queues
                .iter()
                .position(|q| q.vm_id == vm_id && q.name == name)
                .ok_or_else(|| Error::Harness(format!("no queue {name} in vm_id {vm_id:?}")))?;
            w.queues[i].items.push_back(item.to_vec());
            w.ready_queues.push_back(i as u32 + 1);
        }
        self.settle()
    }

    /// Sets a gateway-wide property (dotted path; `\.` is a dot inside a segment).
    pub fn set_property(&mut self, path: &str, value: Prop) {
        self.world().props.insert(wire_path(path), value);
    }

    /// Sets a gateway-wide property by its path segments, which may contain dots.
    pub fn set_property_at(&mut self, segments: &[&str], value: Prop) {
        self.set_property(&dotted_path(segments), value);
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

    /// The VMs of filter `name` (one per worker).
    fn vms<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Vm> + 'a {
        self.filters
            .iter()
            .filter(move |f| f.info.name == name)
            .flat_map(|f| f.vms.iter())
    }

    fn vms_mut<'a>(&'a mut self, name: &'a str) -> impl Iterator<Item = &'a mut Vm> + 'a {
        self.filters
            .iter_mut()
            .filter(move |f| f.info.name == name)
            .flat_map(|f| f.vms.iter_mut())
    }

    /// Fuel consumed so far by filter `name` across its workers (deterministic cost).
    pub fn fuel_used(&self, name: &str) -> u64 {
        self.vms(name).map(|v| v.fuel_used).sum()
    }

    /// Fuel consumed so far by filter `name`, by the export the host called (the callbacks, and
    /// `proxy_on_memory_allocate` when the host hands data over outside a callback).
    pub fn fuel_by_export(&self, name: &str) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for vm in self.vms(name) {
            for (export, fuel) in &vm.fuel_by_export {
                *out.entry(export.clone()).or_insert(0) += fuel;
            }
        }
        out
    }

    /// Stops filter `name`'s guest (out of fuel) once it has used `fuel` more, recording where
    /// (see [`Gateway::take_stop`]); the VM fails there, as a trapped VM does.
    pub fn stop_after_fuel(&mut self, name: &str, fuel: u64) {
        for vm in self.vms_mut(name) {
            vm.fuel_stop = Some(fuel);
            vm.stopped_at = None;
        }
    }

    /// The guest stack (innermost first) where filter `name` was stopped, if it was.
    pub fn take_stop(&mut self, name: &str) -> Option<Vec<String>> {
        self.vms_mut(name).find_map(|vm| vm.stopped_at.take())
    }

    /// Linear memory of filter `name` in bytes, summed over its workers. Wasm memory never
    /// shrinks, so this is the high-water mark of the module's heap: memory that still grows
    /// after warm-up, request after identical request, is being kept per request (a leak, or a
    /// cache without a bound).
    pub fn memory_bytes(&mut self, name: &str) -> u64 {
        self.vms_mut(name).map(Vm::memory_bytes).sum()
    }

    /// Sends `warm_up` and then `n` copies of `request`, each answered with `response`, and
    /// returns how many bytes filter `name`'s linear memory grew during the `n`: a leak check.
    /// A filter that keeps nothing per request returns 0 once warmed up (caches and bounded
    /// buffers fill during the warm-up, or stop growing at their bound).
    pub fn memory_growth(
        &mut self,
        name: &str,
        request: &Request,
        response: &Response,
        warm_up: usize,
        n: usize,
    ) -> Result<u64> {
        for _ in 0..warm_up {
            self.request(request.clone())
                .respond_with(response.clone())?;
        }
        let before = self.memory_bytes(name);
        for _ in 0..n {
            self.request(request.clone())
                .respond_with(response.clone())?;
        }
        Ok(self.memory_bytes(name).saturating_sub(before))
    }

    /// Wall time (ns) spent in filter `name`'s guest code so far, across workers.
    pub fn wall_ns(&self, name: &str) -> u64 {
        self.vms(name).map(|v| v.wall_ns).sum()
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

    /// Number of workers; also the worker index of the main thread's VM, when Envoy's main
    /// thread is modelled ([`Harness::main_thread`]).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// True when Envoy's main thread is modelled: each filter has a VM on it besides the
    /// workers' ([`Harness::main_thread`], Envoy profile).
    pub fn has_main_thread(&self) -> bool {
        self.main_thread
    }
}
