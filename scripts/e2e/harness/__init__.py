"""Harness for running the gateway filters in a real Envoy.

Shared by the end-to-end tests (scripts/e2e) and the demo (scripts/demo):

- `ports`: free TCP ports on 127.0.0.1.
- `upstreams`: sample servers (API v1/v2 echo, analytics collector, JWKS), each controllable.
- `envoy`: render an envoy-config/ template and run, wait for and stop a real Envoy.
- `nginx`: the same for nginx-config/ templates in a real NGINX (ngx_wasm_module).
- `client`: HTTP/1.1 (duplicate headers, raw bytes) and HTTP/2 (trailers) clients.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
"""The repository root."""

CONFIG_DIR = ROOT / "envoy-config"
DIST_DIR = Path(os.environ.get("GATEWAY_DIST") or ROOT / "dist").resolve()
"""Built filters (dist/filter_<name>.wasm); GATEWAY_DIST overrides it."""
VENV_ENVOY = ROOT / ".venv" / "bin" / "envoy"
