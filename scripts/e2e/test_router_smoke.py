"""Router-only Envoy (no filters): the harness end to end, and Envoy's own handling of inputs
only a real client can send."""

import pytest

from harness import client


@pytest.fixture(scope="module")
def gw(stack_factory):
    return stack_factory("router.yaml")


def test_request_reaches_v1_with_method_path_query_headers_body(gw):
    r = gw.request("/items/7?color=red", method="POST", headers={"x-demo": "1"}, body=b'{"n":1}')
    assert r.status == 200
    echo = r.json()
    assert echo["version"] == "v1"
    assert (echo["method"], echo["path"], echo["query"]) == ("POST", "/items/7", "color=red")
    assert r.echoed_header("x-demo") == "1"
    assert echo["body"] == '{"n":1}'


def test_cluster_header_selects_api_cluster_only(gw):
    assert gw.request("/", headers={"x-gateway-cluster": "api_v2"}).upstream() == "v2"
    # Anything that is not an api_* cluster falls back to the default route.
    assert gw.request("/", headers={"x-gateway-cluster": "jwks"}).upstream() == "v1"


def test_admin_ready_and_prometheus(gw):
    assert gw.envoy.admin("/ready") == (200, "LIVE\n")
    assert "envoy_cluster_upstream_rq" in gw.envoy.prometheus()


def test_duplicate_headers_reach_upstream(gw):
    r = gw.request("/", headers=[("x-dup", "a"), ("x-dup", "b")])
    assert r.status == 200
    assert r.echoed_header_all("x-dup") in (["a", "b"], ["a,b"])


def test_oversized_headers_rejected_by_envoy(gw):
    r = gw.request("/", headers={"x-big": "a" * (100 * 1024)})
    assert r.status == 431


def test_non_utf8_header_bytes_pass_through(gw):
    r = gw.raw(b"GET /raw HTTP/1.1\r\nHost: gw\r\nx-forwarded-for: 1 \xc0\xa7\xc0\xa2\r\nConnection: close\r\n\r\n")
    assert r.status == 200
    assert r.echoed_header("x-forwarded-for").encode("latin-1").endswith(b"\xc0\xa7\xc0\xa2")


def test_http2_with_trailers(gw):
    r = gw.h2("/h2", method="POST", body=b"payload", trailers=[("x-checksum", "abc")])
    assert r.status == 200
    echo = r.json()
    assert echo["version"] == "v1" and echo["body"] == "payload"
    assert gw.v1.requests[-1].path == "/h2"
