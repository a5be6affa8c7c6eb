//! The harness error type: load and configuration failures, traps, and harness misuse.

/// Errors returned by the harness. A condition the guest is meant to handle is never an
/// `Error`: it becomes a proxy-wasm status returned to the guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The module could not be read, compiled or instantiated (missing ABI marker, an import
    /// the host lacks, a trap during `_initialize`/`_start`).
    #[error("load {module}: {message}")]
    Load {
        /// The module path.
        module: String,
        /// What went wrong.
        message: String,
    },
    /// `proxy_on_vm_start` or `proxy_on_configure` returned false: Envoy rejects the plugin.
    #[error("plugin {plugin} rejected its configuration ({phase} returned false){}", log_suffix(.log))]
    Rejected {
        /// The plugin name.
        plugin: String,
        /// `proxy_on_vm_start` or `proxy_on_configure`.
        phase: &'static str,
        /// What the plugin logged at error level or above while starting, as Envoy prints it.
        log: Vec<String>,
    },
    /// The guest trapped (a Rust panic, `unreachable`, out of fuel, memory cap).
    #[error("plugin {plugin} trapped in {callback}: {message}")]
    Trap {
        /// The plugin name.
        plugin: String,
        /// The export that trapped.
        callback: String,
        /// The panic message from the last CRITICAL log, else the trap text.
        message: String,
    },
    /// The harness was used in a way that cannot work (unknown stream, call id, ...).
    #[error("harness: {0}")]
    Harness(String),
    /// Building a crate with cargo failed.
    #[error("build {package}: {message}")]
    Build {
        /// The package or manifest built.
        package: String,
        /// cargo's stderr tail.
        message: String,
    },
}

fn log_suffix(log: &[String]) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!(": {}", log.join("; "))
    }
}

/// `Result` with the harness [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
