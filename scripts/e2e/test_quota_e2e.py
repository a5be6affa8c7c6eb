"""The quota filter in a real Envoy (envoy-config/quota.yaml, identity from request headers as
auth would set them): limits, 429 with rate-limit headers, counters shared by every worker."""

import threading

import pytest
from checks import assert_problem, upstream_count, wasm_failures

RACE_LIMIT = 10
CONFIG = {
    "plans": [
        {"name": "trial", "limits": [{"name": "per-hour", "limit": 3, "window": "hour"}]},
        {"name": "race", "limits": [{"name": "per-hour", "limit": RACE_LIMIT, "window": "hour"}]},
        {"name": "big", "limits": [{"name": "per-hour", "limit": 100000, "window": "hour"}]},
    ],
    "consumers": [
        {"id": "erin", "plan": "trial"},
        {"id": "racer", "plan": "race"},
        {"id": "alice", "plan": "big"},
    ],
    "key": {"source": "consumer", "per": "none"},
    "headers": {"on_success": True, "ietf": True, "x_ratelimit": True},
    "store": {"max_attempts": 8, "on_error": "admit"},
    "unidentified": "allow",
}


@pytest.fixture(scope="module")
def gw(stack_factory):
    # Two workers, so the shared counters are really shared between VMs.
    return stack_factory("quota.yaml", configs={"quota": CONFIG}, concurrency=2)


def who(consumer, plan=None):
    h = [("x-gateway-consumer", consumer), ("x-gateway-credential", "api-key")]
    if plan:
        h.append(("x-gateway-plan", plan))
    return h


def has_rate_limit_headers(r):
    names = {k for k, _ in r.headers}
    return bool(names & {"ratelimit", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining"})


def test_plan_limit_then_429_with_headers(gw):
    statuses = []
    for _ in range(3):
        r = gw.request("/v1/orders", headers=who("erin"))
        statuses.append(r.status)
        assert has_rate_limit_headers(r), r.headers
    assert statuses == [200, 200, 200]
    before = upstream_count(gw)
    r = gw.request("/v1/orders", headers=who("erin"))
    assert_problem(r, 429)
    assert r.header("retry-after") and r.header("retry-after").isdigit(), r.headers
    assert int(r.header("retry-after")) > 0
    assert has_rate_limit_headers(r)
    if r.header("x-ratelimit-remaining") is not None:
        assert r.header("x-ratelimit-remaining") == "0"
    assert upstream_count(gw) == before


def test_limit_is_shared_by_all_workers(gw):
    """Many concurrent connections (spread over both workers) get exactly the limit."""
    results = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            status = gw.request("/v1/orders", headers=who("racer")).status
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 40
    assert results.count(200) == RACE_LIMIT, results
    assert results.count(429) == 40 - RACE_LIMIT, results


def test_unidentified_requests_are_not_metered(gw):
    for _ in range(5):
        assert gw.request("/v1/orders").status == 200


def test_other_consumers_unaffected(gw):
    r = gw.request("/v1/orders", headers=who("alice"))
    assert r.status == 200
    assert has_rate_limit_headers(r)


def test_bad_inputs_do_not_trap(gw):
    # Duplicate identity headers, non-UTF-8 consumer, huge values, HTTP/2 trailers.
    r = gw.request("/v1/orders", headers=who("alice") + [("x-gateway-consumer", "erin")])
    assert r.status in (200, 400, 403, 429)
    r = gw.raw(b"GET /v1/orders HTTP/1.1\r\nHost: gw\r\nx-gateway-consumer: \xc0\xa7\xff\r\n"
               b"x-gateway-plan: \xfe\r\nConnection: close\r\n\r\n")
    assert r.status in (200, 400, 403)
    r = gw.request("/v1/orders", headers=[("x-gateway-consumer", "a" * 30000)])
    assert r.status in (200, 400, 403)
    r = gw.h2("/v1/orders", method="POST", headers=who("alice"), body=b"x", trailers=[("x-t", "1")])
    assert r.status == 200
    assert gw.request("/v1/orders", headers=who("alice")).status == 200
    assert wasm_failures(gw) == []
