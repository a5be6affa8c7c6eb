"""Render nginx-config/ templates and run a real NGINX proxy-wasm host: Debian's nginx
(/usr/sbin/nginx) with Kong's ngx_wasm_module (built by `scripts/nginx build`).

A template is nginx-config/<name>.conf composed with nginx-config/common/base.conf (template()).
Templates use the `{{NAME}}` placeholders of envoy-config/ (see harness.envoy), plus MODULE (the
ngx_wasmx_module.so), RUN_DIR (nginx's prefix: pid, logs, temp files) and LOG_LEVEL. A value that
is a dict or list is a plugin configuration, rendered as one single-quoted nginx string holding
its JSON, ready for `proxy_wasm auth {{AUTH_CONFIG}};`.

NGINX has no clusters: an `http_call`'s upstream is `host:port`. The plugin configurations are the
same files as Envoy's (envoy-config/plugins/*.json); `host_config` turns every callout `cluster`
they name (jwks, collector, ratelimit_http) into the 127.0.0.1:port of that sample server.

Every `Nginx` this module starts in the foreground is killed at interpreter exit and, through
PR_SET_PDEATHSIG, when the starting process dies; its workers are in its process group, which
`stop()` ends as a whole.
"""

from __future__ import annotations

import atexit
import copy
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from . import DIST_DIR, ROOT, envoy
from .stack import Stack, template_values as envoy_template_values

NGINX_CONFIG_DIR = ROOT / "nginx-config"
BASE_TEMPLATE = NGINX_CONFIG_DIR / "common" / "base.conf"
"""What every nginx-config/*.conf shares; each fills its SLOTS (see template())."""
SLOTS = ("WASM_MODULES", "PROXY_WASM")
NGINX_BIN = Path("/usr/sbin/nginx")
SCRIPT = ROOT / "scripts" / "nginx"

READY_TIMEOUT = 60.0
"""Upper bound on start-up (wasmtime compiles every module once, in the master)."""

CALLOUT_CLUSTERS = {"jwks": "JWKS_PORT", "collector": "COLLECTOR_PORT", "ratelimit_http": "RLS_HTTP_PORT"}
"""Envoy cluster names the plugin configurations send HTTP callouts to, and the port each is."""

MAX_TOKEN = 4095
"""nginx reads a configuration token into a 4 KiB buffer: a longer argument is an error."""


WASM_FAILURE = re.compile(r"panicked|\btrap\b|host trap|\[emerg\]|\[alert\]|\[crit\]")
"""error.log lines of a trapped filter, a module that did not load, or a dead worker."""


class NginxError(RuntimeError):
    """nginx failed to start, answer, or stop."""


_module_path: Path | None = None


def module_path() -> Path:
    """The ngx_wasmx_module.so `scripts/nginx build` makes (it may not exist yet)."""
    global _module_path
    if _module_path is None:
        out = subprocess.run([str(SCRIPT), "path"], capture_output=True, text=True, check=True)
        _module_path = Path(out.stdout.strip())
    return _module_path


def unavailable() -> str | None:
    """Why NGINX cannot run here (None when it can)."""
    if not NGINX_BIN.exists():
        return f"{NGINX_BIN} missing (run scripts/nginx build)"
    try:
        path = module_path()
    except (OSError, subprocess.CalledProcessError) as e:
        return f"scripts/nginx path failed: {e}"
    if not path.is_file():
        return f"{path} not built (run scripts/nginx build)"
    return None


def quote(text: str) -> str:
    """`text` as one single-quoted nginx token (nginx unescapes `\\\\`, `\\'`; `\\n`, `\\t` and
    `\\r` would become control characters, so every backslash is doubled)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(text: str, values: dict) -> str:
    """Replace every `{{NAME}}` in `text`; dict and list values become quoted JSON."""
    missing = sorted({m for m in envoy.PLACEHOLDER.findall(text) if m not in values})
    if missing:
        raise envoy.RenderError(f"no value for placeholder(s): {', '.join(missing)}")

    def value(m) -> str:
        v = values[m.group(1)]
        if isinstance(v, (dict, list)):
            token = quote(json.dumps(v, separators=(",", ":")))
            if len(token) > MAX_TOKEN:
                raise envoy.RenderError(
                    f"{m.group(1)} is {len(token)} bytes as an nginx argument; nginx reads at most {MAX_TOKEN}"
                )
            return token
        return str(v)

    return envoy.PLACEHOLDER.sub(value, text)


def template(name: str) -> str:
    """The template nginx-config/<name> stands for: its header comment, then BASE_TEMPLATE with
    each slot line (a line holding only `{{WASM_MODULES}}` or `{{PROXY_WASM}}`) replaced by the
    variant's section of that name (`[WASM_MODULES]`, `[PROXY_WASM]`), indented as the slot line
    is. A file without sections is a whole template, used as written."""
    return compose(NGINX_CONFIG_DIR / name)


_SECTION = re.compile(r"^\[([A-Z][A-Z0-9_]*)\]\s*$")
_SLOT = re.compile(r"^([ \t]*)\{\{([A-Z][A-Z0-9_]*)\}\}[ \t]*$")


def compose(path: Path, base: Path = BASE_TEMPLATE) -> str:
    """template()'s composition of the variant at `path` and `base` (envoy.RenderError when a
    section or slot is missing or unknown)."""
    text = path.read_text(encoding="utf-8")
    header: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            if m.group(1) in sections:
                raise envoy.RenderError(f"{path.name}: section [{m.group(1)}] twice")
            current = sections[m.group(1)] = []
        elif current is not None:
            current.append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            return text  # a directive before any section: a whole template
        else:
            header.append(line)
    if not sections:
        return text
    if set(sections) != set(SLOTS):
        raise envoy.RenderError(f"{path.name}: sections {sorted(sections)}, expected {sorted(SLOTS)}")

    def fill(m: re.Match) -> str:
        indent, name = m.groups()
        lines = sections[name]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        return "\n".join(indent + ln if ln.strip() else "" for ln in lines)

    out, filled = [], set()
    for line in base.read_text(encoding="utf-8").splitlines():
        m = _SLOT.match(line)
        if m and m.group(2) in SLOTS:
            if m.group(2) in filled:
                raise envoy.RenderError(f"{base.name}: slot {m.group(2)} twice")
            filled.add(m.group(2))
            out.append(fill(m))
        else:
            out.append(line)
    if filled != set(SLOTS):
        raise envoy.RenderError(f"{base.name}: no slot line for {sorted(set(SLOTS) - filled)}")
    while header and not header[-1].strip():
        header.pop()
    return "\n".join([*header, "", *out]) + "\n"


def host_config(config, ports: dict[str, int]):
    """A plugin configuration with every callout `cluster` (CALLOUT_CLUSTERS) replaced by the
    127.0.0.1:port NGINX dispatches to; other values (routing's api_* clusters) unchanged."""
    config = copy.deepcopy(config)

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "cluster" and isinstance(v, str) and v in CALLOUT_CLUSTERS:
                    node[k] = f"127.0.0.1:{ports[CALLOUT_CLUSTERS[v]]}"
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config)
    return config


def template_values(ports: dict[str, int], run_dir: Path, configs: dict | None = None,
                    dist: Path = DIST_DIR, log_level: str = "info") -> dict:
    """Placeholder values for any nginx-config/ template."""
    values = envoy_template_values(ports, configs, dist)
    for key, v in list(values.items()):
        if key.endswith("_CONFIG"):
            values[key] = host_config(v, ports)
    values["MODULE"] = str(module_path())
    values["RUN_DIR"] = str(run_dir)
    values["LOG_LEVEL"] = log_level
    return values


_LIVE: dict[int, "Nginx"] = {}


def _kill_all() -> None:
    for n in list(_LIVE.values()):
        n.stop()


atexit.register(_kill_all)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return False
    return ") Z " not in stat


def _is_nginx(pid: int) -> bool:
    try:
        return b"nginx" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_master(pid: int, timeout: float = 10.0) -> None:
    """Graceful stop of the nginx whose master is `pid` (SIGQUIT: workers finish their
    requests), then SIGKILL to its process group (the workers are in it) after `timeout`."""
    if _alive(pid) and _is_nginx(pid):
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)  # what a master that died left behind
    except (ProcessLookupError, PermissionError):
        pass


class Nginx:
    """One nginx (master + workers) running a rendered config with `run_dir` as its prefix."""

    def __init__(self, config_text: str, run_dir: Path, admin_port: int, binary: Path = NGINX_BIN):
        self.run_dir = Path(run_dir)
        for sub in ("", "tmp", "logs"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.config_path = self.run_dir / "nginx.conf"
        self.config_path.write_text(config_text, encoding="utf-8")
        self.log_path = self.run_dir / "error.log"
        self.access_path = self.run_dir / "access.log"
        self.out_path = self.run_dir / "nginx.out"
        self.pid_path = self.run_dir / "nginx.pid"
        self.admin_port = admin_port
        self.binary = binary
        self.proc: subprocess.Popen | None = None
        self.master: int | None = None

    def command(self, daemon: bool, *extra: str) -> list[str]:
        # -e: errors before the configuration is read go to the run dir too, not /var/log/nginx.
        return [str(self.binary), "-p", f"{self.run_dir}/", "-c", str(self.config_path),
                "-e", str(self.log_path), "-g", f"daemon {'on' if daemon else 'off'};", *extra]

    def test_config(self) -> subprocess.CompletedProcess:
        """`nginx -t` on the rendered configuration (loads and compiles every Wasm module)."""
        return subprocess.run(self.command(False, "-t"), capture_output=True, text=True,
                              timeout=READY_TIMEOUT, check=False)

    def start(self, daemon: bool = False) -> "Nginx":
        """Start nginx: in the foreground under this process (tests), or as a daemon that
        outlives it (scripts/nginx start); the master's pid is then read from its pid file."""
        # A fresh start: the checks read these logs (a run dir can be reused: .run/nginx).
        for p in (self.pid_path, self.log_path, self.access_path, self.out_path):
            p.unlink(missing_ok=True)
        out = open(self.out_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.command(daemon),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if daemon else envoy._die_with_parent,
            )
        finally:
            out.close()
        if daemon:
            rc = self.proc.wait(READY_TIMEOUT)
            if rc != 0:
                raise NginxError(f"nginx exited with {rc}\n{self.log_tail()}")
            deadline = time.monotonic() + 10
            while not self.pid_path.is_file() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.pid_path.is_file():
                raise NginxError(f"nginx wrote no pid file\n{self.log_tail()}")
            self.master = int(self.pid_path.read_text().strip())
            self.proc = None
        else:
            self.master = self.proc.pid
            _LIVE[self.master] = self
        return self

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.master is not None and _alive(self.master) and _is_nginx(self.master)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll the admin server's /ready until it answers LIVE: a worker has loaded every
        module (the other accepts once it has too). NginxError with the log tail as soon as the
        log shows a worker that failed ([emerg], [alert]), or if not LIVE in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise NginxError(f"nginx exited\n{self.log_tail()}")
            fatal = [ln for ln in self.errors() if "[emerg]" in ln or "[alert]" in ln]
            if fatal:
                # A worker that cannot load or link a module exits and is not respawned: the
                # master stays up with nothing serving.
                raise NginxError(f"nginx failed: {fatal[0]}\n{self.log_tail()}")
            if envoy.is_live(self.admin_port):
                return
            time.sleep(0.1)
        raise NginxError(f"nginx not answering after {timeout:.0f}s\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """stop_master(), and reap a foreground nginx."""
        pid = self.master
        if pid is None:
            return
        _LIVE.pop(pid, None)
        stop_master(pid, timeout)
        if self.proc is not None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.master = None

    def log_text(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace")
                         for p in (self.log_path, self.out_path) if p.exists())

    def errors(self) -> list[str]:
        """error.log lines at level error or worse ([error], [crit], [alert], [emerg])."""
        if not self.log_path.exists():
            return []
        levels = ("[error]", "[crit]", "[alert]", "[emerg]")
        return [ln for ln in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                if any(lv in ln for lv in levels)]

    def wasm_failures(self) -> list[str]:
        """error.log lines showing a trapped or failed filter (checks.WASM_FAILURE's NGINX
        counterpart)."""
        return [ln for ln in self.log_text().splitlines() if WASM_FAILURE.search(ln)]

    def log_tail(self, lines: int = 40) -> str:
        """Errors first, then the ends of error.log, of stdout/stderr and of the access log."""

        def read(p: Path) -> list[str]:
            return p.read_text(encoding="utf-8", errors="replace").splitlines() if p.exists() else []

        parts = []
        errors = self.errors()
        if errors:
            parts += ["-- errors --", *errors[-20:]]
        parts += ["-- error.log --", *read(self.log_path)[-lines:],
                  "-- stdout/stderr --", *read(self.out_path)[-lines:],
                  "-- access.log --", *read(self.access_path)[-lines:]]
        return "\n".join(parts)


class NginxStack(Stack):
    """Upstreams + NGINX, rendered from an nginx-config/ template; the same interface as Stack
    (request, raw, h2, clear, the upstreams), with `nginx` for the process."""

    host = "nginx"

    def __init__(self, template_name: str, workdir: Path | None = None, **kw):
        super().__init__(template_name, workdir=workdir, **kw)
        self.nginx: Nginx | None = None

    def read_template(self, name: str) -> str:
        return template(name)

    def rendered(self) -> str:
        return render(self.template_text, template_values(self.ports, self.workdir, self.configs))

    @property
    def process(self):
        return self.nginx

    def start(self, detach: bool = False) -> "NginxStack":
        try:
            for s in self.servers:
                s.start()
            self.nginx = Nginx(self.rendered(), self.workdir, self.admin_port)
            self.nginx.start(daemon=detach)
            self.nginx.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for s in self.servers:
            s.stop()
