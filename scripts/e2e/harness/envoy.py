"""Render envoy-config/ templates and run a real Envoy (the pinned `.venv/bin/envoy`).

Templates are ordinary Envoy YAML with `{{NAME}}` placeholders (chosen because `$` appears in
`stats_tags` regexes). A value that is a dict or list is a plugin configuration: it is rendered
as a YAML double-quoted string holding its JSON, ready for
`configuration: {"@type": ...StringValue, value: {{AUTH_CONFIG}}}`.

Every `Envoy` this module starts is killed at interpreter exit, and (unless `detach=True`) also
when the starting process dies (PR_SET_PDEATHSIG), so no Envoy outlives a test run.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import CONFIG_DIR, DIST_DIR, VENV_ENVOY

PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")
WASM_REF = re.compile(r"filter_([a-z0-9_]+)\.wasm")

READY_TIMEOUT = 180.0
"""Upper bound on start-up (V8 compiles every module on every worker; the machine is shared)."""


class RenderError(Exception):
    """A template placeholder had no value."""


def render(text: str, values: dict) -> str:
    """Replace every `{{NAME}}` in `text`; raises RenderError naming all missing values."""
    missing = sorted({m for m in PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise RenderError(f"no value for placeholder(s): {', '.join(missing)}")

    def value(m: re.Match) -> str:
        v = values[m.group(1)]
        if isinstance(v, (dict, list)):
            return json.dumps(json.dumps(v, separators=(",", ":")))
        return str(v)

    return PLACEHOLDER.sub(value, text)


def placeholders(text: str) -> set[str]:
    """Names of the placeholders used in `text`."""
    return set(PLACEHOLDER.findall(text))


def required_filters(text: str) -> list[str]:
    """Filter names whose dist/filter_<name>.wasm the template loads, in order of appearance."""
    seen: list[str] = []
    for name in WASM_REF.findall(text):
        if name not in seen:
            seen.append(name)
    return seen


def missing_filters(text: str, dist: Path = DIST_DIR) -> list[str]:
    """Filters the template needs that are not built in `dist`."""
    return [n for n in required_filters(text) if not (dist / f"filter_{n}.wasm").is_file()]


def template(name: str) -> str:
    """Text of envoy-config/<name>."""
    return (CONFIG_DIR / name).read_text(encoding="utf-8")


def validate(config_path: Path, envoy: Path = VENV_ENVOY) -> subprocess.CompletedProcess:
    """Run `envoy --mode validate` (which also loads and configures every Wasm module)."""
    return subprocess.run(
        [str(envoy), "--mode", "validate", "-c", str(config_path), "-l", "warning"],
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT,
        check=False,
    )


_LIVE: dict[int, "Envoy"] = {}


def _kill_all() -> None:
    for e in list(_LIVE.values()):
        e.stop()


atexit.register(_kill_all)


def _die_with_parent() -> None:
    """preexec_fn: have the kernel SIGKILL the child when the parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def admin_request(admin_port: int, path: str, method: str = "GET") -> tuple[int, str]:
    """(status, body) of a request to the admin listener on 127.0.0.1."""
    req = urllib.request.Request(f"http://127.0.0.1:{admin_port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def is_live(admin_port: int) -> bool:
    """True when admin /ready answers 200 LIVE."""
    try:
        status, body = admin_request(admin_port, "/ready")
    except OSError:
        return False
    return status == 200 and body.strip() == "LIVE"


class EnvoyError(RuntimeError):
    """Envoy failed to start or become ready."""


class Envoy:
    """One Envoy process running a rendered config in `workdir`."""

    def __init__(
        self,
        config_text: str,
        workdir: Path,
        admin_port: int,
        concurrency: int = 2,
        log_level: str = "info",
        extra_args: tuple[str, ...] = (),
        binary: Path = VENV_ENVOY,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "envoy.yaml"
        self.config_path.write_text(config_text, encoding="utf-8")
        self.log_path = self.workdir / "envoy.log"
        self.out_path = self.workdir / "envoy.out"
        self.admin_port = admin_port
        self.concurrency = concurrency
        self.log_level = log_level
        self.extra_args = extra_args
        self.binary = binary
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "-c", str(self.config_path),
            # A distinct base id per instance: several Envoys may run at once.
            "--base-id", str(self.admin_port),
            "--concurrency", str(self.concurrency),
            "--log-path", str(self.log_path),
            "-l", self.log_level,
            *self.extra_args,
        ]

    def start(self, detach: bool = False) -> "Envoy":
        """Start Envoy. With `detach`, it survives this process (the demo's --keep)."""
        out = open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if detach else _die_with_parent,
            )
        finally:
            out.close()
        if not detach:
            _LIVE[self.proc.pid] = self
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll admin /ready until it answers LIVE; raise EnvoyError with the log tail if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise EnvoyError(f"Envoy exited with {self.proc.returncode if self.proc else '?'}\n{self.log_tail()}")
            if is_live(self.admin_port):
                return
            time.sleep(0.1)
        raise EnvoyError(f"Envoy not LIVE after {timeout:.0f}s\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; always reaps the process."""
        if self.proc is None:
            return
        _LIVE.pop(self.proc.pid, None)
        if self.proc.poll() is None:
            try:
                self.proc.terminate()
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def __enter__(self):
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.stop()

    # admin -----------------------------------------------------------------------------------
    def admin(self, path: str, method: str = "GET") -> tuple[int, str]:
        """(status, body) of an admin request on 127.0.0.1."""
        return admin_request(self.admin_port, path, method)

    def stats(self, filter_regex: str | None = None) -> dict[str, int]:
        """Counter and gauge values from /stats (histograms left out)."""
        path = "/stats"
        if filter_regex:
            path += "?filter=" + urllib.request.quote(filter_regex)
        _, body = self.admin(path)
        out = {}
        for line in body.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().lstrip("-").isdigit():
                out[name] = int(value)
        return out

    def prometheus(self) -> str:
        """The /stats/prometheus text."""
        return self.admin("/stats/prometheus")[1]

    def log_text(self) -> str:
        parts = []
        for p in (self.log_path, self.out_path):
            if p.exists():
                parts.append(p.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        """Errors first, then the ends of the Envoy log and of stdout (the access log)."""

        def read(p: Path) -> list[str]:
            return p.read_text(encoding="utf-8", errors="replace").splitlines() if p.exists() else []

        log, out = read(self.log_path), read(self.out_path)
        errors = [ln for ln in log if "][error][" in ln or "][critical][" in ln]
        parts = []
        if errors:
            parts += ["-- errors --", *errors[-20:]]
        parts += ["-- envoy.log --", *log[-lines:], "-- stdout (access log) --", *out[-lines:]]
        return "\n".join(parts)
