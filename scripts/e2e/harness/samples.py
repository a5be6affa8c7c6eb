"""Sample credentials matching envoy-config/plugins/*.json (demo and tests only).

The auth configuration holds only SHA-256 digests of these keys. JWTs are signed with an
Ed25519 key generated at run time (or RSA and ECDSA keys, for tests of those algorithms); its
public half is served by the sample JWKS server.
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
    """A signing key (Ed25519 by default; RS256, PS256, ES256 and ES384 too), its JWKS and tokens."""

    def __init__(self, kid: str = "demo-key-1", alg: str = "EdDSA"):
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

        self.kid = kid
        self.alg = alg
        if alg == "EdDSA":
            self._key = ed25519.Ed25519PrivateKey.generate()
        elif alg in ("RS256", "PS256"):
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg in ("ES256", "ES384"):
            self._key = ec.generate_private_key(ec.SECP256R1() if alg == "ES256" else ec.SECP384R1())
        else:
            raise ValueError(f"unsupported algorithm {alg}")

    def jwk(self) -> dict:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = self._key.public_key()
        common = {"alg": self.alg, "use": "sig", "kid": self.kid}
        if self.alg == "EdDSA":
            x = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url(x), **common}
        if self.alg in ("RS256", "PS256"):
            n = public.public_numbers().n
            return {"kty": "RSA", "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")), "e": "AQAB", **common}
        size = 32 if self.alg == "ES256" else 48
        p = public.public_numbers()
        return {"kty": "EC", "crv": "P-256" if size == 32 else "P-384",
                "x": b64url(p.x.to_bytes(size, "big")), "y": b64url(p.y.to_bytes(size, "big")), **common}

    def sign(self, data: bytes) -> bytes:
        """The JWS signature of `data` (ECDSA as fixed-size r || s)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        if self.alg == "EdDSA":
            return self._key.sign(data)
        if self.alg == "RS256":
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.alg == "PS256":  # RFC 7518: MGF1 with SHA-256, a salt as long as the hash
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return self._key.sign(data, pss, hashes.SHA256())
        size, hash_ = (32, hashes.SHA256()) if self.alg == "ES256" else (48, hashes.SHA384())
        r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hash_)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

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
        hdr = {"alg": self.alg, "typ": "JWT", "kid": self.kid}
        hdr.update(header or {})
        signing_input = (
            b64url(json.dumps(hdr, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(payload, separators=(",", ":")).encode())
        )
        return signing_input + "." + b64url(self.sign(signing_input.encode()))
