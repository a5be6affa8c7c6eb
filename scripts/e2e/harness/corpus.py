"""The conformance corpus: Proxy-Wasm modules nobody here wrote (the proxy-wasm Rust SDK's
examples), each run with a host-test scenario by host-test's CLI and through a real Envoy, and
compared.

- `build(example, target)`: unpacks the vendored SDK archive once into a cache outside the
  checkout (`HOST_TEST_CORPUS_CACHE`, default `~/.cache/host-test-corpus`; cargo must not see the
  workspace above the examples) and builds the example with cargo into
  `target/host-test-corpus` (crates.io is the only network it needs, once; a rerun costs
  seconds).
- `Corpus`: `host-test/scenarios/corpus/corpus.json`, the examples, their scenarios, what Envoy
  needs around them (filters before the Wasm filter, gRPC clusters) and why an example is left
  out.
- `run(entry, ...)`: the scenario through `host-test run --json`, then through Envoy with a
  generated configuration: one listener, the example's Wasm filter (same plugin and VM
  configuration, vm_id, root_id) and the router, an upstream that answers each step's scripted
  response byte for byte, a callout server per scenario cluster answering the step's `calls` in
  order (HTTP/1.1; HTTP/2 gRPC for the entry's `grpc_clusters`; `unanswered`/`timeout` hang,
  `fail` resets). Per request step both hosts must agree on the status, whether and what the
  upstream received (headers and body), the response headers and body the client got, and the
  lines the filter logged (worker and main thread apart, in order); at start-up and on
  `advance_ms` steps (slept through on Envoy's wall clock) on the lines logged by each thread;
  at the end on every `wasmcustom` counter. What differs because the hosts are different
  programs is normalised by `NORMALISE` (each rule with its reason,
  `differential/KNOWN_DIFFERENCES.md`).

Scenario requests and responses are sent as written: the client adds only `host` (from
`:authority`), the upstream only `content-length` when the scenario gives none; so a scenario
states the headers a real client or upstream sends (`content-length` of a body,
`x-forwarded-proto`, which Envoy's connection manager adds before the filters when absent).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import ROOT, VENV_ENVOY
from .envoy import Envoy
from .ports import free_port

CORPUS_DIR = ROOT / "host-test" / "scenarios" / "corpus"
MANIFEST = CORPUS_DIR / "corpus.json"
TARGET_DIR = ROOT / "target" / "host-test-corpus"
DEFAULT_SDK = ROOT.parent / "shared" / "vendor" / "proxy-wasm-rust-sdk" / "proxy-wasm-rust-sdk-19e691b.tar.gz"

ENVOY_ADDED_UPSTREAM = {
    "x-forwarded-proto", "x-request-id", "x-envoy-expected-rq-timeout-ms", "x-forwarded-for",
    "x-envoy-external-address", "host", "content-length", "transfer-encoding",
}
"""Request headers Envoy's router and codec add after the filters (not compared)."""
ENVOY_ADDED_CLIENT = {"server", "date", "content-length", "transfer-encoding", "connection"}
"""Response headers Envoy's codec adds after the filters (not compared)."""

NORMALISE = [
    (re.compile(r"\d+(?:\.\d+)?"), "N",
     "ticks and the SDK's hello_world print the wall clock and random numbers: host-test runs on "
     "virtual time (whole seconds from its start) with a seeded random_get, Envoy on the real "
     "clock (with fractions of a second) and entropy; numbers are masked in the lines logged at "
     "start-up and during advance_ms steps only"),
]


# building ---------------------------------------------------------------------------------------

def sdk_archive() -> Path:
    """The vendored SDK archive (`HOST_TEST_CORPUS_SDK` overrides the default location)."""
    return Path(os.environ.get("HOST_TEST_CORPUS_SDK") or DEFAULT_SDK)


def cache_dir() -> Path:
    return Path(os.environ.get("HOST_TEST_CORPUS_CACHE") or Path.home() / ".cache" / "host-test-corpus")


SDK_SHA256 = "c61b2e2a71c73f6fbb6548a6509000486e64cc9bd7da7830700beb3edc14e610"
"""The vendored SDK archive's digest: an archive with another one is refused, and without the
archive (a checkout whose ../shared is not beside it) the copy unpacked from it before is used."""


def unpacked() -> Path:
    """The SDK unpacked (once) outside the checkout; its root directory. Raises FileNotFoundError
    when neither the archive nor an unpacked copy of it is here."""
    archive = sdk_archive()
    dest = cache_dir() / SDK_SHA256[:16]
    marker = dest / ".unpacked"
    if not marker.is_file():
        if not archive.is_file():
            raise FileNotFoundError(f"the vendored proxy-wasm Rust SDK {archive} is missing and was "
                                    f"never unpacked into {dest} (HOST_TEST_CORPUS_SDK)")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SDK_SHA256:
            raise RuntimeError(f"{archive}: sha256 {digest}, expected {SDK_SHA256}")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        marker.write_text(archive.name, encoding="utf-8")
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise RuntimeError(f"{dest}: expected one top-level directory, found {roots}")
    return roots[0]


def build(example: str, target: str) -> Path:
    """Builds SDK example `example` for `target` in release; returns the `.wasm`."""
    manifest = unpacked() / "examples" / example / "Cargo.toml"
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS")}
    env["CARGO_TARGET_DIR"] = str(TARGET_DIR)
    res = subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--target", target, "--manifest-path", str(manifest)],
        cwd=manifest.parent, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    if res.returncode != 0:
        raise RuntimeError(f"building {example} for {target} failed:\n{res.stderr[-3000:]}")
    package = _package_name(manifest)
    wasm = TARGET_DIR / target / "release" / f"{package.replace('-', '_')}.wasm"
    if not wasm.is_file():
        raise RuntimeError(f"{example}: no module at {wasm}")
    return wasm


def _package_name(manifest: Path) -> str:
    m = re.search(r'^name\s*=\s*"([^"]+)"', manifest.read_text(encoding="utf-8"), re.M)
    if not m:
        raise RuntimeError(f"{manifest}: no package name")
    return m.group(1)


# the manifest -----------------------------------------------------------------------------------

@dataclass
class Entry:
    """One example of the corpus, built for one target."""

    example: str
    target: str
    scenario: Path | None
    grpc_clusters: list[str] = field(default_factory=list)
    http_filters_before: list[dict] = field(default_factory=list)
    excluded: str | None = None

    @property
    def id(self) -> str:
        return f"{self.example}@{self.target}"


def entries() -> list[Entry]:
    """Every example and target of the manifest, excluded ones included (with their reason)."""
    doc = json.loads(MANIFEST.read_text(encoding="utf-8"))
    out = []
    for name, e in doc["examples"].items():
        for target in e.get("targets", ["wasm32-wasip1"]):
            out.append(Entry(
                example=name,
                target=target,
                scenario=CORPUS_DIR / e["scenario"] if e.get("scenario") else None,
                grpc_clusters=e.get("grpc_clusters", []),
                http_filters_before=e.get("envoy_http_filters_before", []),
                excluded=e.get("excluded"),
            ))
    return out


# scenario values --------------------------------------------------------------------------------

def pairs(headers) -> list[tuple[str, str]]:
    """A scenario header field: an object or a list of [name, value] pairs, in order."""
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return [(k, v) for k, v in headers]


def body(d: dict | None) -> bytes:
    """A scenario body: `body` (UTF-8), `body_base64`, `chunks` or `chunks_base64`, joined."""
    if not d:
        return b""
    if d.get("body_base64") is not None:
        return base64.b64decode(d["body_base64"])
    if d.get("chunks_base64"):
        return b"".join(base64.b64decode(c) for c in d["chunks_base64"])
    if d.get("chunks"):
        return "".join(d["chunks"]).encode()
    return (d.get("body") or "").encode()


def _host_test_body(seen: dict) -> bytes:
    if seen.get("body_base64") is not None:
        return base64.b64decode(seen["body_base64"])
    return (seen.get("body") or "").encode()


# a scripted HTTP/1.1 upstream and callout server ------------------------------------------------

@dataclass
class Seen:
    """A request as a server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes


def _read_head(f) -> tuple[str, list[tuple[str, str]]] | None:
    line = f.readline(65537)
    if not line:
        return None
    start = line.decode("latin-1").rstrip("\r\n")
    headers = []
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip().lower(), v.strip()))
    return start, headers


def _read_body(f, headers) -> bytes:
    """A content-length or chunked body; ValueError when the connection ends before it does."""
    te = next((v for k, v in headers if k == "transfer-encoding"), "")
    if "chunked" in te.lower():
        out = []
        while True:
            line = f.readline(65537)
            if not line:
                raise ValueError("connection closed inside a chunked body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while f.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(out)
            chunk = f.read(size)
            if len(chunk) < size:
                raise ValueError("connection closed inside a chunk")
            out.append(chunk)
            f.readline(3)
    n = int(next((v for k, v in headers if k == "content-length"), "0") or 0)
    data = f.read(n) if n else b""
    if len(data) < n:
        raise ValueError("connection closed before content-length bytes")
    return data


def _response_bytes(status: int, headers: list[tuple[str, str]], payload: bytes) -> bytes:
    headers = list(headers)
    framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
    if not framed and status not in (204, 304):
        headers.append(("content-length", str(len(payload))))
    head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + payload


class Http1Server:
    """Answers each request with the next scripted reply (`push`), or the default; records what
    it received. A reply is `(status, headers, body)`, `"hang"` (no answer until stopped) or
    `"reset"` (close without answering)."""

    def __init__(self, name: str):
        self.name = name
        self.port = free_port()
        self.default = (200, [("content-length", "0")], b"")
        self.replies: list = []
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    def start(self) -> "Http1Server":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.2)
        self._sock = s
        threading.Thread(target=self._accept, name=f"corpus-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    def push(self, reply) -> None:
        with self._lock:
            self.replies.append(reply)

    def _next(self):
        with self._lock:
            return self.replies.pop(0) if self.replies else self.default

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c: socket.socket) -> None:
        f = c.makefile("rb")
        try:
            while not self._stop.is_set():
                head = _read_head(f)
                if head is None:
                    return
                start, headers = head
                method, target = (start.split(" ") + ["", ""])[:2]
                data = _read_body(f, headers)
                with self._lock:
                    self.seen.append(Seen(method, target, headers, data))
                reply = self._next()
                if reply == "hang":
                    self._stop.wait(30)
                    return
                if reply == "reset":
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return
                c.sendall(_response_bytes(*reply))
        except (OSError, ValueError):
            return
        finally:
            f.close()
            c.close()


class GrpcServer:
    """An HTTP/2 (h2c) server answering each unary gRPC call with the next scripted reply:
    `(grpc_status, message bytes, grpc_message)`, `"hang"` or `"reset"`."""

    def __init__(self, name: str):
        self.name = name
        self.port = free_port()
        self.replies: list = []
        self.seen: list[Seen] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    start = Http1Server.start
    stop = Http1Server.stop
    push = Http1Server.push
    _accept = Http1Server._accept

    def _next(self):
        with self._lock:
            return self.replies.pop(0) if self.replies else (0, b"", "")

    def _serve(self, c: socket.socket) -> None:
        import h2.config
        import h2.connection
        import h2.events

        conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        c.sendall(conn.data_to_send())
        streams: dict[int, tuple[list, bytearray]] = {}
        c.settimeout(0.2)
        try:
            while not self._stop.is_set():
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                for ev in conn.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = ([(_s(k), _s(v)) for k, v in ev.headers], bytearray())
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1].extend(ev.data)
                        conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, raw = streams.pop(ev.stream_id)
                        path = next((v for k, v in headers if k == ":path"), "")
                        with self._lock:
                            self.seen.append(Seen("POST", path, headers, bytes(raw[5:])))
                        reply = self._next()
                        if reply == "hang":
                            continue
                        if reply == "reset":
                            conn.reset_stream(ev.stream_id)
                        else:
                            self._answer(conn, ev.stream_id, *reply)
                c.sendall(conn.data_to_send())
        except OSError:
            return
        finally:
            c.close()

    @staticmethod
    def _answer(conn, sid: int, status: int, message: bytes, text: str) -> None:
        head = [(":status", "200"), ("content-type", "application/grpc")]
        if status != 0:
            trailers = head + [("grpc-status", str(status))] + ([("grpc-message", text)] if text else [])
            conn.send_headers(sid, trailers, end_stream=True)
            return
        conn.send_headers(sid, head)
        conn.send_data(sid, b"\x00" + len(message).to_bytes(4, "big") + message)
        conn.send_headers(sid, [("grpc-status", "0")], end_stream=True)


def _s(x) -> str:
    return x.decode("latin-1") if isinstance(x, bytes) else x


# the client -------------------------------------------------------------------------------------

@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reset: bool = False
    """The connection closed before the response was complete (a reset stream)."""


def send(port: int, method: str, target: str, headers: list[tuple[str, str]], data: bytes,
         timeout: float = 30.0) -> Response:
    """One HTTP/1.1 request with exactly these header fields (plus `content-length` for a body
    when they carry none)."""
    if data and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        headers = headers + [("content-length", str(len(data)))]
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(head.encode("latin-1") + data)
        f = c.makefile("rb")
        try:
            head = _read_head(f)
        except OSError:
            head = None
        if head is None:
            return Response(0, [], b"", reset=True)
        start, resp_headers = head
        status = int(start.split(" ")[1])
        reset = False
        try:
            if method == "HEAD" or status in (204, 304) or status < 200:
                payload = b""
            elif any(k in ("content-length", "transfer-encoding") for k, _ in resp_headers):
                payload = _read_body(f, resp_headers)
            else:
                payload = f.read()
        except (OSError, ValueError):
            payload, reset = b"", True
        f.close()
    return Response(status, resp_headers, payload, reset)


# Envoy ------------------------------------------------------------------------------------------

class CorpusEnvoy(Envoy):
    """Envoy logging to its stdout file (unbuffered, unlike --log-path) as
    `[thread id][level][logger] message`, with the wasm logger at the scenario's level."""

    def __init__(self, *a, wasm_level: str = "info", **kw):
        super().__init__(*a, **kw)
        self.wasm_level = wasm_level

    def command(self) -> list[str]:
        return [
            str(self.binary), "-c", str(self.config_path), "--base-id", str(self.admin_port),
            "--concurrency", str(self.concurrency), "-l", "warning",
            "--component-log-level", f"wasm:{self.wasm_level}",
            "--log-format", "[%t][%l][%n] %v",
        ]


LOG_LINE = re.compile(r"^\[(\d+)\]\[(\w+)\]\[(\w+)\] (.*)$")
WASM_LOG = re.compile(r"^wasm log[^:]*: ?(.*)$", re.S)
LEVELS = {"warning": "warn"}


@dataclass
class LogLine:
    thread: str  # "main" or "worker"
    level: str
    message: str


class EnvoyLog:
    """The `wasm log` lines of an Envoy's output, read incrementally."""

    def __init__(self, path: Path, pid: int):
        self.path = path
        self.pid = str(pid)
        self.offset = 0
        self.lines: list[LogLine] = []

    def read(self) -> list[LogLine]:
        """New wasm log lines since the last call (a message may span several lines)."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        out: list[LogLine] = []
        current = None
        for raw in chunk[:end].decode("utf-8", "replace").split("\n")[:-1]:
            m = LOG_LINE.match(raw)
            if m is None:
                if current is not None:
                    current[3] += "\n" + raw
                continue
            if current is not None:
                out.append(self._line(current))
            current = list(m.groups())
        if current is not None:
            out.append(self._line(current))
        out = [x for x in out if x is not None]
        self.lines += out
        return out

    def _line(self, g) -> LogLine | None:
        tid, level, logger, msg = g
        m = WASM_LOG.match(msg)
        if logger != "wasm" or m is None:
            return None
        return LogLine("main" if tid == self.pid else "worker", LEVELS.get(level, level), m.group(1))


def envoy_config(scenario: dict, entry: Entry, modules: list[Path], ports: dict[str, int],
                 cluster_ports: dict[str, int]) -> dict:
    """The Envoy configuration the scenario describes (see the module documentation)."""
    wasm_filters = []
    for f, module in zip(scenario["filters"], modules):
        cfg = f.get("config")
        cfg = "" if cfg is None else cfg if isinstance(cfg, str) else json.dumps(cfg, separators=(",", ":"))
        plugin = {
            "name": f.get("name") or module.stem,
            "root_id": f.get("root_id", ""),
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": cfg},
            "failure_policy": f.get("failure_policy", "FAIL_CLOSED"),
            "vm_config": {
                "vm_id": f.get("vm_id", ""),
                "runtime": "envoy.wasm.runtime.v8",
                "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                  "value": f.get("vm_config", "")},
                "code": {"local": {"filename": str(module)}},
            },
        }
        wasm_filters.append({
            "name": "envoy.filters.http.wasm",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                             "config": plugin},
        })
    router = {"name": "envoy.filters.http.router",
              "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                               "suppress_envoy_headers": True}}

    def cluster(name: str, port: int, h2: bool) -> dict:
        c = {
            "name": name,
            "connect_timeout": "2s",
            "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}]}]},
        }
        if h2:
            c["typed_extension_protocol_options"] = {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}},
                }}
        return c

    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ports["admin"]}}},
        "static_resources": {
            "listeners": [{
                "name": "corpus",
                "address": {"socket_address": {"address": "127.0.0.1", "port_value": ports["listen"]}},
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "corpus",
                        "codec_type": "AUTO",
                        "generate_request_id": False,
                        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                            {"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "10s"}}]}]},
                        "http_filters": entry.http_filters_before + wasm_filters + [router],
                    },
                }]}],
            }],
            "clusters": [cluster("upstream", ports["upstream"], False)]
            + [cluster(n, p, n in entry.grpc_clusters) for n, p in cluster_ports.items()],
        },
    }


# running and comparing --------------------------------------------------------------------------

def host_test(binary: Path, scenario_path: Path, modules: list[Path]) -> dict:
    cmd = [str(binary), "run", str(scenario_path), "--json"]
    for m in modules:
        cmd += ["--module", str(m)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"host-test failed ({res.returncode}): {res.stderr[-2000:]}")
    return json.loads(res.stdout)


def _mask(text: str) -> str:
    for rx, repl, _ in NORMALISE:
        text = rx.sub(repl, text)
    return text


def _ht_lines(records: list[dict], workers: int, masked: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"main": [], "worker": []}
    for r in records:
        msg = f"{r['level']}: {r['message']}"
        out["main" if r["worker"] >= workers else "worker"].append(_mask(msg) if masked else msg)
    return out


def _envoy_lines(lines: list[LogLine], masked: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"main": [], "worker": []}
    for x in lines:
        msg = f"{x.level}: {x.message}"
        out[x.thread].append(_mask(msg) if masked else msg)
    return out


def _compare_logs(what: str, ht: dict[str, list[str]], env: dict[str, list[str]], exact: bool) -> list[str]:
    diffs = []
    for thread in ("worker", "main"):
        a, b = ht[thread], env[thread]
        same = a == b if exact else sorted(set(a)) == sorted(set(b))
        if not same:
            diffs.append(f"{what}: {thread} thread logged\n    host-test {a}\n    envoy     {b}")
    return diffs


def _headers_cmp(what: str, a: list[tuple[str, str]], b: list[tuple[str, str]], drop: set[str]) -> list[str]:
    x = [(k, v) for k, v in a if not k.startswith(":") and k not in drop]
    y = [(k.lower(), v) for k, v in b if k.lower() not in drop]
    if x != y:
        return [f"{what}: host-test {x} != envoy {y}"]
    return []


@dataclass
class Stack:
    envoy: CorpusEnvoy
    log: EnvoyLog
    upstream: Http1Server
    callouts: dict[str, Http1Server | GrpcServer]
    listen: int
    admin: int

    def stop(self) -> None:
        self.envoy.stop()
        self.upstream.stop()
        for s in self.callouts.values():
            s.stop()


def start(scenario: dict, entry: Entry, modules: list[Path], workdir: Path) -> Stack:
    upstream = Http1Server("upstream").start()
    callouts: dict = {}
    for name in scenario.get("clusters", []):
        server = GrpcServer(name) if name in entry.grpc_clusters else Http1Server(name)
        callouts[name] = server.start()
    ports = {"admin": free_port(), "listen": free_port(), "upstream": upstream.port}
    cfg = envoy_config(scenario, entry, modules, ports, {n: s.port for n, s in callouts.items()})
    level = scenario.get("log_level", "info")
    envoy = CorpusEnvoy(json.dumps(cfg, indent=1), workdir, ports["admin"],
                        concurrency=scenario.get("workers") or 1, wasm_level=level, binary=VENV_ENVOY)
    stack = Stack(envoy, EnvoyLog(envoy.out_path, 0), upstream, callouts, ports["listen"], ports["admin"])
    try:
        envoy.start()
        stack.log.pid = str(envoy.pid)
        envoy.wait_ready()
    except BaseException:
        stack.stop()
        raise
    return stack


def _settle(log: EnvoyLog, want: dict[str, list[str]], timeout: float = 5.0, quiet: float = 0.3) -> list[LogLine]:
    """Reads Envoy's wasm log until it has at least as many lines per thread as host-test
    logged and nothing new came for `quiet` seconds (or `timeout` passed)."""
    got: list[LogLine] = []
    deadline = time.monotonic() + timeout
    last_new = time.monotonic()
    while time.monotonic() < deadline:
        new = log.read()
        if new:
            got += new
            last_new = time.monotonic()
        counts = {t: sum(1 for x in got if x.thread == t) for t in ("main", "worker")}
        enough = all(counts[t] >= len(want[t]) for t in want)
        if enough and time.monotonic() - last_new >= quiet:
            break
        time.sleep(0.05)
    return got


def _push_calls(stack: Stack, step: dict) -> None:
    """Scripts the callout servers with the step's `calls`, in order (an entry without
    `cluster` goes to the scenario's first cluster: name it when there are several)."""
    for c in step.get("calls", []):
        cluster = c.get("cluster") or next(iter(stack.callouts), None)
        server = stack.callouts.get(cluster)
        if server is None:
            continue
        if c.get("unanswered") or c.get("timeout"):
            server.push("hang")
        elif c.get("fail"):
            server.push("reset")
        elif isinstance(server, GrpcServer):
            server.push((c.get("grpc_status", 0), body(c), c.get("grpc_message", "")))
        else:
            headers = pairs(c.get("headers"))
            server.push((c.get("status", 200), headers, body(c)))


def run(entry: Entry, binary: Path, workdir: Path) -> tuple[dict, list[str]]:
    """Runs one corpus entry on both hosts; returns host-test's report and the differences."""
    assert entry.scenario is not None
    module = build(entry.example, entry.target)
    scenario = json.loads(entry.scenario.read_text(encoding="utf-8"))
    report = host_test(binary, entry.scenario, [module])
    workers = scenario.get("workers") or 1
    stack = start(scenario, entry, [module], workdir)
    diffs: list[str] = []
    try:
        ht = _ht_lines(report["startup_logs"], workers, masked=True)
        env = _envoy_lines(_settle(stack.log, ht), masked=True)
        diffs += _compare_logs("start-up", ht, env, exact=True)
        for i, step in enumerate(scenario["steps"]):
            rep = report["steps"][i]
            label = f"step {i + 1} ({rep['name']})"
            diffs += [f"{label}: {d}" for d in _step(stack, step, rep, workers)]
        stats = stack.envoy.stats("^wasmcustom\\.")
        for name, value in sorted(report.get("metrics", {}).items()):
            key = f"wasmcustom.{name}"
            if key in stats and stats[key] != value:
                diffs.append(f"metric {name}: host-test {value} != envoy {stats[key]}")
    finally:
        stack.stop()
    return report, diffs


def _step(stack: Stack, step: dict, rep: dict, workers: int) -> list[str]:
    diffs: list[str] = []
    req = step.get("request")
    if step.get("advance_ms"):
        if req is not None:
            return ["a corpus step advances time or sends a request, not both"]
        time.sleep(step["advance_ms"] / 1000 + 0.5)
        ht = _ht_lines(rep["logs"], workers, masked=True)
        env = _envoy_lines(_settle(stack.log, ht, quiet=0.2), masked=True)
        return _compare_logs("advance", ht, env, exact=False)
    if req is None:
        return diffs
    resp = step.get("response") or {}
    stack.upstream.default = (resp.get("status", 200), pairs(resp.get("headers")), body(resp))
    stack.upstream.seen.clear()
    for s in stack.callouts.values():
        s.replies.clear()
    _push_calls(stack, step)
    headers = [("host", req.get("authority", "example.com"))] + pairs(req.get("headers"))
    path = req.get("path", "/")
    out = None
    for _ in range(max(1, step.get("repeat") or 1)):
        stack.upstream.seen.clear()
        out = send(stack.listen, req.get("method", "GET"), path, headers, body(req))
    assert out is not None
    outcome = rep["outcome"]
    ht_logs = _ht_lines(rep["logs"], workers, masked=False)
    env_logs = _envoy_lines(_settle(stack.log, ht_logs), masked=False)
    if not step.get("repeat"):
        diffs += _compare_logs("logs", ht_logs, env_logs, exact=True)
    up, cl = outcome["upstream"], outcome["client"]
    status = next((int(v) for k, v in cl.get("headers") or [] if k == ":status"), 0)
    if status != out.status:
        diffs.append(f"status: host-test {status} != envoy {out.status}")
    reached = up.get("headers") is not None
    seen = stack.upstream.seen[-1] if stack.upstream.seen else None
    if reached != (seen is not None):
        diffs.append(f"reached upstream: host-test {reached} != envoy {seen is not None}")
    if reached and seen is not None:
        up_headers = [tuple(h) for h in up["headers"]]
        ht_path = next((v for k, v in up_headers if k == ":path"), "")
        if ht_path != seen.target:
            diffs.append(f"upstream :path: host-test {ht_path!r} != envoy {seen.target!r}")
        diffs += _headers_cmp("upstream headers", up_headers, seen.headers, ENVOY_ADDED_UPSTREAM)
        if _host_test_body(up) != seen.body:
            diffs.append(f"upstream body: host-test {_host_test_body(up)!r} != envoy {seen.body!r}")
    diffs += _headers_cmp("client headers", [tuple(h) for h in cl.get("headers") or []], out.headers,
                          ENVOY_ADDED_CLIENT)
    if outcome.get("reset") != out.reset:
        diffs.append(f"reset: host-test {outcome.get('reset')} != envoy {out.reset}")
    elif not out.reset and _host_test_body(cl) != out.body:
        diffs.append(f"client body: host-test {_host_test_body(cl)!r} != envoy {out.body!r}")
    return diffs
