"""A gateway left running in the background (scripts/envoy start, scripts/demo --keep).

One detached `python -m harness.serve` process runs the upstreams and is Envoy's parent (Envoy
exits when its parent does). State lives in .run/ at the repository root (`state.json`: ports,
pid, work dir). `stop()` signals only the recorded pid, after checking it still runs the command
we started (a recycled pid is left alone).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import ROOT, envoy
from .stack import allocate_ports

RUN_DIR = ROOT / ".run"
STATE = RUN_DIR / "state.json"
MARKER = "harness.serve"


def _alive(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    return MARKER.encode() in cmd and ") Z " not in stat


def load_state() -> dict | None:
    if STATE.is_file():
        return json.loads(STATE.read_text(encoding="utf-8"))
    return None


def start(template_name: str, configs: dict | None = None, ports: dict | None = None,
          jwks: dict | None = None) -> dict:
    """Start the gateway detached and wait until Envoy is LIVE; returns the recorded state."""
    stop()
    RUN_DIR.mkdir(exist_ok=True)
    workdir = RUN_DIR / "envoy"
    workdir.mkdir(exist_ok=True)
    # A rate limit service left running by `scripts/quota-service start` (for quota-global.yaml).
    service = RUN_DIR / "quota-service" / "ports.json"
    if service.is_file():
        found = json.loads(service.read_text(encoding="utf-8"))
        ports = {**{k: v for k, v in found.items() if k.startswith("RLS_")}, **(ports or {})}
    ports = allocate_ports(ports)
    cmd = [sys.executable, "-m", "harness.serve", template_name, "--ports-json", json.dumps(ports),
           "--workdir", str(workdir)]
    if configs:
        cfg = RUN_DIR / "configs.json"
        cfg.write_text(json.dumps(configs, indent=2), encoding="utf-8")
        cmd += ["--configs", str(cfg)]
    if jwks is not None:
        jwks_file = RUN_DIR / "jwks.json"
        jwks_file.write_text(json.dumps(jwks), encoding="utf-8")
        cmd += ["--jwks", str(jwks_file)]
    log_path = RUN_DIR / "serve.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=str(Path(__file__).resolve().parents[1]),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    state = {"template": template_name, "ports": ports, "workdir": str(workdir), "pid": proc.pid}
    STATE.write_text(json.dumps(state, indent=2), encoding="utf-8")
    deadline = time.monotonic() + envoy.READY_TIMEOUT
    while not envoy.is_live(ports["ADMIN_PORT"]):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop()
            tail = log_path.read_text(errors="replace")[-4000:]
            logs = (workdir / "envoy.log")
            if logs.exists():
                tail += "\n" + "\n".join(logs.read_text(errors="replace").splitlines()[-40:])
            raise envoy.EnvoyError(f"background gateway did not become LIVE\n{tail}")
        time.sleep(0.2)
    return state


def stop() -> bool:
    """Stop what start() left running; True when something was recorded."""
    state = load_state()
    if not state:
        return False
    pid = state.get("pid")
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    STATE.unlink(missing_ok=True)
    return True
