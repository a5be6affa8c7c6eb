"""Analytics with a real Prometheus: Envoy (stats_tags from filters/analytics/stats_tags.yaml)
is scraped by Prometheus from the Debian package, and a PromQL query per consumer must match the
requests sent (filters/analytics/e2e/run.py does the work; it leaves no process behind)."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import skip_or_fail_missing
from harness import DIST_DIR, ROOT, VENV_ENVOY

RUN = ROOT / "filters" / "analytics" / "e2e" / "run.py"


def test_promql_per_consumer_matches_the_requests_sent():
    wasm = DIST_DIR / "filter_analytics.wasm"
    if not wasm.exists():
        skip_or_fail_missing(["analytics"], "analytics with Prometheus")
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is not installed (scripts/test installs the Debian package)"
    out = subprocess.run(
        [sys.executable, str(RUN), "--envoy", str(VENV_ENVOY), "--wasm", str(wasm), "--prometheus", prometheus],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PromQL per consumer: {'alice': 3, 'bob': 2}" in out.stdout, out.stdout
