"""Benchmarks of the gateway filters in a real Envoy, side by side in one interleaved run.

Envoy runs with --concurrency 1 pinned to core 0; wrk and the upstream (a second Envoy answering
with a direct response) share core 1. Every case runs once per round, rounds interleave the cases,
and each case is reported by its median round, as requests per second, p50 and p99 latency and
ratios to the router-only case and to Envoy's native chain (jwt_authn RS256 + local_ratelimit).
Auth alone, the bundle and the native chain run again with a new token on every request, so that
every signature is checked. Also reported: Envoy's resident memory with the suite at concurrency 1
and 2, each .wasm's size,
host-test's deterministic per-request cost (wasmtime fuel) of each filter, and where Envoy's time
goes (perf samples: Envoy's own code against the modules' compiled wasm), and Envoy's instructions
and cache misses per request counted under callgrind (envoy_count.py), per case and per host call,
and what Envoy spends on any wasm module (filters/abi-floor, without the SDK, against the SDK's
module doing nothing). Quota alone also runs with the global store (quota-service on Redis,
started once for the run, on core 1), in its exact and leased modes, against the local store.

Usage: .venv/bin/python scripts/bench.py [--seconds 10] [--rounds 3] [--out scripts/bench-results.md]
       [--count-only]
(scripts/bench builds and installs what this needs, then runs it.)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "e2e"))

from harness.envoy import Envoy  # noqa: E402
from harness.ports import free_port  # noqa: E402
from harness.ratelimit import QuotaService, Redis, service_binary  # noqa: E402

import envoy_count  # noqa: E402

DIST = ROOT / "dist"
# The shipped modules' target (scripts/lib.sh, which scripts/bench sources, exports it).
WASM_TARGET = os.environ.get("WASM_TARGET") or re.search(
    r"^WASM_TARGET=(\S+)$", (ROOT / "scripts" / "lib.sh").read_text(), re.M).group(1)
ISSUER = "https://bench.example"
AUDIENCE = "bench"
CONSUMER = "bench"
# Case names used beyond the case list.
ROUTER, NATIVE, BUNDLE = "router only", "native jwt_authn + local_ratelimit", "bundle gateway root"
# Each filter's case when it runs alone, by the name host-test's costs use for it.
ALONE = {"auth": "auth alone", "quota": "quota alone", "analytics": "analytics alone", "routing": "routing alone"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Rs256:
    """An RSA-2048 key, its JWKS and one long-lived RS256 token (cryptography from PyPI)."""

    def __init__(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        self.jwks = {
            "keys": [
                {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "bench-1", "n": b64url(n), "e": "AQAB"}
            ]
        }
        # Issued before host-test's virtual clock starts (2023-11-14), so the same token is valid in
        # host-test's cost measurement and in the Envoy runs.
        now = int(time.time())
        issued = 1_690_000_000
        header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": CONSUMER, "iat": issued, "exp": now + 86400}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        self.token = signing_input + "." + b64url(sig)
        self._key, self._header, self._claims = key, header, claims

    def fresh_tokens(self, n: int) -> list[str]:
        """`n` tokens like `token`, each with its own `jti` (so its own signature)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head = b64url(json.dumps(self._header, separators=(",", ":")).encode())
        out = []
        for i in range(n):
            claims = dict(self._claims, jti=f"bench-{i}")
            signing_input = head + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
            sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            out.append(signing_input + "." + b64url(sig))
        return out


def plugin_configs(rs: Rs256) -> dict[str, dict]:
    """Configurations doing comparable work to the native chain: an RS256 JWT, a quota that never
    refuses, analytics with events to a collector, and versioned routing."""
    auth = {
        "consumers": [{"id": CONSUMER, "plan": "bench", "groups": ["customers"]}],
        "jwt": {"providers": [{"name": "bench", "issuer": ISSUER, "audiences": [AUDIENCE], "jwks": rs.jwks}]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}],
    }
    quota = {
        "plans": [{"name": "bench", "limits": [{"name": "per-minute", "limit": 1_000_000_000, "window": "minute"}]}],
        "consumers": [{"id": CONSUMER, "plan": "bench"}],
        "key": {"source": "consumer", "per": "none"},
        # The same three X-RateLimit-* fields the native local_ratelimit adds below.
        "headers": {"on_success": True, "ietf": False, "x_ratelimit": True},
        "unidentified": "allow",
    }
    analytics = json.loads((ROOT / "envoy-config" / "plugins" / "analytics.json").read_text())
    routing = json.loads((ROOT / "envoy-config" / "plugins" / "routing.json").read_text())
    return {"auth": auth, "quota": quota, "analytics": analytics, "routing": routing}


RLS_CLUSTER = "ratelimit"
"""The cluster of the rate limit service in the global store's cases."""
STORE_BLOCK = 100
"""Units a lease of the leased mode reserves per call: one call serves many requests."""
STORE_TIMEOUT_MS = 1000
"""Per-call timeout of the global store's cases: long enough that a loaded 2-core machine does
not turn a slow answer into a failure; failures refuse the request (`on_error: deny`), so that
they show as non-2xx answers instead of admitting unchecked."""
GLOBAL = {"exact": "quota, global store exact", "leased": "quota, global store leased"}
"""The global store's cases, by mode: quota alone's filter and plan with `store.global`."""


def one_connection(name: str) -> str:
    """The name of `name` run again with one connection: latency without queueing (quota alone and
    the exact mode, whose call every request waits for)."""
    return f"{name}, one connection"


def global_quota_config(rs: Rs256, mode: str) -> dict:
    """Quota alone's configuration counting in the global store (the rate limit service at
    RLS_CLUSTER) in `mode`: the same plan, far above what the bench sends, so nothing is refused."""
    store = {"cluster": RLS_CLUSTER, "mode": mode, "timeout_ms": STORE_TIMEOUT_MS, "on_error": "deny"}
    if mode == "leased":
        store["block"] = STORE_BLOCK
    return {**plugin_configs(rs)["quota"], "store": {"global": store}}


def global_cases(rs: Rs256) -> list[tuple[str, str]]:
    """(name, http_filters YAML) of the global store's cases."""
    return [(name, wasm_filter("quota", "filter_quota.wasm", "quota", global_quota_config(rs, mode)))
            for mode, name in GLOBAL.items()]


def in_round(all_cases: list[tuple[str, str]], store: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The cases of a round: the global store's right after quota alone, so that each pairs with
    the local store over the least drift."""
    out = []
    for case in all_cases:
        out.append(case)
        if case[0] == ALONE["quota"]:
            out += store
    return out


@contextlib.contextmanager
def on_core(cpu: int):
    """Processes started inside are bound to core `cpu` (they inherit this thread's affinity)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def global_store(rs: Rs256, work: Path):
    """Redis and quota-service on 127.0.0.1 (free ports), on core 1 with wrk and the upstream, never
    on Envoy's: the QuotaService, or None (with a note) when redis-server or the service's binary is
    missing (scripts/bench installs and builds both). Both are stopped on the way out, whatever
    happens."""
    binary = service_binary()
    if not shutil.which("redis-server") or not binary.exists():
        print(f"global store cases left out: redis-server or {binary} missing "
              "(scripts/bench installs and builds them)", flush=True)
        yield None
        return
    redis = Redis(free_port(), work / "redis")
    service = QuotaService(global_quota_config(rs, "exact"), redis, free_port(), free_port(), work / "service")
    try:
        with on_core(1):
            redis.start()
            service.start()
        yield service
    finally:
        service.stop()
        redis.stop()


def request_headers(token: str) -> dict[str, str]:
    """Headers of every benchmark request. The identity headers stand in for auth when a later
    filter runs alone (so quota meters the consumer); auth replaces them when it runs."""
    return {"authorization": f"Bearer {token}", "x-gateway-consumer": CONSUMER, "x-gateway-plan": "bench"}


def wasm_filter(name: str, module: str, root_id: str, config: dict) -> str:
    """One wasm filter entry; `module` is a file in dist/ or an absolute path."""
    value = json.dumps(json.dumps(config, separators=(",", ":")))
    return f"""
          - name: bench.{name}
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: {name}
                root_id: {root_id}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {value}
                vm_config:
                  vm_id: bench-{name}
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {DIST / module}}}}}"""


def native_chain(rs: Rs256) -> str:
    jwks = json.dumps(json.dumps(rs.jwks))
    return f"""
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                bench:
                  issuer: {ISSUER}
                  audiences: [{AUDIENCE}]
                  local_jwks: {{inline_string: {jwks}}}
                  forward: false
              rules:
              - match: {{prefix: /}}
                requires: {{provider_name: bench}}
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: bench
              token_bucket: {{max_tokens: 1000000000, tokens_per_fill: 1000000000, fill_interval: 1s}}
              filter_enabled: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}
              filter_enforced: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}
              enable_x_ratelimit_headers: DRAFT_VERSION_03"""


def gateway_yaml(listen: int, admin: int, upstream: int, filters: str, rls: int | None = None) -> str:
    """The gateway under test; with `rls`, also the rate limit service's cluster (HTTP/2 for gRPC)
    at that port."""
    clusters = "".join(
        f"""
  - name: {name}
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: {name}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]"""
        for name in ("api_v1", "api_v2", "collector")
    )
    if rls is not None:
        clusters += f"""
  - name: {RLS_CLUSTER}
    type: STATIC
    connect_timeout: 0.25s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: {RLS_CLUSTER}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {rls}}}}}}}}}]}}]"""
    return f"""admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: bench
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - name: api
              domains: ["*"]
              routes:
              - match:
                  prefix: "/"
                  headers: [{{name: x-gateway-cluster, string_match: {{safe_regex: {{regex: "api_[a-z0-9_]+"}}}}}}]
                route: {{cluster_header: x-gateway-cluster}}
              - match: {{prefix: "/"}}
                route: {{cluster: api_v1}}
          http_filters:{filters}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:{clusters}
"""


def upstream_yaml(listen: int, admin: int) -> str:
    return f"""admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: upstream
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "ok"}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"""


COST_MODULE = ROOT / "target" / WASM_TARGET / "release" / "examples" / "hostcall_cost.wasm"
COST_CALLS = ["increment_metric", "get_current_time", "get_header_absent", "get_header", "get_header_pairs",
              "get_property", "replace_header", "set_property", "get_shared_data", "set_shared_data"]
COST_REPEAT = 100
"""filters/core/examples/hostcall_cost.rs: each root repeats one host call this many times per request."""

# Which measured call stands for each hostcall of the crossing counts.
CALL_KIND = {
    "proxy_get_header_map_pairs": "get_header_pairs", "proxy_get_header_map_value": "get_header",
    "proxy_get_property": "get_property", "proxy_get_shared_data": "get_shared_data",
    "proxy_set_shared_data": "set_shared_data", "proxy_set_property": "set_property",
    "proxy_replace_header_map_value": "replace_header", "proxy_remove_header_map_value": "replace_header",
    "proxy_add_header_map_value": "replace_header", "proxy_increment_metric": "increment_metric",
    "proxy_record_metric": "increment_metric", "proxy_get_current_time_nanoseconds": "get_current_time",
}


def cost_case(call: str) -> str:
    """The hostcall_cost module with root `call`."""
    return wasm_filter(f"cost-{call}", str(COST_MODULE), call, {})


FLOOR_DIR = ROOT / "target" / "abi-floor"
FLOORS = {
    "a module without the SDK, request headers only": FLOOR_DIR / "request_headers.wasm",
    "a module without the SDK, every stream callback": FLOOR_DIR / "every_callback.wasm",
}
"""filters/abi-floor as scripts/bench builds it: what Envoy spends on any wasm module, exporting
only the request-headers callback, or every stream callback as the SDK does (each doing nothing)."""


def floor_cases() -> dict[str, str]:
    """The abi-floor modules that were built, by case name."""
    return {name: wasm_filter(f"floor-{i}", str(path), "", {})
            for i, (name, path) in enumerate(FLOORS.items()) if path.exists()}


def cases(rs: Rs256) -> list[tuple[str, str]]:
    """(name, http_filters YAML) of every case, in run order."""
    c = plugin_configs(rs)
    separate = "".join(wasm_filter(n, f"filter_{n}.wasm", n, c[n]) for n in ("auth", "quota", "analytics", "routing"))
    out = [(ROUTER, "")]
    for n, case in ALONE.items():
        out.append((case, wasm_filter(n, f"filter_{n}.wasm", n, c[n])))
    out.append(("four modules", separate))
    if (DIST / "filter_bundle.wasm").exists():
        out.append((BUNDLE, wasm_filter("gateway", "filter_bundle.wasm", "gateway", c)))
    out.append((NATIVE, native_chain(rs)))
    return out


FRESH_TOKENS = 3000
"""Tokens the fresh-token cases rotate through: more than auth's verified-token cache holds (1024
per worker), so every request's signature is checked."""


def fresh_cases(rs: Rs256) -> list[tuple[str, str]]:
    """(name, http_filters YAML) of the cases run with a new token on every request."""
    c = plugin_configs(rs)
    out = [(ALONE["auth"], wasm_filter("auth", "filter_auth.wasm", "auth", c["auth"]))]
    if (DIST / "filter_bundle.wasm").exists():
        out.append((BUNDLE, wasm_filter("gateway", "filter_bundle.wasm", "gateway", c)))
    out.append((NATIVE, native_chain(rs)))
    return out


def token_script(tokens: list[str], path: Path) -> Path:
    """A wrk Lua script sending `tokens` in rotation, with the bench request's other headers."""
    others = "".join(f', ["{k}"] = "{v}"' for k, v in request_headers("").items() if k != "authorization")
    path.write_text("tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\ni = 0\n"
                    "request = function()\n  i = i % #tokens + 1\n"
                    f'  return wrk.format(nil, nil, {{["authorization"] = "Bearer " .. tokens[i]{others}}})\n'
                    "end\n")
    return path


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv]


class PinnedEnvoy(Envoy):
    """An Envoy bound to one core."""

    def __init__(self, *args, cpu: int, **kw):
        super().__init__(*args, **kw)
        self.cpu = cpu

    def command(self) -> list[str]:
        return pinned(self.cpu, super().command())


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """User + system CPU time of this process's children that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": int(non2xx.group(1)) if non2xx else 0,
            "requests": total}


def run_case(name: str, filters: str, upstream_port: int, seconds: int, token: str, work: Path, concurrency=1,
             sample: Path | None = None, script: Path | None = None, rls: int | None = None,
             watch: dict[str, int] | None = None, counters: tuple[str, ...] = (), connections: int = 16):
    """One load run of a case; with `sample`, Envoy is also sampled by `perf record` into that file;
    with `script`, wrk sends the requests that wrk Lua script makes (instead of `token`'s); with
    `rls`, Envoy has the rate limit service's cluster at that port. Also measured, per request of
    the timed run: the CPU of wrk and of the processes in `watch` (label: pid), as `cpu_us_of`, and
    the growth of Envoy's `counters`, as `per_request`. wrk keeps `connections` requests in flight."""
    listen, admin = free_port(), free_port()
    env = PinnedEnvoy(gateway_yaml(listen, admin, upstream_port, filters, rls), work / re.sub(r"\W+", "-", name),
                      admin_port=admin, concurrency=concurrency, log_level="warn", cpu=0)
    watch = watch or {}
    with env:
        url = f"http://127.0.0.1:{listen}/v1/orders/1"
        header = [arg for name, value in request_headers(token).items() for arg in ("-H", f"{name}: {value}")]
        check = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *header, url],
                               capture_output=True, text=True)
        if check.stdout != "200":
            raise SystemExit(f"{name}: a probe request answered {check.stdout}, not 200\n{env.log_tail()}")
        load = ["-s", str(script)] if script is not None else header
        subprocess.run(pinned(1, ["wrk", "-t1", f"-c{connections}", "-d2s", *load, url]),
                       capture_output=True)  # warm-up
        perf = None
        if sample is not None:
            # Sampled by wall clock, so it sees JIT-compiled wasm as well as Envoy's own code.
            perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(env.pid),
                                     "-o", str(sample), "--", "sleep", str(max(seconds - 1, 1))],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stats_before = env.stats() if counters else {}
        others_before = {label: cpu_seconds(pid) for label, pid in watch.items()}
        cpu_before, wrk_before = cpu_seconds(env.pid), children_cpu_seconds()
        out = subprocess.run(pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *load, url]),
                             capture_output=True, text=True, check=True).stdout
        cpu, wrk = cpu_seconds(env.pid) - cpu_before, children_cpu_seconds() - wrk_before
        others = {"wrk": wrk, **{label: cpu_seconds(pid) - others_before[label] for label, pid in watch.items()}}
        stats_after = env.stats() if counters else {}
        if perf is not None:
            perf.wait()
        result = parse_wrk(out)
        requests = max(result["requests"], 1)
        result["cpu_us"] = cpu * 1e6 / requests
        result["cpu_us_of"] = {label: t * 1e6 / requests for label, t in others.items()}
        result["per_request"] = {c: (stats_after.get(c, 0) - stats_before.get(c, 0)) / requests for c in counters}
        result["rss_kib"] = rss_kib(env.pid)
        return result


HOST_TEST = ROOT / "target" / "debug" / "host-test"


def bench_request(token: str) -> dict:
    """The request every case sends, as a host-test scenario request."""
    return {"method": "GET", "path": "/v1/orders/1", "headers": request_headers(token)}


BROWSER_HEADERS = {
    "accept": "application/json", "accept-language": "en-US,en;q=0.9", "accept-encoding": "gzip, deflate, br",
    "cookie": "session=3f1c9a; theme=dark", "referer": "https://app.example/orders", "origin": "https://app.example",
    "sec-ch-ua": '"Chromium";v="130"', "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": '"Linux"',
    "sec-fetch-site": "same-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty",
    "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "x-request-id": "5b0e8d2c",
}
"""What a browser and a front proxy add to a request: the fuel table also runs the bundle on the
bench request with these, since every header lookup scans the request's headers."""
HOST_TEST_PSEUDO_HEADERS = 4
"""`:method`, `:path`, `:authority` and `:scheme`, which host-test adds to a scenario's request."""


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


# filter-core's example plugin: one header read, one set, one metric. Its fuel is what the
# SDK and the generic adapter cost a module per request before any filter logic.
PROBE_MODULE = ROOT / "target" / WASM_TARGET / "release" / "examples" / "probe.wasm"
PROBE_CONFIG = {"deny_path": "/deny", "body_path": "/body", "call_path": "/call", "call_cluster": "api_v1"}


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


def guest_profile(rs: Rs256, work: Path, samples: int = 1000, top: int = 30) -> list[str]:
    """`host-test profile --fuel` of the bundle's gateway root on the bench request: where its wasm
    operations go, by function (the module before wasm-opt, which keeps the function names)."""
    named = ROOT / "target" / WASM_TARGET / "bundle" / "filter_bundle.wasm"
    if not named.exists():
        return []
    spec = [{"module": str(named), "name": "gateway", "root_id": "gateway", "config": plugin_configs(rs)}]
    scenario = write_scenario(work / "profile-bundle.json", spec, bench_request(rs.token))
    out = host_test("profile", str(scenario), "-n", "3", "--fuel", "--samples", str(samples), "--top", str(top))
    lines = [
        "",
        "## Guest profile of the bundle's gateway root",
        "",
        f"`host-test profile --fuel --samples {samples}` on the bench request: the guest's wasm stack at",
        f"{samples} evenly spaced offsets into one request's {int(out.split()[0]):,} wasm operations (the named",
        "build of the module, before wasm-opt). Deterministic: the same module and request give the same",
        "profile. Inclusive: samples with the function on the stack; self: samples where it was running.",
        "Host calls and host time are not wasm operations and do not appear.",
        "",
        "| inclusive | self | function |",
        "|---:|---:|---|",
    ]
    for line in out.splitlines()[2:]:
        m = re.match(r"\s*([\d.]+)%\s+([\d.]+)%\s+(.*)", line)
        if m:
            name = m.group(3).replace("|", "\\|")
            lines.append(f"| {m.group(1)} % | {m.group(2)} % | `{name}` |")
    return lines


def cost_lines(costs: dict[str, dict]) -> list[str]:
    """The host-test section of the results: fuel is deterministic, wall time is not."""
    lines = [
        "",
        "## host-test per-request cost",
        "",
        "`host-test bench`, same request as above, 2000 requests per module. Fuel (wasmtime's count of",
        "executed wasm operations) is deterministic: the same module and request always give the same",
        "number. Wall time (host-test in a dev build, not V8) is indicative only. The bundle also runs",
        "once more with the headers a browser and a front proxy add (`BROWSER_HEADERS` in scripts/bench.py),",
        "counting the four pseudo-headers host-test sends.",
        "",
        "| module | fuel per request | request headers | response headers | log | other callbacks | wall p50 µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, c in costs.items():
        fuel = sum(f["fuel_per_request"] for f in c["filters"])
        by = {}
        for f in c["filters"]:
            for export, n in f.get("fuel_per_request_by_export", {}).items():
                by[export] = by.get(export, 0) + n
        main = [by.pop(k, 0) for k in ("proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_log")]
        cells = " | ".join(f"{n:,}" for n in [*main, sum(by.values())])
        lines.append(f"| {name} | {fuel:,} | {cells} | {c['request_wall_ns_p50'] / 1000:.0f} |")
    lines += [
        "",
        "## Host boundary crossings per request",
        "",
        "From host-test's hostcall trace of the second of two identical requests. In Envoy every crossing",
        "goes through V8's C API; allocations are the calls the host makes into the module's allocator to",
        "hand data over (one per successful read of headers, properties or shared data).",
        "",
        "| module | total | callbacks | hostcalls | allocations | hostcalls by name |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, c in costs.items():
        x = c["crossings"]
        calls = sum(x["hostcalls"].values())
        by_name = ", ".join(f"{n.removeprefix('proxy_')} {k}" for n, k in sorted(x["hostcalls"].items()))
        lines.append(f"| {name} | {x['callbacks'] + calls + x['allocations']} | {x['callbacks']} | {calls} | "
                     f"{x['allocations']} | {by_name} |")
    return lines


SIZE_GOALS = {"filter_auth.wasm": 350_000, "filter_quota.wasm": 150_000, "filter_analytics.wasm": 150_000,
              "filter_routing.wasm": 150_000}
"""Issue goals for the module sizes after wasm-opt (KB = 1000 bytes)."""


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def rps_ratio(runs: list[dict], refs: list[dict]) -> float:
    """Median over rounds of the per-round throughput ratio: rounds drift together on a noisy
    machine, so pairing the cases of one round cancels most of the drift."""
    return statistics.median(a["rps"] / b["rps"] for a, b in zip(runs, refs))


def cpu_ratio_of(runs: list[dict], refs: list[dict]) -> float:
    """Median over rounds of the reference case's Envoy CPU per request over this case's."""
    return statistics.median(b["cpu_us"] / a["cpu_us"] for a, b in zip(runs, refs))


def case_row(name: str, runs: list[dict], router: list[dict], native: list[dict]) -> str:
    """One case's row of a results table: medians over rounds, paired ratios, each round's req/s."""
    def med(key):
        return statistics.median(r[key] for r in runs)
    errors = sum(r["errors"] for r in runs)
    note = f" ({errors} non-2xx)" if errors else ""
    rounds = " / ".join(f"{r['rps']:.0f}" for r in runs)
    return (f"| {name}{note} | {med('rps'):.0f} | {med('p50'):.2f} | {med('p99'):.2f} | {med('cpu_us'):.1f} | "
            f"{rps_ratio(runs, router):.2f} | {rps_ratio(runs, native):.2f} | {rounds} |")


def fresh_lines(fresh: dict[str, list[dict]], router: list[dict], native: str) -> list[str]:
    """The fresh-token cases: every request's signature is checked, as when many clients each
    present their own token."""
    if not all(fresh.values()):
        return []
    lines = [
        "",
        "## A new token on every request",
        "",
        f"The same cases in the same rounds, but wrk sends {FRESH_TOKENS:,} RS256 tokens in rotation (each",
        "with its own `jti`): more than auth's verified-token cache holds, so every request's signature",
        "is checked. Native `jwt_authn` checks every signature in either case. Ratios are paired",
        "within each round, as above.",
        "",
        "| case | req/s | p50 ms | p99 ms | Envoy CPU µs/req | vs router only | vs native chain | rounds (req/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [case_row(name, runs, router, fresh[native]) for name, runs in fresh.items()]
    return lines


GLOBAL_CALLS = "wasmcustom.quota_global_calls"
"""The quota filter's counter of calls to the rate limit service."""
LEASED_GOAL = 0.90
"""The leased mode keeps at least this share of the local store's throughput."""
EXACT_P50_GOAL_MS = 1.0
"""The exact mode adds at most this to the local store's p50 latency (loopback)."""


def p50_added(runs: list[dict], refs: list[dict]) -> float:
    """Median over rounds of the per-round difference of p50 latency (ms), paired as the ratios."""
    return statistics.median(a["p50"] - b["p50"] for a, b in zip(runs, refs))


def ratio_goal_row(label: str, r: float, c: float, goal: float, unit: str) -> str:
    """A throughput goal's row: judged on the lower of the req/s ratio `r` and the CPU ratio `c`;
    when missed, by how much (in hundredths, as `unit`)."""
    low = min(r, c)
    by = f" by {(goal - low) * 100:.0f} {unit}" if low < goal else ""
    return f"| {label} | {r:.2f} | {c:.2f} | {verdict(low >= goal)}{by} |"


def global_goal_rows(results: dict[str, list[dict]]) -> list[str]:
    """The global store's goals against the local store (quota alone), paired within each round:
    the leased mode keeps LEASED_GOAL of its throughput (the lower of the req/s and Envoy CPU
    ratios), and the exact mode adds at most EXACT_P50_GOAL_MS to its p50 latency, at the bench's
    16 connections and, when measured, at one connection (no queueing)."""
    local = results.get(ALONE["quota"])
    leased, exact = results.get(GLOBAL["leased"]), results.get(GLOBAL["exact"])
    rows = []
    if local and leased:
        rows.append(ratio_goal_row(f"{GLOBAL['leased']} ≥ {LEASED_GOAL:.2f} × {ALONE['quota']}",
                                   rps_ratio(leased, local), cpu_ratio_of(leased, local), LEASED_GOAL, "points"))
    quiet = [results.get(one_connection(n)) for n in (ALONE["quota"], GLOBAL["exact"])]
    pairs = [("", local, exact), (", one connection", *quiet)]
    for how, ref, runs in pairs:
        if ref and runs:
            added = p50_added(runs, ref)
            by = f" by {added - EXACT_P50_GOAL_MS:.2f} ms" if added > EXACT_P50_GOAL_MS else ""
            rows.append(f"| {GLOBAL['exact']} adds ≤ {EXACT_P50_GOAL_MS:g} ms to {ALONE['quota']}'s p50{how} | "
                        f"{added:+.2f} ms | | {verdict(added <= EXACT_P50_GOAL_MS)}{by} |")
    return rows


LOAD_SIDE = ("wrk", "upstream", "quota-service", "redis")
"""The processes on core 1 whose CPU run_case measures in the global store's section."""


def busy_shares(run: dict) -> tuple[float, float] | None:
    """The share of a core Envoy used during a run, and the share wrk, the upstream and (when
    they ran) quota-service and Redis used together: CPU per request times requests per second.
    None when the upstream's CPU was not measured."""
    of = run.get("cpu_us_of", {})
    if "upstream" not in of:
        return None
    load = sum(of.get(p, 0.0) for p in LOAD_SIDE)
    return run["cpu_us"] * run["rps"] / 1e6, load * run["rps"] / 1e6


def global_lines(results: dict[str, list[dict]]) -> list[str]:
    """The global store's section: each mode beside the local store (quota alone), with the CPU
    quota-service and Redis spent per request, the calls per request and how busy each core was
    (`busy_shares`); then the one-connection latencies."""
    local = results.get(ALONE["quota"])
    lines = ["", "## The global quota store", ""]
    modes = {mode: results.get(name) for mode, name in GLOBAL.items()}
    if not local or not all(modes.values()):
        return lines + ["Not measured: redis-server or quota-service was missing (scripts/bench installs and "
                        "builds them)."]
    lines += [
        f"{ALONE['quota']} counts in Envoy's shared data (the local store); the same filter and plan with",
        "`store.global` check each request with quota-service (Envoy's rate limit service v3 over gRPC,",
        "Limitador counting in Redis), started once for the run on 127.0.0.1 and bound with Redis to core 1,",
        "beside wrk and the upstream. `exact`: one call per request, the stream waits for the answer;",
        f"`leased`: a call reserves a block of {STORE_BLOCK} units, admitted from locally until spent (the",
        "next block is reserved ahead, by a request leaving under half a block). One consumer, a limit far above what",
        "the bench sends: nothing is refused; a failed call would refuse the request (`on_error: deny`,",
        f"`timeout_ms: {STORE_TIMEOUT_MS}`) and show as non-2xx. The global cases run in every round right after",
        f"{ALONE['quota']}; ratios and the added p50 are paired within each round, median over rounds. Envoy",
        "CPU is Envoy's alone; quota-service's and Redis's CPU per request are beside it. Calls per request:",
        f"the filter's `{GLOBAL_CALLS.removeprefix('wasmcustom.')}` counter over the timed requests. Busy: the share",
        "of a core used during the run by Envoy (core 0) and by wrk, the upstream, quota-service and Redis",
        "together (core 1), from their own CPU times (other processes on the machine are not in it).",
        "",
        f"| case | req/s | p50 ms | p99 ms | Envoy CPU µs/req | quota-service CPU µs/req | Redis CPU µs/req | "
        f"calls/req | busy core 0 / 1 | req/s vs {ALONE['quota']} | Envoy CPU vs {ALONE['quota']} | p50 added ms | "
        "rounds (req/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]

    def med(runs, key):
        return statistics.median(r[key] for r in runs)

    def med_of(runs, group, key):
        return statistics.median(r.get(group, {}).get(key, 0.0) for r in runs)

    def busy(runs):
        shares = [busy_shares(r) for r in runs]
        if None in shares:
            return "–"
        return " / ".join(f"{statistics.median(s[i] for s in shares) * 100:.0f} %" for i in range(2))

    def row(name, runs, ref, store: str, rounds: bool = True) -> str:
        errors = sum(r["errors"] for r in runs)
        note = f" ({errors} non-2xx)" if errors else ""
        each = " / ".join(f"{r['rps']:.0f}" for r in runs)
        return (f"| {name}{note} | {med(runs, 'rps'):.0f} | {med(runs, 'p50'):.2f} | {med(runs, 'p99'):.2f} | "
                f"{med(runs, 'cpu_us'):.1f} | {store}{busy(runs)} | {rps_ratio(runs, ref):.2f} | "
                f"{cpu_ratio_of(runs, ref):.2f} | {p50_added(runs, ref):+.2f} |" + (f" {each} |" if rounds else ""))

    def store_cells(runs) -> str:
        return (f"{med_of(runs, 'cpu_us_of', 'quota-service'):.1f} | {med_of(runs, 'cpu_us_of', 'redis'):.1f} | "
                f"{med_of(runs, 'per_request', GLOBAL_CALLS):.3f} | ")

    lines.append(row(ALONE["quota"], local, local, "– | – | – | "))
    lines += [row(GLOBAL[m], runs, local, store_cells(runs)) for m, runs in modes.items()]
    exact = modes["exact"]
    calls = med_of(exact, "per_request", GLOBAL_CALLS)
    per_check = (med_of(exact, "cpu_us_of", "quota-service") + med_of(exact, "cpu_us_of", "redis")) / max(calls, 1e-9)
    lines += [
        "",
        f"quota-service answered {med(exact, 'rps') * calls:,.0f} checks per second in the exact case ({calls:.2f} per",
        f"request), at {per_check:.1f} µs of its and Redis's CPU per check: by CPU alone, one core would answer",
        f"about {1e6 / max(per_check, 1e-9):,.0f} checks per second. Here the service and Redis share core 1 with wrk",
        "and the upstream, so this is the load the bench offered, not the service's capacity",
        "(quota-service/README.md measures the service alone). Where core 1's share nears or passes core 0's,",
        "the load side, not Envoy, bounds the throughput, and Envoy's CPU per request can rise as it handles",
        "fewer requests per wakeup; where both are well under 100 %, other work on the machine took the rest.",
    ]
    quiet_local, quiet_exact = results.get(one_connection(ALONE["quota"])), results.get(one_connection(GLOBAL["exact"]))
    if quiet_local and quiet_exact:
        lines += [
            "",
            "With 16 connections kept busy, p50 is mostly queueing (16 requests in flight over the throughput):",
            "the exact mode's added p50 above includes the throughput it loses, not only a call's round trip.",
            "The same two cases with one connection (`wrk -c1`, one request at a time), in the same rounds:",
            "",
            f"| case | req/s | p50 ms | p99 ms | Envoy CPU µs/req | quota-service CPU µs/req | Redis CPU µs/req | "
            f"calls/req | busy core 0 / 1 | req/s vs {ALONE['quota']} | Envoy CPU vs {ALONE['quota']} | p50 added ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            row(one_connection(ALONE["quota"]), quiet_local, quiet_local, "– | – | – | ", rounds=False),
            row(one_connection(GLOBAL["exact"]), quiet_exact, quiet_local, store_cells(quiet_exact), rounds=False),
        ]
    return lines


def goal_lines(all_cases, ratio, cpu_ratio, router: str, native: str, extra: list[str] = ()) -> list[str]:
    """The goals, each with its measured value, met or missed, and by how much. A throughput goal
    is judged on the lower of two ratios: requests per second (paired in each round) and Envoy CPU
    per request (what the reference case's cost per request is over the case's, paired the same
    way). A slow spell of this machine in one case's run moves the first; a client that cannot
    keep Envoy busy (router only can be client-bound) moves the second less."""
    lines = [
        "",
        "## Goals",
        "",
        "Throughput goals are judged on the lower of the req/s ratio and the Envoy CPU ratio.",
        "",
        "| goal | req/s ratio | CPU ratio | verdict |",
        "|---|---:|---:|---|",
    ]
    names = [n for n, _ in all_cases]

    def judged(n, to, goal, label, unit):
        lines.append(ratio_goal_row(label, ratio(n, to), cpu_ratio(n, to), goal, unit))

    if BUNDLE in names:
        judged(BUNDLE, native, 1.0, "bundle gateway root ≥ 1.00 × native chain", "%")
    for n in names:
        if n.endswith(" alone"):
            judged(n, router, 0.85, f"{n} ≥ 0.85 × router only", "points")
    lines += extra
    for module, limit in SIZE_GOALS.items():
        path = DIST / module
        if path.exists():
            size = path.stat().st_size
            lines.append(f"| {module} ≤ {limit // 1000} KB | {size / 1000:.0f} KB | | {verdict(size <= limit)}"
                         + ("" if size <= limit else f" by {(size - limit) / 1000:.0f} KB") + " |")
    return lines


def call_cost_lines(call_cpu: dict[str, list[float]], costs: dict[str, dict], case_cpu: dict[str, float]) -> list[str]:
    """Per-call host costs, and how much of each module's added CPU they account for."""
    rounds = range(len(call_cpu["none"]))
    measured = statistics.median(call_cpu["none"][r] - call_cpu["router"][r] for r in rounds)
    # Below zero only when this run's noise exceeds the cost: the estimates then take it as zero.
    fixed = max(measured, 0.0)
    fixed_text = (f"costs {measured:.1f} µs per request over router only" if measured > 0 else
                  f"measured {measured:.1f} µs per request over router only, below this run's noise (taken as 0"
                  " below)")
    per_call = {c: statistics.median((call_cpu[c][r] - call_cpu["none"][r]) / COST_REPEAT for r in rounds)
                for c in COST_CALLS}
    lines = [
        "",
        "## What a host call costs in Envoy",
        "",
        f"`filters/core/examples/hostcall_cost.rs` repeats one call {COST_REPEAT} times per request; the cost of",
        "a call is the Envoy CPU per request above the module's `none` root, divided by the repeats (median",
        "over rounds, paired within each round). The module doing nothing (the SDK's callbacks for each",
        f"stream) {fixed_text}.",
        "",
        "| call | µs per call |",
        "|---|---:|",
    ]
    lines += [f"| {c} | {per_call[c]:.2f} |" for c in COST_CALLS]
    base = case_cpu.get(ROUTER)
    names = {**ALONE, BUNDLE: BUNDLE}
    lines += [
        "",
        "## Where the added time goes",
        "",
        "Each module's added Envoy CPU per request (its case minus router only) against an estimate of",
        "its host boundary work: the callbacks (the `none` module's cost) plus its host calls of the",
        "crossing table, each at the measured cost of its kind. The rest is the module's own wasm",
        "execution (see the fuel table) and the per-stream work Envoy does for a wasm filter; the sampled",
        "split above tells the two apart for the bundle (wasm is the smaller part). The per-call times",
        "repeat one call with its code and data warm in the caches; in a request each call runs among",
        "other work, so this table understates the host calls: the counted split above shows their share",
        "of each module's added instructions.",
        "",
        "| module | added µs/req | callbacks µs | host calls µs | rest µs | fuel per request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for module, case in names.items():
        if module not in costs or case not in case_cpu or base is None:
            continue
        calls = sum(k * per_call[CALL_KIND[n]] for n, k in costs[module]["crossings"]["hostcalls"].items()
                    if n in CALL_KIND)
        added = case_cpu[case] - base
        fuel = sum(f["fuel_per_request"] for f in costs[module]["filters"])
        lines.append(f"| {module} | {added:.1f} | {fixed:.1f} | {calls:.1f} | {added - fixed - calls:.1f} | {fuel:,} |")
    native = case_cpu.get(NATIVE)
    if base is not None:
        budget = base * (1 / 0.85 - 1)
        lines += [
            "",
            f"What this means for the goals: to keep 0.85 of router only ({base:.1f} µs per request), a filter",
            f"may add at most {budget:.1f} µs per request. A module doing nothing adds {fixed:.1f} µs: the SDK's",
            "callbacks for each stream cost Envoy that much before any filter code or host call runs.",
        ]
        if native is not None and BUNDLE in case_cpu:
            lines += [
                f"The native chain adds {native - base:.1f} µs over router only; the bundle adds "
                f"{case_cpu[BUNDLE] - base:.1f} µs, as split in the table above.",
            ]
        lines += floor_lines(call_cpu)
    return lines


def floor_lines(call_cpu: dict[str, list[float]]) -> list[str]:
    """What any wasm module costs: the abi-floor modules and the SDK's module doing nothing, as
    Envoy CPU over router only and the share of router only's throughput they keep by Envoy CPU
    (router only's CPU per request over theirs; paired within each round, median over rounds)."""
    rounds = range(len(call_cpu["router"]))
    names = [name for name in FLOORS if call_cpu.get(name)] + ["none"]
    if len(names) == 1 or not call_cpu["none"]:
        return []
    lines = [
        "",
        "What Envoy spends on any wasm module, whatever it does (filters/abi-floor is written against",
        "the ABI without the SDK; Envoy skips the callbacks a module does not export):",
        "",
        "| module | µs per request over router only | keeps of router only (by Envoy CPU) |",
        "|---|---:|---:|",
    ]
    for name in names:
        added = statistics.median(call_cpu[name][r] - call_cpu["router"][r] for r in rounds)
        keeps = statistics.median(call_cpu["router"][r] / call_cpu[name][r] for r in rounds)
        label = NOTHING if name == "none" else name
        lines.append(f"| {label} | {added:.1f} | {keeps:.2f} |")
    return lines


SPLIT_CASES = (ROUTER, ALONE["routing"], BUNDLE, NATIVE)

NOTHING = "a module doing nothing, through the SDK"
PORTABLE_AUTH = "auth alone, portable build"
# Envoy's resident memory is measured for these, at concurrency 1 and 2.
MEMORY_CASES = (ROUTER, NATIVE, *FLOORS, NOTHING, ALONE["auth"], PORTABLE_AUTH, ALONE["quota"],
                ALONE["analytics"], ALONE["routing"], "four modules", BUNDLE)


def instruction_counts(all_cases, upstream: int, token: str, work: Path, rls: int | None = None
                       ) -> tuple[dict[str, envoy_count.Counts], dict[str, float]]:
    """Envoy's instructions per request for each case and a module doing nothing, and per host
    call (hostcall_cost roots), counted by callgrind; nothing when valgrind is missing. The global
    store's cases among `all_cases` reach the rate limit service at port `rls`; only Envoy's
    process is counted, not the service's or Redis's work."""
    if not shutil.which("valgrind"):
        return {}, {}
    filters = dict(all_cases)
    if COST_MODULE.exists():
        filters = {ROUTER: filters[ROUTER], **floor_cases(), NOTHING: cost_case("none"), **filters}

    def count(name: str, yaml: str, requests: int) -> envoy_count.Counts:
        service = rls if name in GLOBAL.values() else None
        c = envoy_count.count(lambda listen, admin: gateway_yaml(listen, admin, upstream, yaml, service),
                              request_headers(token), work / re.sub(r"\W+", "-", name), requests)
        print(f"counted {name:40} {c.instructions:>10,.0f} instructions/req  {c.l1i_misses:>7,.0f} L1i misses",
              flush=True)
        return c

    counted = {name: count(name, yaml, envoy_count.REQUESTS) for name, yaml in filters.items()}
    calls: dict[str, float] = {}
    if COST_MODULE.exists():
        per = {c: count(f"call {c}", cost_case(c), envoy_count.CALL_REQUESTS) for c in ["none", *COST_CALLS]}
        calls = {c: (per[c].instructions - per["none"].instructions) / COST_REPEAT for c in COST_CALLS}
    return counted, calls


def global_count_lines(counted: dict[str, "envoy_count.Counts"]) -> list[str]:
    """What the global store's counts cover: Envoy's process only."""
    if not any(name in counted for name in GLOBAL.values()):
        return []
    return ["", "The global store's cases count Envoy's process only: its gRPC calls to quota-service (one per",
            f"request in `exact`, one per {STORE_BLOCK} requests sent one after another in `leased`) are in them; the",
            "service's and Redis's work is not (their CPU per request is in the global store's timed table)."]


def instruction_split_lines(counted: dict[str, "envoy_count.Counts"], costs: dict[str, dict]) -> list[str]:
    """Each module's added instructions split, all from the counts: the callbacks (what the
    module doing nothing adds), its own compiled wasm (JIT beyond the module doing nothing's),
    and the rest, which is its host calls and what Envoy does for them."""
    base, nothing = counted.get(ROUTER), counted.get(NOTHING)
    if base is None or nothing is None:
        return []
    callbacks = nothing.instructions - base.instructions
    lines = [
        "",
        "Where each module's added instructions go: the callbacks (what the module doing nothing adds),",
        "the module's own compiled wasm (JIT beyond the module doing nothing's), and the rest: its host",
        "calls (from the crossing table; those that hand data over include the allocator call) and what",
        "Envoy does for them, such as recomputing the route after a request header edit.",
        "",
        "| module | added instructions | callbacks | own wasm (JIT) | host calls and their effects | "
        "host calls (host-test trace) | of which hand data over | per host call |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for module, case in {**ALONE, BUNDLE: BUNDLE}.items():
        if module not in costs or case not in counted:
            continue
        c = counted[case]
        added = c.instructions - base.instructions
        own = c.jit - nothing.jit
        rest = added - callbacks - own
        crossing = costs[module]["crossings"]
        n = sum(crossing["hostcalls"].values())
        lines.append(f"| {module} | {added:,.0f} | {callbacks:,.0f} | {own:,.0f} | {rest:,.0f} | {n} | "
                     f"{crossing['allocations']} | {rest / max(n, 1):,.0f} |")
    return lines


def dso_shares(sample: Path) -> dict[str, float]:
    """Share of the samples in each object (`perf report --sort dso`): `envoy` is Envoy's binary
    (with V8's runtime and builtins, which it links in), `[JIT]` the wasm code V8 compiled."""
    out = subprocess.run(["perf", "report", "-i", str(sample), "--sort", "dso", "--stdio"],
                         capture_output=True, text=True).stdout
    shares: dict[str, float] = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(.+?)\s*$", line)
        if m:
            dso = "wasm (JIT)" if m.group(2).startswith("[JIT]") else m.group(2)
            shares[dso] = shares.get(dso, 0.0) + float(m.group(1))
    return shares


def split_lines(split: dict[str, tuple[float, dict[str, float]]]) -> list[str]:
    """Envoy CPU per request split by where the samples fell."""
    if not split:
        return ["", "## Where Envoy's time goes (sampled)", "", "Not measured: `perf record` was unavailable."]
    parts = ["envoy", "wasm (JIT)", "[kernel.kallsyms]", "libc.so.6"]
    lines = [
        "",
        "## Where Envoy's time goes (sampled)",
        "",
        "One more run of each case with `perf record -e cpu-clock` on Envoy: its CPU per request split by",
        "where the samples fell. `envoy` is Envoy's own code with V8's runtime (host calls, the C API",
        "crossings, context management all run there); `wasm (JIT)` is the modules' compiled code, the",
        "part host-test's fuel counts; the rest is the kernel (sockets) and libc.",
        "",
        "| case | Envoy CPU µs/req | envoy | wasm (JIT) | kernel | libc | other |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    # µs per request in each object, by case.
    us = {name: {p: cpu * shares.get(p, 0.0) / 100 for p in parts} for name, (cpu, shares) in split.items()}
    for name, (cpu, _) in split.items():
        cells = [us[name][p] for p in parts]
        other = cpu - sum(cells)
        lines.append(f"| {name} | {cpu:.1f} | " + " | ".join(f"{c:.1f}" for c in cells) + f" | {other:.1f} |")
    base = split.get(ROUTER)
    if base is not None:
        for name, (cpu, _) in split.items():
            if name == ROUTER:
                continue
            envoy_added = us[name]["envoy"] - us[ROUTER]["envoy"]
            lines.append("")
            lines.append(f"{name}: {cpu - base[0]:.1f} µs per request over router only, of which "
                         f"{envoy_added:.1f} in Envoy's own code and {us[name]['wasm (JIT)']:.1f} in wasm.")
    return lines


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    envoy = subprocess.run([str(ROOT / ".venv/bin/envoy"), "--version"], capture_output=True, text=True).stdout
    version = re.search(r"version: \S+/([\d.]+)", envoy)
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, Linux {platform.release()}, Envoy {version.group(1) if version else '?'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "scripts" / "bench-results.md")
    ap.add_argument("--count-only", action="store_true",
                    help="only count Envoy's instructions per request (callgrind) and print them: "
                         "a few minutes, and the same numbers within 1 %% on every run (the global "
                         "store's cases count Envoy's process, not quota-service's or Redis's)")
    args = ap.parse_args()

    rs = Rs256()
    all_cases = cases(rs)
    if args.count_only:
        with tempfile.TemporaryDirectory(prefix="bench-count-") as tmp:
            up_listen, up_admin = free_port(), free_port()
            with PinnedEnvoy(upstream_yaml(up_listen, up_admin), Path(tmp) / "upstream", admin_port=up_admin,
                             concurrency=1, log_level="warn", cpu=1), \
                    global_store(rs, Path(tmp) / "store") as service:
                store = global_cases(rs) if service else []
                counted, call_counts = instruction_counts(in_round(all_cases, store), up_listen, rs.token,
                                                          Path(tmp) / "count",
                                                          service.grpc_port if service else None)
        if not counted:
            raise SystemExit("valgrind is not installed (scripts/bench installs it)")
        with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
            costs = host_test_costs(rs, Path(tmp), requests=1)
        print("\n".join(envoy_count.lines(counted, call_counts, COST_REPEAT, ROUTER, NATIVE, BUNDLE)
                        + global_count_lines(counted) + instruction_split_lines(counted, costs)))
        return
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        costs = host_test_costs(rs, Path(tmp))
        profile = guest_profile(rs, Path(tmp))
    print(json.dumps(costs), flush=True)
    results: dict[str, list[dict]] = {name: [] for name, _ in all_cases}
    fresh = fresh_cases(rs)
    fresh_results: dict[str, list[dict]] = {name: [] for name, _ in fresh}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        script = token_script(rs.fresh_tokens(FRESH_TOKENS), work / "fresh-tokens.lua")
        up_listen, up_admin = free_port(), free_port()
        upstream = PinnedEnvoy(upstream_yaml(up_listen, up_admin), work / "upstream", admin_port=up_admin,
                               concurrency=1, log_level="warn", cpu=1)
        with upstream, global_store(rs, work / "store") as service:
            store = global_cases(rs) if service else []
            rls = service.grpc_port if service else None
            in_rounds = in_round(all_cases, store)
            # Quota alone and the exact mode once more with one connection, when the store runs.
            quiet = [(one_connection(n), dict(in_rounds)[n]) for n in (ALONE["quota"], GLOBAL["exact"]) if store]
            results.update({name: [] for name, _ in [*store, *quiet]})

            def store_args(name: str) -> dict:
                """run_case's arguments for the cases of the global store's section: the upstream's
                CPU; for the global store's own, also the service's cluster, its and Redis's CPU,
                and the calls the filter made."""
                if name in (ALONE["quota"], one_connection(ALONE["quota"])):
                    return {"watch": {"upstream": upstream.pid}}
                if not any(name.startswith(g) for g in GLOBAL.values()):
                    return {}
                return {"rls": rls, "counters": (GLOBAL_CALLS,),
                        "watch": {"upstream": upstream.pid, "quota-service": service.proc.pid,
                                  "redis": service.redis.proc.pid}}

            for r in range(args.rounds):
                for name, filters in [*in_rounds, *quiet]:
                    res = run_case(name, filters, up_listen, args.seconds, rs.token, work / f"r{r}",
                                   connections=1 if (name, filters) in quiet else 16, **store_args(name))
                    also = "".join(f"  {label} {us:.1f} us/req" for label, us in res["cpu_us_of"].items())
                    also += "".join(f"  calls {n:.3f}/req" for n in res["per_request"].values())
                    print(f"round {r + 1} {name:40} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}{also}",
                          flush=True)
                    results[name].append(res)
                for name, filters in fresh:
                    res = run_case(f"fresh {name}", filters, up_listen, args.seconds, rs.token, work / f"f{r}",
                                   script=script)
                    print(f"round {r + 1} fresh tokens {name:27} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}",
                          flush=True)
                    fresh_results[name].append(res)
            memory: dict[tuple[str, int], int] = {}
            memory_cases = dict(all_cases)
            memory_cases.update(floor_cases())
            if COST_MODULE.exists():
                memory_cases[NOTHING] = cost_case("none")
            if (DIST / "filter_auth_portable.wasm").exists():
                memory_cases[PORTABLE_AUTH] = wasm_filter("auth", "filter_auth_portable.wasm", "auth",
                                                          plugin_configs(rs)["auth"])
            for name in MEMORY_CASES:
                filters = memory_cases.get(name)
                for conc in (1, 2):
                    if filters is not None:
                        memory[name, conc] = run_case(f"memory {name} c{conc}", filters, up_listen, 2, rs.token,
                                                      work / "mem", conc)["rss_kib"]
            split: dict[str, tuple[float, dict[str, float]]] = {}
            if shutil.which("perf"):
                for name in SPLIT_CASES:
                    filters = next((f for n, f in all_cases if n == name), None)
                    sample = work / f"perf-{re.sub(r'[^a-z]+', '-', name)}.data"
                    if filters is None:
                        continue
                    res = run_case(f"sampled {name}", filters, up_listen, args.seconds, rs.token, work / "perf",
                                   sample=sample)
                    shares = dso_shares(sample) if sample.exists() else {}
                    if shares:
                        split[name] = (res["cpu_us"], shares)
                        print(f"sampled {name:40} cpu {res['cpu_us']:.1f} us/req  {shares}", flush=True)
            counted, call_counts = instruction_counts(in_round(all_cases, store), up_listen, rs.token,
                                                      work / "count", rls)
            floors = floor_cases()
            call_cpu: dict[str, list[float]] = {c: [] for c in ["router", *floors, "none", *COST_CALLS]}
            if COST_MODULE.exists():
                for r in range(args.rounds):
                    for call in call_cpu:
                        filters = "" if call == "router" else floors.get(call) or cost_case(call)
                        res = run_case(f"call {call}", filters, up_listen, max(args.seconds // 2, 2),
                                       rs.token, work / f"c{r}")
                        call_cpu[call].append(res["cpu_us"])
                        print(f"round {r + 1} call {call:24} cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}",
                              flush=True)

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    def ratio(name, to):
        return rps_ratio(results[name], results[to])

    def cpu_ratio(name, to):
        return cpu_ratio_of(results[name], results[to])

    lines = [
        "# Benchmark results",
        "",
        f"Command: `scripts/bench --seconds {args.seconds} --rounds {args.rounds}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Envoy `--concurrency 1` pinned to core 0; `wrk -t1 -c16` and the upstream (Envoy direct response) on core 1;",
        "`GET /v1/orders/1` with an RS256 bearer token on every request. Every round runs every case once, in order;",
        "ratios are the median over rounds of the ratio within each round (rounds drift together on this",
        "machine). Envoy CPU is the user + system time Envoy used per request during the run: Envoy's core is",
        "saturated, so it is the cost per request, less sensitive than req/s to the client sharing a core.",
        "",
        "| case | req/s | p50 ms | p99 ms | Envoy CPU µs/req | vs router only | vs native chain | rounds (req/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [case_row(name, results[name], results[ROUTER], results[NATIVE]) for name, _ in all_cases]
    lines += fresh_lines(fresh_results, results[ROUTER], NATIVE)
    lines += global_lines(results)
    lines += goal_lines(all_cases, ratio, cpu_ratio, ROUTER, NATIVE, global_goal_rows(results))
    lines += [
        "",
        "## Memory (Envoy resident set after a 2 s load)",
        "",
        f"Added is over router only at the same concurrency. `{NOTHING}` is filter-core's",
        "`hostcall_cost` example with its `none` root: what V8 and Envoy's wasm machinery cost before any",
        "filter code, with the SDK; the modules without the SDK are filters/abi-floor.",
        "",
        "| case | concurrency 1 | added | concurrency 2 | added |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in MEMORY_CASES:
        row = f"| {name} |"
        for conc in (1, 2):
            kib, base_kib = memory.get((name, conc)), memory.get((ROUTER, conc))
            row += f" {kib / 1024:.1f} MiB | {(kib - base_kib) / 1024:.1f} MiB |" if kib and base_kib else " – | – |"
        if (name, 1) in memory:
            lines.append(row)
    lines += ["", "## Module sizes (after wasm-opt)", "", "| module | bytes |", "|---|---:|"]
    for wasm in sorted(DIST.glob("*.wasm")):
        lines.append(f"| {wasm.name} | {wasm.stat().st_size:,} |")
    lines += ["", "filter_auth.wasm and filter_bundle.wasm are the builds for Envoy, which checks RS* and ES*",
              "signatures itself (`verify_signature`); filter_auth_portable.wasm also checks them in the module,",
              "for hosts without that function. The size goal is judged on the module for Envoy."]
    lines += split_lines(split)
    if counted:
        lines += envoy_count.lines(counted, call_counts, COST_REPEAT, ROUTER, NATIVE, BUNDLE)
        lines += global_count_lines(counted)
        lines += instruction_split_lines(counted, costs)
    lines += cost_lines(costs)
    lines += profile
    if call_cpu["none"]:
        lines += call_cost_lines(call_cpu, costs, {n: median(n, "cpu_us") for n, _ in all_cases})
    args.out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
