"""File-based ECDS resources for envoy-config/gateway-dynamic.yaml ({{ECDS_DIR}}).

`gatewayctl apply --envoy-dir DIR` is what writes them in a deployment (and in
test_gatewayctl_e2e.py). This renders the same files in Python from a template's values, so any
rendering of the template (test_configs.py's `envoy --mode validate`, which needs the files to
exist) works without building gatewayctl. The directory is written only when a template uses
the placeholder (`LazyEcdsDir.__str__`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

FILTERS = (("auth", "FAIL_CLOSED"), ("quota", "FAIL_CLOSED"), ("analytics", "FAIL_OPEN"),
           ("routing", "FAIL_CLOSED"))
WASM = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"


def resource(name: str, config, dist: Path, policy: str) -> dict:
    """A discovery response holding gateway.<name>'s TypedExtensionConfig (as gatewayctl's)."""
    typed = {
        "@type": WASM,
        "config": {
            "name": name,
            "root_id": name,
            "failure_policy": policy,
            "vm_config": {
                "vm_id": f"gateway-{name}",
                "runtime": "envoy.wasm.runtime.v8",
                "code": {"local": {"filename": str(dist / f"filter_{name}.wasm")}},
            },
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                              "value": json.dumps(config, separators=(",", ":"))},
        },
    }
    version = hashlib.sha256(json.dumps(typed, sort_keys=True).encode()).hexdigest()[:16]
    return {"version_info": version,
            "resources": [{"@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                           "name": f"gateway.{name}", "typed_config": typed}]}


def write_dir(configs: dict, dist: Path, directory: Path | None = None) -> Path:
    """Writes <filter>.json for each filter of `configs` ({"auth": {...}, ...}) into `directory`
    (a new temporary directory by default)."""
    directory = Path(directory or tempfile.mkdtemp(prefix="gateway-ecds-"))
    directory.mkdir(parents=True, exist_ok=True)
    for name, policy in FILTERS:
        if name in configs:
            path = directory / f"{name}.json"
            tmp = directory / f".{name}.json.tmp"
            tmp.write_text(json.dumps(resource(name, configs[name], Path(dist), policy), indent=2),
                           encoding="utf-8")
            tmp.replace(path)
    return directory


class LazyEcdsDir:
    """A template value for {{ECDS_DIR}}: the directory is rendered when first used."""

    def __init__(self, configs: dict, dist: Path):
        self.configs = configs
        self.dist = Path(dist)
        self.path: Path | None = None

    def __str__(self) -> str:
        if self.path is None:
            self.path = write_dir(self.configs, self.dist)
        return str(self.path)
