"""The harness itself: sample upstreams, template rendering, clients (no Envoy needed)."""

import json
import threading

import pytest

from harness import client, envoy
from harness.upstreams import ApiServer, CollectorServer, JwksServer, parse_events


def test_api_server_echoes_request():
    with ApiServer("v2") as api:
        r = client.request(api.port, "/things?a=1", method="POST", headers=[("X-A", "1"), ("X-A", "2")], body=b"hi")
        assert r.status == 200
        doc = r.json()
        assert doc["version"] == "v2"
        assert doc["method"] == "POST" and doc["path"] == "/things" and doc["query"] == "a=1"
        assert [v for k, v in doc["headers"] if k == "x-a"] == ["1", "2"]
        assert doc["body"] == "hi"
        assert api.requests[0].header_all("x-a") == ["1", "2"]


def test_server_faults_and_release():
    with ApiServer("v1") as api:
        api.fail(503)
        assert client.request(api.port, "/").status == 503
        api.heal()
        api.hang()
        result = {}
        t = threading.Thread(target=lambda: result.setdefault("r", client.request(api.port, "/slow")))
        t.start()
        api.wait_requests(1)
        assert "r" not in result
        api.release()
        t.join(30)
        assert result["r"].status == 200


def test_collector_and_jwks():
    with CollectorServer() as col, JwksServer({"keys": [{"kid": "k1"}]}) as jwks:
        client.request(col.port, "/events", method="POST", body=b'[{"a":1},{"a":2}]')
        client.request(col.port, "/events", method="POST", body=b'{"a":3}\n{"a":4}\n')
        assert [e["a"] for e in col.events()] == [1, 2, 3, 4]
        assert client.request(jwks.port, "/jwks.json").json() == {"keys": [{"kid": "k1"}]}


def test_parse_events_shapes():
    assert parse_events(b"") == []
    assert parse_events(b'{"x":1}') == [{"x": 1}]


def test_render_quotes_plugin_config_and_names_missing_values():
    text = "a: {{PORT}}\nvalue: {{AUTH_CONFIG}}\n"
    out = envoy.render(text, {"PORT": 1, "AUTH_CONFIG": {"k": "v\"'\n"}})
    line = out.splitlines()[1]
    assert json.loads(json.loads(line.split(": ", 1)[1])) == {"k": "v\"'\n"}
    with pytest.raises(envoy.RenderError, match="AUTH_CONFIG"):
        envoy.render(text, {"PORT": 1})


def test_required_filters_in_order():
    assert envoy.required_filters("{{DIST}}/filter_auth.wasm x {{DIST}}/filter_quota.wasm filter_auth.wasm") == [
        "auth",
        "quota",
    ]
