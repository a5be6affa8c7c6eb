"""host-test's deterministic measures of the modules, on the request the Envoy runs send: the
per-request cost (wasmtime fuel) by callback, the host boundary crossings from its hostcall trace,
and where the bundle's wasm operations go (its guest profile). host-test is target/debug/host-test,
which scripts/bench builds.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from bench import ROOT
from bench.cases import (BROWSER_HEADERS, BUNDLE, DIST, HOST_TEST_PSEUDO_HEADERS, PROBE_CONFIG, PROBE_MODULE,
                         WASM_TARGET, Rs256, plugin_configs, request_headers)

HOST_TEST = ROOT / "target" / "debug" / "host-test"


def bench_request(token: str) -> dict:
    """The request every case sends, as a host-test scenario request."""
    return {"method": "GET", "path": "/v1/orders/1", "headers": request_headers(token)}


def write_scenario(path: Path, spec: list, request: dict, repeats: int = 1) -> Path:
    """A host-test scenario of the filters `spec` sending `request` `repeats` times."""
    path.write_text(json.dumps({"filters": spec, "clusters": ["collector", "api_v1", "api_v2"],
                                "steps": [{"request": request}] * repeats}))
    return path


def host_test(*args: str) -> str:
    """Runs the host-test CLI; its output, or the end of the benchmark when it fails."""
    r = subprocess.run([str(HOST_TEST), *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"host-test {' '.join(args)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def host_test_costs(rs: Rs256, work: Path, requests: int = 2000) -> dict[str, dict]:
    """host-test's deterministic per-request cost (wasmtime fuel) of each filter and of the bundle,
    for the same request the Envoy runs send (`host-test bench`, first request of a scenario)."""
    c = plugin_configs(rs)
    request = bench_request(rs.token)
    filters = {n: [{"module": str(DIST / f"filter_{n}.wasm"), "name": n, "config": c[n]}] for n in c}
    filters[BUNDLE] = [
        {"module": str(DIST / "filter_bundle.wasm"), "name": "gateway", "root_id": "gateway", "config": c}
    ]
    if PROBE_MODULE.exists():
        filters["adapter floor (filter-core probe)"] = [
            {"module": str(PROBE_MODULE), "name": "probe", "root_id": "probe", "config": PROBE_CONFIG}
        ]
    runs = []
    for name, spec in filters.items():
        runs.append((name, spec, request))
        if name == BUNDLE:
            browser = {**request, "headers": {**request["headers"], **BROWSER_HEADERS}}
            count = len(browser["headers"]) + HOST_TEST_PSEUDO_HEADERS
            runs.append((f"{name}, {count} request headers", spec, browser))
    out = {}
    for name, spec, req in runs:
        slug = re.sub(r"\W+", "-", name)
        scenario = write_scenario(work / f"cost-{slug}.json", spec, req)
        out[name] = json.loads(host_test("bench", str(scenario), "-n", str(requests), "--json"))
        out[name]["crossings"] = crossings(spec, req, work / f"trace-{slug}")
    return out


# Hostcalls that hand data to the module: the host then also calls the module's allocator.
RETURNS_DATA = {"proxy_get_header_map_pairs", "proxy_get_header_map_value", "proxy_get_property",
                "proxy_get_shared_data", "proxy_get_buffer_bytes"}


def crossings(spec: list, request: dict, work: Path) -> dict:
    """Host boundary crossings of one steady-state request (the second of two), from host-test's
    hostcall trace: callbacks into the module, hostcalls out of it (by name), and allocator calls
    the host makes to hand data over."""
    trace = work.with_suffix(".trace.json")
    scenario = write_scenario(work.with_suffix(".json"), spec, request, repeats=2)
    host_test("run", str(scenario), "--trace", str(trace))
    events = json.loads(trace.read_text())
    last = max(e["context"] for e in events if e["name"] == "proxy_on_request_headers")
    mine = [e for e in events if e["context"] == last]
    calls: dict[str, int] = {}
    for e in mine:
        if e["kind"] == "hostcall":
            calls[e["name"]] = calls.get(e["name"], 0) + 1
    return {
        "callbacks": sum(e["kind"] == "callback" for e in mine),
        "hostcalls": calls,
        "allocations": sum(e["kind"] == "hostcall" and e["name"] in RETURNS_DATA and e.get("result") == 0
                           for e in mine),
    }


PROFILE_SAMPLES = 1000
"""Evenly spaced offsets into one request's wasm operations the guest profile samples."""


def guest_profile(rs: Rs256, work: Path, samples: int = PROFILE_SAMPLES, top: int = 30) -> str:
    """`host-test profile --fuel` of the bundle's gateway root on the bench request: where its wasm
    operations go, by function (the module before wasm-opt, which keeps the function names); its
    output, or nothing when that build of the module is missing."""
    named = ROOT / "target" / WASM_TARGET / "bundle" / "filter_bundle.wasm"
    if not named.exists():
        return ""
    spec = [{"module": str(named), "name": "gateway", "root_id": "gateway", "config": plugin_configs(rs)}]
    scenario = write_scenario(work / "profile-bundle.json", spec, bench_request(rs.token))
    return host_test("profile", str(scenario), "-n", "3", "--fuel", "--samples", str(samples), "--top", str(top))
