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
