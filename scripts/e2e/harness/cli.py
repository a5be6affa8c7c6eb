"""Command line behind scripts/envoy: render, validate, start, wait, status, stop.

    scripts/envoy render gateway.yaml [--out FILE]   # fill placeholders (free ports)
    scripts/envoy validate [TEMPLATE...]              # envoy --mode validate (all by default)
    scripts/envoy start gateway.yaml                  # upstreams + Envoy in the background
    scripts/envoy wait                                # until admin /ready is LIVE
    scripts/envoy status | stop
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from . import CONFIG_DIR, envoy
from . import background
from .stack import allocate_ports, template_values


def ports_args(p: argparse.ArgumentParser, admin: str = "admin port") -> None:
    """--listen-port and --admin-port (scripts/envoy and scripts/nginx)."""
    p.add_argument("--listen-port", type=int, help="gateway port on 127.0.0.1 (default: free port)")
    p.add_argument("--admin-port", type=int, help=f"{admin} on 127.0.0.1 (default: free port)")


def preferred_ports(args) -> dict:
    """The ports given on the command line, by placeholder name."""
    out = {}
    if getattr(args, "listen_port", None):
        out["LISTEN_PORT"] = args.listen_port
    if getattr(args, "admin_port", None):
        out["ADMIN_PORT"] = args.admin_port
    return out


def render_command(args, render: Callable[[dict], str]) -> int:
    """`render TEMPLATE [--out FILE]`: `render(ports)` with the given or free ports, to stdout, or
    to FILE with the ports as JSON on stderr."""
    ports = allocate_ports(preferred_ports(args))
    text = render(ports)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(json.dumps(ports), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/envoy", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render a template from envoy-config/")
    r.add_argument("template")
    r.add_argument("--out", type=Path)
    ports_args(r)
    v = sub.add_parser("validate", help="envoy --mode validate on rendered templates")
    v.add_argument("templates", nargs="*")
    s = sub.add_parser("start", help="start upstreams and Envoy in the background")
    s.add_argument("template", nargs="?", default="gateway.yaml")
    ports_args(s)
    w = sub.add_parser("wait", help="wait until the background Envoy's /ready is LIVE")
    w.add_argument("--timeout", type=float, default=envoy.READY_TIMEOUT)
    sub.add_parser("status", help="show the background gateway")
    sub.add_parser("stop", help="stop the background gateway")
    args = ap.parse_args(argv)

    if args.cmd == "render":
        return render_command(args, lambda ports: envoy.render(envoy.template(args.template),
                                                               template_values(ports)))
    if args.cmd == "validate":
        names = args.templates or sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))
        failed = 0
        with tempfile.TemporaryDirectory() as tmp:
            for name in names:
                text = envoy.template(name)
                missing = envoy.missing_filters(text)
                if missing:
                    print(f"SKIP {name}: not built: {', '.join(missing)}")
                    continue
                path = Path(tmp) / name
                path.write_text(envoy.render(text, template_values(allocate_ports())), encoding="utf-8")
                res = envoy.validate(path)
                print(f"{'OK  ' if res.returncode == 0 else 'FAIL'} {name}")
                if res.returncode != 0:
                    failed += 1
                    print(res.stdout + res.stderr)
        return 1 if failed else 0
    if args.cmd == "start":
        state = background.start(args.template, ports=preferred_ports(args))
        print_state(state)
        return 0
    if args.cmd == "wait":
        state = background.load_state()
        if not state:
            print("no background gateway (scripts/envoy start)", file=sys.stderr)
            return 1
        deadline = time.monotonic() + args.timeout
        while not envoy.is_live(state["ports"]["ADMIN_PORT"]):
            if time.monotonic() >= deadline:
                print("not LIVE", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print("LIVE")
        return 0
    if args.cmd == "status":
        state = background.load_state()
        if not state:
            print("not running")
            return 1
        print_state(state)
        return 0
    if args.cmd == "stop":
        print("stopped" if background.stop() else "nothing was running")
        return 0
    return 2


def print_state(state: dict) -> None:
    p = state["ports"]
    print(f"gateway   http://127.0.0.1:{p['LISTEN_PORT']}  ({state['template']})")
    print(f"admin     http://127.0.0.1:{p['ADMIN_PORT']}  (/ready, /stats/prometheus)")
    print(f"upstreams v1 :{p['V1_PORT']}  v2 :{p['V2_PORT']}  collector :{p['COLLECTOR_PORT']}  jwks :{p['JWKS_PORT']}")
    print(f"logs      {state['workdir']}/envoy.log, envoy.out (access log)")
    print(f"pid       {state['pid']} (python -m harness.serve: upstreams + Envoy)")


if __name__ == "__main__":
    sys.exit(main())
