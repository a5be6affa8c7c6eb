//! Paths of the guest modules, built once per process.

use std::path::{Path, PathBuf};

fn guest(name: &str, target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("guests")
        .join(name);
    host_test::build::cargo_wasm_manifest(&dir, &name.replace('-', "_"), target)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The SDK probe for wasm32-wasip1.
pub fn probe() -> PathBuf {
    guest("sdk-probe", "wasm32-wasip1")
}

/// The SDK probe for wasm32-unknown-unknown.
pub fn probe_unknown() -> PathBuf {
    guest("sdk-probe", "wasm32-unknown-unknown")
}

/// The raw-import probe (wasm32-wasip1).
pub fn raw() -> PathBuf {
    guest("raw-probe", "wasm32-wasip1")
}
