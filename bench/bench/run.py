"""The runs: Envoy pinned to core 0 with wrk and the upstream on core 1, the global store
(quota-service and Redis) on core 1 too, perf samples, and callgrind counts (envoy_count.py); then
the two runs scripts/bench makes of the cases: the timed run (`timed`) and --count-only
(`count_only`).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.envoy import Envoy
from harness.ports import free_port
from harness.ratelimit import QuotaService, Redis, service_binary

from bench import ROOT, envoy_count
from bench.cases import (ALONE, ANSWERED_4XX, ANSWERED_5XX, AUTH_CHECKS, AUTH_LIMITED, AUTH_REFUSED,
                         AUTH_REMEMBERED, COST_CALLS, COST_MODULE, COST_REPEAT, FORGED_COUNTERS, FORGED_TOKENS,
                         FRESH_TOKENS, GLOBAL, GLOBAL_CALLS, MEMORY_CASES, NATIVE_REFUSED, NOTHING, ROUTER,
                         SPLIT_CASES, Filters, Rs256, cost_case, floor_cases, forged_cases, forged_tokens,
                         fresh_cases, global_cases, global_quota_config, in_round, memory_cases, one_connection,
                         request_headers)
from bench.configs import gateway_yaml, upstream_yaml
from bench.hosttest import guest_profile, host_test_costs
from bench.report import Measured

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


def run_case(name: str, filters: Filters, upstream_port: int, seconds: int, token: str, work: Path, concurrency=1,
             sample: Path | None = None, script: Path | None = None, rls: int | None = None,
             watch: dict[str, int] | None = None, counters: tuple[str, ...] = (), connections: int = 16,
             warmup_script: Path | None = None):
    """One load run of a case; with `sample`, Envoy is also sampled by `perf record` into that file;
    with `script`, wrk sends the requests that wrk Lua script makes (instead of `token`'s), in the
    warm-up too unless `warmup_script` is given for it; with
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
        warm = ["-s", str(warmup_script)] if warmup_script is not None else load
        subprocess.run(pinned(1, ["wrk", "-t1", f"-c{connections}", "-d2s", *warm, url]),
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


def forged_scripts(work: Path) -> tuple[Path, Path]:
    """The wrk Lua scripts of the forged-token cases: FORGED_TOKENS forged tokens for the timed
    run, and as many others for the warm-up, so that no token of the timed run has been seen by
    the worker (each wrk run starts its rotation over)."""
    return (token_script(forged_tokens(FORGED_TOKENS), work / "forged-tokens.lua"),
            token_script(forged_tokens(FORGED_TOKENS, start=FORGED_TOKENS), work / "forged-warmup.lua"))


def run_forged(name: str, filters: Filters, upstream_port: int, seconds: int, token: str, work: Path,
               scripts: tuple[Path, Path], r: int) -> dict:
    """Round `r` of a forged-token case: run_case with wrk sending the forged tokens of `scripts`
    (forged_scripts: the timed run's, the warm-up's), reading FORGED_COUNTERS around the timed run
    (the probe request before it still sends the bench's valid `token`, which the forged cases'
    JWKS verifies: the configuration admits it). Every answer is a refusal here, so wrk's non-2xx
    count is expected; what is printed is what was admitted, and the answers by class."""
    script, warmup = scripts
    res = run_case(f"forged {name}", filters, upstream_port, seconds, token, work, script=script,
                   counters=FORGED_COUNTERS, warmup_script=warmup)
    per = res["per_request"]
    checks = sum(per[c] for c in AUTH_CHECKS)
    print(f"round {r + 1} forged tokens {name:28} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
          f"p99 {res['p99']:.2f} ms  cpu {res['cpu_us']:.1f} us/req  admitted {res['requests'] - res['errors']}  "
          f"4xx {per[ANSWERED_4XX]:.3f}/req  5xx {per[ANSWERED_5XX]:.3f}/req  "
          f"refused {per[AUTH_REFUSED] + per[NATIVE_REFUSED]:.3f}/req  checks {checks:.3f}/req  "
          f"out of checks {per[AUTH_LIMITED]:.3f}/req  remembered {per[AUTH_REMEMBERED]:.3f}/req", flush=True)
    return res


def forged_only(rs: Rs256, seconds: int, rounds: int) -> dict[str, list[dict]]:
    """--forged-only: the forged-token cases alone, in `rounds` rounds of `seconds` each, with the
    upstream on core 1 as in the timed run: each case's rounds."""
    forged = forged_cases(rs)
    results: dict[str, list[dict]] = {name: [] for name, _ in forged}
    with tempfile.TemporaryDirectory(prefix="bench-forged-") as tmp:
        work = Path(tmp)
        scripts = forged_scripts(work)
        up_listen, up_admin = free_port(), free_port()
        with PinnedEnvoy(upstream_yaml(up_listen, up_admin), work / "upstream", admin_port=up_admin,
                         concurrency=1, log_level="warn", cpu=1):
            for r in range(rounds):
                for name, filters in forged:
                    results[name].append(run_forged(name, filters, up_listen, seconds, rs.token, work / f"x{r}",
                                                    scripts, r))
    return results


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

    def count(name: str, case: Filters, requests: int) -> envoy_count.Counts:
        service = rls if name in GLOBAL.values() else None
        c = envoy_count.count(lambda listen, admin: gateway_yaml(listen, admin, upstream, case, service),
                              request_headers(token), work / re.sub(r"\W+", "-", name), requests)
        print(f"counted {name:40} {c.instructions:>10,.0f} instructions/req  {c.l1i_misses:>7,.0f} L1i misses",
              flush=True)
        return c

    counted = {name: count(name, case, envoy_count.REQUESTS) for name, case in filters.items()}
    calls: dict[str, float] = {}
    if COST_MODULE.exists():
        per = {c: count(f"call {c}", cost_case(c), envoy_count.CALL_REQUESTS) for c in ["none", *COST_CALLS]}
        calls = {c: (per[c].instructions - per["none"].instructions) / COST_REPEAT for c in COST_CALLS}
    return counted, calls


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


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    envoy = subprocess.run([str(ROOT / ".venv/bin/envoy"), "--version"], capture_output=True, text=True).stdout
    version = re.search(r"version: \S+/([\d.]+)", envoy)
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB, Linux {platform.release()}, Envoy {version.group(1) if version else '?'}"


def count_only(rs: Rs256, all_cases: list[tuple[str, Filters]]
               ) -> tuple[dict[str, envoy_count.Counts], dict[str, float], dict[str, dict]]:
    """--count-only: Envoy's instructions per request of every case (the global store's too, when
    it runs) and per host call, and host-test's crossings (one request per module)."""
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
    return counted, call_counts, costs


def timed(rs: Rs256, all_cases: list[tuple[str, Filters]], seconds: int, rounds: int) -> Measured:
    """The timed run: host-test's costs and guest profile, then in `rounds` rounds of `seconds`
    each every case (the global store's, the fresh-token and the forged-token ones too), then
    memory, perf samples, callgrind counts and the host call cases."""
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        costs = host_test_costs(rs, Path(tmp))
        profile = guest_profile(rs, Path(tmp))
    print(json.dumps(costs), flush=True)
    results: dict[str, list[dict]] = {name: [] for name, _ in all_cases}
    fresh = fresh_cases(rs)
    fresh_results: dict[str, list[dict]] = {name: [] for name, _ in fresh}
    forged = forged_cases(rs)
    forged_results: dict[str, list[dict]] = {name: [] for name, _ in forged}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        script = token_script(rs.fresh_tokens(FRESH_TOKENS), work / "fresh-tokens.lua")
        forged_tokens_lua = forged_scripts(work)
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

            for r in range(rounds):
                for name, filters in [*in_rounds, *quiet]:
                    res = run_case(name, filters, up_listen, seconds, rs.token, work / f"r{r}",
                                   connections=1 if (name, filters) in quiet else 16, **store_args(name))
                    also = "".join(f"  {label} {us:.1f} us/req" for label, us in res["cpu_us_of"].items())
                    also += "".join(f"  calls {n:.3f}/req" for n in res["per_request"].values())
                    print(f"round {r + 1} {name:40} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}{also}",
                          flush=True)
                    results[name].append(res)
                for name, filters in fresh:
                    res = run_case(f"fresh {name}", filters, up_listen, seconds, rs.token, work / f"f{r}",
                                   script=script)
                    print(f"round {r + 1} fresh tokens {name:27} {res['rps']:>10.0f} req/s  p50 {res['p50']:.2f} ms  "
                          f"p99 {res['p99']:.2f} ms  cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}",
                          flush=True)
                    fresh_results[name].append(res)
                for name, filters in forged:
                    forged_results[name].append(run_forged(name, filters, up_listen, seconds, rs.token,
                                                           work / f"x{r}", forged_tokens_lua, r))
            memory: dict[tuple[str, int], int] = {}
            measured_memory = memory_cases(rs, all_cases)
            for name in MEMORY_CASES:
                filters = measured_memory.get(name)
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
                    res = run_case(f"sampled {name}", filters, up_listen, seconds, rs.token, work / "perf",
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
                for r in range(rounds):
                    for call in call_cpu:
                        filters = [] if call == "router" else floors.get(call) or cost_case(call)
                        res = run_case(f"call {call}", filters, up_listen, max(seconds // 2, 2),
                                       rs.token, work / f"c{r}")
                        call_cpu[call].append(res["cpu_us"])
                        print(f"round {r + 1} call {call:24} cpu {res['cpu_us']:.1f} us/req  errors {res['errors']}",
                              flush=True)
    return Measured(cases=all_cases, costs=costs, guest_profile=profile, results=results, fresh=fresh_results,
                    memory=memory, split=split, counted=counted, call_counts=call_counts, call_cpu=call_cpu,
                    forged=forged_results)
