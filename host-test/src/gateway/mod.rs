//! The gateway: [`Gateway`], a chain of filters with one VM per filter per worker, and the event
//! loop that runs Envoy's HTTP filter manager over it. One job split across files that all
//! extend `Gateway` (`impl Gateway` blocks, which call each other's methods):
//!
//! - `iteration.rs`: Envoy's filter iteration for one stream (frames through the filters,
//!   pause and resume, failure policies) and the effects callbacks ask for;
//! - `endpoints.rs`: the two ends of a stream (the client and the upstream, through the codec);
//! - `local_reply.rs`: Envoy's `sendLocalReply`;
//! - `stream_end.rs`: the end of a stream (`on_log`, `on_done`, `on_delete`) and outcomes;
//! - `events.rs`: what reaches root contexts (callout replies, timeouts, ticks, queues) and
//!   `settle`, which runs everything until nothing changes.
//!
//! Their types go one way: `endpoints` and `local_reply` use `iteration`'s frames; nothing here
//! imports the modules above it (`stream`, `harness`, `api`).

mod endpoints;
mod events;
mod iteration;
mod local_reply;
mod stream_end;

pub(crate) use iteration::Frame;
use iteration::{StreamRun, Work};

use crate::engine::runtime;
use crate::error::Result;
use crate::state::{Effect, HostState, PluginInfo};
use crate::value::{Outcome, Responder};
use crate::vm::Vm;
use crate::world::{lock, World};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// One filter of the chain: its plugin, its compiled module and one VM per worker.
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
    /// Worker VMs per filter; with `main_thread` each filter's `vms` has one more, the main
    /// thread's, at index `workers`.
    pub(crate) workers: usize,
    /// Envoy's main thread is modelled ([`Harness::main_thread`](crate::Harness::main_thread)).
    pub(crate) main_thread: bool,
    pub(crate) streams: BTreeMap<u64, StreamRun>,
    pub(crate) finished: HashMap<u64, Outcome>,
    pub(crate) next_stream: u64,
    pub(crate) rr: usize,
    pub(crate) responders: Vec<(String, Responder)>,
    pub(crate) fuel: u64,
    pub(crate) memory_cap: Option<usize>,
    pub(crate) work: VecDeque<Work>,
    pub(crate) pending_effects: Vec<(u64, usize, Effect)>,
    pub(crate) offered: HashSet<u64>,
    /// Downstream connections by [`Request::connection`](crate::Request::connection) label: (`connection.id`, worker).
    pub(crate) connections: HashMap<u64, (u64, usize)>,
    /// The next `connection.id` (from 1, increasing, one per connection).
    pub(crate) next_connection: u64,
}

impl Gateway {
    /// The gateway-wide state, locked.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Creates and starts a VM for filter `fi` on worker `w`.
    pub(crate) fn new_vm(&self, fi: usize, w: usize) -> Result<Vm> {
        let mut vm = self.bare_vm(fi, w)?;
        vm.start_root()?;
        Ok(vm)
    }

    /// Instantiates and initializes (`_initialize`, `main`) a VM for filter `fi` on worker `w`,
    /// without a root context.
    fn bare_vm(&self, fi: usize, w: usize) -> Result<Vm> {
        let rt = runtime()?;
        let f = &self.filters[fi];
        let state = HostState::new(self.world.clone(), f.info.clone(), w);
        Vm::new(rt, &f.module, state, self.fuel, self.memory_cap)
    }

    /// What Envoy's main thread does when it loads filter `fi`'s plugin, in its order: the
    /// base VM is initialized (and never started), a configuration canary is started and
    /// configured and then dropped (without `on_done`; its callouts are cancelled), and the
    /// main thread's own VM is started and configured, and returned (to become the last of
    /// `vms`).
    pub(crate) fn start_main_thread(&mut self, fi: usize) -> Result<Vm> {
        let main = self.workers;
        drop(self.bare_vm(fi, main)?);
        let canary = self.new_vm(fi, main)?;
        drop(canary);
        for c in self.world().calls.iter_mut() {
            if c.filter_index == fi && c.worker == main {
                c.pending = false;
            }
        }
        self.new_vm(fi, main)
    }
}
