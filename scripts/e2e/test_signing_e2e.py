"""HMAC request signing in a real Envoy (envoy-config/auth.yaml, an auth configuration with HMAC
keys), signed by client libraries from PyPI that nobody here wrote:

- RFC 9421 HTTP Message Signatures: `requests-http-signature` 2.x (on `http-message-signatures`),
  with its defaults (`@method`, `@authority`, `@target-uri`, `date`, `content-digest`) and with
  other components and parameters; every tampered request refused;
- the HTTP Signatures draft: `pyhttpsig` (a maintained fork of `httpsig`), with `digest` labels
  in either case;
- Kong's `hmac-auth` signing string (`hmac.signing_string: kong`), built by Kong's documented
  rule: header names as listed, `request-line`, over HTTP/1.1 and HTTP/2.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import hashlib
import hmac
import time

import pytest
import requests
from checks import assert_problem, upstream_count, wasm_failures
from httpsig.requests_auth import HTTPSignatureAuth as DraftAuth
from requests_http_signature import HTTPSignatureAuth, algorithms

BOB = b"bob-hmac-secret-0123456789abcdef"
ALICE = b"alice-hmac-secret-0123456789abcd"


def auth_config(**hmac_settings) -> dict:
    return {
        "realm": "gateway-signing",
        "consumers": [
            {"id": "alice", "plan": "gold", "groups": ["customers"],
             "hmac_keys": [{"key_id": "alice-hmac", "secret": ALICE.decode()}]},
            {"id": "bob", "plan": "free", "groups": ["partners"],
             "hmac_keys": [{"key_id": "bob-hmac", "secret": BOB.decode()}]},
        ],
        "hmac": {"clock_skew_seconds": 300, "body_digest": "if-signed", **hmac_settings},
        "rules": [{"prefix": "/", "any_of": ["hmac"]}],
    }


@pytest.fixture(scope="module")
def gw(stack_factory):
    return stack_factory("auth.yaml", configs={"auth": auth_config()})


@pytest.fixture(scope="module")
def kong(stack_factory):
    return stack_factory("auth.yaml", configs={"auth": auth_config(signing_string="kong")})


def url(stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.listen_port}{path}"


def send(prepared: requests.PreparedRequest) -> requests.Response:
    with requests.Session() as s:
        return s.send(prepared, timeout=10)


def rfc9421(key_id: str = "bob-hmac", key: bytes = BOB, **kw) -> HTTPSignatureAuth:
    return HTTPSignatureAuth(signature_algorithm=algorithms.HMAC_SHA256, key=key, key_id=key_id, **kw)


def prepare(stack, method: str, path: str, auth, body: bytes | None = None, headers=None):
    return requests.Request(method, url(stack, path), data=body, headers=headers or {}, auth=auth).prepare()


def assert_refused(r: requests.Response, status: int = 401) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").startswith("application/problem+json"), r.headers
    problem = r.json()
    assert problem["status"] == status, problem
    return problem


def assert_bob(r: requests.Response) -> dict:
    assert r.status_code == 200, (r.status_code, r.text[:300])
    echo = r.json()
    seen = dict(echo["headers"])
    assert seen.get("x-gateway-consumer") == "bob", seen
    assert seen.get("x-gateway-credential") == "hmac", seen
    return echo


def test_rfc9421_client_defaults_get_and_post(gw):
    r = send(prepare(gw, "GET", "/v1/orders?page=2&sort=desc", rfc9421()))
    echo = assert_bob(r)
    names = [k for k, _ in echo["headers"]]
    # Stripped before the upstream (hmac.strip), as Authorization is for the draft.
    assert "signature" not in names and "signature-input" not in names, names
    body = b'{"amount": 10, "currency": "EUR"}'
    prepared = prepare(gw, "POST", "/v1/orders", rfc9421(), body=body,
                       headers={"content-type": "application/json"})
    assert prepared.headers["Content-Digest"].startswith("sha-256=:"), prepared.headers
    echo = assert_bob(send(prepared))
    assert echo["body"] == body.decode()


@pytest.mark.parametrize(
    "options",
    [
        {"covered_component_ids": ("@method", "@target-uri")},
        {"covered_component_ids": ("@method", "@authority", "@request-target", "content-type")},
        {"covered_component_ids": ("@method", "@authority", "@path", "@query", "@scheme")},
        {"use_nonce": True, "tag": "gateway", "label": "client"},
        {"expires_in": datetime.timedelta(seconds=60)},
        {"include_alg": False},
    ],
    ids=["target-uri", "request-target", "path-query-scheme", "nonce-tag-label", "expires", "no-alg"],
)
def test_rfc9421_client_options(gw, options):
    auth = rfc9421(**options)
    r = send(prepare(gw, "PUT", "/v1/orders/7?dry=1", auth, body=b'{"x": 1}',
                     headers={"content-type": "application/json"}))
    assert_bob(r)


def test_rfc9421_alice_and_bob_by_keyid(gw):
    r = send(prepare(gw, "GET", "/v1/me", rfc9421("alice-hmac", ALICE)))
    assert r.status_code == 200, r.text
    assert dict(r.json()["headers"])["x-gateway-consumer"] == "alice"


def _tamper_method(p):
    p.method = "DELETE"


def _tamper_path(p):
    p.url = p.url.replace("/v1/orders", "/v1/admin")


def _tamper_query(p):
    p.url = p.url.replace("page=2", "page=3")


def _tamper_authority(p):
    p.headers["Host"] = "evil.example"


def _tamper_date(p):
    p.headers["Date"] = email.utils.formatdate(time.time() + 1, usegmt=True)


def _tamper_digest_and_body(p):
    p.body = b'{"amount": 99}'
    p.headers["Content-Length"] = str(len(p.body))
    p.headers["Content-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(p.body).digest()).decode() + ":"


def _tamper_signature_input(p):
    p.headers["Signature-Input"] = p.headers["Signature-Input"].replace('"@method" ', "")


@pytest.mark.parametrize(
    "tamper",
    [_tamper_method, _tamper_path, _tamper_query, _tamper_authority, _tamper_date,
     _tamper_digest_and_body, _tamper_signature_input],
    ids=["method", "path", "query", "authority", "date", "content-digest", "signature-input"],
)
def test_rfc9421_each_covered_component_changed_is_refused(gw, tamper):
    prepared = prepare(gw, "POST", "/v1/orders?page=2", rfc9421(), body=b'{"amount": 10}')
    tamper(prepared)
    before = upstream_count(gw)
    problem = assert_refused(send(prepared))
    assert problem["type"] == "urn:gateway:problem:invalid-credentials", problem
    assert upstream_count(gw) == before


def test_rfc9421_body_changed_after_signing_is_refused(gw):
    prepared = prepare(gw, "POST", "/v1/orders", rfc9421(), body=b'{"amount": 10}')
    prepared.body = b'{"amount": 99}'  # same length: only the digest tells
    assert_refused(send(prepared))


class _Clock(HTTPSignatureAuth):
    """The library's signer with its clock moved by `shift` seconds."""

    shift = 0

    def get_created(self, request):
        created = datetime.datetime.now() + datetime.timedelta(seconds=self.shift)
        self.add_date(request, timestamp=int(created.timestamp()))
        return created


@pytest.mark.parametrize("shift", [-3600, 3600], ids=["created-long-ago", "created-in-the-future"])
def test_rfc9421_created_outside_the_skew_is_refused(gw, shift):
    auth = _Clock(signature_algorithm=algorithms.HMAC_SHA256, key=BOB, key_id="bob-hmac")
    auth.shift = shift
    problem = assert_refused(send(prepare(gw, "GET", "/v1/orders", auth)))
    assert "clock skew" in problem.get("detail", ""), problem


def test_rfc9421_expired_is_refused(gw):
    auth = _Clock(signature_algorithm=algorithms.HMAC_SHA256, key=BOB, key_id="bob-hmac",
                  expires_in=datetime.timedelta(seconds=5))
    auth.shift = -60  # created a minute ago (within the skew), expired 55 s ago
    problem = assert_refused(send(prepare(gw, "GET", "/v1/orders", auth)))
    assert "expired" in problem.get("detail", ""), problem


@pytest.mark.parametrize(
    "auth",
    [
        rfc9421(key=b"not-bobs-secret-0123456789abcdef"),
        rfc9421(key_id="eve-hmac", key=BOB),
        rfc9421("alice-hmac", BOB),
        rfc9421(covered_component_ids=("@method",)),
        rfc9421(covered_component_ids=("@authority", "@target-uri")),
    ],
    ids=["wrong-secret", "unknown-keyid", "another-consumers-keyid", "no-target", "no-method"],
)
def test_rfc9421_wrong_key_or_too_little_covered_is_refused(gw, auth):
    before = upstream_count(gw)
    assert_refused(send(prepare(gw, "GET", "/v1/orders", auth)))
    assert upstream_count(gw) == before


def test_rfc9421_beside_an_authorization_signature_is_ambiguous(gw):
    prepared = prepare(gw, "GET", "/v1/orders", rfc9421())
    draft = prepare(gw, "GET", "/v1/orders", DraftAuth(key_id="bob-hmac", secret=BOB, algorithm="hmac-sha256"),
                    headers={"Date": email.utils.formatdate(usegmt=True)})
    prepared.headers["Authorization"] = draft.headers["Authorization"]
    assert_refused(send(prepared), 400)


def _draft(stack, path: str, body: bytes, label: str, headers=("(request-target)", "date", "digest")):
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    auth = DraftAuth(key_id="bob-hmac", secret=BOB, algorithm="hmac-sha256", headers=list(headers))
    return prepare(stack, "POST", path, auth, body=body,
                   headers={"Date": email.utils.formatdate(usegmt=True), "Digest": f"{label}={digest}"})


@pytest.mark.parametrize("label", ["SHA-256", "sha-256", "Sha-256"])
def test_draft_client_digest_labels_in_any_case(gw, label):
    body = b'{"amount": 10}'
    echo = assert_bob(send(_draft(gw, "/v1/orders?x=1", body, label)))
    assert echo["body"] == body.decode()
    tampered = _draft(gw, "/v1/orders?x=1", body, label)
    tampered.body = b'{"amount": 99}'
    assert_refused(send(tampered))


def test_draft_client_tampered_path_refused(gw):
    prepared = _draft(gw, "/v1/orders", b"{}", "sha-256")
    prepared.url = prepared.url.replace("/v1/orders", "/v1/orderz")
    assert_refused(send(prepared))


def kong_authorization(listed: str, signing_string: str, key_id: str = "bob-hmac", secret: bytes = BOB) -> str:
    """`Authorization` as Kong's hmac-auth clients write it (Kong's plugin documentation)."""
    mac = hmac.new(secret, signing_string.encode(), hashlib.sha256).digest()
    signature = base64.b64encode(mac).decode()
    return f'hmac username="{key_id}", algorithm="hmac-sha256", headers="{listed}", signature="{signature}"'


def test_kong_signing_string_keeps_header_case(kong):
    date = email.utils.formatdate(usegmt=True)
    path = "/v1/orders?page=2"
    authorization = kong_authorization("Date request-line", f"Date: {date}\nGET {path} HTTP/1.1")
    r = kong.request(path, headers=[("Date", date), ("Authorization", authorization)])
    assert r.status == 200, r.body
    assert r.echoed_header("x-gateway-consumer") == "bob"
    assert r.echoed_header("authorization") is None
    # The same signature over another path is refused.
    assert_problem(kong.request("/v1/orders?page=3", headers=[("Date", date), ("Authorization", authorization)]), 401)


def test_kong_request_line_over_http2(kong):
    date = email.utils.formatdate(usegmt=True)
    authorization = kong_authorization("Date request-line", f"Date: {date}\nPOST /v1/orders HTTP/2.0")
    r = kong.h2("/v1/orders", method="POST", headers=[("date", date), ("authorization", authorization)], body=b"{}")
    assert r.status == 200, r.body
    assert r.echoed_header("x-gateway-consumer") == "bob"


def test_kong_client_refused_by_the_draft_signing_string(gw, kong):
    """The default signing string lowercases names and knows no `request-line`: a Kong client
    is accepted only where `hmac.signing_string` is `kong`."""
    date = email.utils.formatdate(usegmt=True)
    authorization = kong_authorization("Date request-line", f"Date: {date}\nGET /v1/orders HTTP/1.1")
    headers = [("Date", date), ("Authorization", authorization)]
    assert_problem(gw.request("/v1/orders", headers=headers), 401)
    assert kong.request("/v1/orders", headers=headers).status == 200


def test_filter_healthy_after_signing_traffic(gw, kong):
    assert send(prepare(gw, "GET", "/v1/orders", rfc9421())).status_code == 200
    assert wasm_failures(gw) == []
    assert wasm_failures(kong) == []
