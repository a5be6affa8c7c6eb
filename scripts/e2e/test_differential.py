"""Differential check: the scenario files in differential/ run through host-test's CLI and
through the real Envoy give the same decisions (status, upstream reached and cluster chosen,
headers added and removed on both sides, problem bodies, metrics); harness/differential.py sends their
requests as written (repeated headers in order, bytes bodies). Known, explained differences
between the two hosts are listed in harness/differential.py (KNOWN) and
differential/KNOWN_DIFFERENCES.md; everything else fails the test.

The conformance corpus (harness/corpus.py): the proxy-wasm Rust SDK's examples, modules nobody
here wrote, each built from the vendored SDK archive and run with its scenario from
host-test/scenarios/corpus/ in host-test and in Envoy; they must agree on statuses, what the
upstream and the client received, the lines the module logged (per thread) and its counters. An
example host-test cannot run as Envoy does fails here; the ones the corpus leaves out say why in
corpus.json (a test checks that every example of the SDK is either run or has a reason)."""

import os
import subprocess
from pathlib import Path

import pytest
from conftest import require_all, skip_or_fail_missing

from harness import ROOT, corpus, differential, envoy

SCENARIOS = sorted((Path(__file__).parent / "differential").glob("*.json"))
CORPUS = corpus.entries()


@pytest.fixture(scope="module")
def binary():
    """host-test's CLI, rebuilt first (a no-op when fresh) unless HOST_TEST_BIN names one: a
    stale binary would compare old host-test code with Envoy."""
    if os.environ.get("HOST_TEST_BIN"):
        return differential.host_test_binary()
    subprocess.run(["cargo", "build", "--quiet", "-p", "host-test"], cwd=ROOT, check=True)
    return ROOT / "target" / "debug" / "host-test"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_host_test_and_envoy_agree(path, stack_factory, binary):
    scenario = differential.load(path)
    template = differential.template_for(scenario)
    skip_or_fail_missing(envoy.missing_filters(envoy.template(template)), template)
    report, diffs = differential.run(path, stack_factory, binary)
    failed = [f"step {s['index']} ({s['name']}): {f}" for s in report["steps"] for f in s["failures"]]
    assert not failed, "host-test expectations failed:\n" + "\n".join(failed)
    assert not diffs, "host-test and Envoy differ:\n" + "\n".join(diffs)


def _sdk_or_skip() -> Path:
    """The unpacked SDK (from the vendored archive, or its copy unpacked before)."""
    try:
        return corpus.unpacked()
    except FileNotFoundError as e:
        reason = f"corpus: {e}"
    if require_all() or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


def test_corpus_covers_every_sdk_example():
    """Every example in the SDK is in corpus.json: run, or left out with a reason."""
    sdk = _sdk_or_skip()
    examples = {p.name for p in (sdk / "examples").iterdir() if (p / "Cargo.toml").is_file()}
    listed = {e.example for e in CORPUS}
    assert examples == listed, f"not in corpus.json: {examples - listed}; unknown: {listed - examples}"
    for e in CORPUS:
        assert e.excluded or (e.scenario and e.scenario.is_file()), e.id


@pytest.mark.parametrize("entry", [e for e in CORPUS if not e.excluded], ids=lambda e: e.id)
def test_corpus_example_agrees(entry, binary, tmp_path):
    _sdk_or_skip()
    report, diffs = corpus.run(entry, binary, tmp_path)
    failed = [f"step {s['index']} ({s['name']}): {f}" for s in report["steps"] for f in s["failures"]]
    assert not failed, "host-test expectations failed:\n" + "\n".join(failed)
    assert not diffs, (f"{entry.id}: host-test and Envoy differ (Envoy's output: {tmp_path / 'envoy.out'}):\n"
                       + "\n".join(diffs))
