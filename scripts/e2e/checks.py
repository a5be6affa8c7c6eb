"""Assertion helpers shared by the end-to-end tests."""

from __future__ import annotations

import re
import time

from harness.client import Response
from harness.samples import API_KEYS
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


def api_key(name: str) -> list[tuple[str, str]]:
    """The header carrying sample consumer `name`'s API key."""
    return [("x-api-key", API_KEYS[name])]


def keys_fetched(stack, signer, settled: int = 1, seconds: float = 20.0):
    """The gateway once its JWKS fetch has landed: `settled` answers in a row to a JWT that are not
    503. Until a worker holds the keys it answers JWTs with 503 keys-unavailable (documented in
    filters/auth/README.md); the tests are about the gateway afterwards. Envoy's workers share
    the first fetch, so one answer shows it; on NGINX each worker's first JWT may wait for its
    own, so several in a row over new connections show both workers have the keys."""
    deadline = time.monotonic() + seconds
    ok = 0
    r = None
    while time.monotonic() < deadline:
        r = stack.request("/v1/orders", headers={"authorization": f"Bearer {signer.token()}"})
        ok = ok + 1 if r.status != 503 else 0
        if ok >= settled:
            return stack
        time.sleep(0.1)
    seen = f"{r.status} {r.body!r}" if r else "no answer"
    raise AssertionError(f"no JWKS fetched within {seconds} s: {seen}\n{stack.process.log_tail()}")
