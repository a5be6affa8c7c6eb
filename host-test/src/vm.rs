//! One VM: a fresh `Store<HostState>` and instance of a plugin's module on one worker, with
//! Envoy's start-up (`_initialize` + `main` or `_start`, root context, `vm_start`,
//! `configure`) and a generic caller that adapts to each export's arity (ABI 0.1.0 callbacks
//! take fewer arguments). Each guest call gets a fuel budget; consumed fuel is accumulated.

use crate::engine::Runtime;
use crate::error::{Error, Result};
use crate::state::{Effect, HostState};
use crate::value::LogLevel;
use wasmtime::{Instance, Module, Store, StoreLimitsBuilder, Val, ValType};

/// ABI markers a module may export; one is required.
pub(crate) const ABI_MARKERS: [&str; 3] = [
    "proxy_abi_version_0_2_1",
    "proxy_abi_version_0_2_0",
    "proxy_abi_version_0_1_0",
];

/// A trap in a guest call.
#[derive(Debug, Clone)]
pub(crate) struct Trapped {
    pub callback: String,
    pub message: String,
}

pub(crate) struct Vm {
    pub store: Store<HostState>,
    instance: Instance,
    /// The ABI marker the module exports.
    #[allow(dead_code)]
    pub abi: &'static str,
    /// Set once the VM trapped: the panic message.
    pub failed: Option<String>,
    pub failed_at_ns: u64,
    pub next_tick_ns: Option<u64>,
    pub fuel_budget: u64,
    pub fuel_used: u64,
    /// Fuel left before the guest is stopped (out of fuel) wherever it is, for the exact fuel
    /// profile; `None` runs every call with the full budget.
    pub fuel_stop: Option<u64>,
    /// The guest stack where it ran out of `fuel_stop`, innermost first.
    pub stopped_at: Option<Vec<String>>,
    /// `fuel_used` by the export that consumed it (`proxy_on_request_headers`, ...).
    pub fuel_by_export: std::collections::BTreeMap<String, u64>,
    /// Wall time spent in guest calls, ns (includes hostcalls).
    pub wall_ns: u64,
}

impl Vm {
    /// Instantiates and initializes; does not create the root context.
    pub fn new(
        rt: &Runtime,
        module: &Module,
        mut state: HostState,
        fuel_budget: u64,
        memory_cap: Option<usize>,
    ) -> Result<Vm> {
        let name = state.plugin.name.clone();
        let load = |message: String| Error::Load {
            module: name.clone(),
            message,
        };
        let abi = ABI_MARKERS
            .iter()
            .find(|m| module.get_export(m).is_some())
            .copied()
            .ok_or_else(|| {
                load("no proxy_abi_version_* export (not a proxy-wasm module)".into())
            })?;
        state.abi_01 = abi == "proxy_abi_version_0_1_0";
        if let Some(cap) = memory_cap {
            state.limits = StoreLimitsBuilder::new().memory_size(cap).build();
        }
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limits);
        if rt.profiling {
            crate::sampler::attach(&mut store);
        }
        store
            .set_fuel(fuel_budget)
            .map_err(|e| load(format!("{e:#}")))?;
        let instance = rt
            .linker
            .instantiate(&mut store, module)
            .map_err(|e| load(format!("{e:#}")))?;
        let mut vm = Vm {
            store,
            instance,
            abi,
            failed: None,
            failed_at_ns: 0,
            next_tick_ns: None,
            fuel_budget,
            fuel_used: 0,
            fuel_stop: None,
            stopped_at: None,
            fuel_by_export: std::collections::BTreeMap::new(),
            wall_ns: 0,
        };
        let init = if vm.has("_initialize") {
            vm.call(0, "_initialize", &[]).and_then(|_| {
                if vm.has("main") {
                    vm.call(0, "main", &[0, 0]).map(|_| ())
                } else {
                    Ok(())
                }
            })
        } else if vm.has("_start") {
            vm.call(0, "_start", &[]).map(|_| ())
        } else {
            Ok(())
        };
        init.map_err(|t| load(format!("{} trapped: {}", t.callback, t.message)))?;
        Ok(vm)
    }

    pub fn has(&mut self, name: &str) -> bool {
        self.instance.get_func(&mut self.store, name).is_some()
    }

    /// Size of the exported linear memory in bytes (0 when the module exports none).
    pub fn memory_bytes(&mut self) -> u64 {
        self.instance
            .get_memory(&mut self.store, "memory")
            .map_or(0, |m| m.data_size(&self.store) as u64)
    }

    pub fn state(&self) -> &HostState {
        self.store.data()
    }

    pub fn state_mut(&mut self) -> &mut HostState {
        self.store.data_mut()
    }

    /// Calls export `name` in context `ctx` (the effective context during the call).
    /// A missing export returns `Ok(None)`. Extra arguments are dropped, missing ones are 0.
    pub fn call(
        &mut self,
        ctx: u32,
        name: &str,
        args: &[i64],
    ) -> std::result::Result<Option<i64>, Trapped> {
        let Some(f) = self.instance.get_func(&mut self.store, name) else {
            return Ok(None);
        };
        let ty = f.ty(&self.store);
        let params: Vec<Val> = ty
            .params()
            .enumerate()
            .map(|(i, t)| {
                let a = args.get(i).copied().unwrap_or(0);
                match t {
                    ValType::I64 => Val::I64(a),
                    _ => Val::I32(a as i32),
                }
            })
            .collect();
        let mut results: Vec<Val> = ty
            .results()
            .map(|t| match t {
                ValType::I64 => Val::I64(0),
                _ => Val::I32(0),
            })
            .collect();
        self.state_mut().effective = ctx;
        let ti = self.state().tracing.then(|| {
            self.state().trace(
                "callback",
                name.to_string(),
                args[..args.len().min(ty.params().len())].to_vec(),
                -1,
            )
        });
        let budget = self
            .fuel_stop
            .map_or(self.fuel_budget, |stop| stop.min(self.fuel_budget));
        let _ = self.store.set_fuel(budget);
        let t0 = std::time::Instant::now();
        crate::sampler::renew(&mut self.store);
        let r = f.call(&mut self.store, &params, &mut results);
        self.wall_ns += t0.elapsed().as_nanos() as u64;
        let left = self.store.get_fuel().unwrap_or(0);
        let used = budget.saturating_sub(left);
        self.fuel_used += used;
        if let Some(stop) = self.fuel_stop.as_mut() {
            *stop = stop.saturating_sub(used);
            if let (Err(e), 0) = (&r, *stop) {
                if self.stopped_at.is_none() {
                    self.stopped_at = e
                        .downcast_ref::<wasmtime::WasmBacktrace>()
                        .map(crate::sampler::names);
                }
            }
        }
        match self.fuel_by_export.get_mut(name) {
            Some(total) => *total += used,
            None => {
                self.fuel_by_export.insert(name.to_owned(), used);
            }
        }
        let value = results.first().and_then(|v| match v {
            Val::I32(x) => Some(*x as i64),
            Val::I64(x) => Some(*x),
            _ => None,
        });
        if let Some(i) = ti {
            let v = if r.is_ok() { value.unwrap_or(-1) } else { -1 };
            self.state().trace_result(i, v);
        }
        match r {
            Ok(()) => Ok(Some(value.unwrap_or(0))),
            Err(e) => {
                let trap = format!("{e:#}");
                let message = self
                    .state_mut()
                    .critical
                    .take()
                    .unwrap_or_else(|| trap.clone());
                Err(Trapped {
                    callback: name.to_string(),
                    message,
                })
            }
        }
    }

    /// Creates the root context and runs `vm_start` and `configure`.
    pub fn start_root(&mut self) -> Result<()> {
        let plugin = self.state().plugin.clone();
        let trap = |t: Trapped| Error::Trap {
            plugin: plugin.name.clone(),
            callback: t.callback,
            message: t.message,
        };
        let root = self.state().next_ctx;
        self.state_mut().next_ctx += 1;
        self.state_mut().root_ctx = root;
        let root = root as i64;
        self.call(root as u32, "proxy_on_context_create", &[root, 0])
            .map_err(trap)?;
        let vm_len = plugin.vm_config.len() as i64;
        let ok = self
            .call(root as u32, "proxy_on_vm_start", &[root, vm_len])
            .map_err(trap)?;
        if ok == Some(0) {
            return Err(Error::Rejected {
                plugin: plugin.name.clone(),
                phase: "proxy_on_vm_start",
                log: self.error_log(),
            });
        }
        self.state_mut().scope.plugin_config = Some(plugin.plugin_config.clone());
        let len = plugin.plugin_config.len() as i64;
        let ok = self.call(root as u32, "proxy_on_configure", &[root, len]);
        self.state_mut().scope.plugin_config = None;
        if ok.map_err(trap)? == Some(0) {
            return Err(Error::Rejected {
                plugin: plugin.name.clone(),
                phase: "proxy_on_configure",
                log: self.error_log(),
            });
        }
        Ok(())
    }

    /// This VM's log lines at error level or above.
    fn error_log(&self) -> Vec<String> {
        let state = self.state();
        let (name, worker) = (state.plugin.name.clone(), state.worker);
        let world = state.world();
        world
            .logs
            .iter()
            .filter(|l| l.plugin == name && l.worker == worker && l.level >= LogLevel::Error)
            .map(|l| l.message.clone())
            .collect()
    }

    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.state_mut().effects)
    }
}
