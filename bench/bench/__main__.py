"""The benchmark's command: the timed run, written to scripts/bench-results.md, or --count-only's
instruction counts, or --forged-only's forged-token cases, printed (scripts/bench builds and
installs what it needs, then runs this).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import bench
from bench import ROOT, report, run
from bench.cases import Rs256, cases


def main() -> None:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=bench.__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "scripts" / "bench-results.md")
    ap.add_argument("--count-only", action="store_true",
                    help="only count Envoy's instructions per request (callgrind) and print them: "
                         "a few minutes, and the same numbers within 1 %% on every run (the global "
                         "store's cases count Envoy's process, not quota-service's or Redis's)")
    ap.add_argument("--forged-only", action="store_true",
                    help="only run the forged-token cases (kid-less RS256 tokens no key verifies, against "
                         "32 RSA keys: auth alone and the native chain) for --rounds rounds of --seconds "
                         "each and print their section, with the goal's verdict; no results file")
    args = ap.parse_args()

    rs = Rs256()
    if args.forged_only:
        forged = run.forged_only(rs, args.seconds, args.rounds)
        print("\n" + "\n".join(report.forged_only_lines(forged, args.seconds, args.rounds, run.machine())))
        return
    all_cases = cases(rs)
    if args.count_only:
        counted, call_counts, costs = run.count_only(rs, all_cases)
        print("\n".join(report.count_only_lines(counted, call_counts, costs)))
        return
    measured = run.timed(rs, all_cases, args.seconds, args.rounds)
    args.out.write_text(report.document(measured, args.seconds, args.rounds, run.machine()))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
