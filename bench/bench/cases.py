"""What the benchmark measures: the cases (each a name and the filters Envoy runs before its
router, in run order), the request every case sends and its RS256 token, the plugins'
configurations, and the instruments beside the shipped modules (bench/hostcall-cost,
bench/abi-floor, filter-core's probe). configs.py writes a case's filters as Envoy's YAML.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass

from bench import ROOT

DIST = ROOT / "dist"
# The shipped modules' target (scripts/lib.sh, which scripts/bench sources, exports it).
WASM_TARGET = os.environ.get("WASM_TARGET") or re.search(
    r"^WASM_TARGET=(\S+)$", (ROOT / "scripts" / "lib.sh").read_text(), re.M).group(1)
ISSUER = "https://bench.example"
AUDIENCE = "bench"
CONSUMER = "bench"
# Case names used beyond the case list.
ROUTER, NATIVE, BUNDLE = "router only", "native jwt_authn + local_ratelimit", "bundle gateway root"
# Each filter's case when it runs alone, by the name host-test's costs use for it.
ALONE = {"auth": "auth alone", "quota": "quota alone", "analytics": "analytics alone", "routing": "routing alone"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rs256_jwk(key, kid: str) -> dict:
    """The public JWK of an RSA private key (cryptography's), bound to RS256, named `kid`."""
    numbers = key.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b64url(n), "e": b64url(e)}


class Rs256:
    """An RSA-2048 key, its JWKS and one long-lived RS256 token (cryptography from PyPI)."""

    def __init__(self):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks = {"keys": [rs256_jwk(key, "bench-1")]}
        # Issued before host-test's virtual clock starts (2023-11-14), so the same token is valid in
        # host-test's cost measurement and in the Envoy runs.
        now = int(time.time())
        issued = 1_690_000_000
        header = {"alg": "RS256", "typ": "JWT", "kid": "bench-1"}
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": CONSUMER, "iat": issued, "exp": now + 86400}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        self.token = signing_input + "." + b64url(sig)
        self._key, self._header, self._claims = key, header, claims

    def fresh_tokens(self, n: int) -> list[str]:
        """`n` tokens like `token`, each with its own `jti` (so its own signature)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        head = b64url(json.dumps(self._header, separators=(",", ":")).encode())
        out = []
        for i in range(n):
            claims = dict(self._claims, jti=f"bench-{i}")
            signing_input = head + "." + b64url(json.dumps(claims, separators=(",", ":")).encode())
            sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
            out.append(signing_input + "." + b64url(sig))
        return out


def plugin_configs(rs: Rs256) -> dict[str, dict]:
    """Configurations doing comparable work to the native chain: an RS256 JWT, a quota that never
    refuses, analytics with events to a collector, and versioned routing."""
    auth = {
        "consumers": [{"id": CONSUMER, "plan": "bench", "groups": ["customers"]}],
        "jwt": {"providers": [{"name": "bench", "issuer": ISSUER, "audiences": [AUDIENCE], "jwks": rs.jwks}]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}],
    }
    quota = {
        "plans": [{"name": "bench", "limits": [{"name": "per-minute", "limit": 1_000_000_000, "window": "minute"}]}],
        "consumers": [{"id": CONSUMER, "plan": "bench"}],
        "key": {"source": "consumer", "per": "none"},
        # The same three X-RateLimit-* fields the native local_ratelimit adds below.
        "headers": {"on_success": True, "ietf": False, "x_ratelimit": True},
        "unidentified": "allow",
    }
    analytics = json.loads((ROOT / "envoy-config" / "plugins" / "analytics.json").read_text())
    routing = json.loads((ROOT / "envoy-config" / "plugins" / "routing.json").read_text())
    return {"auth": auth, "quota": quota, "analytics": analytics, "routing": routing}


def request_headers(token: str) -> dict[str, str]:
    """Headers of every benchmark request. The identity headers stand in for auth when a later
    filter runs alone (so quota meters the consumer); auth replaces them when it runs."""
    return {"authorization": f"Bearer {token}", "x-gateway-consumer": CONSUMER, "x-gateway-plan": "bench"}


@dataclass(frozen=True)
class Wasm:
    """A wasm filter of a case, `bench.<name>` in Envoy, in a VM of its own; `module` is a file in
    dist/ or an absolute path."""

    name: str
    module: str
    root_id: str
    config: dict


@dataclass(frozen=True)
class NativeChain:
    """Envoy's native chain: jwt_authn checking RS256 tokens against `jwks`, then local_ratelimit
    (the same three X-RateLimit-* fields as quota's configuration)."""

    jwks: dict


Filters = list[Wasm | NativeChain]
"""A case's filters, in order (the router follows them); router only has none."""


def cases(rs: Rs256) -> list[tuple[str, Filters]]:
    """(name, filters) of every case, in run order."""
    c = plugin_configs(rs)
    separate = [Wasm(n, f"filter_{n}.wasm", n, c[n]) for n in ("auth", "quota", "analytics", "routing")]
    out: list[tuple[str, Filters]] = [(ROUTER, [])]
    for n, case in ALONE.items():
        out.append((case, [Wasm(n, f"filter_{n}.wasm", n, c[n])]))
    out.append(("four modules", separate))
    if (DIST / "filter_bundle.wasm").exists():
        out.append((BUNDLE, [Wasm("gateway", "filter_bundle.wasm", "gateway", c)]))
    out.append((NATIVE, [NativeChain(rs.jwks)]))
    return out


FRESH_TOKENS = 3000
"""Tokens the fresh-token cases rotate through: more than auth's verified-token cache holds (1024
per worker), so every request's signature is checked."""


def fresh_cases(rs: Rs256) -> list[tuple[str, Filters]]:
    """(name, filters) of the cases run with a new token on every request."""
    c = plugin_configs(rs)
    out: list[tuple[str, Filters]] = [(ALONE["auth"], [Wasm("auth", "filter_auth.wasm", "auth", c["auth"])])]
    if (DIST / "filter_bundle.wasm").exists():
        out.append((BUNDLE, [Wasm("gateway", "filter_bundle.wasm", "gateway", c)]))
    out.append((NATIVE, [NativeChain(rs.jwks)]))
    return out


FORGED_KEYS = 32
"""RSA-2048 keys of the forged-token cases' JWKS: the bench's key and 31 more, all RS256."""
FORGED_TOKENS = 3000
"""Forged tokens the forged-token cases rotate through: more than auth's memory of refused
signatures holds (1024 per worker, starting over when full), so every token is new to it."""
FORGED_SIGNATURE_BYTES = 256
"""A forged token's signature: the length of an RSA-2048 signature, so every key of the JWKS fits
it by size."""
FORGED = "forged kid-less tokens against 32 RSA keys"
"""The name of the forged-token cases' section and goal."""
# Envoy's counters read around each forged-token run: the gateway's answers by class, the
# refusals of each filter, and auth's signature work.
ANSWERED_4XX, ANSWERED_5XX = "http.bench.downstream_rq_4xx", "http.bench.downstream_rq_5xx"
AUTH_REFUSED = "wasmcustom.auth_rejected_invalid_credentials_total"
NATIVE_REFUSED = "http.bench.jwt_authn.denied"
AUTH_CHECKS = ("wasmcustom.auth_jwt_signature_host_total", "wasmcustom.auth_jwt_signature_module_total")
AUTH_LIMITED = "wasmcustom.auth_jwt_signature_limit_total"
AUTH_REMEMBERED = "wasmcustom.auth_jwt_refusal_remembered_total"
FORGED_COUNTERS = (ANSWERED_4XX, ANSWERED_5XX, AUTH_REFUSED, NATIVE_REFUSED, *AUTH_CHECKS, AUTH_LIMITED,
                   AUTH_REMEMBERED)


def forged_jwks(rs: Rs256, n: int = FORGED_KEYS) -> dict:
    """A JWKS of `n` RSA-2048 public keys, all `alg: RS256` with distinct `kid`s: `rs`'s key (so the
    bench's own token still verifies) and `n - 1` generated ones."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    keys = [dict(rs.jwks["keys"][0])]
    for i in range(2, n + 1):
        keys.append(rs256_jwk(rsa.generate_private_key(public_exponent=65537, key_size=2048), f"bench-{i}"))
    return {"keys": keys}


def forged_tokens(n: int, start: int = 0) -> list[str]:
    """`n` RS256 tokens no key verifies, each new: no `kid` in the header, the bench's issuer,
    audience and consumer with valid times, each its own `jti` (numbered from `start`), and a
    random signature of FORGED_SIGNATURE_BYTES. Its top bit is cleared: below every RSA-2048
    modulus, every check is a full public-key operation (a value at or over a key's modulus is
    refused before any)."""
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    now = int(time.time())
    out = []
    for i in range(n):
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": CONSUMER, "iat": 1_690_000_000, "exp": now + 86400,
                  "jti": f"forged-{start + i}"}
        sig = bytearray(os.urandom(FORGED_SIGNATURE_BYTES))
        sig[0] &= 0x7F
        out.append(head + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()) + "." + b64url(bytes(sig)))
    return out


def forged_cases(rs: Rs256) -> list[tuple[str, Filters]]:
    """(name, filters) of the forged-token cases, on one JWKS of FORGED_KEYS keys (`forged_jwks`)
    given inline: auth alone (filter_auth.wasm, the build for Envoy, which leaves RS256 checks to
    Envoy's `verify_signature`; `jwt.max_signature_checks` at its default) and the native chain
    (jwt_authn, then local_ratelimit)."""
    jwks = forged_jwks(rs)
    auth = plugin_configs(rs)["auth"]
    providers = [{**p, "jwks": jwks} for p in auth["jwt"]["providers"]]
    auth = {**auth, "jwt": {**auth["jwt"], "providers": providers}}
    return [(ALONE["auth"], [Wasm("auth", "filter_auth.wasm", "auth", auth)]), (NATIVE, [NativeChain(jwks)])]


RLS_CLUSTER = "ratelimit"
"""The cluster of the rate limit service in the global store's cases."""
STORE_BLOCK = 100
"""Units a lease of the leased mode reserves per call: one call serves many requests."""
STORE_TIMEOUT_MS = 1000
"""Per-call timeout of the global store's cases: long enough that a loaded 2-core machine does
not turn a slow answer into a failure; failures refuse the request (`on_error: deny`), so that
they show as non-2xx answers instead of admitting unchecked."""
GLOBAL = {"exact": "quota, global store exact", "leased": "quota, global store leased"}
"""The global store's cases, by mode: quota alone's filter and plan with `store.global`."""
GLOBAL_CALLS = "wasmcustom.quota_global_calls"
"""The quota filter's counter of calls to the rate limit service."""


def one_connection(name: str) -> str:
    """The name of `name` run again with one connection: latency without queueing (quota alone and
    the exact mode, whose call every request waits for)."""
    return f"{name}, one connection"


def global_quota_config(rs: Rs256, mode: str) -> dict:
    """Quota alone's configuration counting in the global store (the rate limit service at
    RLS_CLUSTER) in `mode`: the same plan, far above what the bench sends, so nothing is refused."""
    store = {"cluster": RLS_CLUSTER, "mode": mode, "timeout_ms": STORE_TIMEOUT_MS, "on_error": "deny"}
    if mode == "leased":
        store["block"] = STORE_BLOCK
    return {**plugin_configs(rs)["quota"], "store": {"global": store}}


def global_cases(rs: Rs256) -> list[tuple[str, Filters]]:
    """(name, filters) of the global store's cases."""
    return [(name, [Wasm("quota", "filter_quota.wasm", "quota", global_quota_config(rs, mode))])
            for mode, name in GLOBAL.items()]


def in_round(all_cases: list[tuple[str, Filters]], store: list[tuple[str, Filters]]) -> list[tuple[str, Filters]]:
    """The cases of a round: the global store's right after quota alone, so that each pairs with
    the local store over the least drift."""
    out = []
    for case in all_cases:
        out.append(case)
        if case[0] == ALONE["quota"]:
            out += store
    return out


COST_MODULE = ROOT / "target" / WASM_TARGET / "release" / "hostcall_cost.wasm"
COST_CALLS = ["increment_metric", "get_current_time", "get_header_absent", "get_header", "get_header_pairs",
              "get_property", "replace_header", "set_property", "get_shared_data", "set_shared_data"]
COST_REPEAT = 100
"""bench/hostcall-cost: each root repeats one host call this many times per request."""


def cost_case(call: str) -> Filters:
    """The hostcall_cost module with root `call`."""
    return [Wasm(f"cost-{call}", str(COST_MODULE), call, {})]


FLOOR_DIR = ROOT / "target" / "abi-floor"
FLOORS = {
    "a module without the SDK, request headers only": FLOOR_DIR / "request_headers.wasm",
    "a module without the SDK, every stream callback": FLOOR_DIR / "every_callback.wasm",
}
"""bench/abi-floor as scripts/bench builds it: what Envoy spends on any wasm module, exporting
only the request-headers callback, or every stream callback as the SDK does (each doing nothing)."""


def floor_cases() -> dict[str, Filters]:
    """The abi-floor modules that were built, by case name."""
    return {name: [Wasm(f"floor-{i}", str(path), "", {})]
            for i, (name, path) in enumerate(FLOORS.items()) if path.exists()}


SPLIT_CASES = (ROUTER, ALONE["routing"], BUNDLE, NATIVE)
"""The cases sampled by perf: where Envoy's time goes."""

NOTHING = "a module doing nothing, through the SDK"
PORTABLE_AUTH = "auth alone, portable build"
# Envoy's resident memory is measured for these, at concurrency 1 and 2.
MEMORY_CASES = (ROUTER, NATIVE, *FLOORS, NOTHING, ALONE["auth"], PORTABLE_AUTH, ALONE["quota"],
                ALONE["analytics"], ALONE["routing"], "four modules", BUNDLE)


def memory_cases(rs: Rs256, all_cases: list[tuple[str, Filters]]) -> dict[str, Filters]:
    """The filters of each case whose memory can be measured: the cases, the abi-floor modules, the
    module doing nothing and auth's portable build, those that were built."""
    out = dict(all_cases)
    out.update(floor_cases())
    if COST_MODULE.exists():
        out[NOTHING] = cost_case("none")
    if (DIST / "filter_auth_portable.wasm").exists():
        out[PORTABLE_AUTH] = [Wasm("auth", "filter_auth_portable.wasm", "auth", plugin_configs(rs)["auth"])]
    return out


# filter-core's example plugin: one header read, one set, one metric. Its fuel is what the
# SDK and the generic adapter cost a module per request before any filter logic.
PROBE_MODULE = ROOT / "target" / WASM_TARGET / "release" / "examples" / "probe.wasm"
PROBE_CONFIG = {"deny_path": "/deny", "body_path": "/body", "call_path": "/call", "call_cluster": "api_v1"}

BROWSER_HEADERS = {
    "accept": "application/json", "accept-language": "en-US,en;q=0.9", "accept-encoding": "gzip, deflate, br",
    "cookie": "session=3f1c9a; theme=dark", "referer": "https://app.example/orders", "origin": "https://app.example",
    "sec-ch-ua": '"Chromium";v="130"', "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": '"Linux"',
    "sec-fetch-site": "same-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty",
    "x-forwarded-for": "203.0.113.7", "x-forwarded-proto": "https", "x-request-id": "5b0e8d2c",
}
"""What a browser and a front proxy add to a request: the fuel table also runs the bundle on the
bench request with these, since every header lookup scans the request's headers."""
HOST_TEST_PSEUDO_HEADERS = 4
"""`:method`, `:path`, `:authority` and `:scheme`, which host-test adds to a scenario's request."""
