//! The process-wide wasmtime `Engine` and `Linker` (built once), and the compiled-module
//! cache keyed by path, modification time and size, so each module compiles once per process.
//! Fuel is enabled so guest work is bounded and countable.

use crate::abi::add_to_linker;
use crate::error::{Error, Result};
use crate::state::HostState;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;
use wasmtime::{Config, Engine, Linker, Module};

/// The engine and its linker with every hostcall.
pub(crate) struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    /// Built with epoch interruption for the sampling profiler.
    pub profiling: bool,
}

type Key = (PathBuf, Option<SystemTime>, u64);

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();
static MODULES: OnceLock<Mutex<HashMap<Key, Module>>> = OnceLock::new();

/// The shared runtime.
pub(crate) fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            let mut config = Config::new();
            config.consume_fuel(true);
            let profiling = crate::sampler::enabled();
            config.epoch_interruption(profiling);
            let engine = Engine::new(&config).map_err(|e| e.to_string())?;
            if profiling {
                crate::sampler::start_ticker(&engine);
            }
            let mut linker = Linker::new(&engine);
            add_to_linker(&mut linker).map_err(|e| e.to_string())?;
            Ok(Runtime {
                engine,
                linker,
                profiling,
            })
        })
        .as_ref()
        .map_err(|e| Error::Harness(format!("wasmtime: {e}")))
}

/// The compiled module at `path`, compiled at most once per (path, mtime, size).
pub(crate) fn module(path: &Path) -> Result<Module> {
    let load = |message: String| Error::Load {
        module: path.display().to_string(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| load(e.to_string()))?;
    let key = (path.to_path_buf(), meta.modified().ok(), meta.len());
    let cache = MODULES.get_or_init(Default::default);
    if let Some(m) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(m.clone());
    }
    let rt = runtime()?;
    let bytes = std::fs::read(path).map_err(|e| load(e.to_string()))?;
    let module = Module::new(&rt.engine, &bytes).map_err(|e| load(format!("{e:#}")))?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, module.clone());
    Ok(module)
}
