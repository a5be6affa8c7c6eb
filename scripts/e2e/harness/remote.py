"""Remote module loading (envoy-config/gateway-remote.yaml): a module server and the pinned sha256s.

`ModuleServer` serves a directory's files over HTTP on 127.0.0.1 (what an artifact store would do)
and records each path asked for; `sha256_values(dist)` reads dist/SHA256SUMS into the template's
`{{<FILTER>_SHA256}}` placeholders.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

from .ports import free_port


def sha256_sums(dist: Path) -> dict[str, str]:
    """{file name: sha256} from dist/SHA256SUMS ({} when it is not built)."""
    path = Path(dist) / "SHA256SUMS"
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        sums[name.strip()] = digest.strip()
    return sums


def sha256_values(dist: Path) -> dict[str, str]:
    """`{{AUTH_SHA256}}`... for every dist/filter_<name>.wasm in SHA256SUMS (a placeholder of a
    module not built gets 64 zeros, so a template still renders; Envoy then refuses it)."""
    sums = sha256_sums(dist)
    values = {}
    for name in ("auth", "quota", "analytics", "routing", "bundle", "auth_portable", "bundle_portable"):
        values[f"{name.upper()}_SHA256"] = sums.get(f"filter_{name}.wasm", "0" * 64)
    return values


class ModuleServer:
    """Serves `root`'s files (GET only) on 127.0.0.1:<port>; `requests` lists the paths asked for."""

    def __init__(self, root: Path, port: int | None = None):
        self.root = Path(root)
        self.port = port or free_port()
        self.requests: list[str] = []
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "ModuleServer":
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(server.root), **kw)

            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *a):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def heal(self) -> None:
        pass

    def clear(self) -> None:
        self.requests.clear()
