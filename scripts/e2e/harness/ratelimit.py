"""Redis and the quota-service (the global quota store) as processes of a test: on 127.0.0.1
ports, in a work directory, killed with the test process, and faults on demand (kill, pause,
restart).

The quota-service binary is built by `scripts/quota-service build` in a cache outside the
checkout; QUOTA_SERVICE_BIN names another one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import ROOT
from .envoy import _die_with_parent

START_TIMEOUT = 30.0


def service_binary() -> Path:
    """The quota-service binary (QUOTA_SERVICE_BIN, or the one scripts/quota-service built)."""
    if os.environ.get("QUOTA_SERVICE_BIN"):
        return Path(os.environ["QUOTA_SERVICE_BIN"])
    out = subprocess.run(
        [str(ROOT / "scripts" / "quota-service"), "path"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _wait(what: str, ready, proc: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {timeout:.0f}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGCONT)
    except OSError:
        pass
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Redis:
    """A redis-server on 127.0.0.1:`port` keeping nothing on disk."""

    def __init__(self, port: int, workdir: Path):
        self.port = port
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "redis.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> "Redis":
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        out = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        _wait("redis-server", self.ping, self.proc, self.log)
        return self

    def stop(self) -> None:
        _stop(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()


class QuotaService:
    """quota-service serving the rate limit API (gRPC) and the HTTP check over `redis`, with the
    plans of the quota plugin configuration `config`."""

    def __init__(self, config: dict, redis: Redis, grpc_port: int, http_port: int, workdir: Path):
        self.config = config
        self.redis = redis
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "quota.json"
        self.log = self.workdir / "quota-service.log"
        self.proc: subprocess.Popen | None = None

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def start(self) -> "QuotaService":
        self.config_path.write_text(json.dumps(self.config), encoding="utf-8")
        out = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(
                [str(service_binary()), "--config", str(self.config_path), "--redis", self.redis.url,
                 "--grpc", f"127.0.0.1:{self.grpc_port}", "--http", f"127.0.0.1:{self.http_port}"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
                preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        _wait("quota-service", self.healthy, self.proc, self.log)
        return self

    def stop(self) -> None:
        _stop(self.proc)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> "QuotaService":
        """Starts the service (and its Redis) again if a test left it down."""
        if self.redis.proc is None or self.redis.proc.poll() is not None:
            self.redis.start()
        if not self.running():
            self.start()
        return self

    def kill(self) -> None:
        """SIGKILL: connections reset, nothing answers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung service)."""
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def log_tail(self) -> str:
        return _tail(self.log)
