"""A running gateway: the sample upstreams plus one Envoy rendered from an envoy-config/ template.

Plugin configurations default to envoy-config/plugins/<filter>.json (the sample consumers and
plans); tests override them per filter with `configs={"quota": {...}}`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import CONFIG_DIR, DIST_DIR, client, ecds, envoy, remote
from .ports import free_port
from .upstreams import ApiServer, CollectorServer, JwksServer

FILTERS = ("auth", "quota", "analytics", "routing")
PLUGIN_DIR = CONFIG_DIR / "plugins"
SAMPLE_JWKS = CONFIG_DIR / "plugins" / "jwks.json"


def default_plugin_config(name: str):
    """envoy-config/plugins/<name>.json parsed, or {} when there is none."""
    path = PLUGIN_DIR / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


def default_jwks() -> dict:
    if SAMPLE_JWKS.is_file():
        return json.loads(SAMPLE_JWKS.read_text(encoding="utf-8"))
    return {"keys": []}


def template_values(ports: dict[str, int], configs: dict | None = None, dist: Path = DIST_DIR) -> dict:
    """Placeholder values for any envoy-config/ template."""
    values: dict = dict(ports)
    values["DIST"] = str(dist)
    configs = configs or {}
    for name in FILTERS:
        values[f"{name.upper()}_CONFIG"] = configs.get(name, default_plugin_config(name))
    # Other plugin configurations (plugins/quota-global.json -> QUOTA_GLOBAL_CONFIG, overridden
    # by configs["quota_global"]).
    for path in sorted(PLUGIN_DIR.glob("*.json")):
        key = path.stem.replace("-", "_")
        if key not in FILTERS and key != "jwks":
            values[f"{key.upper()}_CONFIG"] = configs.get(key, default_plugin_config(path.stem))
    # The bundle's `gateway` root takes every member's configuration in one object.
    values["GATEWAY_CONFIG"] = {name: values[f"{name.upper()}_CONFIG"] for name in FILTERS}
    # gateway-dynamic.yaml: the ECDS files of each filter (harness/ecds.py), written when used.
    values["ECDS_DIR"] = ecds.LazyEcdsDir({n: values[f"{n.upper()}_CONFIG"] for n in FILTERS}, dist)
    # gateway-remote.yaml: each module's pinned sha256 ({{AUTH_SHA256}}...) from dist/SHA256SUMS.
    values.update(remote.sha256_values(dist))
    return values


def allocate_ports(preferred: dict[str, int] | None = None) -> dict[str, int]:
    """Ports for every role; `preferred` ones are used as given."""
    names = (
        "LISTEN_PORT",
        "ADMIN_PORT",
        "V1_PORT",
        "V2_PORT",
        "JWKS_PORT",
        "COLLECTOR_PORT",
        "RLS_GRPC_PORT",
        "RLS_HTTP_PORT",
        "MODULES_PORT",
    )
    preferred = preferred or {}
    return {n: preferred.get(n) or free_port() for n in names}


class Stack:
    """Upstreams + Envoy. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        template_name: str,
        workdir: Path | None = None,
        configs: dict | None = None,
        ports: dict[str, int] | None = None,
        jwks: dict | None = None,
        concurrency: int = 2,
        upstreams: bool = True,
    ):
        self.template_name = template_name
        self.template_text = self.read_template(template_name)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="gateway-e2e-"))
        self.ports = allocate_ports(ports)
        self.configs = configs or {}
        self.concurrency = concurrency
        self.v1 = ApiServer("v1", self.ports["V1_PORT"])
        self.v2 = ApiServer("v2", self.ports["V2_PORT"])
        self.collector = CollectorServer(self.ports["COLLECTOR_PORT"])
        self.jwks = JwksServer(jwks if jwks is not None else default_jwks(), self.ports["JWKS_PORT"])
        self.servers = [self.v1, self.v2, self.collector, self.jwks] if upstreams else []
        self.envoy: envoy.Envoy | None = None

    host = "envoy"
    """The proxy this stack runs (harness.nginx.NginxStack: "nginx")."""

    def read_template(self, name: str) -> str:
        """The template's text (envoy-config/<name>)."""
        return envoy.template(name)

    @property
    def process(self):
        """The running proxy (envoy.Envoy here), for log tails."""
        return self.envoy

    @property
    def listen_port(self) -> int:
        return self.ports["LISTEN_PORT"]

    @property
    def admin_port(self) -> int:
        return self.ports["ADMIN_PORT"]

    def missing_filters(self) -> list[str]:
        return envoy.missing_filters(self.template_text)

    def rendered(self) -> str:
        return envoy.render(self.template_text, template_values(self.ports, self.configs))

    def start(self, detach: bool = False) -> "Stack":
        try:
            for s in self.servers:
                s.start()
            self.envoy = envoy.Envoy(
                self.rendered(), self.workdir, self.admin_port, concurrency=self.concurrency
            )
            self.envoy.start(detach=detach)
            self.envoy.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.envoy is not None:
            self.envoy.stop()
        for s in self.servers:
            s.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def clear(self) -> None:
        """Forget what the upstreams recorded and heal injected faults."""
        for s in self.servers:
            s.heal()
            s.clear()

    # traffic ---------------------------------------------------------------------------------
    def request(self, path: str = "/", **kw) -> client.Response:
        return client.request(self.listen_port, path, **kw)

    def raw(self, data: bytes) -> client.Response:
        return client.raw_request(self.listen_port, data)

    def h2(self, path: str = "/", **kw) -> client.Response:
        return client.h2_request(self.listen_port, path, **kw)
