//! `apply`: the plugin files rendered as file-based ECDS resources (Envoy's
//! `config_discovery.config_source.path_config_source`): one `<filter>.json` per filter in the
//! Envoy directory, each a discovery response holding one `TypedExtensionConfig` named
//! `gateway.<filter>` whose `typed_config` is the wasm filter (module, VM, failure policy and the
//! plugin configuration). Each file is moved into place atomically; Envoy watches the path and
//! applies a new configuration to new streams without a restart.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::store::{err, hex, render, validate, write_atomic, Error, Kind, Store};

/// The chain's filters in order, with their failure policy (as in envoy-config/gateway.yaml).
pub const FILTERS: [(&str, &str); 4] = [
    ("auth", "FAIL_CLOSED"),
    ("quota", "FAIL_CLOSED"),
    ("analytics", "FAIL_OPEN"),
    ("routing", "FAIL_CLOSED"),
];

const WASM: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const TYPED_EXTENSION: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";
const STRING_VALUE: &str = "type.googleapis.com/google.protobuf.StringValue";

/// Validates every plugin file in the directory with its filter (all errors reported).
pub fn validate_all(store: &mut Store) -> Result<(), Error> {
    let mut stems: Vec<String> = FILTERS
        .iter()
        .map(|(n, _)| n.to_string())
        .filter(|n| store.exists(n))
        .collect();
    for q in store.quota_files()? {
        if !stems.contains(&q) {
            stems.push(q);
        }
    }
    let mut errors = Vec::new();
    for stem in stems {
        let bytes = std::fs::read(store.path(&stem))
            .map_err(|e| Error(format!("{}: {e}", store.path(&stem).display())))?;
        if let Err(e) = validate(Kind::of(&stem), &bytes) {
            errors.push(format!("{stem}.json: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        err(format!("invalid:\n  {}", errors.join("\n  ")))
    }
}

/// The wasm filter's typed config (the same fields as gateway.yaml's).
fn wasm(
    name: &str,
    root_id: &str,
    vm_id: &str,
    policy: &str,
    module: &Path,
    config: &Value,
) -> Value {
    json!({
        "@type": WASM,
        "config": {
            "name": name,
            "root_id": root_id,
            "failure_policy": policy,
            "vm_config": {
                "vm_id": vm_id,
                "runtime": "envoy.wasm.runtime.v8",
                "code": {"local": {"filename": module.to_string_lossy()}},
            },
            "configuration": {"@type": STRING_VALUE, "value": config.to_string()},
        }
    })
}

/// A discovery response with one TypedExtensionConfig; `version_info` is the digest of the
/// typed config, so an unchanged configuration renders the same bytes.
fn resource(name: &str, typed_config: Value) -> Value {
    let version = hex(&Sha256::digest(typed_config.to_string().as_bytes())[..8]);
    json!({
        "version_info": version,
        "resources": [{"@type": TYPED_EXTENSION, "name": name, "typed_config": typed_config}],
    })
}

fn absolute(p: &Path) -> Result<PathBuf, Error> {
    std::path::absolute(p).map_err(|e| Error(format!("{}: {e}", p.display())))
}

/// Renders and writes the ECDS files for the plugin files present; refuses (writing nothing)
/// when any plugin file is invalid.
pub fn apply(store: &mut Store, envoy_dir: &Path, dist: &Path, bundle: bool) -> Result<(), Error> {
    validate_all(store)?;
    if !envoy_dir.is_dir() {
        return err(format!("{}: not a directory", envoy_dir.display()));
    }
    let dist = absolute(dist)?;
    let mut out: Vec<(PathBuf, Value)> = Vec::new();
    let mut members = serde_json::Map::new();
    for (name, policy) in FILTERS {
        if !store.exists(name) {
            continue;
        }
        let config = store.get(name)?.clone();
        members.insert(name.to_string(), config.clone());
        let module = dist.join(format!("filter_{name}.wasm"));
        let typed = wasm(
            name,
            name,
            &format!("gateway-{name}"),
            policy,
            &module,
            &config,
        );
        out.push((
            envoy_dir.join(format!("{name}.json")),
            resource(&format!("gateway.{name}"), typed),
        ));
    }
    if bundle {
        let module = dist.join("filter_bundle.wasm");
        let typed = wasm(
            "gateway",
            "gateway",
            "gateway-bundle",
            "FAIL_CLOSED",
            &module,
            &Value::Object(members),
        );
        out.push((
            envoy_dir.join("gateway.json"),
            resource("gateway.bundle", typed),
        ));
    }
    if out.is_empty() {
        return err(format!("no plugin files in {}", store.dir().display()));
    }
    for (path, value) in out {
        let bytes = render(&value)?;
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            continue; // unchanged: no event for Envoy
        }
        write_atomic(&path, &bytes)?;
        eprintln!("applied {}", path.display());
    }
    Ok(())
}
