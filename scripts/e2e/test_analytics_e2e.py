"""The analytics filter in a real Envoy (envoy-config/analytics.yaml, identity from request
headers as auth would set them): labelled Prometheus metrics via stats_tags, events to the
collector, and a sink that fails or hangs never stalls requests."""

import json
import re
import time

import pytest
from checks import wasm_failures
from harness.stack import default_plugin_config


@pytest.fixture(scope="module")
def gw(stack_factory):
    return stack_factory("analytics.yaml")


def ident(consumer):
    return [("x-gateway-consumer", consumer), ("x-gateway-plan", "gold"), ("x-gateway-credential", "api-key")]


def prom_lines(gw, metric):
    return [ln for ln in gw.envoy.prometheus().splitlines() if ln.startswith(metric + "{")]


def test_requests_become_labelled_prometheus_metrics(gw):
    for _ in range(3):
        assert gw.request("/v1/orders", headers=ident("alice")).status == 200
    lines = prom_lines(gw, "gateway_requests_total")
    wanted = [ln for ln in lines if 'consumer="alice"' in ln and 'api="orders"' in ln and 'status_class="2xx"' in ln]
    assert wanted, "\n".join(lines)
    assert int(float(wanted[0].rsplit(" ", 1)[1])) >= 3
    # Labels are extracted: no `.consumer=` left in any exported name.
    assert not any(".consumer=" in ln or "consumer_alice" in ln for ln in gw.envoy.prometheus().splitlines())


def test_events_reach_collector(gw):
    gw.request("/v2/orders/9", headers=ident("bob"))
    events = gw.collector.wait_events(lambda ev: any(e.get("consumer") == "bob" for e in ev))
    mine = [e for e in events if e.get("consumer") == "bob"]
    assert mine, events
    e = mine[0]
    assert e["status"] == 200 and e["method"] == "GET" and e["api"] == "orders"


def test_weird_values_keep_events_valid_json(gw):
    gw.raw(b"GET /v1/weird?q=%22 HTTP/1.1\r\nHost: gw\r\nx-gateway-consumer: ev\"il\xc0\xa7\xe2\x80\xa8\r\n"
           b"x-gateway-plan: a\\b\r\nConnection: close\r\n\r\n")
    # events() parses every body the collector received: invalid JSON raises here.
    events = gw.collector.wait_events(lambda ev: any("/v1/weird" in str(e.get("path", "")) for e in ev))
    assert any("/v1/weird" in str(e.get("path", "")) for e in events), events


def test_sink_failure_never_fails_requests(gw):
    gw.collector.fail(500)
    try:
        for _ in range(5):
            assert gw.request("/v1/orders", headers=ident("carol")).status == 200
    finally:
        gw.collector.heal()


def test_sink_hang_never_stalls_requests(gw):
    gw.collector.hang()
    try:
        for _ in range(5):
            assert gw.request("/v1/orders", headers=ident("dave")).status == 200
    finally:
        gw.collector.release()


def test_label_cardinality_is_bounded(gw):
    for i in range(130):
        gw.request("/v1/orders", headers=ident(f"c{i}"))
    consumers = set()
    for ln in prom_lines(gw, "gateway_requests_total"):
        m = re.search(r'consumer="([^"]*)"', ln)
        if m:
            consumers.add(m.group(1))
    assert len(consumers) <= 101, len(consumers)  # 100 configured + the overflow bucket


def test_bad_inputs_do_not_trap(gw):
    gw.request("/v1/orders", headers=ident("alice") + [("x-gateway-consumer", "bob")])
    gw.request("/v1/orders", headers=[("x-gateway-consumer", "z" * 30000)])
    gw.h2("/v1/orders", method="POST", headers=ident("alice"), body=b"x", trailers=[("x-t", "1")])
    assert gw.request("/v1/orders", headers=ident("alice")).status == 200
    assert wasm_failures(gw) == []


def test_whole_batches_go_without_waiting_for_ticks(stack_factory):
    """Small batches and a long tick: a burst of 60 events drains one batch per collector round
    trip once a tick starts it, where one batch per tick would take 6 ticks per worker."""
    config = default_plugin_config("analytics")
    config["events"] = {**config["events"], "max_batch_events": 5, "flush_interval_ms": 2000}
    gw = stack_factory("analytics.yaml", configs={"analytics": config})
    for _ in range(60):
        assert gw.request("/v1/orders", headers=ident("burst")).status == 200
    sent = time.monotonic()
    burst = lambda ev: [e for e in ev if e.get("consumer") == "burst"]
    events = gw.collector.wait_events(lambda ev: len(burst(ev)) >= 60, timeout=5.5)
    waited = time.monotonic() - sent
    assert len(burst(events)) == 60, f"{len(burst(events))} of 60 events after {waited:.1f} s"
    assert wasm_failures(gw) == []
