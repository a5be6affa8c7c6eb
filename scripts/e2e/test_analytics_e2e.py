"""The analytics filter in a real Envoy (envoy-config/analytics.yaml, identity from request
headers as auth would set them): labelled Prometheus metrics via stats_tags, events to the
collector, and a sink that fails or hangs never stalls requests."""

import json
import re

import pytest
from checks import wasm_failures


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
