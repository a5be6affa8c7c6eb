"""Clients that can send what a browser or SDK would not: repeated headers, raw bytes, HTTP/2
trailers. All talk to 127.0.0.1 only and open one connection per request."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass, field

TIMEOUT = 60.0

Headers = list[tuple[str, str | bytes]]


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    trailers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        """First value of `name` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def json(self):
        return json.loads(self.body)

    def upstream(self) -> str | None:
        """The sample API version that answered (its echo's "version"), or None."""
        try:
            doc = self.json()
        except ValueError:
            return None
        return doc.get("version") if isinstance(doc, dict) else None

    def echoed_header_all(self, name: str) -> list[str]:
        """Values of request header `name` as the upstream received it (from the echo)."""
        name = name.lower()
        return [v for k, v in self.json().get("headers", []) if k == name]

    def echoed_header(self, name: str) -> str | None:
        values = self.echoed_header_all(name)
        return values[0] if values else None


def _as_pairs(headers) -> Headers:
    if headers is None:
        return []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


def request(
    port: int,
    path: str = "/",
    method: str = "GET",
    headers=None,
    body: bytes | str | None = None,
    host: str = "gateway.local",
) -> Response:
    """One HTTP/1.1 request; `headers` may be a dict or a list of pairs (repeats allowed), values
    str (sent as UTF-8) or bytes (sent raw)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        pairs = _as_pairs(headers)
        if not any(k.lower() == "host" for k, _ in pairs):
            conn.putheader("Host", host)
        for k, v in pairs:
            conn.putheader(k, v.encode("utf-8") if isinstance(v, str) else v)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, [(k.lower(), v) for k, v in resp.getheaders()], data)
    finally:
        conn.close()


def raw_request(port: int, data: bytes) -> Response:
    """Send `data` as-is on a fresh connection and parse the one response (Connection: close is
    not required: reading stops at the end of the first response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        fp = sock.makefile("rb")
        status_line = fp.readline()
        if not status_line:
            raise ConnectionError("connection closed without a response")
        parts = status_line.split(b" ", 2)
        status = int(parts[1])
        headers = []
        while True:
            line = fp.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers.append((k.strip().lower(), v.strip()))
        resp = Response(status, headers, b"")
        length = resp.header("content-length")
        if length is not None:
            resp.body = fp.read(int(length))
        elif "chunked" in (resp.header("transfer-encoding") or ""):
            chunks = []
            while True:
                size = int(fp.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    fp.readline()
                    break
                chunks.append(fp.read(size))
                fp.readline()
            resp.body = b"".join(chunks)
        return resp


def h2_request(
    port: int,
    path: str = "/",
    method: str = "GET",
    headers=None,
    body: bytes | None = None,
    trailers=None,
    authority: str = "gateway.local",
) -> Response:
    """One HTTP/2 (prior knowledge, cleartext) request, optionally with a body and request
    trailers."""
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        req_headers = [
            (":method", method),
            (":path", path),
            (":scheme", "http"),
            (":authority", authority),
        ] + [(k.lower(), v) for k, v in _as_pairs(headers)]
        has_more = bool(body) or bool(trailers)
        conn.send_headers(sid, req_headers, end_stream=not has_more)
        if body:
            conn.send_data(sid, body, end_stream=not trailers)
        if trailers:
            conn.send_headers(sid, _as_pairs(trailers), end_stream=True)
        sock.sendall(conn.data_to_send())

        resp = Response(0, [], b"")
        data = bytearray()
        done = False
        while not done:
            chunk = sock.recv(65536)
            if not chunk:
                break
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    for k, v in ev.headers:
                        k = k.decode() if isinstance(k, bytes) else k
                        v = v.decode("latin-1") if isinstance(v, bytes) else v
                        if k == ":status":
                            resp.status = int(v)
                        else:
                            resp.headers.append((k, v))
                elif isinstance(ev, h2.events.TrailersReceived) and ev.stream_id == sid:
                    resp.trailers = [
                        (k.decode() if isinstance(k, bytes) else k, v.decode("latin-1") if isinstance(v, bytes) else v)
                        for k, v in ev.headers
                    ]
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    data += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    raise ConnectionError(f"HTTP/2 stream reset (error code {ev.error_code})")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    done = True
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        resp.body = bytes(data)
        return resp
