"""The results in Markdown: scripts/bench-results.md from the timed run (`document`), and what
--count-only prints (`count_only_lines`). Each table is computed from the measurements alone, with
the goals it judges them against.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field

from bench import envoy_count
from bench.cases import (ALONE, ANSWERED_4XX, ANSWERED_5XX, AUTH_CHECKS, AUTH_REFUSED, AUTH_REMEMBERED, BUNDLE,
                         COST_CALLS, COST_REPEAT, DIST, FLOORS, FORGED, FORGED_KEYS, FORGED_SIGNATURE_BYTES,
                         FORGED_TOKENS, FRESH_TOKENS, GLOBAL, GLOBAL_CALLS, MEMORY_CASES, NATIVE, NATIVE_REFUSED,
                         NOTHING, ROUTER, STORE_BLOCK, STORE_TIMEOUT_MS, Filters, one_connection)
from bench.envoy_count import CALL_REQUESTS, REQUESTS
from bench.hosttest import PROFILE_SAMPLES

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


FORGED_GOAL = 1.00
"""On forged kid-less tokens against FORGED_KEYS RSA keys, auth alone keeps at least this share of
the native chain's throughput (issue 30)."""
REFUSED_ANSWER = 401
"""What both forged-token cases answer every request."""


def forged_goal_rows(forged: dict[str, list[dict]]) -> list[str]:
    """The forged-token goal's row of the goals table: auth alone against the native chain, paired
    within each round, judged on the lower of the req/s and Envoy CPU ratios; nothing when the
    cases did not run."""
    auth, native = forged.get(ALONE["auth"]), forged.get(NATIVE)
    if not auth or not native:
        return []
    return [ratio_goal_row(f"{ALONE['auth']} ≥ {FORGED_GOAL:.2f} × native chain, {FORGED}", rps_ratio(auth, native),
                           cpu_ratio_of(auth, native), FORGED_GOAL, "%")]


def not_refused(run: dict) -> tuple[int, int]:
    """Of a forged-token run's answers, those admitted (wrk's 2xx and 3xx) and the 5xx (Envoy's
    counter over the timed run): both should be none."""
    fives = round(run.get("per_request", {}).get(ANSWERED_5XX, 0.0) * max(run["requests"], 1))
    return run["requests"] - run["errors"], fives


def forged_row(name: str, runs: list[dict], native: list[dict]) -> str:
    """A forged-token case's row: medians over rounds, the answers and auth's signature work per
    request, the paired ratios to the native chain and each round's req/s. Non-2xx answers are
    what this case expects; an answer admitted or a 5xx is flagged."""
    def med(key):
        return statistics.median(r[key] for r in runs)

    def per(*counters):
        return statistics.median(sum(r.get("per_request", {}).get(c, 0.0) for c in counters) for r in runs)

    admitted = sum(not_refused(r)[0] for r in runs)
    fives = sum(not_refused(r)[1] for r in runs)
    note = "".join([f" ({admitted} admitted)" if admitted else "", f" ({fives} 5xx)" if fives else ""])
    checks = f"{per(*AUTH_CHECKS):.2f}" if name == ALONE["auth"] else "–"
    remembered = f"{per(AUTH_REMEMBERED):.3f}" if name == ALONE["auth"] else "–"
    rounds = " / ".join(f"{r['rps']:.0f}" for r in runs)
    return (f"| {name}{note} | {med('rps'):.0f} | {med('p50'):.2f} | {med('p99'):.2f} | {med('cpu_us'):.1f} | "
            f"{per(ANSWERED_4XX):.3f} | {per(ANSWERED_5XX):.3f} | {per(AUTH_REFUSED, NATIVE_REFUSED):.3f} | "
            f"{checks} | {remembered} | {rps_ratio(runs, native):.2f} | {cpu_ratio_of(runs, native):.2f} | {rounds} |")


def forged_lines(forged: dict[str, list[dict]]) -> list[str]:
    """The forged-token section: the worst case an unauthenticated client can send (issue 30),
    auth alone against the native chain on the same JWKS, with the goal's verdict and margin."""
    auth, native = forged.get(ALONE["auth"]), forged.get(NATIVE)
    if not auth or not native:
        return []
    lines = [
        "",
        f"## {FORGED[0].upper()}{FORGED[1:]}",
        "",
        "The worst case an unauthenticated client can send (issue 30): RS256 tokens without `kid`, with",
        "the bench's issuer, audience and valid times, each its own `jti` and a random",
        f"{FORGED_SIGNATURE_BYTES}-byte signature (top bit cleared: below every modulus, so each check is a",
        f"full RSA public-key operation). No key verifies any of them. wrk sends {FORGED_TOKENS:,} in rotation",
        "(and as many others in the warm-up): more than auth's memory of refused signatures holds (1,024",
        "per worker, starting over when full), so each is new to it. The JWKS, inline in both",
        f"configurations: {FORGED_KEYS} RSA-2048 keys, all `alg: RS256`, distinct `kid`s (the bench's key and",
        "generated ones). Auth alone is filter_auth.wasm, the build for Envoy (Envoy's `verify_signature`",
        "checks RS256), with `jwt.max_signature_checks` at its default (3): a `kid`-less token is matched to",
        "keys by algorithm and signature length and refused when its checks run out. Native `jwt_authn`",
        f"tries every key for a `kid`-less token ({FORGED_KEYS} checks); the native chain also runs",
        "`local_ratelimit` (one token bucket per request, negligible beside the RSA checks).",
        "",
        f"Both cases answer every request {REFUSED_ANSWER}, so wrk's non-2xx answers are expected here; a",
        "case is flagged only for answers admitted (2xx, 3xx) or 5xx. Per request over the timed run,",
        "from Envoy's counters: 4xx and 5xx answers (a little over 1 as Envoy also counts the requests",
        "in flight when wrk stops); refused, the filter's own count (auth's",
        f"`{AUTH_REFUSED.removeprefix('wasmcustom.')}`, `jwt_authn.denied`); auth's signature checks",
        "(host and module) and refusals answered from its memory without a check. In the full run the",
        "cases follow the fresh-token ones in every round; ratios are to the native chain, paired within",
        "each round.",
        "",
        "| case | req/s | p50 ms | p99 ms | Envoy CPU µs/req | 4xx/req | 5xx/req | refused/req | "
        "signature checks/req | refusals remembered/req | req/s vs native chain | Envoy CPU vs native chain | "
        "rounds (req/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        forged_row(ALONE["auth"], auth, native),
        forged_row(NATIVE, native, native),
    ]
    r, c = rps_ratio(auth, native), cpu_ratio_of(auth, native)
    low = min(r, c)
    margin = (f"met, {(low - FORGED_GOAL) * 100:.0f} % over the goal" if low >= FORGED_GOAL
              else f"**missed** by {(FORGED_GOAL - low) * 100:.0f} %")
    checks = statistics.median(sum(x.get("per_request", {}).get(k, 0.0) for k in AUTH_CHECKS) for x in auth)

    def busy(runs: list[dict]) -> float:
        return statistics.median(x["cpu_us"] * x["rps"] / 1e6 for x in runs)

    cpu_auth = statistics.median(x["cpu_us"] for x in auth)
    cpu_native = statistics.median(x["cpu_us"] for x in native)
    lines += [
        "",
        f"Goal: {ALONE['auth']} ≥ {FORGED_GOAL:.2f} × the native chain on this traffic. Measured {r:.2f} by",
        f"req/s and {c:.2f} by Envoy CPU (the lower decides): {margin}. Auth made {checks:.2f} signature",
        f"checks per request at {cpu_auth:.1f} µs of Envoy CPU; the native chain tries all {FORGED_KEYS} keys at",
        f"{cpu_native:.1f} µs ({cpu_native / FORGED_KEYS:.1f} µs per key, its whole cost spread over them).",
        f"Envoy's core was busy {busy(auth) * 100:.0f} % of auth's runs and {busy(native) * 100:.0f} % of the native",
        "chain's (Envoy CPU per request × req/s, median over rounds)"
        + (":" if max(busy(auth), busy(native)) < 0.9 else "."),
    ]
    if max(busy(auth), busy(native)) < 0.9:
        lines.append("well under 100 %, the client or other work on the machine held Envoy back, and the Envoy "
                     "CPU ratio is the steadier of the two.")
    return lines


def forged_only_lines(forged: dict[str, list[dict]], seconds: int, rounds: int, machine: str) -> list[str]:
    """What --forged-only prints: the command, the machine, the date and the forged-token section."""
    return [
        f"Command: `scripts/bench --forged-only --seconds {seconds} --rounds {rounds}`  ",
        f"Machine: {machine}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *forged_lines(forged),
    ]


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


# Which measured call stands for each hostcall of the crossing counts.
CALL_KIND = {
    "proxy_get_header_map_pairs": "get_header_pairs", "proxy_get_header_map_value": "get_header",
    "proxy_get_property": "get_property", "proxy_get_shared_data": "get_shared_data",
    "proxy_set_shared_data": "set_shared_data", "proxy_set_property": "set_property",
    "proxy_replace_header_map_value": "replace_header", "proxy_remove_header_map_value": "replace_header",
    "proxy_add_header_map_value": "replace_header", "proxy_increment_metric": "increment_metric",
    "proxy_record_metric": "increment_metric", "proxy_get_current_time_nanoseconds": "get_current_time",
}


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
        f"`bench/hostcall-cost/src/lib.rs` repeats one call {COST_REPEAT} times per request; the cost of",
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
        "What Envoy spends on any wasm module, whatever it does (bench/abi-floor is written against",
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


def cost_lines(costs: dict[str, dict]) -> list[str]:
    """The host-test section of the results: fuel is deterministic, wall time is not."""
    lines = [
        "",
        "## host-test per-request cost",
        "",
        "`host-test bench`, same request as above, 2000 requests per module. Fuel (wasmtime's count of",
        "executed wasm operations) is deterministic: the same module and request always give the same",
        "number. Wall time (host-test in a dev build, not V8) is indicative only. The bundle also runs",
        "once more with the headers a browser and a front proxy add (`BROWSER_HEADERS` in bench/bench/cases.py),",
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


def guest_profile_lines(out: str, samples: int = PROFILE_SAMPLES) -> list[str]:
    """The guest profile of the bundle's gateway root (`host-test profile --fuel`'s output, see
    hosttest.guest_profile): where its wasm operations go, by function; nothing without it."""
    if not out:
        return []
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


def count_lines(counts: dict[str, envoy_count.Counts], calls: dict[str, float], repeat: int, router: str,
                native: str, bundle: str) -> list[str]:
    """The callgrind section (envoy_count.py's counts): each case's counts, and the instructions of
    each host call (made `repeat` times per request)."""
    out = [
        "",
        "## Envoy instructions per request (callgrind)",
        "",
        "Each case once more with Envoy under `valgrind --tool=callgrind --cache-sim=yes` (simulated",
        f"32 KiB first-level caches), counting {REQUESTS} requests sent one after another after a warm-up: the",
        "instructions Envoy's process executed per request, all threads, and the first-level cache misses",
        "they caused. Repeatable within 1 % whatever else the machine is doing (the timed runs vary by",
        "10-30 %), so changes to the modules' own code are compared by these. `JIT` is the code V8",
        "generated: the modules' compiled wasm and V8's wrappers around it. Counts are not time: code",
        "that misses the caches more runs slower per instruction, and a change that moves work into",
        "other Envoy code can count fewer instructions and misses and still take longer (README,",
        "Benchmarks): time such a change too.",
        "",
        "| case | instructions | added over router only | of which JIT | L1i misses | added | L1d misses | added |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = counts.get(router)
    for name, c in counts.items():
        added = (f"{c.instructions - base.instructions:,.0f}", f"{c.l1i_misses - base.l1i_misses:,.0f}",
                 f"{c.l1d_misses - base.l1d_misses:,.0f}") if base else ("–", "–", "–")
        out.append(f"| {name} | {c.instructions:,.0f} | {added[0]} | {c.jit:,.0f} | {c.l1i_misses:,.0f} | "
                   f"{added[1]} | {c.l1d_misses:,.0f} | {added[2]} |")
    if base and native in counts and bundle in counts:
        b, n = counts[bundle], counts[native]
        ratio = (b.instructions - base.instructions) / max(n.instructions - base.instructions, 1)
        misses = (b.l1i_misses - base.l1i_misses) / max(n.l1i_misses - base.l1i_misses, 1)
        out += ["", f"The {bundle} adds {ratio:.2f} × the instructions the native chain adds, and {misses:.1f} × "
                    "its first-level instruction cache misses."]
    if calls:
        out += [
            "",
            "What one host call costs Envoy in instructions: the `hostcall_cost` roots of the timed table",
            f"below, counted the same way ({CALL_REQUESTS} requests of {repeat} calls, less the `none` root, per call).",
            "A call that hands data to the module also makes the host call into the module's allocator:",
            "`get_header` less `get_header_absent` is what that crossing costs.",
            "",
            "| call | instructions per call |",
            "|---|---:|",
        ]
        out += [f"| {call} | {n:,.0f} |" for call, n in calls.items()]
    return out


def count_only_lines(counted: dict[str, envoy_count.Counts], call_counts: dict[str, float],
                     costs: dict[str, dict]) -> list[str]:
    """What --count-only prints: the callgrind section, what the global store's counts cover, and
    each module's added instructions split (with host-test's crossings in `costs`)."""
    return (count_lines(counted, call_counts, COST_REPEAT, ROUTER, NATIVE, BUNDLE)
            + global_count_lines(counted) + instruction_split_lines(counted, costs))


@dataclass
class Measured:
    """What the timed run measured (run.timed), for `document`."""

    cases: list[tuple[str, Filters]]
    """The cases of the main table, in run order."""
    costs: dict[str, dict]
    """host-test's per-request costs and crossings, by module (hosttest.host_test_costs)."""
    guest_profile: str
    """host-test's guest profile of the bundle (hosttest.guest_profile)."""
    results: dict[str, list[dict]]
    """Each case's rounds (run.run_case's results), with the global store's and one-connection ones."""
    fresh: dict[str, list[dict]]
    """The fresh-token cases' rounds."""
    memory: dict[tuple[str, int], int]
    """Envoy's resident KiB by case and concurrency."""
    split: dict[str, tuple[float, dict[str, float]]]
    """The sampled cases: Envoy CPU µs per request and perf's share of each object."""
    counted: dict[str, envoy_count.Counts]
    """callgrind's counts by case (nothing without valgrind)."""
    call_counts: dict[str, float]
    """callgrind's instructions per host call."""
    call_cpu: dict[str, list[float]]
    """Envoy CPU µs per request of router only, the floors and each hostcall_cost root, by round."""
    forged: dict[str, list[dict]] = field(default_factory=dict)
    """The forged-token cases' rounds (auth alone and the native chain)."""


def document(m: Measured, seconds: int, rounds: int, machine: str) -> str:
    """scripts/bench-results.md: the command (`--seconds`, `--rounds`), the machine and the date,
    then every table."""
    all_cases, results, costs, call_cpu, counted = m.cases, m.results, m.costs, m.call_cpu, m.counted

    def median(name, key):
        return statistics.median(r[key] for r in results[name])

    def ratio(name, to):
        return rps_ratio(results[name], results[to])

    def cpu_ratio(name, to):
        return cpu_ratio_of(results[name], results[to])

    lines = [
        "# Benchmark results",
        "",
        f"Command: `scripts/bench --seconds {seconds} --rounds {rounds}`  ",
        f"Machine: {machine}  ",
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
    lines += fresh_lines(m.fresh, results[ROUTER], NATIVE)
    lines += forged_lines(m.forged)
    lines += global_lines(results)
    lines += goal_lines(all_cases, ratio, cpu_ratio, ROUTER, NATIVE,
                        global_goal_rows(results) + forged_goal_rows(m.forged))
    lines += [
        "",
        "## Memory (Envoy resident set after a 2 s load)",
        "",
        f"Added is over router only at the same concurrency. `{NOTHING}` is bench/hostcall-cost's",
        "`hostcall_cost` module with its `none` root: what V8 and Envoy's wasm machinery cost before any",
        "filter code, with the SDK; the modules without the SDK are bench/abi-floor.",
        "",
        "| case | concurrency 1 | added | concurrency 2 | added |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in MEMORY_CASES:
        row = f"| {name} |"
        for conc in (1, 2):
            kib, base_kib = m.memory.get((name, conc)), m.memory.get((ROUTER, conc))
            row += f" {kib / 1024:.1f} MiB | {(kib - base_kib) / 1024:.1f} MiB |" if kib and base_kib else " – | – |"
        if (name, 1) in m.memory:
            lines.append(row)
    lines += ["", "## Module sizes (after wasm-opt)", "", "| module | bytes |", "|---|---:|"]
    for wasm in sorted(DIST.glob("*.wasm")):
        lines.append(f"| {wasm.name} | {wasm.stat().st_size:,} |")
    lines += ["", "filter_auth.wasm and filter_bundle.wasm are the builds for Envoy, which checks RS* and ES*",
              "signatures itself (`verify_signature`); filter_auth_portable.wasm also checks them in the module,",
              "for hosts without that function. The size goal is judged on the module for Envoy."]
    lines += split_lines(m.split)
    if counted:
        lines += count_lines(counted, m.call_counts, COST_REPEAT, ROUTER, NATIVE, BUNDLE)
        lines += global_count_lines(counted)
        lines += instruction_split_lines(counted, costs)
    lines += cost_lines(costs)
    lines += guest_profile_lines(m.guest_profile)
    if call_cpu["none"]:
        lines += call_cost_lines(call_cpu, costs, {n: median(n, "cpu_us") for n, _ in all_cases})
    return "\n".join(lines) + "\n"
