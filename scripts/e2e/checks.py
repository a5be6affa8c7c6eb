"""Assertion helpers shared by the end-to-end tests."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pytest
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
    """Log lines showing a trapped or failed Wasm VM (on NGINX: a trap, a worker that died)."""
    if stack.host == "nginx":
        return stack.nginx.wasm_failures()
    assert stack.envoy is not None
    return [ln for ln in stack.envoy.log_text().splitlines() if WASM_FAILURE.search(ln)]


@dataclass(frozen=True)
class Host:
    """What a suite run against both hosts may see differ between them: the one list of
    differences the e2e checks allow, each with its reason (nginx-config/README.md, "Differences
    from Envoy", explains them). Anything not here must be the same on both hosts."""

    name: str
    oversized_header_status: int
    """A header line over the limit (Envoy: 431; nginx answers 400 Bad Request)."""
    jwks_settled: int
    """Answers in a row that show every worker holds the JWKS (see keys_fetched): Envoy's
    workers share the first fetch; each nginx worker fetches its own."""
    missing: dict[str, str] = field(default_factory=dict)
    """Features the host lacks, with the reason: a test of one is skipped saying why."""


HOSTS = {
    "envoy": Host("envoy", oversized_header_status=431, jwks_settled=1),
    "nginx": Host(
        "nginx", oversized_header_status=400, jwks_settled=8,
        missing={
            "header_count_limit": "nginx has no header count limit (Envoy: 431 over 100), and "
                                  "ngx_wasm_module hands a filter at most 100 headers in a map "
                                  "whose size it miscounts, writing past the buffer in the "
                                  "filter's memory: a trap and 500s (nginx-config/README.md)",
            "http2": "nginx 1.22 cannot serve cleartext HTTP/2 and HTTP/1.1 on one port: the "
                     "gateway port is HTTP/1.1",
            "prometheus": "ngx_wasm_module keeps proxy-wasm metrics in a shared zone that only its "
                          "Lua FFI reads: plain nginx has no endpoint printing them (analytics' "
                          "usage events carry the same measurements: nginx-config/README.md)",
        },
    ),
}


def host(stack: Stack) -> Host:
    """The differences of the host `stack` runs."""
    return HOSTS[stack.host]


def has(stack: Stack, feature: str) -> bool:
    """Whether the host has `feature` (not in its `missing`)."""
    return feature not in host(stack).missing


def requires(stack: Stack, feature: str) -> None:
    """Skip the calling test, with the reason listed in HOSTS, on a host without `feature`."""
    reason = host(stack).missing.get(feature)
    if reason is not None:
        pytest.skip(f"{stack.host}: {reason}")


def stat(stack: Stack, name: str) -> int:
    """Value of one counter from /stats (0 when absent)."""
    assert stack.envoy is not None
    return stack.envoy.stats(f"^{re.escape(name)}$").get(name, 0)


def api_key(name: str) -> list[tuple[str, str]]:
    """The header carrying sample consumer `name`'s API key."""
    return [("x-api-key", API_KEYS[name])]


def keys_fetched(stack, signer, settled: int | None = None, seconds: float = 20.0):
    """The gateway once its JWKS fetch has landed: `settled` answers in a row to a JWT that are not
    503. Until a worker holds the keys it answers JWTs with 503 keys-unavailable (documented in
    filters/auth/README.md); the tests are about the gateway afterwards. Envoy's workers share
    the first fetch, so one answer shows it; on NGINX each worker's first JWT may wait for its
    own, so several in a row over new connections show both workers have the keys."""
    settled = settled or host(stack).jwks_settled
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
