"""The bench's lines computed from measurements (bench/bench/report.py; no Envoy needed): what any
wasm module costs, and the global quota store's goals."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench import cases, report  # noqa: E402

ONLY, EVERY = cases.FLOORS  # request headers only, every stream callback


def test_floor_lines_pair_each_round_with_router_only():
    call_cpu = {
        "router": [50.0, 60.0],
        ONLY: [55.0, 66.0],
        EVERY: [57.5, 69.0],
        "none": [62.5, 75.0],
        "get_header": [80.0, 90.0],
    }
    rows = [line for line in report.floor_lines(call_cpu) if line.startswith("| a module")]
    # Added: the median of each round's difference; kept: router only's CPU over the module's.
    assert rows == [
        f"| {ONLY} | 5.5 | 0.91 |",
        f"| {EVERY} | 8.2 | 0.87 |",
        f"| {cases.NOTHING} | 13.8 | 0.80 |",
    ]


def test_floor_lines_need_the_floor_modules():
    assert report.floor_lines({"router": [50.0], "none": [60.0]}) == []
    assert report.floor_lines({"router": [50.0], ONLY: [55.0], "none": []}) == []


LOCAL, EXACT, LEASED = cases.ALONE["quota"], cases.GLOBAL["exact"], cases.GLOBAL["leased"]


def runs(*rounds):
    """A case's rounds from (req/s, Envoy CPU µs/req, p50 ms) triples."""
    return [{"rps": rps, "cpu_us": cpu, "p50": p50} for rps, cpu, p50 in rounds]


def test_p50_added_is_the_median_of_each_rounds_difference():
    local = runs((10_000, 90, 1.4), (8_000, 100, 1.9), (11_000, 88, 1.3))
    exact = runs((5_000, 150, 2.0), (4_000, 170, 3.5), (6_000, 140, 1.6))
    # Differences 0.6, 1.6, 0.3: paired, not the difference of the medians (2.0 - 1.4).
    assert round(report.p50_added(exact, local), 6) == 0.6


def test_global_goals_judge_leased_on_the_lower_ratio_and_exact_on_the_added_p50():
    results = {
        LOCAL: runs((10_000, 90.0, 1.40), (8_000, 100.0, 1.90)),
        # req/s ratios 0.95, 0.95; CPU ratios 90/100, 100/110: the lower (0.90, 0.91) decides.
        LEASED: runs((9_500, 100.0, 1.50), (7_600, 110.0, 2.00)),
        EXACT: runs((6_000, 150.0, 2.10), (5_000, 160.0, 2.80)),
    }
    assert report.global_goal_rows(results) == [
        f"| {LEASED} ≥ 0.90 × {LOCAL} | 0.95 | 0.90 | met |",
        f"| {EXACT} adds ≤ 1 ms to {LOCAL}'s p50 | +0.80 ms | | met |",
    ]
    results[LEASED] = runs((8_000, 120.0, 1.50), (7_000, 130.0, 2.00))
    results[EXACT] = runs((3_000, 200.0, 4.40), (2_500, 210.0, 5.10))
    results[cases.one_connection(LOCAL)] = runs((3_000, 120.0, 0.30), (2_900, 125.0, 0.32))
    results[cases.one_connection(EXACT)] = runs((1_500, 240.0, 0.55), (1_400, 250.0, 0.60))
    assert report.global_goal_rows(results) == [
        f"| {LEASED} ≥ 0.90 × {LOCAL} | 0.84 | 0.76 | **missed** by 14 points |",
        f"| {EXACT} adds ≤ 1 ms to {LOCAL}'s p50 | +3.10 ms | | **missed** by 2.10 ms |",
        f"| {EXACT} adds ≤ 1 ms to {LOCAL}'s p50, one connection | +0.27 ms | | met |",
    ]


def test_global_goals_and_section_need_the_cases():
    local = runs((10_000, 90.0, 1.4))
    assert report.global_goal_rows({LOCAL: local}) == []
    assert report.global_goal_rows({EXACT: local, LEASED: local}) == []
    assert report.global_lines({LOCAL: local})[-1].startswith("Not measured")


def test_global_section_rows_show_the_store_beside_the_local_store():
    load = {"wrk": 20.0, "upstream": 30.0}
    store = {"cpu_us_of": {**load, "quota-service": 80.0, "redis": 30.0}, "per_request": {cases.GLOBAL_CALLS: 1.0},
             "errors": 0, "p99": 9.0}
    results = {
        LOCAL: [dict(r, errors=0, p99=3.0, cpu_us_of=load) for r in runs((10_000, 90.0, 1.5))],
        EXACT: [dict(r, **store) for r in runs((4_000, 180.0, 3.9))],
        LEASED: [{**r, **store, "per_request": {cases.GLOBAL_CALLS: 0.1}} for r in runs((8_000, 100.0, 2.0))],
    }
    lines = report.global_lines(results)
    rows = [line for line in lines if line.startswith("| quota")]
    assert rows == [
        f"| {LOCAL} | 10000 | 1.50 | 3.00 | 90.0 | – | – | – | 90 % / 50 % | 1.00 | 1.00 | +0.00 | 10000 |",
        f"| {EXACT} | 4000 | 3.90 | 9.00 | 180.0 | 80.0 | 30.0 | 1.000 | 72 % / 64 % | 0.40 | 0.50 | +2.40 | 4000 |",
        f"| {LEASED} | 8000 | 2.00 | 9.00 | 100.0 | 80.0 | 30.0 | 0.100 | 80 % / 128 % | 0.80 | 0.90 | +0.50 | 8000 |",
    ]
    # One check per request: the service's checks per second and its CPU (with Redis's) per check.
    assert any("answered 4,000 checks per second" in line for line in lines)
    assert any("at 110.0 µs of its and Redis's CPU per check" in line for line in lines)


def test_in_round_runs_the_global_store_right_after_the_local_store():
    all_cases = [(cases.ROUTER, []), (LOCAL, ["q"]), (cases.NATIVE, ["n"])]
    store = [(EXACT, ["e"]), (LEASED, ["l"])]
    assert [n for n, _ in cases.in_round(all_cases, store)] == [cases.ROUTER, LOCAL, EXACT, LEASED, cases.NATIVE]
    assert cases.in_round(all_cases, []) == all_cases


def test_busy_shares_are_cpu_per_request_times_requests_per_second():
    run = {"rps": 5_000, "cpu_us": 150.0, "cpu_us_of": {"wrk": 40.0, "upstream": 60.0, "quota-service": 70.0,
                                                        "redis": 20.0, "other": 1000.0}}
    assert report.busy_shares(run) == (0.75, 0.95)
    # Without the upstream's CPU the load side was not measured.
    assert report.busy_shares({"rps": 5_000, "cpu_us": 150.0, "cpu_us_of": {"wrk": 40.0}}) is None


AUTH, NATIVE = cases.ALONE["auth"], cases.NATIVE


def forged_runs(*rounds, checks=3.0):
    """A forged-token case's rounds from (req/s, Envoy CPU µs/req) pairs: every answer refused (4xx),
    none 5xx, `checks` signature checks per request."""
    per = {cases.ANSWERED_4XX: 1.001, cases.ANSWERED_5XX: 0.0, cases.AUTH_REFUSED: 1.001,
           cases.AUTH_CHECKS[0]: checks, cases.AUTH_REMEMBERED: 0.0}
    return [{"rps": rps, "cpu_us": cpu, "p50": 4.0, "p99": 10.0, "requests": 1000, "errors": 1000,
             "per_request": dict(per)} for rps, cpu in rounds]


def test_forged_tokens_are_kidless_new_and_fit_every_key():
    tokens = cases.forged_tokens(3)
    assert len(set(tokens)) == 3
    for token in tokens:
        head, claims, sig = (cases.base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in token.split("."))
        assert cases.json.loads(head) == {"alg": "RS256", "typ": "JWT"}
        body = cases.json.loads(claims)
        assert (body["iss"], body["aud"]) == (cases.ISSUER, cases.AUDIENCE) and body["jti"].startswith("forged-")
        # The length of an RSA-2048 signature, below every 2048-bit modulus.
        assert len(sig) == cases.FORGED_SIGNATURE_BYTES and sig[0] < 0x80


def test_forged_goal_pairs_each_round_and_judges_the_lower_ratio():
    native = forged_runs((1_000, 650.0), (800, 700.0))
    # req/s ratios 4.0, 4.5; CPU ratios 650/130 = 5.0, 700/140 = 5.0: the lower (4.25) decides.
    auth = forged_runs((4_000, 130.0), (3_600, 140.0))
    assert report.forged_goal_rows({AUTH: auth, NATIVE: native}) == [
        f"| {AUTH} ≥ 1.00 × native chain, {cases.FORGED} | 4.25 | 5.00 | met |"]
    slow = forged_runs((900, 700.0), (720, 800.0))
    assert report.forged_goal_rows({AUTH: slow, NATIVE: native}) == [
        f"| {AUTH} ≥ 1.00 × native chain, {cases.FORGED} | 0.90 | 0.90 | **missed** by 10 % |"]
    assert report.forged_goal_rows({AUTH: auth}) == []


def test_forged_section_expects_refusals_and_flags_only_admitted_or_5xx():
    native = forged_runs((1_000, 650.0))
    for run in native:
        run["per_request"] = {cases.ANSWERED_4XX: 1.003, cases.ANSWERED_5XX: 0.0, cases.NATIVE_REFUSED: 1.003}
    lines = report.forged_lines({AUTH: forged_runs((4_000, 130.0)), NATIVE: native})
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| case")]
    assert rows == [
        f"| {AUTH} | 4000 | 4.00 | 10.00 | 130.0 | 1.001 | 0.000 | 1.001 | 3.00 | 0.000 | 4.00 | 5.00 | 4000 |",
        f"| {NATIVE} | 1000 | 4.00 | 10.00 | 650.0 | 1.003 | 0.000 | 1.003 | – | – | 1.00 | 1.00 | 1000 |",
    ]
    assert any("Measured 4.00 by" in line for line in lines) and any("5.00 by Envoy CPU" in line for line in lines)
    assert any(": met, 300 % over the goal." in line for line in lines)
    # Answers admitted by wrk's count, or 5xx by Envoy's, are flagged.
    bad = forged_runs((4_000, 130.0))
    bad[0]["errors"] = 990
    bad[0]["per_request"][cases.ANSWERED_5XX] = 0.005
    assert report.forged_row(AUTH, bad, native).startswith(f"| {AUTH} (10 admitted) (5 5xx) | 4000 |")
    assert report.forged_lines({NATIVE: native}) == []


def test_forged_cases_share_one_jwks_of_32_rs256_keys():
    rs = cases.Rs256()
    (auth_name, (auth,)), (native_name, (chain,)) = cases.forged_cases(rs)
    assert (auth_name, native_name) == (AUTH, NATIVE)
    assert auth.module == "filter_auth.wasm"
    jwks = chain.jwks
    assert auth.config["jwt"]["providers"][0]["jwks"] == jwks
    keys = jwks["keys"]
    assert len(keys) == cases.FORGED_KEYS == 32 and len({k["kid"] for k in keys}) == 32
    assert keys[0] == rs.jwks["keys"][0] and {k["alg"] for k in keys} == {"RS256"}
    # The bench's own provider otherwise: issuer and audiences as in plugin_configs.
    assert auth.config["rules"] == cases.plugin_configs(rs)["auth"]["rules"]


def test_results_file_has_the_forged_section_and_its_goal():
    def run(rps, cpu):
        return {"rps": rps, "cpu_us": cpu, "p50": 1.0, "p99": 2.0, "errors": 0, "requests": 100}

    m = report.Measured(cases=[(cases.ROUTER, []), (NATIVE, [])], costs={}, guest_profile="",
                        results={cases.ROUTER: [run(10_000, 50.0)], NATIVE: [run(7_000, 90.0)]}, fresh={}, memory={},
                        split={}, counted={}, call_counts={}, call_cpu={"none": []},
                        forged={AUTH: forged_runs((4_000, 130.0)), NATIVE: forged_runs((1_000, 650.0))})
    lines = report.document(m, 8, 1, "a machine").splitlines()
    assert "## Forged kid-less tokens against 32 RSA keys" in lines
    assert f"| {AUTH} ≥ 1.00 × native chain, {cases.FORGED} | 4.00 | 5.00 | met |" in lines
    # Without the forged cases (an older Measured), neither.
    m.forged = {}
    assert not any("Forged" in line or cases.FORGED in line for line in report.document(m, 8, 1, "").splitlines())
