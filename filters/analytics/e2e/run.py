#!/usr/bin/env python3
"""Checks the analytics filter in a real Envoy: metric names become Prometheus labels through
stats_tags.yaml, local replies are counted, and usage events reach the collector as JSON lines.

usage: run.py --envoy PATH --wasm PATH [--keep-dir DIR]

Starts (all on 127.0.0.1, free ports) a sample API server, a collector that records POSTed
batches, and Envoy with e2e/envoy.yaml.in; sends requests as alice and bob (the identity header
auth would set) and one that Envoy answers locally; then asserts on /stats/prometheus and on the
collected events. Stdlib only; leaves no process behind. Exit status 0 when every check passed.
"""

import argparse
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envoy", required=True)
    ap.add_argument("--wasm", required=True)
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
        print("\n".join(l for l in prom.splitlines()
                        if l.startswith(("gateway_requests_total", "gateway_local", "analytics_"))))
        print(f"{len(Collector.batches)} batch(es), {len(events)} event(s); first: "
              f"{json.dumps(events[0]) if events else None}")
    finally:
        envoy.terminate()
        envoy.wait(timeout=10)
        api.shutdown()
        collector.shutdown()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures) + f"\n(config and log in {work})")
        sys.exit(1)
    print("OK: labels, local replies and events verified in Envoy")


if __name__ == "__main__":
    main()
