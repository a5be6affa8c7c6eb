"""NGINX-only checks: the nginx-config/ templates (composition, loopback only, `nginx -t`) and
JWTs of every key family checked by portable auth in a real NGINX proxy-wasm host (Debian's
nginx 1.22.1 with Kong's ngx_wasm_module on wasmtime 26, scripts/nginx build). The gateway's
behaviour on NGINX is tested by test_gateway_e2e.py, which runs every test against both hosts.

Skipped with the reason when the module is not built; a failure under CI=true or
GATEWAY_E2E_REQUIRE_ALL=1 (scripts/test builds it). What NGINX does differently from Envoy is
in nginx-config/README.md.
"""

import re

import pytest
from checks import assert_problem, keys_fetched, upstream_count, wasm_failures

from harness import envoy, nginx
from harness.nginx import NGINX_CONFIG_DIR
from harness.samples import JwtSigner
from harness.stack import allocate_ports


TEMPLATES = sorted(p.name for p in NGINX_CONFIG_DIR.glob("*.conf"))


def test_templates_cover_each_filter_the_chain_and_the_bundle():
    assert set(TEMPLATES) >= {"auth.conf", "quota.conf", "analytics.conf", "routing.conf",
                              "gateway.conf", "gateway-bundle.conf"}


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_is_the_base_with_its_own_sections(name):
    """Each template is a header and its sections on common/base.conf: the base's lines (the
    header and path workarounds) come out whole, every slot filled."""
    text = nginx.template(name)
    base = nginx.BASE_TEMPLATE.read_text(encoding="utf-8")
    assert "{{WASM_MODULES}}" not in text and "{{PROXY_WASM}}" not in text
    for line in base.splitlines():
        if line.strip() not in ("{{WASM_MODULES}}", "{{PROXY_WASM}}"):
            assert line in text.splitlines(), line
    assert re.search(r"^    module \w+ \{\{DIST\}\}/filter_\w+\.wasm;$", text, re.M)
    assert re.search(r"^            proxy_wasm \w+ \{\{[A-Z_]+_CONFIG\}\};$", text, re.M)


def test_template_without_a_section_is_refused(tmp_path):
    variant = tmp_path / "broken.conf"
    variant.write_text("# no proxy_wasm\n[WASM_MODULES]\nmodule auth x.wasm;\n", encoding="utf-8")
    with pytest.raises(envoy.RenderError, match="PROXY_WASM"):
        nginx.compose(variant)


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_listens_on_loopback_only(name):
    listens = re.findall(r"^\s*listen\s+([^;\s]+)", nginx.template(name), re.M)
    assert listens and all(a.startswith("127.0.0.1:") for a in listens), listens


def test_plugin_config_is_one_nginx_token():
    """Quotes and backslashes survive nginx's unescaping; \\n stays two characters."""
    assert nginx.quote('{"a":"it\'s","re":"\\d\\n"}') == "'{\"a\":\"it\\'s\",\"re\":\"\\\\d\\\\n\"}'"
    config = nginx.host_config({"jwt": {"remote_jwks": {"cluster": "jwks"}},
                                "versions": [{"cluster": "api_v1"}]}, {"JWKS_PORT": 1234})
    assert config == {"jwt": {"remote_jwks": {"cluster": "127.0.0.1:1234"}},
                      "versions": [{"cluster": "api_v1"}]}


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_passes_nginx_t(name, tmp_path):
    """Renders with the sample plugin configurations and passes `nginx -t` (syntax, the wasm
    block, every proxy_wasm module name; the modules themselves load in the workers)."""
    from conftest import skip_or_fail_no_nginx

    skip_or_fail_no_nginx()
    ports = allocate_ports()
    text = nginx.render(nginx.template(name), nginx.template_values(ports, tmp_path))
    res = nginx.Nginx(text, tmp_path, ports["ADMIN_PORT"]).test_config()
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA", "PS256"])
def test_jwt_of_each_key_family_accepted_without_a_trap(stack_factory, alg):
    """Portable auth checks RSA and ECDSA in the module here: it tells ngx_wasm_module from Envoy
    by their properties and never calls the `verify_signature` foreign function, on which
    ngx_wasm_module traps (Envoy: NOT_FOUND). New tokens on new connections reach both workers; a
    forged signature is refused."""
    signer = JwtSigner(kid=f"{alg.lower()}-key", alg=alg)
    stack = stack_factory("auth.conf", host="nginx", jwks=signer.jwks())
    keys_fetched(stack, signer)
    for i in range(6):
        r = stack.request("/v1/orders", headers={"authorization": f"Bearer {signer.token(jti=f'{alg}-{i}')}"})
        assert r.status == 200, (alg, i, r.body)
        assert r.echoed_header("x-gateway-consumer") == "dave"
    head, _, sig = signer.token().split(".")
    forged = f"{head}.{signer.token(sub='mallory').split('.')[1]}.{sig}"
    before = upstream_count(stack)
    assert_problem(stack.request("/v1/orders", headers={"authorization": f"Bearer {forged}"}), 401)
    assert upstream_count(stack) == before
    assert wasm_failures(stack) == []
    assert "foreign function" not in stack.nginx.log_text()


def test_the_envoy_build_refuses_rs256_here_without_a_trap(stack_factory):
    """filter_auth.wasm leaves RS256 to Envoy's `verify_signature`: on NGINX it does not call it
    (a trap, a 500), it refuses the token and says in the log which build to load."""
    signer = JwtSigner(kid="rs256-key", alg="RS256")
    stack = stack_factory("auth.conf", host="nginx", jwks=signer.jwks(), modules={"auth_portable": "auth"})
    assert "/filter_auth.wasm;" in stack.template_text
    keys_fetched(stack, signer)
    for i in range(4):
        r = stack.request("/v1/orders", headers={"authorization": f"Bearer {signer.token(jti=f'e{i}')}"})
        assert_problem(r, 401)
    assert "load the portable build (filter_auth_portable.wasm" in stack.nginx.log_text()
    assert wasm_failures(stack) == []
