//! The sampling profiler for guest code (`host-test profile`; also public as `host_test::profile`,
//! this module's former name).
//!
//! When enabled before the first module is compiled, the engine is built with epoch interruption;
//! a background thread advances the epoch every [`INTERVAL`], and at each advance the running
//! guest records its wasm call stack. Names come from the module's `name` section (build without
//! stripping it: cargo's `strip = "debuginfo"` keeps it, `wasm-opt` output usually does not),
//! demangled. Host time (hostcalls, host-test) is excluded: the deadline is renewed whenever the
//! guest is entered or a hostcall returns. The moments wasmtime takes to enter a callback still
//! count to the callback's export. Sampling is by wall time, so counts vary a little between
//! runs; fuel (see `host-test bench`) is the deterministic total.
//!
//! `host-test profile --fuel` samples by fuel instead, exactly and deterministically: it measures
//! the fuel F one request takes, then for each of N samples replays the same warmed-up gateway
//! and stops the guest (out of fuel) at offset (i + 1/2)·F/N of the request, recording the stack
//! there. A function's share is then its share of the request's wasm operations, hostcalls and
//! host time excluded; the same module and request always give the same profile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmtime::{AsContext, AsContextMut, Engine, Store, UpdateDeadline, WasmBacktrace};

/// Time between samples.
pub const INTERVAL: Duration = Duration::from_micros(50);

static ENABLED: AtomicBool = AtomicBool::new(false);
static SAMPLES: Mutex<Option<Samples>> = Mutex::new(None);
static TICKER: OnceLock<()> = OnceLock::new();

/// Samples per function.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    /// Samples taken.
    pub total: u64,
    /// Function name → (samples where it was running, samples where it was on the stack).
    pub functions: HashMap<String, (u64, u64)>,
    /// (callee, caller) → samples with that call on the stack.
    pub calls: HashMap<(String, String), u64>,
}

/// Turns sampling on for this process. Takes effect only if no module has been compiled yet.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Whether sampling is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Starts the thread that advances `engine`'s epoch (once per process).
pub(crate) fn start_ticker(engine: &Engine) {
    let engine = engine.clone();
    TICKER.get_or_init(|| {
        std::thread::spawn(move || loop {
            std::thread::sleep(INTERVAL);
            engine.increment_epoch();
        });
    });
}

/// Makes `store` take a sample at each epoch advance while its guest runs (for stores of an
/// engine built while sampling was on).
pub(crate) fn attach<T: 'static>(store: &mut Store<T>) {
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|ctx| {
        sample(&ctx);
        Ok(UpdateDeadline::Continue(1))
    });
}

/// Starts a fresh sampling period when sampling is on: the host's time up to now (a hostcall,
/// entering the guest) never counts toward the next sample.
pub(crate) fn renew(mut store: impl AsContextMut) {
    if enabled() {
        store.as_context_mut().set_epoch_deadline(1);
    }
}

/// Records the guest stack of `store` (called at each epoch advance while the guest runs).
fn sample(store: impl AsContext) {
    let names = names(&WasmBacktrace::capture(store));
    let mut guard = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    guard.get_or_insert_with(Samples::default).add(&names);
}

/// The demangled function names of a guest stack, innermost first.
pub(crate) fn names(trace: &WasmBacktrace) -> Vec<String> {
    trace
        .frames()
        .iter()
        .map(|f| match f.func_name() {
            Some(n) => format!("{:#}", rustc_demangle::demangle(n)),
            None => format!("<func {}>", f.func_index()),
        })
        .collect()
}

impl Samples {
    /// Counts one sample of the stack `names` (innermost first; empty stacks are not counted).
    pub fn add(&mut self, names: &[String]) {
        let Some(leaf) = names.first() else {
            return;
        };
        self.total += 1;
        self.functions.entry(leaf.clone()).or_default().0 += 1;
        let mut seen: Vec<&String> = Vec::with_capacity(names.len());
        for n in names {
            if !seen.contains(&n) {
                seen.push(n);
                self.functions.entry(n.clone()).or_default().1 += 1;
            }
        }
        let mut calls: Vec<(&String, &String)> = Vec::with_capacity(names.len());
        for pair in names.windows(2) {
            if let [callee, caller] = pair {
                if !calls.contains(&(callee, caller)) {
                    calls.push((callee, caller));
                    *self
                        .calls
                        .entry((callee.clone(), caller.clone()))
                        .or_default() += 1;
                }
            }
        }
    }

    /// The callers of functions whose name contains `callee`, with the samples of each call.
    pub fn callers(&self, callee: &str) -> Vec<(&str, &str, u64)> {
        let mut out: Vec<_> = self
            .calls
            .iter()
            .filter(|((f, _), _)| f.contains(callee))
            .map(|((f, caller), n)| (f.as_str(), caller.as_str(), *n))
            .collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(b.1)));
        out
    }
}

/// Takes the samples recorded so far, leaving none.
pub fn take() -> Samples {
    SAMPLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default()
}
