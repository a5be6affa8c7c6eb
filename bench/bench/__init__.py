"""Benchmarks of the gateway filters in a real Envoy, side by side in one interleaved run.

Envoy runs with --concurrency 1 pinned to core 0; wrk and the upstream (a second Envoy answering
with a direct response) share core 1. Every case runs once per round, rounds interleave the cases,
and each case is reported by its median round, as requests per second, p50 and p99 latency and
ratios to the router-only case and to Envoy's native chain (jwt_authn RS256 + local_ratelimit).
Auth alone, the bundle and the native chain run again with a new token on every request, so that
every signature is checked, and auth alone and the native chain once more with forged `kid`-less
tokens against a JWKS of 32 RSA keys (the worst case an unauthenticated client can send). Also
reported: Envoy's resident memory with the suite at concurrency 1
and 2, each .wasm's size,
host-test's deterministic per-request cost (wasmtime fuel) of each filter, and where Envoy's time
goes (perf samples: Envoy's own code against the modules' compiled wasm), and Envoy's instructions
and cache misses per request counted under callgrind (envoy_count.py), per case and per host call,
and what Envoy spends on any wasm module (bench/abi-floor, without the SDK, against the SDK's
module doing nothing). Quota alone also runs with the global store (quota-service on Redis,
started once for the run, on core 1), in its exact and leased modes, against the local store.

The modules, one job each, importing only those above them:
  cases.py        what is measured: the cases, the request and its token, the plugins' configurations
  configs.py      Envoy's YAML for each case, and for the upstream
  envoy_count.py  Envoy's instructions per request under callgrind
  hosttest.py     host-test's fuel per request, host boundary crossings and guest profile
  report.py       the results in Markdown (scripts/bench-results.md, and --count-only's print)
  run.py          the runs: Envoy, wrk, perf, callgrind and the global store, timed or counted
  __main__.py     the command (`python -m bench`, which scripts/bench runs)
  native_profile.py  scripts/profile's perf profile of bench/native-profile (a command of its own)

Usage: PYTHONPATH=bench .venv/bin/python -m bench [--seconds 10] [--rounds 3]
       [--out scripts/bench-results.md] [--count-only] [--forged-only]
(scripts/bench builds and installs what this needs, then runs it.)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Envoy, free ports, quota-service and Redis come from the end-to-end suite's harness.
sys.path.insert(0, str(ROOT / "scripts" / "e2e"))
