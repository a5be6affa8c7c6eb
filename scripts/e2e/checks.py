"""Assertion helpers shared by the end-to-end tests."""

from __future__ import annotations

import re

from harness.client import Response
from harness.stack import Stack

PROBLEM_TYPE = re.compile(r"^urn:gateway:problem:[a-z0-9-]+$")


def assert_problem(r: Response, status: int | tuple[int, ...]) -> dict:
    """`r` is a local reply with an RFC 9457 problem body; returns the problem."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert r.status in statuses, f"status {r.status}, wanted {statuses}: {r.body[:300]!r}"
    assert (r.header("content-type") or "").startswith("application/problem+json"), r.headers
    problem = r.json()
    assert PROBLEM_TYPE.match(problem.get("type", "")), problem
    assert problem.get("status") == r.status, problem
    assert problem.get("title"), problem
    return problem


def upstream_count(stack: Stack) -> int:
    return len(stack.v1.requests) + len(stack.v2.requests)


WASM_FAILURE = re.compile(r"panicked|Uncaught RuntimeError|Wasm VM failed|\[critical\]\[wasm\]|wasm_fail_stream")


def wasm_failures(stack: Stack) -> list[str]:
    """Log lines showing a trapped or failed Wasm VM."""
    assert stack.envoy is not None
    return [ln for ln in stack.envoy.log_text().splitlines() if WASM_FAILURE.search(ln)]


def stat(stack: Stack, name: str) -> int:
    """Value of one counter from /stats (0 when absent)."""
    assert stack.envoy is not None
    return stack.envoy.stats(f"^{re.escape(name)}$").get(name, 0)
