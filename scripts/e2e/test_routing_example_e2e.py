"""The routing filter's complete example (filters/routing/example.json) in a real Envoy
(envoy-config/routing.yaml with that configuration): every row of the example table in
filters/routing/README.md behaves as shown. Identity headers come from the client here, as the
auth filter would set them: alice (groups staff,beta), bob (partners)."""

import json

import pytest
from checks import assert_problem
from harness import ROOT

EXAMPLE = json.loads((ROOT / "filters" / "routing" / "example.json").read_text(encoding="utf-8"))
ALICE = [("x-gateway-consumer", "alice"), ("x-gateway-groups", "staff,beta")]
BOB = [("x-gateway-consumer", "bob"), ("x-gateway-groups", "partners")]


@pytest.fixture(scope="module")
def gw(stack_factory):
    return stack_factory("routing.yaml", configs={"routing": EXAMPLE})


@pytest.mark.parametrize(
    "path,headers,upstream,upstream_path",
    [
        ("/v2/items", [], "v2", "/items"),
        ("/items", [("Api-Version", "2")], "v2", "/items"),
        ("/items", [("Accept", "application/vnd.shop.v2+json")], "v2", "/items"),
        ("/items?api-version=v1", [], "v1", "/items"),
        # alice's bucket for v1>v2 is 879 < 1000 (10 %); bob's is 9519.
        ("/items", ALICE, "v2", "/items"),
        ("/items", BOB, "v1", "/items"),
        # Explicit versions are not split.
        ("/v1/items", ALICE, "v1", "/items"),
        # alice is staff: her override is honoured; bob's is ignored.
        ("/v1/items", ALICE + [("x-api-version-override", "v2")], "v2", "/items"),
        ("/v1/items", BOB + [("x-api-version-override", "v2")], "v1", "/items"),
    ],
)
def test_example_rows(gw, path, headers, upstream, upstream_path):
    r = gw.request(path, headers=headers)
    assert r.status == 200, r.body
    assert r.upstream() == upstream
    assert r.json()["path"] == upstream_path
    assert r.echoed_header("x-gateway-version") == upstream


def test_anonymous_clients_get_a_cookie_and_keep_their_side(gw):
    r = gw.request("/items")
    assert r.status == 200 and r.upstream() in ("v1", "v2")
    cookie = r.header("set-cookie")
    assert cookie and cookie.startswith("gw_version_key="), r.headers
    for _ in range(3):
        again = gw.request("/items", headers=[("cookie", cookie.split(";")[0])])
        assert again.upstream() == r.upstream()
        assert again.header("set-cookie") is None


def test_deprecated_version_announces_its_sunset_and_successor(gw):
    r = gw.request("/v1beta/items")
    assert r.status == 200 and r.upstream() == "v1"
    assert r.header("deprecation") == "@1767225600"
    assert r.header("sunset") == "Tue, 01 Jan 2030 00:00:00 GMT"
    links = r.header_all("link")
    assert '<https://developer.example/deprecations/v1beta>; rel="deprecation"' in links, links
    assert '</v1>; rel="successor-version"' in links, links


def test_retired_unknown_and_ambiguous_versions_are_refused(gw):
    r = gw.request("/v0/items")
    assert assert_problem(r, 410)["type"].endswith(":version-retired")
    assert '<https://developer.example/docs/v1>; rel="successor-version"' in r.header_all("link")
    for path in ("/v3/items", "/V1/items"):
        assert assert_problem(gw.request(path), 404)["type"].endswith(":unknown-version")
    assert assert_problem(gw.request("/v1/../v2/items"), 400)["type"].endswith(":invalid-path")
