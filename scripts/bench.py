"""Benchmarks of the gateway filters in a real Envoy, side by side in one interleaved run.

Envoy runs with --concurrency 1 pinned to core 0; wrk and the upstream (a second Envoy answering
with a direct response) share core 1. Every case runs once per round, rounds interleave the cases,
and each case is reported by its median round, as requests per second, p50 and p99 latency and
ratios to the router-only case and to Envoy's native chain (jwt_authn RS256 + local_ratelimit).
Also reported: Envoy's resident memory with the suite at concurrency 1 and 2, each .wasm's size,
and host-test's deterministic per-request cost (wasmtime fuel) of each filter.

Usage: .venv/bin/python scripts/bench.py [--seconds 10] [--rounds 3] [--out scripts/bench-results.md]
(scripts/bench builds and installs what this needs, then runs it.)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import re
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

DIST = ROOT / "dist"
ISSUER = "https://bench.example"
AUDIENCE = "bench"
CONSUMER = "bench"


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
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": CONSUMER, "iat": now, "exp": now + 86400}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        self.token = signing_input + "." + b64url(sig)


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
        "headers": {"on_success": True, "ietf": True, "x_ratelimit": True},
        "unidentified": "allow",
    }
    analytics = json.loads((ROOT / "envoy-config" / "plugins" / "analytics.json").read_text())
    routing = json.loads((ROOT / "envoy-config" / "plugins" / "routing.json").read_text())
    return {"auth": auth, "quota": quota, "analytics": analytics, "routing": routing}


def wasm_filter(name: str, module: str, root_id: str, config: dict) -> str:
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
              filter_enforced: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}"""


def gateway_yaml(listen: int, admin: int, upstream: int, filters: str) -> str:
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


def cases(rs: Rs256) -> list[tuple[str, str]]:
    """(name, http_filters YAML) of every case, in run order."""
    c = plugin_configs(rs)
    separate = "".join(wasm_filter(n, f"filter_{n}.wasm", n, c[n]) for n in ("auth", "quota", "analytics", "routing"))
    out = [("router only", "")]
    for n in ("auth", "quota", "analytics", "routing"):
        out.append((f"{n} alone", wasm_filter(n, f"filter_{n}.wasm", n, c[n])))
    out.append(("four modules", separate))
    if (DIST / "filter_bundle.wasm").exists():
        out.append(("bundle gateway root", wasm_filter("gateway", "filter_bundle.wasm", "gateway", c)))
    out.append(("native jwt_authn + local_ratelimit", native_chain(rs)))
    return out


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


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": int(non2xx.group(1)) if non2xx else 0}


def run_case(name: str, filters: str, upstream_port: int, seconds: int, token: str, work: Path, concurrency=1):
    listen, admin = free_port(), free_port()
    env = PinnedEnvoy(gateway_yaml(listen, admin, upstream_port, filters), work / re.sub(r"\W+", "-", name),
                      admin_port=admin, concurrency=concurrency, log_level="warn", cpu=0)
    with env:
        url = f"http://127.0.0.1:{listen}/v1/orders/1"
        header = ["-H", f"Authorization: Bearer {token}"]
        check = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *header, url],
                               capture_output=True, text=True)
        if check.stdout != "200":
            raise SystemExit(f"{name}: a probe request answered {check.stdout}, not 200\n{env.log_tail()}")
        subprocess.run(pinned(1, ["wrk", "-t1", "-c16", "-d2s", *header, url]), capture_output=True)  # warm-up
        out = subprocess.run(pinned(1, ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", *header, url]),
                             capture_output=True, text=True, check=True).stdout
        result = parse_wrk(out)
        result["rss_kib"] = rss_kib(env.pid)
        return result


def host_test_costs(rs: Rs256, work: Path, requests: int = 2000) -> dict[str, dict]:
    """host-test's deterministic per-request cost (wasmtime fuel) of each filter and of the bundle,
    for the same request the Envoy runs send (`host-test bench`, first request of a scenario)."""
    binary = ROOT / "target" / "debug" / "host-test"
    c = plugin_configs(rs)
    request = {"method": "GET", "path": "/v1/orders/1", "headers": {"authorization": f"Bearer {rs.token}"}}
    filters = {n: [{"module": str(DIST / f"filter_{n}.wasm"), "name": n, "config": c[n]}] for n in c}
    filters["bundle gateway root"] = [
        {"module": str(DIST / "filter_bundle.wasm"), "name": "gateway", "root_id": "gateway", "config": c}
    ]
    out = {}
    for name, spec in filters.items():
        slug = re.sub(r"\W+", "-", name)
        scenario = work / f"cost-{slug}.json"
        scenario.write_text(json.dumps({"filters": spec, "clusters": ["collector", "api_v1", "api_v2"],
                                        "steps": [{"request": request}]}))
        r = subprocess.run([str(binary), "bench", str(scenario), "-n", str(requests), "--json"],
                           capture_output=True, text=True, cwd=ROOT)
        if r.returncode != 0:
            raise SystemExit(f"host-test bench {name} failed:\n{r.stdout}{r.stderr}")
        out[name] = json.loads(r.stdout)
    return out


def cost_lines(costs: dict[str, dict]) -> list[str]:
    """The host-test section of the results: fuel is deterministic, wall time is not."""
    lines = [
        "",
        "## host-test per-request cost",
        "",
        "`host-test bench`, same request as above, 2000 requests per module. Fuel (wasmtime's count of",
        "executed wasm operations) is deterministic: the same module and request always give the same",
        "number. Wall time (host-test in a dev build, not V8) is indicative only.",
        "",
        "| module | fuel per request | wall p50 µs |",
        "|---|---:|---:|",
    ]
    for name, c in costs.items():
        fuel = sum(f["fuel_per_request"] for f in c["filters"])
        lines.append(f"| {name} | {fuel:,} | {c['request_wall_ns_p50'] / 1000:.0f} |")
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
    args = ap.parse_args()

    rs = Rs256()
    all_cases = cases(rs)
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        costs = host_test_costs(rs, Path(tmp))
    print(json.dumps(costs), flush=True)
    results: dict[str, list[dict]] = {name: [] for name, _ in all_cases}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        up_listen, up_admin = free_port(), free_port()
        upstream = PinnedEnvoy(upstream_yaml(up_listen, up_admin), work / "upstream", admin_port=up_admin,
                               concurrency=1, log_level="warn", cpu=1)
        with upstream:
            for r in range(args.rounds):
                for name, filters in all_cases:
                    res = run_case(name, filters, up_listen, args.seconds, rs.token, work / f"r{r}")
                    print(f"round {r + 1} {name:40} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  errors {res['errors']}", flush=True)
                    results[name].append(res)
            memory = {}
            four = next(f for n, f in all_cases if n == "four modules")
            for conc in (1, 2):
                memory[conc] = run_case(f"memory c{conc}", four, up_listen, 2, rs.token, work / "mem", conc)["rss_kib"]
                memory[f"router{conc}"] = run_case(f"memory router c{conc}", "", up_listen, 2, rs.token,
                                                   work / "mem", conc)["rss_kib"]

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    base = median("router only", "rps")
    native = median("native jwt_authn + local_ratelimit", "rps")
    lines = [
        "# Benchmark results",
        "",
        f"Command: `scripts/bench --seconds {args.seconds} --rounds {args.rounds}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Envoy `--concurrency 1` pinned to core 0; `wrk -t1 -c16` and the upstream (Envoy direct response) on core 1;",
        "`GET /v1/orders/1` with an RS256 bearer token on every request. Median of the rounds; rounds interleave the cases.",
        "",
        "| case | req/s | p50 ms | p99 ms | vs router only | vs native chain | rounds (req/s) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, _ in all_cases:
        rps = median(name, "rps")
        rounds = " / ".join(f"{r['rps']:.0f}" for r in results[name])
        lines.append(f"| {name} | {rps:.0f} | {median(name, 'p50'):.2f} | {median(name, 'p99'):.2f} | "
                     f"{rps / base:.2f} | {rps / native:.2f} | {rounds} |")
    lines += [
        "",
        "## Memory (Envoy resident set after a 2 s load)",
        "",
        "| concurrency | router only | four modules | added by the suite |",
        "|---:|---:|---:|---:|",
    ]
    for conc in (1, 2):
        lines.append(f"| {conc} | {memory[f'router{conc}'] / 1024:.1f} MiB | {memory[conc] / 1024:.1f} MiB | "
                     f"{(memory[conc] - memory[f'router{conc}']) / 1024:.1f} MiB |")
    lines += ["", "## Module sizes (after wasm-opt)", "", "| module | bytes |", "|---|---:|"]
    for wasm in sorted(DIST.glob("*.wasm")):
        lines.append(f"| {wasm.name} | {wasm.stat().st_size:,} |")
    lines += cost_lines(costs)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
