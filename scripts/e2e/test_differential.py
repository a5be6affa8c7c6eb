"""Differential check: the scenario files in differential/ run through host-test's CLI and
through the real Envoy give the same decisions (status, upstream reached and cluster chosen,
headers added and removed on both sides, problem bodies, metrics). Known, explained differences
between the two hosts are listed in harness/differential.py (KNOWN) and
differential/KNOWN_DIFFERENCES.md; everything else fails the test."""

from pathlib import Path

import pytest
from conftest import skip_or_fail_missing

from harness import differential, envoy

SCENARIOS = sorted((Path(__file__).parent / "differential").glob("*.json"))


@pytest.fixture(scope="module")
def binary():
    return differential.host_test_binary()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_host_test_and_envoy_agree(path, stack_factory, binary):
    scenario = differential.load(path)
    template = differential.template_for(scenario)
    skip_or_fail_missing(envoy.missing_filters(envoy.template(template)), template)
    report, diffs = differential.run(path, stack_factory, binary)
    failed = [f"step {s['index']} ({s['name']}): {f}" for s in report["steps"] for f in s["failures"]]
    assert not failed, "host-test expectations failed:\n" + "\n".join(failed)
    assert not diffs, "host-test and Envoy differ:\n" + "\n".join(diffs)
