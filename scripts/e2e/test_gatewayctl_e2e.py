"""gatewayctl against a running Envoy (envoy-config/gateway-dynamic.yaml, the wasm filters'
configuration taken through file-based ECDS), under a steady request stream: each change is
applied by an atomic file move, without a restart and without a failed request.

    keys issue        -> the new key is accepted (no restart, zero failed requests meanwhile)
    keys revoke       -> 401
    versions deprecate -> Deprecation / Sunset / Link headers
    versions retire   -> 410

gatewayctl is built once per session with cargo (target/debug/gatewayctl).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from harness import DIST_DIR, ROOT
from harness.samples import API_KEYS
from harness.stack import PLUGIN_DIR

CTL = ROOT / "target" / "debug" / "gatewayctl"
STREAM_KEY = API_KEYS["alice"]
APPLY_TIMEOUT = 20.0


@pytest.fixture(scope="session")
def gatewayctl() -> Path:
    cargo = shutil.which("cargo")
    if cargo is not None:
        result = subprocess.run([cargo, "build", "--quiet", "-p", "gatewayctl"], cwd=ROOT,
                                capture_output=True, text=True, timeout=1800, check=False)
        assert result.returncode == 0, result.stderr
    if not CTL.is_file():
        pytest.skip("gatewayctl not built (cargo build -p gatewayctl)")
    return CTL


class Gateway:
    """The stack plus gatewayctl's directories."""

    def __init__(self, ctl: Path, config_dir: Path, ecds_dir: Path):
        self.ctl, self.config_dir, self.ecds_dir = ctl, config_dir, ecds_dir
        self.stack = None

    def run(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.ctl), "--config-dir", str(self.config_dir), "--envoy-dir", str(self.ecds_dir),
             "--dist", str(DIST_DIR), *args],
            capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"gatewayctl {' '.join(args)}: {result.stderr}"
        return result

    def get(self, path: str, key: str | None = None):
        return self.stack.request(path, headers={"x-api-key": key} if key else None)


@pytest.fixture(scope="module")
def gw(stack_factory, gatewayctl, tmp_path_factory):
    base = tmp_path_factory.mktemp("gatewayctl")
    config_dir, ecds_dir = base / "plugins", base / "ecds"
    config_dir.mkdir()
    ecds_dir.mkdir()
    for path in PLUGIN_DIR.glob("*.json"):
        shutil.copy(path, config_dir / path.name)
    # The stream's consumer must not run out of quota during the test.
    quota = json.loads((config_dir / "quota.json").read_text())
    quota["plans"][0]["limits"][0]["limit"] = 1_000_000
    (config_dir / "quota.json").write_text(json.dumps(quota, indent=2))
    g = Gateway(gatewayctl, config_dir, ecds_dir)
    result = subprocess.run([str(gatewayctl), "--config-dir", str(config_dir), "--envoy-dir",
                             str(ecds_dir), "--dist", str(DIST_DIR), "apply"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr

    def point_at_ecds(stack):
        stack.template_text = stack.template_text.replace("{{ECDS_DIR}}", str(ecds_dir))

    g.stack = stack_factory("gateway-dynamic.yaml", before_start=point_at_ecds)
    return g


class Stream:
    """A background thread sending requests continuously; records every status."""

    def __init__(self, gw: Gateway, path: str = "/v1/orders"):
        self.gw, self.path = gw, path
        self.statuses: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.statuses.append(self.gw.get(self.path, STREAM_KEY).status)
            except Exception as e:  # a reset or refused connection is a failed request too
                self.errors.append(repr(e))
            time.sleep(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def failures(self) -> list:
        return [s for s in self.statuses if s != 200] + self.errors


def wait_for(check, what: str, timeout: float = APPLY_TIMEOUT):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    pytest.fail(f"not applied within {timeout}s: {what} (last: {last!r})")


def ecds_stat(gw: Gateway, name: str) -> int:
    stats = gw.stack.envoy.stats(rf"extension_config_discovery\.http_filter\.gateway\.{name}\.config_reload$")
    return sum(stats.values())


def test_changes_apply_without_restart_and_without_failed_requests(gw):
    pid = gw.stack.envoy.pid
    assert gw.get("/v1/orders", STREAM_KEY).status == 200
    reloads = ecds_stat(gw, "auth")
    with Stream(gw) as stream:
        wait_for(lambda: len(stream.statuses) >= 20, "the stream runs")

        # keys issue: the new key works without a restart.
        key = gw.run("keys", "issue", "--consumer", "bob").stdout.strip()
        assert key.startswith("gw_")
        r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(gw.get("/v1/orders", key)),
                     "issued key accepted")
        assert r.echoed_header("x-gateway-consumer") == "bob"
        issued_at = len(stream.statuses)

        # keys revoke: 401.
        key_id = json.loads(gw.run("keys", "list", "--consumer", "bob", "--json").stdout)[-1]["id"]
        gw.run("keys", "revoke", "--key-id", key_id)
        r = wait_for(lambda: (lambda r: r if r.status == 401 else None)(gw.get("/v1/orders", key)),
                     "revoked key refused")
        assert "invalid-credentials" in r.body.decode()

        # versions deprecate: Deprecation, Sunset and Link headers.
        assert gw.get("/v2/orders", STREAM_KEY).header("deprecation") is None
        gw.run("versions", "deprecate", "v2", "--at", "2027-01-01T00:00:00Z",
               "--sunset", "2031-01-01T00:00:00Z", "--successor", "v1",
               "--deprecation-url", "https://developer.example/deprecations/v2")
        r = wait_for(lambda: (lambda r: r if r.header("deprecation") else None)(
            gw.get("/v2/orders", STREAM_KEY)), "deprecation headers")
        assert r.status == 200
        assert r.header("deprecation") == "@1798761600"
        assert r.header("sunset") == "Wed, 01 Jan 2031 00:00:00 GMT"
        links = ",".join(r.header_all("link"))
        assert '<https://developer.example/deprecations/v2>; rel="deprecation"' in links
        assert 'rel="successor-version"' in links

        # versions retire: 410.
        assert gw.get("/v1beta/orders", STREAM_KEY).status == 200
        gw.run("versions", "retire", "v1beta")
        r = wait_for(lambda: (lambda r: r if r.status == 410 else None)(
            gw.get("/v1beta/orders", STREAM_KEY)), "retired version refused")
        assert "version-retired" in r.body.decode()
        time.sleep(0.5)

    assert stream.failures() == [], f"{len(stream.failures())} failed of {len(stream.statuses)}"
    assert len(stream.statuses) > issued_at > 20
    # No restart: the same process, and the configuration came through ECDS reloads.
    assert gw.stack.envoy.pid == pid and gw.stack.envoy.running()
    assert ecds_stat(gw, "auth") >= reloads + 2
    assert ecds_stat(gw, "routing") >= 2


def test_a_refused_change_reaches_neither_the_files_nor_envoy(gw):
    before = {p.name: p.read_bytes() for p in gw.ecds_dir.iterdir()}
    result = subprocess.run(
        [str(gw.ctl), "--config-dir", str(gw.config_dir), "--envoy-dir", str(gw.ecds_dir),
         "--dist", str(DIST_DIR), "consumers", "set-plan", "--id", "bob", "--plan", "platinum"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "consumers[1].plan" in result.stderr
    assert {p.name: p.read_bytes() for p in gw.ecds_dir.iterdir()} == before
    assert gw.get("/v1/orders", API_KEYS["bob"]).status == 200


def test_usage_equals_the_requests_sent_and_refused(gw, tmp_path):
    """`gatewayctl usage` over the analytics events the collector received: erin's trial plan
    (3 per hour) admits 3 of 5 requests and refuses 2."""
    stamp = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    start = int(time.time())
    statuses = [gw.get("/v1/orders", API_KEYS["erin"]).status for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    end = int(time.time()) + 1
    events = gw.stack.collector.wait_events(
        lambda evs: sum(1 for e in evs if e.get("consumer") == "erin") >= 5)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    period = ["--from", stamp(start), "--to", stamp(end)]
    rows = json.loads(gw.run("usage", "--events", str(path), *period, "--format", "json").stdout)
    erin = [r for r in rows if r["consumer"] == "erin"]
    assert erin == [{"consumer": "erin", "plan": "trial", "from": stamp(start), "to": stamp(end),
                     "requests": 5, "used": 3, "refused": 2}]
    csv = gw.run("usage", "--events", str(path), *period, "--format", "csv").stdout.splitlines()
    assert csv[0] == "consumer,plan,from,to,requests,used,refused"
    assert f"erin,trial,{stamp(start)},{stamp(end)},5,3,2" in csv
