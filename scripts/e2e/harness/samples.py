"""Sample credentials matching envoy-config/plugins/*.json (demo and tests only).

The auth configuration holds only SHA-256 digests of these keys. JWTs are signed with an
Ed25519 key generated at run time; its public half is served by the sample JWKS server.
"""

from __future__ import annotations

import base64
import json
import time

API_KEYS = {
    "alice": "demo-alice-key-0001",  # plan gold, groups customers+staff
    "bob": "demo-bob-key-0002",  # plan free, group customers
    "carol": "demo-carol-key-0003",  # plan free, group contractors (no access)
    "erin": "demo-erin-key-0004",  # plan trial: 3 requests per hour
}
JWT_ISSUER = "https://idp.example"
JWT_AUDIENCE = "gateway-demo"
JWT_CONSUMER = "dave"  # known to auth only through JWTs
TRIAL_LIMIT = 3


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JwtSigner:
    """An Ed25519 signing key, its JWKS and EdDSA tokens."""

    def __init__(self, kid: str = "demo-key-1"):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.kid = kid
        self._key = Ed25519PrivateKey.generate()

    def jwk(self) -> dict:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        x = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self.kid, "x": b64url(x)}

    def jwks(self) -> dict:
        return {"keys": [self.jwk()]}

    def token(self, sub: str = JWT_CONSUMER, ttl: int = 3600, header: dict | None = None, **claims) -> str:
        """A signed compact JWS; `claims` override or add claims (None removes one)."""
        now = int(time.time())
        payload = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl}
        for k, v in claims.items():
            if v is None:
                payload.pop(k, None)
            else:
                payload[k] = v
        hdr = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid}
        hdr.update(header or {})
        signing_input = (
            b64url(json.dumps(hdr, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        sig = self._key.sign(signing_input.encode())
        return signing_input + "." + b64url(sig)
