"""The gateway demo (scripts/demo): real requests through Envoy with the four filters.

Each feature is a `Step` in `STEPS` below: a title, a one-line explanation and the requests to
send with the status they should get. Adjust the steps here when filter configurations change
(the sample consumers and plans are in envoy-config/plugins/*.json, their keys in samples.py).

    python -m harness.demo           # start, walk through, stop everything
    python -m harness.demo --keep    # leave the gateway running (stop: scripts/demo --stop)
    python -m harness.demo --stop
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import DIST_DIR, background, client, envoy
from .ports import is_free
from .samples import API_KEYS, TRIAL_LIMIT, JwtSigner
from .stack import FILTERS, Stack, default_plugin_config

RATE_LIMIT_HEADERS = (
    "ratelimit-policy",
    "ratelimit",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "retry-after",
)
"""Shown in the quota step; elsewhere only x-ratelimit-remaining."""

SHOWN_HEADERS = (
    "www-authenticate",
    "x-ratelimit-remaining",
    "deprecation",
    "sunset",
    "link",
    "x-gateway-version",
    "warning",
)
"""Response headers printed when present."""

UPSTREAM_SEES = ("x-gateway-consumer", "x-gateway-plan", "x-gateway-groups", "x-gateway-credential",
                 "x-gateway-version", "x-api-key", "authorization")
"""Request headers of interest as the upstream received them."""


@dataclass
class Req:
    """One request of a step and the status it should get."""

    path: str
    expect: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    method: str = "GET"
    label: str = ""
    upstream: str | None = None
    """Sample API version that must answer (None: not checked)."""


@dataclass
class Step:
    title: str
    explain: str
    requests: Callable[["Demo"], list[Req]] | None = None
    custom: Callable[["Demo"], int] | None = None
    """Returns the number of unmet expectations."""
    show: tuple[str, ...] = SHOWN_HEADERS
    """Response headers printed when present."""


def key(consumer: str) -> list[tuple[str, str]]:
    return [("x-api-key", API_KEYS[consumer])]


def canary_walk(demo: "Demo") -> int:
    """Sticky canary split: unversioned requests of a consumer always land on the same version."""
    bad = 0
    callers = [("alice", key("alice")), ("bob", key("bob")),
               ("dave", [("authorization", f"Bearer {demo.signer.token()}")])]
    for name, headers in callers:
        seen = [demo.send(Req("/orders", 200, headers), quiet=True).upstream() for _ in range(4)]
        sticky = len(set(seen)) == 1
        bad += not sticky
        demo.out(f"  > GET /orders as {name:<5}  x4  -> {', '.join(str(v) for v in seen)}"
                 + ("   (sticky)" if sticky else "   (NOT STICKY)"))
    demo.out("  The bucket is SHA-256 of the consumer id: 20 % of consumers (alice among them) get v2;")
    demo.out("  explicit versions (/v1/...) are never diverted.")
    return bad


def metrics_walk(demo: "Demo") -> int:
    """The labelled analytics metrics, then the other filters' non-zero counters."""
    text = demo.admin("/stats/prometheus")
    lines = [ln for ln in text.splitlines() if re.match(r"(gateway|auth|quota|routing)_", ln)]
    demo.out(f"  GET http://127.0.0.1:{demo.ports['ADMIN_PORT']}/stats/prometheus  ({len(lines)} gateway lines; some:)")
    labelled = [ln for ln in lines if ln.startswith(("gateway_requests_total{", "gateway_local_replies_total{"))]
    counters = [ln for ln in lines if re.match(r"(auth|quota|routing)_\S+ [1-9]", ln)]
    for ln in labelled[:16] + counters[:16]:
        demo.out("  " + ln)
    return 0 if labelled else 1


def global_walk(demo: "Demo") -> int:
    """Two more Envoy instances counting one quota in the global store (Redis + quota-service)."""
    from .ports import free_port
    from .ratelimit import QuotaService, Redis

    config = default_plugin_config("quota-global")
    limit = TRIAL_LIMIT
    bad = 0
    with tempfile.TemporaryDirectory(prefix="gateway-demo-global-") as tmp:
        redis = Redis(free_port(), Path(tmp) / "redis")
        service = QuotaService(config, redis, free_port(), free_port(), Path(tmp) / "service")
        stacks = []
        try:
            redis.start()
            service.start()
            ports = {"RLS_GRPC_PORT": service.grpc_port, "RLS_HTTP_PORT": service.http_port}
            for i in range(2):
                stack = Stack("quota-global.yaml", workdir=Path(tmp) / f"envoy{i}", ports=dict(ports))
                stacks.append(stack)
                stack.start()
            demo.out(f"  redis 127.0.0.1:{redis.port}, quota-service gRPC 127.0.0.1:{service.grpc_port}; "
                     f"gateways on 127.0.0.1:{stacks[0].listen_port} and 127.0.0.1:{stacks[1].listen_port}")
            who = [("x-gateway-consumer", "erin-" + str(os.getpid())), ("x-gateway-plan", "trial")]
            for i in range(limit + 1):
                gw = stacks[i % 2]
                r = client.request(gw.listen_port, "/v1/orders", headers=who)
                want = 200 if i < limit else 429
                bad += r.status != want
                demo.out(f"  > GET /v1/orders on gateway {i % 2 + 1}   < {r.status}"
                         f"   x-ratelimit-remaining: {r.header('x-ratelimit-remaining')}"
                         + ("" if r.status == want else f"   (EXPECTED {want})"))
        finally:
            for stack in stacks:
                stack.stop()
            service.stop()
            redis.stop()
    demo.out(f"  {limit} per hour for the consumer across both gateways, not {limit} per gateway.")
    return bad


PROTECT_COOL_DOWN = 2
PROTECT_CONFIG = {
    "plans": [{"name": "big", "limits": [{"name": "per-hour", "limit": 100000, "window": "hour"}]}],
    "consumers": [{"id": "alice", "plan": "big"}],
    "routes": [{"name": "v1", "path_prefix": "/v1", "api": "orders", "version": "v1"}],
    "headers": {"on_success": True, "ietf": False, "x_ratelimit": True},
    "protect": {"apis": [{"api": "orders", "max_in_flight": 100, "breaker": {
        "consecutive_failures": 3, "cool_down_seconds": PROTECT_COOL_DOWN,
        "half_open_probes": 1, "close_after": 2}}]},
}


def protect_walk(demo: "Demo") -> int:
    """A gateway (the quota filter with `protect`) in front of an upstream that starts failing:
    the breaker opens, sheds without reaching the upstream or charging, then closes."""
    import time

    bad = 0
    with tempfile.TemporaryDirectory(prefix="gateway-demo-protect-") as tmp:
        stack = Stack("quota.yaml", workdir=Path(tmp), configs={"quota": PROTECT_CONFIG})
        with stack:
            who = [("x-gateway-consumer", "alice")]
            demo.out(f"  quota.yaml with protect.apis[orders]: opens after 3 failures, "
                     f"{PROTECT_COOL_DOWN} s cool-down; gateway on 127.0.0.1:{stack.listen_port}")

            def send(note: str, want: int, shed: bool = False) -> None:
                nonlocal bad
                before = len(stack.v1.requests)
                r = client.request(stack.listen_port, "/v1/orders", headers=who)
                reached = len(stack.v1.requests) > before
                ok = r.status == want and reached != shed
                bad += not ok
                extra = ""
                if "problem+json" in (r.header("content-type") or ""):
                    p = r.json()
                    extra = f"   {p.get('type')} reason={p.get('reason')} retry-after: {r.header('retry-after')}"
                elif r.header("x-ratelimit-remaining"):
                    extra = f"   x-ratelimit-remaining: {r.header('x-ratelimit-remaining')}"
                demo.out(f"  > GET /v1/orders ({note})   < {r.status}"
                         f"   upstream {'reached' if reached else 'NOT reached'}{extra}"
                         + ("" if ok else "   (UNEXPECTED)"))

            send("healthy", 200)
            demo.out("  -- the upstream starts answering 503")
            stack.v1.fail(503)
            for i in range(3):
                send(f"failure {i + 1}", 503)
            for _ in range(3):
                send("breaker open", 503, shed=True)
            demo.out(f"  -- the upstream recovers; after the {PROTECT_COOL_DOWN} s cool-down one probe at a time")
            stack.v1.heal()
            time.sleep(PROTECT_COOL_DOWN + 0.2)
            send("probe 1", 200)
            send("probe 2: closes", 200)
            send("closed", 200)
            stats = stack.envoy.stats("^wasmcustom.protect_")
            demo.out("  " + "  ".join(f"{k.removeprefix('wasmcustom.')}={v}" for k, v in sorted(stats.items())
                                        if v and not k.endswith(("_successes", "_neutral", "_admitted"))))
    demo.out("  Shed requests were answered at once, never reached the upstream and were not charged.")
    return bad


STEPS: list[Step] = [
    Step("Authentication: no credentials", "auth answers 401 with a problem+json body and a challenge",
         lambda d: [Req("/v1/orders", 401)]),
    Step("Authentication: API key", "alice's key; upstream gets the identity headers, not the key",
         lambda d: [Req("/v1/orders", 200, key("alice"))]),
    Step("Authentication: JWT", "an EdDSA token for dave, verified with the JWKS fetched from the key server",
         lambda d: [Req("/v1/orders", 200, [("authorization", f"Bearer {d.signer.token()}")])]),
    Step("Authentication: wrong key and expired JWT", "both 401",
         lambda d: [Req("/v1/orders", 401, [("x-api-key", "not-a-real-key")]),
                    Req("/v1/orders", 401, [("authorization", f"Bearer {d.signer.token(ttl=-3600)}")])]),
    Step("Authorization: group without access", "carol is only in group contractors",
         lambda d: [Req("/v1/orders", 403, key("carol"))]),
    Step("Quota", f"erin is on plan trial: {TRIAL_LIMIT} requests per hour, then 429 with rate-limit headers",
         lambda d: [Req("/v1/orders", 200, key("erin"), label=f"request {i + 1}") for i in range(TRIAL_LIMIT)]
         + [Req("/v1/orders", 429, key("erin"), label=f"request {TRIAL_LIMIT + 1}")],
         show=RATE_LIMIT_HEADERS),
    Step("Global quota", "two gateway instances share one consumer's quota through Redis and quota-service",
         custom=global_walk),
    Step("Upstream protection", "a circuit breaker per API opens on a failing upstream, sheds, probes and closes",
         custom=protect_walk),
    Step("Versioned routing", "version from the path, a header, the query or Accept; else the default v1",
         lambda d: [Req("/v1/orders", 200, key("bob"), upstream="v1"),
                    Req("/v2/orders", 200, key("bob"), upstream="v2"),
                    Req("/orders", 200, key("bob") + [("api-version", "2")], upstream="v2"),
                    Req("/orders?api-version=2", 200, key("bob"), upstream="v2"),
                    Req("/orders", 200, key("bob") + [("accept", "application/vnd.orders.v2+json")], upstream="v2"),
                    Req("/orders", 200, key("bob"), upstream="v1")]),
    Step("Canary split (sticky)", "unversioned requests: 20 % of consumers go to v2, always the same ones",
         custom=canary_walk),
    Step("Deprecation and sunset", "v1beta is deprecated (RFC 9745 Deprecation, RFC 8594 Sunset); v0 is retired",
         lambda d: [Req("/v1beta/orders", 200, key("bob"), upstream="v1"),
                    Req("/v0/orders", 410, key("bob"))]),
    Step("Bad input", "path tricks are refused before any upstream sees them",
         lambda d: [Req("/v1/../v2/orders", 400, key("bob")), Req("/v1/%2e%2e/v2/orders", 400, key("bob"))]),
    Step("Metrics", "Prometheus text from Envoy's admin endpoint; labels come from stats_tags",
         custom=metrics_walk),
]


class Demo:
    def __init__(self, ports: dict, signer: JwtSigner):
        self.ports = ports
        self.signer = signer
        self.unmet: list[str] = []

    def out(self, line: str = "") -> None:
        print(line, flush=True)

    def admin(self, path: str) -> str:
        return envoy.admin_request(self.ports["ADMIN_PORT"], path)[1]

    def send(self, req: Req, quiet: bool = False, show: tuple[str, ...] = SHOWN_HEADERS) -> client.Response:
        r = client.request(self.ports["LISTEN_PORT"], req.path, method=req.method, headers=req.headers)
        ok = req.expect is None or r.status == req.expect
        if not ok:
            self.unmet.append(f"{req.method} {req.path}: got {r.status}, expected {req.expect}")
        elif req.upstream is not None and r.upstream() != req.upstream:
            ok = False
            self.unmet.append(f"{req.method} {req.path}: answered by {r.upstream()}, expected {req.upstream}")
        if quiet and ok:
            return r
        shown_req = "  ".join(f"{k}: {_short(v)}" for k, v in req.headers)
        label = f"[{req.label}] " if req.label else ""
        self.out(f"  {label}> {req.method} {req.path}" + (f"   {shown_req}" if shown_req else ""))
        want = f"{req.expect}" + (f" from {req.upstream}" if req.upstream else "")
        mark = "" if req.expect is None else ("   (as expected)" if ok else f"   (EXPECTED {want})")
        self.out(f"    < {r.status}{mark}")
        for name in show:
            for v in r.header_all(name):
                self.out(f"      {name}: {v}")
        ctype = r.header("content-type") or ""
        if "problem+json" in ctype:
            try:
                p = r.json()
                self.out(f"      problem: {p.get('type')}  \"{p.get('title')}\"" + (f"  {p.get('detail')}" if p.get("detail") else ""))
            except ValueError:
                pass
        elif r.upstream():
            seen = ", ".join(f"{h}={_short(v)}" for h in UPSTREAM_SEES if (v := r.echoed_header(h)) is not None)
            echo = r.json()
            self.out(f"      upstream {r.upstream()} got {echo['method']} {echo['path']}" + (f"  [{seen}]" if seen else ""))
        return r

    def run(self) -> int:
        for n, step in enumerate(STEPS, 1):
            self.out()
            self.out(f"== {n}. {step.title}: {step.explain}")
            if step.custom:
                bad = step.custom(self)
                if bad:
                    self.unmet.append(f"{step.title}: {bad} unmet expectation(s)")
            elif step.requests:
                for req in step.requests(self):
                    self.send(req, show=step.show)
        self.out()
        if self.unmet:
            self.out(f"{len(self.unmet)} result(s) differed from what the demo expects:")
            for u in self.unmet:
                self.out(f"  - {u}")
            return 1
        self.out("Every step behaved as expected.")
        return 0


def _short(v: str) -> str:
    return v if len(v) <= 48 else v[:40] + "..." + v[-5:]


def _ports(keep: bool) -> dict:
    preferred = {}
    if keep:
        for name, port in (("LISTEN_PORT", 10000), ("ADMIN_PORT", 9901)):
            if is_free(port):
                preferred[name] = port
    return preferred


def try_it(demo: Demo) -> None:
    p = demo.ports
    gw = f"http://127.0.0.1:{p['LISTEN_PORT']}"
    token = demo.signer.token(ttl=24 * 3600)
    print(f"""
The gateway keeps running (pid file .run/state.json):
  gateway  {gw}
  admin    http://127.0.0.1:{p['ADMIN_PORT']}   (/ready, /stats/prometheus, /stats?filter=wasmcustom)
  logs     .run/envoy/envoy.log, access log .run/envoy/envoy.out

Try:
  curl -i {gw}/v1/orders
  curl -i -H 'x-api-key: {API_KEYS['alice']}' {gw}/v2/orders
  curl -i -H 'x-api-key: {API_KEYS['carol']}' {gw}/v1/orders
  curl -i -H 'x-api-key: {API_KEYS['bob']}' -H 'api-version: 2' {gw}/orders
  curl -i -H 'x-api-key: {API_KEYS['bob']}' {gw}/v1beta/orders
  curl -i -H {shlex.quote('authorization: Bearer ' + token)} {gw}/v1/orders
  curl -s http://127.0.0.1:{p['ADMIN_PORT']}/stats/prometheus | grep -E '^(gateway|auth|quota|routing)_'
Stop it with: scripts/demo --stop""")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/demo", description="Walk through the gateway's features in a real Envoy.")
    ap.add_argument("--keep", action="store_true", help="leave the gateway running afterwards")
    ap.add_argument("--stop", action="store_true", help="stop a gateway left running by --keep")
    args = ap.parse_args(argv)
    if args.stop:
        print("stopped" if background.stop() else "nothing was running")
        return 0
    missing = [f for f in FILTERS if not (DIST_DIR / f"filter_{f}.wasm").is_file()]
    if missing:
        print(f"missing {', '.join(f'dist/filter_{m}.wasm' for m in missing)}: run scripts/build", file=sys.stderr)
        return 1
    signer = JwtSigner()
    print(f"Envoy 1.40 (V8) with {', '.join(f'dist/filter_{f}.wasm' for f in FILTERS)}; config envoy-config/gateway.yaml")
    print("Consumers: alice (gold, customers+staff), bob (free), carol (contractors), dave (JWT), erin (trial: "
          f"{TRIAL_LIMIT}/hour)")
    if args.keep:
        state = background.start("gateway.yaml", ports=_ports(True), jwks=signer.jwks())
        demo = Demo(state["ports"], signer)
        rc = demo.run()
        try_it(demo)
        return rc
    with tempfile.TemporaryDirectory(prefix="gateway-demo-") as tmp:
        stack = Stack("gateway.yaml", workdir=tmp, jwks=signer.jwks())
        with stack:
            print(f"gateway on 127.0.0.1:{stack.listen_port}, admin on 127.0.0.1:{stack.admin_port}")
            rc = Demo(stack.ports, signer).run()
    print("Stopped Envoy and the sample upstreams.")
    return rc


if __name__ == "__main__":
    sys.exit(main())
