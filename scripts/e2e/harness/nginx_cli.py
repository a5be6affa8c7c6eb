"""Command line behind scripts/nginx: render, start, status, stop.

    scripts/nginx render gateway.conf [--out FILE]   # fill placeholders (free ports)
    scripts/nginx start [gateway.conf]               # upstreams + nginx (daemon) in the background
    scripts/nginx status | stop

State lives in .run/nginx/ (`state.json`: template, ports, pids; nginx.conf, error.log,
access.log, tmp/; upstreams.log). nginx runs as a daemon with .run/nginx/ as its prefix; the
sample upstreams run in one detached `python -m harness.upstreams`. `stop` signals only the
recorded pids, after checking they still run what was started (a recycled pid is left alone).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import ROOT, nginx
from .cli import ports_args, preferred_ports, render_command
from .stack import allocate_ports, default_jwks

RUN_DIR = ROOT / ".run" / "nginx"
STATE = RUN_DIR / "state.json"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _running(pid: int | None, marker: bytes) -> bool:
    if not pid or marker not in _cmdline(pid):
        return False
    try:
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return False


def _wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def load_state() -> dict | None:
    return json.loads(STATE.read_text(encoding="utf-8")) if STATE.is_file() else None


def start(template_name: str, preferred: dict | None = None) -> dict:
    stop()
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    ports = allocate_ports(preferred)
    jwks_file = RUN_DIR / "jwks.json"
    jwks_file.write_text(json.dumps(default_jwks()), encoding="utf-8")
    with open(RUN_DIR / "upstreams.log", "ab") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "harness.upstreams", "--v1", str(ports["V1_PORT"]),
             "--v2", str(ports["V2_PORT"]), "--collector", str(ports["COLLECTOR_PORT"]),
             "--jwks", str(ports["JWKS_PORT"]), "--jwks-file", str(jwks_file)],
            cwd=str(Path(__file__).resolve().parents[1]),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    state = {"template": template_name, "ports": ports, "run_dir": str(RUN_DIR),
             "upstreams_pid": up.pid, "nginx_pid": None}
    STATE.write_text(json.dumps(state, indent=2), encoding="utf-8")
    if not all(_wait_port(ports[k]) for k in ("V1_PORT", "V2_PORT", "COLLECTOR_PORT", "JWKS_PORT")):
        stop()
        raise nginx.NginxError("the sample upstreams did not start (see .run/nginx/upstreams.log)")
    text = nginx.render(nginx.template(template_name), nginx.template_values(ports, RUN_DIR))
    proc = nginx.Nginx(text, RUN_DIR, ports["ADMIN_PORT"])
    try:
        proc.start(daemon=True)
        state["nginx_pid"] = proc.master
        STATE.write_text(json.dumps(state, indent=2), encoding="utf-8")
        proc.wait_ready()
    except BaseException:
        stop()
        raise
    return state


def stop() -> bool:
    """Stop what start() left running; True when something was recorded."""
    state = load_state()
    if not state:
        return False
    pid = state.get("nginx_pid")
    if _running(pid, b"nginx"):
        nginx.stop_master(pid)
    up = state.get("upstreams_pid")
    if _running(up, b"harness.upstreams"):
        os.kill(up, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(up, b"harness.upstreams"):
            time.sleep(0.05)
        if _running(up, b"harness.upstreams"):
            os.kill(up, signal.SIGKILL)
    STATE.unlink(missing_ok=True)
    return True


def print_state(state: dict) -> None:
    p = state["ports"]
    print(f"gateway   http://127.0.0.1:{p['LISTEN_PORT']}  ({state['template']}, nginx + ngx_wasm_module)")
    print(f"admin     http://127.0.0.1:{p['ADMIN_PORT']}  (/ready, /nginx_status)")
    print(f"upstreams v1 :{p['V1_PORT']}  v2 :{p['V2_PORT']}  collector :{p['COLLECTOR_PORT']}  jwks :{p['JWKS_PORT']}")
    print(f"logs      {state['run_dir']}/error.log, access.log; nginx.conf beside them")
    print(f"pids      nginx master {state['nginx_pid']}, upstreams {state['upstreams_pid']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/nginx", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render a template from nginx-config/")
    r.add_argument("template")
    r.add_argument("--out", type=Path)
    s = sub.add_parser("start", help="start the upstreams and nginx in the background")
    s.add_argument("template", nargs="?", default="gateway.conf")
    for p in (r, s):
        ports_args(p, admin="/ready port")
    sub.add_parser("status", help="show the background gateway")
    sub.add_parser("stop", help="stop the background gateway")
    args = ap.parse_args(argv)

    preferred = preferred_ports(args)
    if args.cmd == "render":
        return render_command(args, lambda ports: nginx.render(
            nginx.template(args.template), nginx.template_values(ports, RUN_DIR)))
    if args.cmd == "start":
        reason = nginx.unavailable()
        if reason:
            print(reason, file=sys.stderr)
            return 1
        started = time.monotonic()
        try:
            state = start(args.template, preferred)
        except nginx.NginxError as e:
            print(f"scripts/nginx start: {e}", file=sys.stderr)
            return 1
        print_state(state)
        print(f"ready in  {time.monotonic() - started:.1f} s")
        return 0
    if args.cmd == "status":
        state = load_state()
        if not state or not _running(state.get("nginx_pid"), b"nginx"):
            print("not running")
            return 1
        print_state(state)
        return 0
    if args.cmd == "stop":
        print("stopped" if stop() else "nothing was running")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
