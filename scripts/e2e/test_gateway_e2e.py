"""The whole gateway (envoy-config/gateway.yaml: auth -> quota -> analytics -> routing -> router,
and gateway-bundle.yaml: the same chain as the bundle module's one `gateway` filter)
with the sample consumers and plans of envoy-config/plugins/: the demo's walk-through as
assertions, plus the bad inputs from threats.md that only a real client can send.

Every test runs against both hosts: Envoy (the four modules, the bundle, and both with the
portable builds) and NGINX with ngx_wasm_module (nginx-config/gateway.conf and
gateway-bundle.conf: the portable builds). Where the hosts differ, the test reads the difference
from checks.HOSTS, the one list of them."""

import re

import pytest
from checks import api_key as key
from checks import assert_problem, has, host, keys_fetched, requires, upstream_count, wasm_failures

from harness.samples import API_KEYS, TRIAL_LIMIT

GATEWAYS = {
    "gateway.yaml": ("envoy", "gateway.yaml", None),
    "gateway-bundle.yaml": ("envoy", "gateway-bundle.yaml", None),
    "portable auth": ("envoy", "gateway.yaml", {"auth": "auth_portable"}),
    "portable bundle": ("envoy", "gateway-bundle.yaml", {"bundle": "bundle_portable"}),
    "nginx gateway.conf": ("nginx", "gateway.conf", None),
    "nginx gateway-bundle.conf": ("nginx", "gateway-bundle.conf", None),
}


@pytest.fixture(scope="module", params=list(GATEWAYS))
def gw(request, stack_factory, signer):
    """On Envoy: the four filters as separate modules, as the bundle's single `gateway` filter,
    and both again with the portable builds (RSA and ECDSA in the module). On NGINX: the four
    portable modules and the portable bundle."""
    proxy, template, modules = GATEWAYS[request.param]
    stack = stack_factory(template, host=proxy, jwks=signer.jwks(), modules=modules)
    return keys_fetched(stack, signer)


def test_401_without_credentials(gw):
    before = upstream_count(gw)
    assert_problem(gw.request("/v1/orders"), 401)
    assert upstream_count(gw) == before


def test_200_with_api_key(gw):
    r = gw.request("/v1/orders", headers=key("alice"))
    assert r.status == 200, r.body
    assert r.upstream() == "v1"
    assert r.echoed_header("x-gateway-consumer") == "alice"
    assert r.echoed_header("x-gateway-version") == "v1"
    assert r.echoed_header("x-api-key") is None


def test_200_with_jwt(gw, signer):
    r = gw.request("/v2/orders", headers={"authorization": f"Bearer {signer.token()}"})
    assert r.status == 200, r.body
    assert r.upstream() == "v2"
    assert r.echoed_header("x-gateway-consumer") == "dave"
    assert r.echoed_header("x-gateway-credential") == "jwt"


def test_403_for_group_without_access(gw):
    assert_problem(gw.request("/v1/orders", headers=key("carol")), 403)


def test_429_after_plan_quota_with_rate_limit_headers(gw):
    """erin's trial plan allows TRIAL_LIMIT requests an hour in total, counted across both
    workers (Envoy's shared data; NGINX's shm_kv zone): each request is a new connection."""
    for i in range(TRIAL_LIMIT):
        r = gw.request("/v1/orders", headers=key("erin"))
        assert r.status == 200, (i, r.body)
    before = upstream_count(gw)
    r = gw.request("/v1/orders", headers=key("erin"))
    assert_problem(r, 429)
    assert r.header("retry-after"), r.headers
    names = {k for k, _ in r.headers}
    assert names & {"ratelimit", "x-ratelimit-limit", "ratelimit-policy"}, r.headers
    assert upstream_count(gw) == before


def test_auth_rejection_consumes_no_quota(gw):
    # bob (free: 100/hour) is unaffected by any number of failed attempts with bad keys.
    for _ in range(5):
        assert_problem(gw.request("/v1/orders", headers=[("x-api-key", "wrong")]), 401)
    r = gw.request("/v1/orders", headers=key("bob"))
    assert r.status == 200
    if r.header("x-ratelimit-remaining") is not None:
        assert int(r.header("x-ratelimit-remaining")) >= 90


@pytest.mark.parametrize(
    "path,headers,version",
    [("/v1/orders", [], "v1"), ("/v2/orders", [], "v2"), ("/orders", [("api-version", "2")], "v2")],
)
def test_v1_and_v2_routing(gw, path, headers, version):
    r = gw.request(path, headers=key("bob") + headers)
    assert r.status == 200, r.body
    assert r.upstream() == version


def test_prefix_stripped_for_upstream(gw):
    r = gw.request("/v2/orders/42?x=1", headers=key("bob"))
    assert r.status == 200, r.body
    assert r.upstream() == "v2"
    assert r.json()["path"] == "/orders/42"
    assert r.json()["query"] == "x=1"


def test_sticky_canary_split(gw, signer):
    """Unversioned requests: 20 % of consumers (by SHA-256 of the id) go to v2, always the same
    ones; alice's bucket is 879 (< 2000: v2), bob's 9519 and dave's 2626 (v1)."""
    callers = {"alice": key("alice"), "bob": key("bob"), "dave": [("authorization", f"Bearer {signer.token()}")]}
    seen = {name: {gw.request("/orders", headers=h + [("x-sticky-key", f"k{i}")]).upstream() for i in range(4)}
            for name, h in callers.items()}
    assert seen == {"alice": {"v2"}, "bob": {"v1"}, "dave": {"v1"}}
    # Explicit versions are not diverted.
    assert gw.request("/v1/orders", headers=key("alice")).upstream() == "v1"


def test_deprecation_and_sunset_headers(gw):
    r = gw.request("/v1beta/orders", headers=key("bob"))
    assert r.status == 200
    assert r.header("deprecation") and r.header("sunset"), r.headers
    assert_problem(gw.request("/v0/orders", headers=key("bob")), 410)


def test_metrics_at_stats_prometheus(gw):
    requires(gw, "prometheus")
    gw.request("/v1/orders", headers=key("alice"))
    gw.request("/v1/orders")
    text = gw.envoy.prometheus()
    req = [ln for ln in text.splitlines() if ln.startswith("gateway_requests_total{")]
    assert any('consumer="alice"' in ln and 'version="v1"' in ln for ln in req), "\n".join(req)
    local = [ln for ln in text.splitlines() if ln.startswith("gateway_local_replies_total{")]
    assert any('status_code="401"' in ln for ln in local), "\n".join(local)
    assert re.search(r"^auth_allowed_api_key_total(\{\})? [1-9]", text, re.M), "auth metrics"
    assert re.search(r"^quota_\w+(\{\})? \d+", text, re.M), "quota metrics"


def test_events_for_accepted_and_rejected_requests(gw):
    gw.request("/v2/orders", headers=key("bob"))
    gw.request("/v2/orders")
    # Earlier tests' events are in the collector too: wait for this test's own.
    events = gw.collector.wait_events(
        lambda ev: any(e.get("status") == 401 and e.get("path") == "/v2/orders" for e in ev)
        and any(e.get("consumer") == "bob" and e.get("path") == "/v2/orders" for e in ev)
    )
    assert any(e.get("status") == 401 and e.get("path") == "/v2/orders" for e in events)
    assert any(e.get("consumer") == "bob" and e.get("version") == "v2" for e in events), events
    # Nothing secret in events.
    for k in API_KEYS.values():
        assert all(k not in str(e) for e in events)


# Bad inputs only a real client can send ------------------------------------------------------


@pytest.mark.parametrize("path,version,cluster", [("/v1/orders", "v1", "api_v2"), ("/v2/orders", "v2", "api_v1")])
def test_duplicate_identity_and_version_headers(gw, path, version, cluster):
    """Client copies of the identity and cluster headers, twice each: the upstream gets only the
    filters' values (ngx_wasm_module replaces a header held twice by marking every copy removed,
    the replacement too: filter-core removes the copies first), and the version of the path."""
    r = gw.request(
        path,
        headers=key("bob")
        + [("x-gateway-consumer", "alice"), ("x-gateway-consumer", "root"), ("x-gateway-cluster", cluster),
           ("x-gateway-cluster", "jwks")],
    )
    assert r.status == 200, r.body
    assert r.echoed_header_all("x-gateway-consumer") == ["bob"]
    assert r.echoed_header("x-gateway-version") == version
    assert r.upstream() == version
    assert r.echoed_header("x-api-key") is None


def test_client_cannot_pick_the_upstream(gw):
    r = gw.request("/v1/orders", headers=key("bob") + [("x-gateway-cluster", "api_v2"),
                                                      ("x-gateway-consumer", "alice")])
    assert r.status == 200, r.body
    assert r.upstream() == "v1"
    assert r.echoed_header_all("x-gateway-consumer") == ["bob"]


@pytest.mark.parametrize("path", ["/v1/orders/x/../y", "/admin/%2e%2e/public", "/v1//orders",
                                  "/v2/orders/a%2Fb", "/v1/orders/%5c"])
def test_ambiguous_paths_refused(gw, path):
    """Auth refuses a target whose meaning depends on decoding or normalizing it (Envoy gives the
    filters the raw target; on NGINX, which gives them nginx's normalized $uri, the templates
    refuse these before the filters, with auth's answer)."""
    before = upstream_count(gw)
    assert_problem(gw.request(path, headers=key("bob")), 400)
    assert upstream_count(gw) == before


def test_underscore_variant_of_identity_header_is_dropped(gw):
    r = gw.request("/v1/orders", headers=key("bob") + [("x_gateway_consumer", "alice")])
    assert r.status == 200
    assert r.echoed_header("x_gateway_consumer") is None


def test_oversized_headers(gw):
    r = gw.request("/v1/orders", headers=key("bob") + [("x-big", "a" * (100 * 1024))])
    assert r.status == host(gw).oversized_header_status
    r = gw.request("/v1/orders", headers=key("bob") + [("x-big", "a" * (50 * 1024))])
    assert r.status == 200
    if has(gw, "header_count_limit"):
        r = gw.request("/v1/orders", headers=key("bob") + [(f"x-h{i}", "v") for i in range(150)])
        assert r.status == 431


def test_http2_with_trailers(gw):
    requires(gw, "http2")
    r = gw.h2("/v2/orders", method="POST", headers=key("alice"), body=b'{"a":1}', trailers=[("x-sum", "1")])
    assert r.status == 200, r.body
    assert r.upstream() == "v2"
    r = gw.h2("/v2/orders", method="POST", body=b'{"a":1}', trailers=[("x-sum", "1")])
    assert r.status == 401


def test_non_utf8_bytes(gw):
    key_bytes = API_KEYS["bob"].encode()
    r = gw.raw(b"GET /v1/orders HTTP/1.1\r\nHost: gw\r\nx-api-key: " + key_bytes +
               b"\r\nx-forwarded-for: 1 \xc0\xa7\xc0\xa2\r\nx-sticky-key: \xff\xfe\r\napi-version: \xc0\r\n"
               b"Connection: close\r\n\r\n")
    assert r.status in (200, 400), r.status
    r = gw.raw(b"GET /v1/ord\xffers HTTP/1.1\r\nHost: gw\r\nx-api-key: " + key_bytes + b"\r\nConnection: close\r\n\r\n")
    assert r.status in (400, 404), r.status


@pytest.mark.parametrize(
    "request_line",
    [b"CONNECT api.example:443 HTTP/1.1", b"OPTIONS * HTTP/1.1", b"GET http://gw/v2/orders HTTP/1.1",
     b"GET /v1/orders?\xff=\x00 HTTP/1.1"],
)
def test_odd_request_targets_get_a_defined_answer(gw, request_line):
    """No :path (CONNECT), `*`, absolute form, raw bytes in the query: a defined status, no trap."""
    key_bytes = API_KEYS["bob"].encode()
    r = gw.raw(request_line + b"\r\nHost: gw\r\nx-api-key: " + key_bytes + b"\r\nConnection: close\r\n\r\n")
    assert 200 <= r.status < 500, r.status
    if r.status == 200:
        assert r.upstream() in ("v1", "v2")


def test_gateway_healthy_after_everything(gw):
    assert gw.request("/v1/orders", headers=key("alice")).status == 200
    assert wasm_failures(gw) == []
