"""The global quota store with real processes: Redis, quota-service (Limitador on Redis, Envoy's
rate limit API) and two Envoy instances (distinct base ids, two workers each) sharing one
consumer's quota (envoy-config/quota-global.yaml). Faults: the service killed or hung under load,
Redis restarted."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from checks import assert_problem, stat, wasm_failures

from harness.ports import free_port
from harness.ratelimit import QuotaService, Redis

EXACT_LIMIT = 40
LEASED_LIMIT = 60
BLOCK = 5
INSTANCES = 2
WORKERS = 2
TIMEOUT_MS = 100
# What a client may wait beyond the per-call timeout on this shared 2-core machine.
MARGIN_S = 0.5


def quota_config(**store) -> dict:
    """The quota plugin configuration; `store` sets store.global's options."""
    global_store = {"cluster": "ratelimit", "timeout_ms": TIMEOUT_MS, "on_error": "deny", **store}
    return {
        "plans": [
            {"name": "exact", "limits": [{"name": "per-day", "limit": EXACT_LIMIT, "window": "day"}]},
            {"name": "leased", "limits": [{"name": "per-day", "limit": LEASED_LIMIT, "window": "day"}]},
        ],
        "headers": {"on_success": True},
        "store": {"global": global_store},
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ratelimit")
    redis = Redis(free_port(), workdir / "redis").start()
    svc = QuotaService(quota_config(), redis, free_port(), free_port(), workdir / "service")
    try:
        svc.start()
        yield svc
    finally:
        svc.stop()
        redis.stop()


def instances(stack_factory, service, count=INSTANCES, **store):
    ports = {"RLS_GRPC_PORT": service.grpc_port, "RLS_HTTP_PORT": service.http_port}
    return [
        stack_factory(
            "quota-global.yaml",
            configs={"quota_global": quota_config(**store)},
            ports=dict(ports),
            concurrency=WORKERS,
        )
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def exact(stack_factory, service):
    return instances(stack_factory, service)


@pytest.fixture(scope="module")
def leased(stack_factory, service):
    return instances(stack_factory, service, mode="leased", block=BLOCK)


@pytest.fixture(scope="module")
def over_http(stack_factory, service):
    return instances(stack_factory, service, count=1, protocol="http", cluster="ratelimit_http")


def consumer() -> str:
    return "c" + uuid.uuid4().hex[:12]


def headers(who: str, plan: str):
    return [("x-gateway-consumer", who), ("x-gateway-plan", plan)]


def hammer(stacks, who, plan, n, threads=16):
    """`n` concurrent requests spread round-robin over `stacks`: [(status, seconds, response)]."""

    def one(i):
        start = time.monotonic()
        r = stacks[i % len(stacks)].request("/v1/orders", headers=headers(who, plan))
        return r.status, time.monotonic() - start, r

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


def statuses(results):
    return [s for s, _, _ in results]


def same_day(run):
    """Runs `run()`, again once if a UTC day boundary (the limits' window) passed meanwhile."""
    for _ in range(2):
        day = int(time.time()) // 86_400
        out = run()
        if int(time.time()) // 86_400 == day:
            return out
    pytest.fail("two day boundaries in one test")


def test_exact_mode_admits_exactly_the_limit_across_two_instances(exact):
    results = same_day(lambda: hammer(exact, consumer(), "exact", 100))
    got = statuses(results)
    assert got.count(200) == EXACT_LIMIT, got
    assert got.count(429) == 100 - EXACT_LIMIT, got
    refused = next(r for s, _, r in results if s == 429)
    assert assert_problem(refused, 429)["type"] == "urn:gateway:problem:quota-exceeded"
    assert refused.header("x-ratelimit-remaining") == "0"
    assert int(refused.header("retry-after")) > 0
    calls = sum(stat(gw, "wasmcustom.quota_global_calls") for gw in exact)
    assert calls >= 100, "one check per request"
    for gw in exact:
        assert stat(gw, "wasmcustom.quota_admitted") > 0, "both instances admitted some"
        assert wasm_failures(gw) == []


def test_leased_mode_never_exceeds_the_limit_and_wastes_at_most_the_bound(leased):
    results = same_day(lambda: hammer(leased, consumer(), "leased", 150))
    got = statuses(results)
    bound = INSTANCES * (WORKERS + 1) * BLOCK
    assert set(got) <= {200, 429}, got
    assert LEASED_LIMIT - bound <= got.count(200) <= LEASED_LIMIT, got
    calls = sum(stat(gw, "wasmcustom.quota_global_calls") for gw in leased)
    from_lease = sum(stat(gw, "wasmcustom.quota_global_lease_admitted") for gw in leased)
    assert from_lease > 0 and calls < 150, (calls, from_lease)


def test_the_http_check_counts_exactly(over_http):
    results = same_day(lambda: hammer(over_http, consumer(), "exact", 60))
    got = statuses(results)
    assert got.count(200) == EXACT_LIMIT, got
    assert got.count(429) == 60 - EXACT_LIMIT, got


def load_for(stacks, who, plan, seconds, threads=8):
    """Requests from `threads` clients for `seconds`, round-robin over `stacks`."""
    deadline = time.monotonic() + seconds

    def client(k):
        out = []
        i = k
        while time.monotonic() < deadline:
            start = time.monotonic()
            r = stacks[i % len(stacks)].request("/v1/orders", headers=headers(who, plan))
            out.append((r.status, time.monotonic() - start, r))
            i += 1
        return out

    with ThreadPoolExecutor(threads) as pool:
        return [x for part in pool.map(client, range(threads)) for x in part]


@pytest.fixture
def up(service):
    """The service and Redis running at the start of a fault test."""
    return service.ensure_running()


def test_service_killed_under_load_answers_on_error_in_time_and_resumes(exact, up):
    service = up
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(load_for, exact, consumer(), "exact", 2.0)
        time.sleep(0.5)
        service.kill()
        results = load.result(120)
    got = statuses(results)
    assert 200 in got, "admitted before the kill"
    assert set(got) <= {200, 429, 503}, got
    assert 503 in got, "the service was down for part of the load"
    for status, seconds, r in results:
        assert seconds < TIMEOUT_MS / 1000 + MARGIN_S, (status, seconds)
        if status == 503:
            assert assert_problem(r, 503)["type"] == "urn:gateway:problem:quota-unavailable"
    assert sum(stat(gw, "wasmcustom.quota_global_failure_denied") for gw in exact) >= got.count(503)
    service.start()
    assert eventually_admitted(exact[0], consumer(), "exact"), service.log_tail()


def test_a_hung_service_costs_a_client_at_most_the_timeout(exact, up):
    service = up
    service.pause()
    try:
        results = hammer(exact, consumer(), "exact", 12, 4)
    finally:
        service.resume()
    for status, seconds, r in results:
        assert status == 503, status
        assert assert_problem(r, 503)["type"] == "urn:gateway:problem:quota-unavailable"
        assert TIMEOUT_MS / 1000 * 0.9 <= seconds < TIMEOUT_MS / 1000 + MARGIN_S, seconds
    assert eventually_admitted(exact[1], consumer(), "exact")


def test_the_service_recovers_when_redis_restarts(exact, up):
    service = up
    assert exact[0].request("/v1/orders", headers=headers(consumer(), "exact")).status == 200
    service.redis.restart()
    assert eventually_admitted(exact[0], consumer(), "exact"), service.log_tail()
    for gw in exact:
        assert wasm_failures(gw) == []


def eventually_admitted(gw, who, plan, seconds=15.0) -> bool:
    """Whether a request is admitted within `seconds` (the service or Redis coming back)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = gw.request("/v1/orders", headers=headers(who, plan))
        if r.status == 200:
            return True
        assert r.status == 503, r.status
        time.sleep(0.2)
    return False
