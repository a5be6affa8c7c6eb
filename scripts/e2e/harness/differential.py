"""Differential check: one host-test scenario file, run by host-test's CLI and by a real Envoy,
must give the same decisions.

For every request step both sides are compared on: the status the client gets, whether the
request reached an upstream and which cluster, the request headers the upstream sees (added,
changed and removed by the filters), the response headers the client sees, the local reply's
problem body; and at the end the filters' counters. The Envoy side loads the same modules with
the same plugin configurations through the matching envoy-config/ template, and the sample
upstreams answer with the step's scripted response.

Differences that come from the hosts being different programs rather than from the ABI
(headers Envoy's HCM and router add, clocks) are normalised away by the rules in KNOWN below,
each with its reason; anything else is reported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import DIST_DIR, ROOT
from .client import Response, h2_request, request
from .corpus import body, pairs
from .stack import Stack
from .upstreams import Recorded

TEMPLATES = {
    ("auth",): "auth.yaml",
    ("quota",): "quota.yaml",
    ("analytics",): "analytics.yaml",
    ("routing",): "routing.yaml",
    ("auth", "quota", "analytics", "routing"): "gateway.yaml",
}

KNOWN = {
    "upstream headers Envoy adds": (
        {"x-forwarded-proto", "x-request-id", "x-envoy-expected-rq-timeout-ms", "content-length",
         "transfer-encoding", "x-forwarded-for", "x-envoy-external-address", "host"},
        "added by Envoy's connection manager and router after the filter chain, not by a filter; "
        "host-test models the chain only (the authority is compared as :authority vs host)",
    ),
    "client headers Envoy adds": (
        {"server", "date", "x-envoy-upstream-service-time", "content-length", "connection",
         "transfer-encoding"},
        "added by Envoy's codec and router; host-test reports what the filters produce",
    ),
    "clock-dependent values": (
        {"ratelimit", "x-ratelimit-reset", "retry-after", "retry_after"},
        "seconds until a window ends depend on the clock: host-test runs on virtual time, Envoy on "
        "the wall clock; compared with the numbers masked",
    ),
    "tick-driven metrics": (
        {"analytics_"},
        "event flushes run on on_tick, which host-test drives by virtual time (no time passes in a "
        "scenario without advance_ms) and Envoy by the wall clock",
    ),
    "byte-count metrics": (
        {"gateway_request_bytes_total", "gateway_response_bytes_total"},
        "analytics counts header bytes as the filter sees them: in Envoy the connection manager "
        "has already added x-request-id, x-forwarded-proto, x-envoy-external-address (request) "
        "and the codec date, server, content-length, x-envoy-upstream-service-time (response); "
        "host-test models only the filter chain",
    ),
    "host-test only metrics": (
        set(),
        "a histogram or a metric Envoy reports under another form is not compared",
    ),
}

PSEUDO = re.compile(r"^:")
HOST_TEST_AUTHORITY = "example.com"
"""host-test's :authority when a scenario request names none; Envoy gets the same Host."""


def host_test_binary() -> Path:
    """HOST_TEST_BIN, else target/{release,debug}/host-test, else build it (dev profile)."""
    env = os.environ.get("HOST_TEST_BIN")
    if env:
        return Path(env)
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "host-test"
        if p.is_file():
            return p
    subprocess.run(["cargo", "build", "--quiet", "-p", "host-test"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "host-test"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def filter_names(scenario: dict) -> tuple[str, ...]:
    return tuple(f["name"] for f in scenario["filters"])


def template_for(scenario: dict) -> str:
    names = filter_names(scenario)
    if names not in TEMPLATES:
        raise ValueError(f"no Envoy config for the chain {names}")
    return TEMPLATES[names]


def modules(scenario: dict, dist: Path = DIST_DIR) -> list[Path]:
    return [dist / f"filter_{n}.wasm" for n in filter_names(scenario)]


def run_host_test(path: Path, scenario: dict, binary: Path | None = None) -> dict:
    """host-test run --json with the dist/ modules; returns the report."""
    binary = binary or host_test_binary()
    cmd = [str(binary), "run", str(path), "--json"]
    for m in modules(scenario):
        cmd += ["--module", str(m)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"host-test failed ({res.returncode}): {res.stderr[-2000:]}")
    return json.loads(res.stdout)


@dataclass
class Observed:
    """One request step as a host saw it, normalised for comparison."""

    status: int
    reached_upstream: bool
    cluster: str | None
    upstream_headers: list[tuple[str, str]] = field(default_factory=list)
    client_headers: list[tuple[str, str]] = field(default_factory=list)
    problem: dict | None = None


def _mask(name: str, value: str) -> str:
    if name in KNOWN["clock-dependent values"][0]:
        return re.sub(r"\d+", "N", value) if name != "ratelimit" else re.sub(r";t=\d+", ";t=N", value)
    return value


def _norm(headers, drop: set[str]) -> list[tuple[str, str]]:
    out = []
    for k, v in headers:
        k = k.lower()
        if PSEUDO.match(k) or k in drop:
            continue
        out.append((k, _mask(k, v)))
    return sorted(out)


def _problem(body: bytes, headers) -> dict | None:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    if "problem+json" not in ctype:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return {"unparsable": body[:200].decode("utf-8", "replace")}
    return {k: v for k, v in doc.items() if k not in KNOWN["clock-dependent values"][0]}


def _bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape")
    return bytes(body)


def from_host_test(outcome: dict, default_cluster: str = "api_v1") -> Observed:
    up = outcome["upstream"]
    cl = outcome["client"]
    up_headers = [tuple(h) for h in (up.get("headers") or [])]
    cl_headers = [tuple(h) for h in (cl.get("headers") or [])]
    status = next((int(v) for k, v in cl_headers if k == ":status"), 0)
    reached = up.get("headers") is not None
    cluster = next((v for k, v in up_headers if k == "x-gateway-cluster"), default_cluster) if reached else None
    upstream = _norm(up_headers, KNOWN["upstream headers Envoy adds"][0])
    path = next((v for k, v in up_headers if k == ":path"), None)
    if path is not None:
        upstream.append((":path", path))
    authority = next((v for k, v in up_headers if k == ":authority"), None)
    if authority is not None:
        upstream.append((":authority", authority))
    return Observed(
        status=status,
        reached_upstream=reached,
        cluster=cluster,
        upstream_headers=sorted(upstream) if reached else [],
        client_headers=_norm(cl_headers, KNOWN["client headers Envoy adds"][0]),
        problem=_problem(_bytes(cl.get("body")), cl_headers),
    )


def from_envoy(r: Response, seen: list[tuple[str, Recorded]]) -> Observed:
    reached = bool(seen)
    cluster, rec = seen[-1] if seen else (None, None)
    upstream: list[tuple[str, str]] = []
    if rec is not None:
        upstream = _norm(rec.headers, KNOWN["upstream headers Envoy adds"][0])
        upstream.append((":path", rec.path + (f"?{rec.query}" if rec.query else "")))
        host = rec.header("host")
        if host is not None:
            upstream.append((":authority", host))
    return Observed(
        status=r.status,
        reached_upstream=reached,
        cluster=cluster,
        upstream_headers=sorted(upstream),
        client_headers=_norm(r.headers, KNOWN["client headers Envoy adds"][0]),
        problem=_problem(r.body, r.headers),
    )


def envoy_step(stack: Stack, step: dict) -> Observed | None:
    """Send one request step through Envoy (its last repeat); None for a step without request.
    Headers are sent as the scenario lists them (a list of pairs keeps repeats and order), bodies
    as text or `body_base64` bytes."""
    req = step.get("request")
    if req is None:
        return None
    resp = step.get("response") or {}
    for server in (stack.v1, stack.v2):
        server.script(resp.get("status", 200), pairs(resp.get("headers")), body(resp))
    headers = pairs(req.get("headers"))
    authority = req.get("authority", HOST_TEST_AUTHORITY)
    out = None
    for _ in range(max(1, step.get("repeat") or 1)):
        stack.v1.clear()
        stack.v2.clear()
        req_body = body(req) or None
        if req.get("trailers"):
            r = h2_request(stack.listen_port, req.get("path", "/"), method=req.get("method", "GET"),
                           headers=headers, body=req_body, trailers=pairs(req["trailers"]),
                           authority=authority)
        else:
            r = request(stack.listen_port, req.get("path", "/"), method=req.get("method", "GET"),
                        headers=headers, body=req_body, host=authority)
        seen = [("api_v1", x) for x in stack.v1.requests] + [("api_v2", x) for x in stack.v2.requests]
        out = from_envoy(r, seen)
    return out


def compare(a: Observed, b: Observed) -> list[str]:
    """Differences between host-test (a) and Envoy (b)."""
    diffs = []
    for name in ("status", "reached_upstream", "cluster", "problem"):
        if getattr(a, name) != getattr(b, name):
            diffs.append(f"{name}: host-test {getattr(a, name)!r} != envoy {getattr(b, name)!r}")
    for name in ("upstream_headers", "client_headers"):
        x, y = getattr(a, name), getattr(b, name)
        if x != y:
            only_a = sorted(set(x) - set(y))
            only_b = sorted(set(y) - set(x))
            diffs.append(f"{name}: only host-test {only_a}, only envoy {only_b}")
    return diffs


def compare_metrics(host_metrics: dict[str, int], envoy_stats: dict[str, int]) -> list[str]:
    diffs = []
    for name, value in sorted(host_metrics.items()):
        if any(name.startswith(p) for p in KNOWN["tick-driven metrics"][0]):
            continue
        if name.split(".", 1)[0] in KNOWN["byte-count metrics"][0]:
            continue
        key = f"wasmcustom.{name}"
        if key not in envoy_stats:
            continue  # histograms and other forms (KNOWN["host-test only metrics"])
        if envoy_stats[key] != value:
            diffs.append(f"metric {name}: host-test {value} != envoy {envoy_stats[key]}")
    return diffs


def run(path: Path, stack_factory, binary: Path | None = None) -> tuple[dict, list[str]]:
    """Runs the scenario on both hosts; returns the host-test report and the differences."""
    scenario = load(path)
    report = run_host_test(path, scenario, binary)
    configs = {f["name"]: f.get("config") for f in scenario["filters"]}
    stack = stack_factory(template_for(scenario), configs=configs, concurrency=scenario.get("workers") or 1)
    diffs = []
    try:
        diffs += _replay(scenario, report, stack)
    finally:
        stack.stop()
    return report, diffs


def _replay(scenario: dict, report: dict, stack: Stack) -> list[str]:
    diffs = []
    for i, step in enumerate(scenario["steps"]):
        rep = report["steps"][i]
        if step.get("advance_ms"):
            diffs.append(f"step {i + 1} ({rep['name']}): advance_ms cannot be replayed on Envoy's wall clock")
            continue
        env = envoy_step(stack, step)
        if env is None or rep.get("outcome") is None:
            continue
        for d in compare(from_host_test(rep["outcome"]), env):
            diffs.append(f"step {i + 1} ({rep['name']}): {d}")
    assert stack.envoy is not None
    diffs += compare_metrics(report.get("metrics", {}), stack.envoy.stats("^wasmcustom\\."))
    return diffs
