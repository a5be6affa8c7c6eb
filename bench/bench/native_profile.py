"""Native perf profile of the gateway chain (see scripts/profile, which builds what this runs).

Writes the bench's configuration and token to a temporary folder, runs bench/native-profile under
`perf record --call-graph dwarf`, and prints the suite's functions by inclusive share of the time,
then the heap allocations the chain makes per request (which the program counts).

Usage: PYTHONPATH=bench .venv/bin/python -m bench.native_profile [--members auth,quota,...]
       [--requests N] [--top N]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

from bench import ROOT
from bench.cases import Rs256, plugin_configs

BINARY = ROOT / "target" / "profiling" / "native-profile"
OURS = re.compile(r"filter_(core|auth|quota|analytics|routing|bundle)::")


def profile(members: list[str], requests: int, top: int) -> tuple[list[str], str]:
    """`perf report` lines of the suite's functions, most time first, and the program's count of
    allocations per request."""
    rs = Rs256()
    config = {k: v for k, v in plugin_configs(rs).items() if k in members}
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        work = Path(tmp)
        (work / "config.json").write_text(json.dumps(config))
        (work / "token").write_text(rs.token)
        data = work / "perf.data"
        run = subprocess.run(["perf", "record", "-q", "--call-graph", "dwarf", "-o", str(data), str(BINARY),
                              str(work / "config.json"), str(work / "token"), str(requests)],
                             check=True, capture_output=True, text=True)
        report = subprocess.run(["perf", "report", "-i", str(data), "--children", "--sort", "sym", "-g", "none",
                                 "--percent-limit", "1", "--stdio"],
                                check=True, capture_output=True, text=True).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+([\d.]+)%\s+\[\.\]\s+(.*)", line)
        if m and OURS.search(m.group(3)) and "(inlined)" not in m.group(3):
            rows.append(f"| {m.group(1)} % | {m.group(2)} % | `{m.group(3).strip()}` |")
    allocations = next((line for line in run.stderr.splitlines() if line.startswith("allocations per request")),
                       "allocations per request: not reported")
    return rows[:top], allocations


def main() -> None:
    ap = argparse.ArgumentParser(prog="scripts/profile", description=__doc__.splitlines()[0])
    ap.add_argument("--members", default="auth,quota,analytics,routing")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    rows, allocations = profile(args.members.split(","), args.requests, args.top)
    print("| inclusive | self | function |\n|---:|---:|---|")
    print("\n".join(rows))
    print(f"\n{allocations}")


if __name__ == "__main__":
    main()
