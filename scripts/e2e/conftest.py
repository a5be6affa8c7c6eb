"""Fixtures for the end-to-end suite: real Envoy (the pinned .venv/bin/envoy) with the built
dist/*.wasm filters, sample upstreams, and teardown that always stops every process.

A test module gets one gateway per configuration through the module-scoped `stack_factory`:

    @pytest.fixture(scope="module")
    def gw(stack_factory):
        return stack_factory("gateway.yaml", configs={"quota": {...}})

A template whose dist/filter_<name>.wasm is not built is skipped with the reason, unless
GATEWAY_E2E_REQUIRE_ALL=1 (then it fails: use that once every filter exists).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import VENV_ENVOY  # noqa: E402
from harness.samples import JwtSigner  # noqa: E402
from harness.stack import Stack  # noqa: E402

_ACTIVE: list[Stack] = []


def require_all() -> bool:
    return os.environ.get("GATEWAY_E2E_REQUIRE_ALL", "") not in ("", "0")


def skip_or_fail_missing(missing: list[str], what: str) -> None:
    """Skip (or fail under GATEWAY_E2E_REQUIRE_ALL) when filters are not built."""
    if not missing:
        return
    names = ", ".join(f"dist/filter_{m}.wasm" for m in missing)
    reason = f"{what}: {names} not built (run scripts/build)"
    if require_all():
        pytest.fail(reason)
    pytest.skip(reason)


def ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail_no_nginx() -> None:
    """Skip when the NGINX host (nginx + ngx_wasm_module, scripts/nginx build) is not built;
    fail instead under CI=true or GATEWAY_E2E_REQUIRE_ALL (scripts/test builds it first)."""
    from harness import nginx

    reason = nginx.unavailable()
    if reason is None:
        return
    reason = f"NGINX host: {reason}"
    if ci() or require_all():
        pytest.fail(reason)
    pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus):
    """Belt and braces: no Envoy or nginx outlives the session, whatever happened to the fixtures."""
    from harness import envoy, nginx

    envoy._kill_all()
    nginx._kill_all()


def pytest_sessionstart(session):
    if not VENV_ENVOY.exists():
        pytest.exit(f"{VENV_ENVOY} missing: run scripts/setup-python first", returncode=2)


@pytest.fixture(scope="module")
def stack_factory(tmp_path_factory):
    """Start a Stack from a template (skipping when its filters are not built); all stacks of the
    module are stopped at module teardown, whatever happens."""
    started: list[Stack] = []

    def make(template_name: str, before_start=None, modules: dict[str, str] | None = None,
             host: str = "envoy", **kw) -> Stack:
        """`modules` loads other builds of the template's filters: {"auth": "auth_portable"}
        loads dist/filter_auth_portable.wasm where the template names dist/filter_auth.wasm.
        `host="nginx"` runs an nginx-config/ template in NGINX (harness.nginx.NginxStack)."""
        workdir = tmp_path_factory.mktemp(Path(template_name).stem)
        if host == "nginx":
            from harness.nginx import NginxStack

            skip_or_fail_no_nginx()
            stack = NginxStack(template_name, workdir=workdir, **kw)
        else:
            stack = Stack(template_name, workdir=workdir, **kw)
        for name, build in (modules or {}).items():
            stack.template_text = stack.template_text.replace(f"/filter_{name}.wasm", f"/filter_{build}.wasm")
        skip_or_fail_missing(stack.missing_filters(), template_name)
        started.append(stack)
        _ACTIVE.append(stack)
        if before_start is not None:
            before_start(stack)
        stack.start()
        return stack

    try:
        yield make
    finally:
        for stack in started:
            stack.stop()
            if stack in _ACTIVE:
                _ACTIVE.remove(stack)


@pytest.fixture(scope="module")
def signer():
    """An Ed25519 JWT signer; its JWKS is what the sample key server serves."""
    return JwtSigner()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for stack in _ACTIVE:
            if stack.process is not None:
                rep.sections.append(
                    (f"{stack.host} log tail ({stack.template_name}, {stack.workdir})", stack.process.log_tail(80))
                )
