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

/// A copy of `module` with byte strings replaced (same lengths), e.g. to rename an export.
pub fn patched(module: &Path, tag: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut b = std::fs::read(module).unwrap();
    for (from, to) in edits {
        assert_eq!(from.len(), to.len());
        let (f, t) = (from.as_bytes(), to.as_bytes());
        let mut found = false;
        let mut i = 0;
        while i + f.len() <= b.len() {
            if &b[i..i + f.len()] == f {
                b[i..i + f.len()].copy_from_slice(t);
                found = true;
            }
            i += 1;
        }
        assert!(found, "{from} not in {}", module.display());
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/host-test-scratch");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{tag}.wasm"));
    std::fs::write(&p, b).unwrap();
    p
}
