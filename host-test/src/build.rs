//! Builds wasm modules with cargo, once per process per (package, features, target): workspace
//! crates with [`cargo_wasm`] (or [`cargo_wasm_args`] for other features), standalone crates
//! (test guests) with [`cargo_wasm_manifest`]. Builds use their own target directory
//! (`<workspace>/target/host-test-wasm`) so they never wait for the outer cargo's lock, and each
//! module is copied to a folder of its own (`release/host-test/<build>/`), so that a build of
//! the same package with other features never replaces a module a test is about to load.

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
    cargo_wasm_for(pkg, target, &[])
}

/// Like [`cargo_wasm`] with more cargo arguments, such as other features:
/// `cargo_wasm_args("filter-auth", &["--no-default-features", "--features", "export"])`.
pub fn cargo_wasm_args(pkg: &str, args: &[&str]) -> Result<PathBuf> {
    cargo_wasm_for(pkg, "wasm32-wasip1", args)
}

/// Builds workspace package `pkg` for `target` with more cargo arguments: the general form of
/// [`cargo_wasm`], [`cargo_wasm_target`] and [`cargo_wasm_args`].
pub fn cargo_wasm_for(pkg: &str, target: &str, args: &[&str]) -> Result<PathBuf> {
    let root = workspace_root();
    let dir = root.join("target/host-test-wasm");
    let mut select = vec!["-p", pkg];
    select.extend_from_slice(args);
    build(
        &select[1..].join(" "),
        target,
        &dir,
        &select,
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
    let release = target_dir.join(target).join("release");
    let built = release.join(format!("{artifact}.wasm"));
    // A folder per build, and the module's own file name in it (its stem names the filter).
    let own = release
        .join("host-test")
        .join(key.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
        .join(format!(
            "{}.wasm",
            artifact.rsplit('/').next().unwrap_or(artifact)
        ));
    let copied = own
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::copy(&built, &own));
    if let Err(e) = copied {
        return Err(Error::Build {
            package: key.to_string(),
            message: format!("no module at {}: {e}", built.display()),
        });
    }
    cache.insert(k, own.clone());
    Ok(own)
}
