"""Run a whole gateway (sample upstreams + Envoy) in the foreground until SIGTERM/SIGINT.

    python -m harness.serve TEMPLATE --ports-json '{"LISTEN_PORT": 10000, ...}' \
        [--configs FILE] [--workdir DIR]

Envoy 1.40 terminates itself when its parent process exits, so a gateway that outlives the
command starting it (scripts/envoy start, scripts/demo --keep) runs under this process, which
stays alive as Envoy's parent and stops everything on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from .stack import Stack


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template")
    ap.add_argument("--ports-json", default="{}")
    ap.add_argument("--configs", type=Path, help="JSON file: {filter name: plugin config}")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--jwks", type=Path, help="JWKS document for the sample key server")
    args = ap.parse_args()
    configs = json.loads(args.configs.read_text(encoding="utf-8")) if args.configs else None
    jwks = json.loads(args.jwks.read_text(encoding="utf-8")) if args.jwks else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stack = Stack(args.template, workdir=args.workdir, configs=configs, ports=json.loads(args.ports_json),
                  jwks=jwks)
    try:
        stack.start()
        print(json.dumps({"ready": True, "ports": stack.ports}), flush=True)
        while not stop.is_set() and stack.envoy is not None and stack.envoy.running():
            stop.wait(0.5)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
