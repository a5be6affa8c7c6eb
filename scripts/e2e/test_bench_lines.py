"""scripts/bench.py's table of what any wasm module costs (no Envoy needed)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench  # noqa: E402

ONLY, EVERY = bench.FLOORS  # request headers only, every stream callback


def test_floor_lines_pair_each_round_with_router_only():
    call_cpu = {
        "router": [50.0, 60.0],
        ONLY: [55.0, 66.0],
        EVERY: [57.5, 69.0],
        "none": [62.5, 75.0],
        "get_header": [80.0, 90.0],
    }
    rows = [line for line in bench.floor_lines(call_cpu) if line.startswith("| a module")]
    # Added: the median of each round's difference; kept: router only's CPU over the module's.
    assert rows == [
        f"| {ONLY} | 5.5 | 0.91 |",
        f"| {EVERY} | 8.2 | 0.87 |",
        f"| {bench.NOTHING} | 13.8 | 0.80 |",
    ]


def test_floor_lines_need_the_floor_modules():
    assert bench.floor_lines({"router": [50.0], "none": [60.0]}) == []
    assert bench.floor_lines({"router": [50.0], ONLY: [55.0], "none": []}) == []
