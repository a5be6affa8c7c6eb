//! Builds wasm modules with cargo, once per process per (package, target): workspace crates
//! with [`cargo_wasm`], standalone crates (test guests) with [`cargo_wasm_manifest`]. Builds
//! use their own target directory (`<workspace>/target/host-test-wasm`) so they never wait
//! for the outer cargo's lock.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();

/// The workspace root (parent of this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// Builds workspace package `pkg` for `wasm32-wasip1` in release; returns the `.wasm` path.
///
/// Errors: [`Error::Build`] with cargo's output when the build fails.
pub fn cargo_wasm(pkg: &str) -> Result<PathBuf> {
    cargo_wasm_target(pkg, "wasm32-wasip1")
}

/// Like [`cargo_wasm`] for another target (`wasm32-unknown-unknown`).
pub fn cargo_wasm_target(pkg: &str, target: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let dir = root.join("target/host-test-wasm");
    build(
        pkg,
        target,
        &dir,
        &["-p", pkg],
        &root,
        &pkg.replace('-', "_"),
    )
}

/// Builds example `example` of workspace package `pkg` (an example with
/// `crate-type = ["cdylib"]`) for `wasm32-wasip1` in release; returns the `.wasm` path.
pub fn cargo_wasm_example(pkg: &str, example: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let dir = root.join("target/host-test-wasm");
    build(
        &format!("{pkg} --example {example}"),
        "wasm32-wasip1",
        &dir,
        &["-p", pkg, "--example", example],
        &root,
        &format!("examples/{}", example.replace('-', "_")),
    )
}

/// Builds the standalone crate at `manifest_dir` (its own `[workspace]`) for `target`;
/// the artifact is named after `lib_name`.
pub fn cargo_wasm_manifest(manifest_dir: &Path, lib_name: &str, target: &str) -> Result<PathBuf> {
    let dir = workspace_root().join("target/host-test-guests");
    let manifest = manifest_dir.join("Cargo.toml");
    let m = manifest.to_string_lossy().into_owned();
    build(
        &m,
        target,
        &dir,
        &["--manifest-path", &m],
        manifest_dir,
        lib_name,
    )
}

fn build(
    key: &str,
    target: &str,
    target_dir: &Path,
    select: &[&str],
    cwd: &Path,
    artifact: &str,
) -> Result<PathBuf> {
    let cache = BUILT.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let k = (key.to_string(), target.to_string());
    if let Some(p) = cache.get(&k) {
        return Ok(p.clone());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(cwd)
        .args(["build", "--release", "--target", target])
        .args(select)
        .env("CARGO_TARGET_DIR", target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| Error::Build {
            package: key.to_string(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(30).collect();
        return Err(Error::Build {
            package: key.to_string(),
            message: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    let path = target_dir
        .join(target)
        .join("release")
        .join(format!("{artifact}.wasm"));
    if !path.exists() {
        return Err(Error::Build {
            package: key.to_string(),
            message: format!("no artifact at {}", path.display()),
        });
    }
    cache.insert(k, path.clone());
    Ok(path)
}
