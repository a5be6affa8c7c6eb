"""The bench's reading of callgrind dumps (bench/bench/envoy_count.py) and its section of the results
(bench/bench/report.py), with no Envoy or valgrind needed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench import envoy_count, report  # noqa: E402

# A dump in callgrind's format with name compression: Envoy's code calls into code V8 generated
# (no object file, above 4 GiB), which is also entered once more; an unnamed region of Envoy's
# binary sits below 4 GiB; a recursive entry into generated code is named with callgrind's `'2`
# depth suffix. Cost lines are "position Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw".
DUMP = """\
version: 1
creator: callgrind-3.19.0
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
ob=(1) /usr/bin/envoy
fl=(1) ???
fn=(1) 0x0000000000100000
10 1000 0 0 5
cob=(2) ???
cfn=(2) 0x00001bf57df3ebc0
calls=3 0
10 500 0 0 9
ob=(2)
fn=(2)
0 400 0 0 7
+2 50
fn=(3) 0x0000000006290bd0
0 100
ob=(2)
fn=(4) 0x00001bf57df3ebc0'2
0 30
summary: 1580 10 10 20 4 2 0 0 0
totals: 1580 10 10 20 4 2 0 0 0
"""


def test_parse_counts_per_request_and_the_jit_share(tmp_path):
    dump = tmp_path / "callgrind.out.1"
    dump.write_text(DUMP)
    c = envoy_count.parse(dump, requests=2)
    assert c.instructions == 790
    # The call's inclusive line (500) is not the callee's own cost; the region below 4 GiB is not JIT.
    assert c.jit == 240
    assert c.l1i_misses == 10
    assert c.l1d_misses == 3


def test_lines_compare_the_bundle_with_the_native_chain():
    counts = {
        "router": envoy_count.Counts(instructions=200_000, jit=0, l1i_misses=6_000, l1d_misses=3_000),
        "bundle": envoy_count.Counts(instructions=450_000, jit=70_000, l1i_misses=13_000, l1d_misses=6_000),
        "native": envoy_count.Counts(instructions=600_000, jit=0, l1i_misses=8_500, l1d_misses=4_000),
    }
    text = "\n".join(report.count_lines(counts, {"get_header": 10_600.4}, 100, "router", "native", "bundle"))
    assert "| bundle | 450,000 | 250,000 | 70,000 | 13,000 | 7,000 | 6,000 | 3,000 |" in text
    assert "adds 0.62 × the instructions the native chain adds, and 2.8 × its" in text
    assert "| get_header | 10,600 |" in text
    assert "counted the same way (100 requests of 100 calls" in text
