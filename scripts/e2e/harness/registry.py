"""A real OCI registry and skopeo for the image tests (test_oci.py).

`Registry` runs Debian's `docker-registry` (the CNCF Distribution registry) in the foreground on
127.0.0.1 with its own storage directory and a free port; `skopeo(...)` runs skopeo against it
(plain HTTP, so `--*-tls-verify=false`). Both come from Debian (`scripts/test` installs them);
`unavailable()` says what is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .envoy import _die_with_parent
from .ports import free_port

REGISTRY_BIN = "docker-registry"
SKOPEO_BIN = "skopeo"


def unavailable() -> str | None:
    missing = [b for b in (REGISTRY_BIN, SKOPEO_BIN) if shutil.which(b) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install docker-registry skopeo)"
    return None


class Registry:
    """docker-registry serving workdir/storage on 127.0.0.1:<free port>, no auth, plain HTTP."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.storage = self.workdir / "storage"
        self.config = self.workdir / "config.yml"
        self.log_path = self.workdir / "registry.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Registry":
        self.storage.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            "version: 0.1\n"
            "log: {level: info, accesslog: {disabled: true}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: {self.host}}}\n",
            encoding="utf-8",
        )
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [REGISTRY_BIN, "serve", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"docker-registry not answering on {self.host}: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def get(self, path: str, accept: str | None = None) -> tuple[int, dict, bytes]:
        """(status, headers, body) of GET http://host<path> (the registry's HTTP API)."""
        req = urllib.request.Request(f"http://{self.host}{path}")
        if accept:
            req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def skopeo(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run skopeo; raises with its output when it fails."""
    result = subprocess.run(
        [SKOPEO_BIN, *args], capture_output=True, timeout=timeout, check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"skopeo {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
        )
    return result
