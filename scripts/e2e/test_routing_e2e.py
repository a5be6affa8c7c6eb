"""The versioned-routing filter in a real Envoy (envoy-config/routing.yaml): versions from path,
header and query, clusters via x-gateway-cluster, canary, deprecation and sunset, path tricks."""

import pytest
from checks import assert_problem, stat, upstream_count, wasm_failures


@pytest.fixture(scope="module")
def gw(stack_factory):
    return stack_factory("routing.yaml")


@pytest.mark.parametrize(
    "path,headers,version",
    [
        ("/v1/orders", [], "v1"),
        ("/v2/orders", [], "v2"),
        ("/orders", [("api-version", "2")], "v2"),
        ("/orders?api-version=2", [], "v2"),
        ("/orders", [("api-version", "v1")], "v1"),
    ],
)
def test_version_selects_upstream(gw, path, headers, version):
    r = gw.request(path, headers=headers)
    assert r.status == 200, r.body
    assert r.upstream() == version
    assert r.echoed_header("x-gateway-version") == version


def test_prefix_stripped_for_upstream(gw):
    r = gw.request("/v2/orders/42?x=1")
    assert r.status == 200
    assert r.json()["path"] == "/orders/42"
    assert r.json()["query"].startswith("x=1")


def test_client_cannot_pick_cluster_or_version(gw):
    r = gw.request("/v1/orders", headers=[("x-gateway-cluster", "api_v2"), ("x-gateway-version", "v2")])
    assert r.status == 200
    assert r.upstream() == "v1"
    assert r.echoed_header_all("x-gateway-version") == ["v1"]
    assert r.echoed_header_all("x-gateway-cluster") == ["api_v1"]


def test_deprecated_version_has_deprecation_sunset_link(gw):
    r = gw.request("/v1beta/orders")
    assert r.status == 200
    assert r.upstream() == "v1"
    assert r.header("deprecation"), r.headers
    assert r.header("sunset") and "2030" in r.header("sunset"), r.headers
    assert any('rel="deprecation"' in v or "rel=deprecation" in v for v in r.header_all("link")), r.headers


def test_retired_version_is_410(gw):
    before = upstream_count(gw)
    assert_problem(gw.request("/v0/orders"), 410)
    assert upstream_count(gw) == before


def test_conflicting_versions_rejected(gw):
    assert_problem(gw.request("/v1/orders", headers=[("api-version", "2")]), 400)


@pytest.mark.parametrize(
    "path",
    ["/v1/../v2/orders", "/v1/%2e%2e/v2/orders", "/v1%2Fv2/orders", "/v1/%2F../v2/orders", "/v1%5C..%5Cv2/orders"],
)
def test_path_tricks_rejected(gw, path):
    before = upstream_count(gw)
    r = gw.request(path)
    assert_problem(r, 400)
    assert upstream_count(gw) == before


@pytest.mark.parametrize(
    "path", ["//v1//orders", "/V1/orders", "/v1;p=1/orders", "/v1/orders?x=/v2", "/v1/orders?api-version=/v2"]
)
def test_odd_paths_never_leave_configured_backends(gw, path):
    r = gw.request(path)
    assert r.status < 500, r.status
    if r.status == 200:
        assert r.upstream() in ("v1", "v2")
    if path.startswith("/v1/orders?x="):
        assert r.status == 200 and r.upstream() == "v1"


def test_absolute_form_and_long_path(gw):
    r = gw.raw(b"GET http://gw/v2/orders HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
    assert r.status < 500
    if r.status == 200:
        assert r.upstream() == "v2"
    r = gw.request("/v1/" + "a" * 9000)
    assert r.status in (400, 414, 431), r.status


@pytest.mark.parametrize(
    "headers",
    [
        [("api-version", "1"), ("api-version", "2")],
        [("api-version", "x" * 10000)],
        [("api-version", "二")],
        [("api-version", "-1")],
    ],
)
def test_bad_version_headers(gw, headers):
    r = gw.request("/orders", headers=headers)
    assert r.status in (200, 400, 404), r.status
    if r.status == 200:
        assert r.upstream() == "v1"  # only the configured default
    else:
        assert_problem(r, (400, 404))


def test_non_utf8_version_header(gw):
    r = gw.raw(b"GET /orders HTTP/1.1\r\nHost: gw\r\napi-version: \xc0\xa7\xff\r\nConnection: close\r\n\r\n")
    assert r.status in (200, 400, 404)


def test_canary_is_sticky_and_splits(gw):
    first = {}
    for i in range(60):
        r = gw.request("/orders", headers=[("x-sticky-key", f"user-{i}")])
        assert r.status == 200
        first[i] = r.upstream()
    for i in range(0, 60, 3):
        r = gw.request("/orders", headers=[("x-sticky-key", f"user-{i}")])
        assert r.upstream() == first[i], f"user-{i} moved"
    to_v2 = sum(1 for v in first.values() if v == "v2")
    assert 0 < to_v2 < 60, first  # 20 % configured: some but not all
    # Explicit versions are not diverted.
    for i in range(20):
        assert gw.request("/v1/orders", headers=[("x-sticky-key", f"user-{i}")]).upstream() == "v1"


def test_http2_trailers(gw):
    r = gw.h2("/v2/orders", method="POST", body=b"abc", trailers=[("x-t", "1")])
    assert r.status == 200
    assert r.upstream() == "v2"


def test_metrics_and_health(gw):
    gw.request("/v2/orders")
    assert stat(gw, "wasmcustom.routing_requests.v2") > 0
    assert wasm_failures(gw) == []
