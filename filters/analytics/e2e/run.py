#!/usr/bin/env python3
"""Checks the analytics filter in a real Envoy: metric names become Prometheus labels through
stats_tags.yaml, local replies are counted, and usage events reach the collector as JSON lines.

usage: run.py --envoy PATH --wasm PATH [--prometheus PATH]

Starts (all on 127.0.0.1, free ports) a sample API server, a collector that records POSTed
batches, and Envoy with e2e/envoy.yaml.in; sends requests as alice and bob (the identity header
auth would set) and one that Envoy answers locally; then asserts on /stats/prometheus and on the
collected events. With a Prometheus binary (`--prometheus`, else `prometheus` on PATH, e.g. the
Debian package) it also scrapes Envoy and checks a PromQL query per consumer. Stdlib only;
leaves no process behind. Exit status 0 when every check passed.
"""

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"ok":true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Collector(http.server.BaseHTTPRequestHandler):
    batches = []

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        Collector.batches.append((self.path, self.headers.get("content-type"), self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def get(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_prometheus(binary, admin, work):
    """Starts Prometheus scraping Envoy's /stats/prometheus every second."""
    port = free_port()
    cfg = os.path.join(work, "prometheus.yml")
    open(cfg, "w").write(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "- job_name: envoy\n"
        "  metrics_path: /stats/prometheus\n"
        f"  static_configs: [{{targets: ['127.0.0.1:{admin}']}}]\n")
    log = open(os.path.join(work, "prometheus.log"), "w")
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={work}/tsdb",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    return proc, port


def check_promql(port, sent):
    """Polls `sum by (consumer) (gateway_requests_total{api="orders"})` until it matches."""
    query = urllib.parse.quote('sum by (consumer) (gateway_requests_total{api="orders"})')
    got = {}
    for _ in range(60):
        try:
            _, body = get(f"http://127.0.0.1:{port}/api/v1/query?query={query}")
            result = json.loads(body)["data"]["result"]
            got = {r["metric"].get("consumer"): int(float(r["value"][1])) for r in result}
            if got == sent:
                print(f"PromQL per consumer: {got}")
                return []
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    return [f"PromQL per consumer gave {got}, want {sent}"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
    ap.add_argument("--prometheus", default=shutil.which("prometheus"))
    args = ap.parse_args()

    api, collector = serve(Api), serve(Collector)
    admin, listen = free_port(), free_port()
    tags = open(os.path.join(CRATE, "stats_tags.yaml")).read()
    tags = "\n".join("  " + line for line in tags.splitlines() if not line.startswith("#"))
    config = json.dumps({
        "apis": [{"name": "orders", "path_prefixes": ["/orders"]},
                 {"name": "missing", "path_prefixes": ["/missing"]}],
        "events": {"cluster": "collector", "flush_interval_ms": 200},
    })
    text = open(os.path.join(HERE, "envoy.yaml.in")).read()
    for k, v in {
        "ADMIN_PORT": admin, "LISTEN_PORT": listen, "API_PORT": api.server_address[1],
        "COLLECTOR_PORT": collector.server_address[1], "WASM": os.path.abspath(args.wasm),
        "STATS_TAGS": tags, "CONFIG": " " * 20 + config,
    }.items():
        text = text.replace(f"@{k}@", str(v))
    work = tempfile.mkdtemp(prefix="analytics-e2e-")
    yaml_path = os.path.join(work, "envoy.yaml")
    open(yaml_path, "w").write(text)
    log = open(os.path.join(work, "envoy.log"), "w")
    envoy = subprocess.Popen(
        [args.envoy, "-c", yaml_path, "--concurrency", "2", "--disable-hot-restart",
         "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
    failures = []
    prometheus = None
    try:
        for _ in range(200):
            try:
                if get(f"http://127.0.0.1:{admin}/ready")[1].strip() == b"LIVE":
                    break
            except OSError:
                pass
            if envoy.poll() is not None:
                raise SystemExit(f"envoy exited; see {work}/envoy.log")
            time.sleep(0.1)
        base = f"http://127.0.0.1:{listen}"
        sent = {"alice": 3, "bob": 2}
        for who, n in sent.items():
            for _ in range(n):
                status, _ = get(f"{base}/orders/1?api_key=secret",
                                {"x-gateway-consumer": who, "x-gateway-version": "v2"})
                if status != 200:
                    failures.append(f"{who}: status {status}")
        status, _ = get(f"{base}/missing")
        if status != 404:
            failures.append(f"/missing: status {status}")
        time.sleep(1.0)
        _, prom = get(f"http://127.0.0.1:{admin}/stats/prometheus")
        prom = prom.decode()
        for who, n in sent.items():
            want = (f'gateway_requests_total{{consumer="{who}",api="orders",version="v2",'
                    f'status_class="2xx"}} {n}')
            if want not in prom:
                failures.append(f"missing: {want}")
        local = re.search(r'gateway_local_replies_total\{[^}]*reason="direct_response"[^}]*\} 1', prom)
        if not local:
            failures.append("local reply (direct_response 404) not counted")
        if not re.search(r'gateway_request_duration_ms_bucket\{api="orders",version="v2",'
                         r'status_class="2xx",le="[^"]+"\}', prom):
            failures.append("latency histogram without labels")
        if re.search(r"^gateway_[a-z_]+_(?:consumer|api)_", prom, re.M):
            failures.append("a label was not extracted")
        events = [json.loads(line) for _, _, body in Collector.batches
                  for line in body.decode().splitlines()]
        if len(events) != 6:
            failures.append(f"collector got {len(events)} events, want 6")
        if any("secret" in body.decode() for _, _, body in Collector.batches):
            failures.append("query string leaked into events")
        if any(ct != "application/x-ndjson" for _, ct, _ in Collector.batches):
            failures.append("wrong content type")
        if args.prometheus:
            prometheus = start_prometheus(args.prometheus, admin, work)
            failures += check_promql(prometheus[1], sent)
        else:
            print("SKIP: no prometheus binary; PromQL check not run")
        print("\n".join(l for l in prom.splitlines()
                        if l.startswith(("gateway_requests_total", "gateway_local", "analytics_"))))
        print(f"{len(Collector.batches)} batch(es), {len(events)} event(s); first: "
              f"{json.dumps(events[0]) if events else None}")
    finally:
        if prometheus:
            prometheus[0].terminate()
            prometheus[0].wait(timeout=10)
        envoy.terminate()
        envoy.wait(timeout=10)
        api.shutdown()
        collector.shutdown()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures) + f"\n(config and log in {work})")
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("OK: labels, local replies and events verified in Envoy")


if __name__ == "__main__":
    main()
