"""Analytics in a real Envoy scraped by a real Prometheus (the Debian package): envoy-config/
analytics.yaml, whose stats_tags are filters/analytics/stats_tags.yaml's, turns the labelled
metric names into Prometheus labels; a local reply is counted with its reason; every request
becomes one event at the collector; and a PromQL query per consumer matches the requests sent."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
from harness.ports import free_port

CONFIG = {
    "apis": [
        {"name": "orders", "path_prefixes": ["/orders"]},
        {"name": "missing", "path_prefixes": ["/missing"]},
    ],
    "events": {"cluster": "collector", "flush_interval_ms": 200},
}
"""The plugin configuration: `/missing` is answered by Envoy itself (a direct response)."""

SENT = {"alice": 3, "bob": 2}
"""Requests per consumer, each a 200 from the sample API."""

EVENTS = sum(SENT.values()) + 1
"""One event per request, the local reply included."""


@pytest.fixture(scope="module")
def gw(stack_factory):
    """The gateway after the traffic: SENT as the identity headers auth would set (with a query
    string that must not reach the events), then one request Envoy answers locally."""
    gw = stack_factory("analytics.yaml", configs={"analytics": CONFIG})
    for who, n in SENT.items():
        for _ in range(n):
            r = gw.request("/orders/1?api_key=secret", headers=[("x-gateway-consumer", who), ("x-gateway-version", "v2")])
            assert r.status == 200, f"{who}: status {r.status}"
    assert gw.request("/missing").status == 404
    time.sleep(1.0)
    return gw


@pytest.fixture(scope="module")
def prom(gw) -> str:
    text = gw.envoy.prometheus()
    print("\n".join(ln for ln in text.splitlines() if ln.startswith(("gateway_requests_total", "gateway_local", "analytics_"))))
    return text


def test_each_consumer_is_a_label_of_the_request_count(prom):
    for who, n in SENT.items():
        want = f'gateway_requests_total{{consumer="{who}",api="orders",version="v2",status_class="2xx"}} {n}'
        assert want in prom, f"missing: {want}"


def test_a_local_reply_is_counted_with_its_reason(prom):
    local = re.search(r'gateway_local_replies_total\{[^}]*reason="direct_response"[^}]*\} 1', prom)
    assert local, "local reply (direct_response 404) not counted"


def test_the_latency_histogram_has_its_labels(prom):
    bucket = r'gateway_request_duration_ms_bucket\{api="orders",version="v2",status_class="2xx",le="[^"]+"\}'
    assert re.search(bucket, prom), "latency histogram without labels"


def test_every_label_is_extracted(prom):
    assert not re.search(r"^gateway_[a-z_]+_(?:consumer|api)_", prom, re.M), "a label was not extracted"


def test_the_collector_gets_one_event_per_request(gw):
    events = gw.collector.wait_events(lambda ev: len(ev) >= EVENTS)
    batches = [r for r in gw.collector.requests if r.method == "POST"]
    print(f"{len(batches)} batch(es), {len(events)} event(s); first: {json.dumps(events[0]) if events else None}")
    assert len(events) == EVENTS, f"collector got {len(events)} events, want {EVENTS}"
    assert not any(b"secret" in r.body for r in batches), "query string leaked into events"
    assert all(r.header("content-type") == "application/x-ndjson" for r in batches), "wrong content type"


@pytest.fixture(scope="module")
def prometheus(gw, tmp_path_factory):
    """Prometheus scraping Envoy's /stats/prometheus every second; its HTTP port."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (scripts/test installs the Debian package)"
    work = tmp_path_factory.mktemp("prometheus")
    port = free_port()
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "- job_name: envoy\n"
        "  metrics_path: /stats/prometheus\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{gw.admin_port}']}}]\n"
    )
    with open(work / "prometheus.log", "w") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={work}/tsdb", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def promql(port: int, query: str) -> dict:
    """{consumer: value} of an instant query, {} while Prometheus is not answering yet."""
    url = f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(query)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            result = json.loads(r.read())["data"]["result"]
    except (OSError, ValueError, KeyError):
        return {}
    return {m["metric"].get("consumer"): int(float(m["value"][1])) for m in result}


def test_promql_per_consumer_matches_the_requests_sent(prometheus):
    """Polls `sum by (consumer) (gateway_requests_total{api="orders"})` until it matches."""
    got = {}
    for _ in range(60):
        got = promql(prometheus, 'sum by (consumer) (gateway_requests_total{api="orders"})')
        if got == SENT:
            break
        time.sleep(0.5)
    print(f"PromQL per consumer: {got}")
    assert got == SENT, f"PromQL per consumer gave {got}, want {SENT}"
