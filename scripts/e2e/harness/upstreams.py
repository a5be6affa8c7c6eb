"""Sample upstream servers for the gateway, each a threaded stdlib HTTP/1.1 server on 127.0.0.1.

- `api_server("v1")` / `api_server("v2")`: echo every request as JSON (version, method, path,
  query, received headers, body) so tests can see exactly what passed through Envoy.
- `collector_server()`: the analytics sink; records each POSTed body (JSON object, array or
  newline-delimited JSON) as events.
- `jwks_server(doc)`: serves a JWKS document for the auth filter.

Every server records the requests it received and can be told to misbehave: answer with a fixed
status (`fail`), hold requests until released (`hang`/`release`), or drop the connection without
answering (`drop`). Header values are decoded as Latin-1, so raw bytes survive
(`value.encode("latin-1")` gives the bytes Envoy sent).

Run as `python -m harness.upstreams --v1 PORT --v2 PORT ...` to serve until SIGTERM (the demo's
`--keep` mode).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from .ports import free_port

HANG_CAP_SECONDS = 60.0
"""A held request is answered after this long even if never released (no stuck threads)."""


@dataclass
class Recorded:
    """One request as the upstream received it."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """First value of header `name` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        """All values of header `name` (case-insensitive), in order."""
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Behavior:
    """How a server answers; change it from tests with the server's helper methods."""

    status: int | None = None
    body: bytes = b""
    hang: threading.Event | None = None
    drop: bool = False
    extra_headers: list[tuple[str, str]] = field(default_factory=list)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Read a Content-Length or chunked request body (Envoy sends chunked for HTTP/2 clients)."""
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            line = handler.rfile.readline(65537)
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailer section ends with an empty line.
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline(3)
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def _handle(self):
        owner = self.server.owner
        body = _read_body(self)
        split = urlsplit(self.path)
        rec = Recorded(
            method=self.command,
            path=split.path,
            query=split.query,
            headers=[(k.lower(), v) for k, v in self.headers.items()],
            body=body,
        )
        owner._record(rec)
        behavior = owner.behavior
        if behavior.hang is not None:
            behavior.hang.wait(HANG_CAP_SECONDS)
        if behavior.drop:
            self.close_connection = True
            return
        if behavior.status is not None:
            status, ctype, payload = behavior.status, "application/json", behavior.body
        else:
            status, ctype, payload = owner._respond(rec)
        self.send_response(status)
        if not any(k.lower() == "content-type" for k, _ in behavior.extra_headers):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in behavior.extra_headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: "SampleServer"


class SampleServer:
    """A controllable upstream; subclasses decide the normal answer in `_respond`."""

    role = "sample"

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.behavior = Behavior()
        self.requests: list[Recorded] = []
        self._cond = threading.Condition()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> "SampleServer":
        self._httpd = _Server(("127.0.0.1", self.port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"{self.role}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # control ---------------------------------------------------------------------------------
    def fail(self, status: int = 500, body: bytes = b'{"error":"injected"}') -> None:
        """Answer every request with `status`."""
        self.behavior.status, self.behavior.body = status, body

    def script(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Answer every request with this exact response (instead of the normal answer)."""
        self.behavior.status, self.behavior.body = status, body
        self.behavior.extra_headers = list(headers)

    def hang(self) -> None:
        """Hold every request until `release()` (or HANG_CAP_SECONDS)."""
        self.behavior.hang = threading.Event()

    def release(self) -> None:
        """Let held requests go and stop holding new ones."""
        if self.behavior.hang is not None:
            self.behavior.hang.set()
            self.behavior.hang = None

    def drop(self) -> None:
        """Close the connection without answering."""
        self.behavior.drop = True

    def heal(self) -> None:
        """Back to normal answers."""
        self.release()
        self.behavior = Behavior()

    def clear(self) -> None:
        """Forget the recorded requests."""
        with self._cond:
            self.requests.clear()

    def wait_requests(self, count: int, timeout: float = 30.0) -> list[Recorded]:
        """Wait until at least `count` requests were recorded (a safety net, not an assertion)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    # internals -------------------------------------------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._cond:
            self.requests.append(rec)
            self._cond.notify_all()

    def _respond(self, rec: Recorded) -> tuple[int, str, bytes]:
        return 200, "application/json", b"{}"


class ApiServer(SampleServer):
    """Sample API of one version; echoes the request as JSON."""

    role = "api"

    def __init__(self, version: str, port: int | None = None):
        super().__init__(port)
        self.version = version

    def _respond(self, rec: Recorded) -> tuple[int, str, bytes]:
        echo = {
            "version": self.version,
            "method": rec.method,
            "path": rec.path,
            "query": rec.query,
            "headers": [[k, v] for k, v in rec.headers],
            "body": rec.body.decode("utf-8", "replace"),
        }
        return 200, "application/json", json.dumps(echo).encode()


class CollectorServer(SampleServer):
    """Analytics sink: records POSTed events."""

    role = "collector"

    def _respond(self, rec: Recorded) -> tuple[int, str, bytes]:
        return 200, "application/json", b'{"accepted":true}'

    def events(self) -> list:
        """Every event received so far (bodies that are arrays are flattened, NDJSON split)."""
        out = []
        with self._cond:
            bodies = [r.body for r in self.requests if r.method == "POST"]
        for body in bodies:
            out.extend(parse_events(body))
        return out

    def wait_events(self, predicate, timeout: float = 30.0) -> list:
        """Wait until `predicate(events())` is true; returns the events either way."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            if predicate(events) or time.monotonic() >= deadline:
                return events
            with self._cond:
                self._cond.wait(0.2)


def parse_events(body: bytes) -> list:
    """Events in a sink body: a JSON array, one JSON object, or newline-delimited JSON."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


class JwksServer(SampleServer):
    """Serves a JWKS document (settable at any time through `.jwks`)."""

    role = "jwks"

    def __init__(self, jwks: dict | None = None, port: int | None = None):
        super().__init__(port)
        self.jwks = jwks or {"keys": []}

    def _respond(self, rec: Recorded) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps(self.jwks).encode()


def main() -> None:
    """Serve the sample upstreams until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--v1", type=int, required=True)
    p.add_argument("--v2", type=int, required=True)
    p.add_argument("--collector", type=int, required=True)
    p.add_argument("--jwks", type=int, required=True)
    p.add_argument("--jwks-file", help="JWKS JSON document to serve")
    args = p.parse_args()
    jwks = None
    if args.jwks_file:
        with open(args.jwks_file, encoding="utf-8") as f:
            jwks = json.load(f)
    servers = [
        ApiServer("v1", args.v1),
        ApiServer("v2", args.v2),
        CollectorServer(args.collector),
        JwksServer(jwks, args.jwks),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for s in servers:
        s.start()
    stop.wait()
    for s in servers:
        s.stop()


if __name__ == "__main__":
    main()
