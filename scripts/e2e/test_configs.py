"""Every Envoy config in envoy-config/ renders and passes `envoy --mode validate` (which also
loads each Wasm module and runs its on_configure with the sample plugin configuration)."""

import re

import pytest
from conftest import skip_or_fail_missing

from harness import CONFIG_DIR, envoy
from harness.stack import allocate_ports, template_values

TEMPLATES = sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))


def test_there_are_configs():
    assert "router.yaml" in TEMPLATES


@pytest.mark.parametrize("name", TEMPLATES)
def test_listeners_and_admin_bind_loopback_only(name):
    text = envoy.template(name)
    addresses = re.findall(r"address:\s*([0-9a-zA-Z.:\[\]_-]+)\s*,", text)
    assert addresses, "no socket addresses found"
    assert set(addresses) == {"127.0.0.1"}, addresses


@pytest.mark.parametrize("name", TEMPLATES)
def test_config_validates(name, tmp_path):
    text = envoy.template(name)
    skip_or_fail_missing(envoy.missing_filters(text), name)
    path = tmp_path / name
    path.write_text(envoy.render(text, template_values(allocate_ports())))
    result = envoy.validate(path)
    assert result.returncode == 0, result.stdout + result.stderr
