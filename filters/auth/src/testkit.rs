//! Test helpers: fixed test keys (never used outside tests), JWK builders and token signing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

use crate::jwt::alg::Alg;
use filter_core::fake::SignatureVerifier;
#[cfg(not(target_arch = "wasm32"))]
use filter_core::signature as wire;
use filter_core::{FakeHost, SignatureCheck};

/// A 2048-bit RSA key generated for these tests only.
pub const RSA_PEM: &str = include_str!("../testdata/rsa-2048.pem");

/// A 64-byte HMAC secret.
pub const HS_SECRET: &[u8] = b"test-secret-test-secret-test-secret-test-secret-test-secret-0064";

/// P-256 private scalar for tests.
pub const P256_D: [u8; 32] = [7; 32];
/// P-384 private scalar for tests.
pub const P384_D: [u8; 48] = [9; 48];
/// P-521 private scalar for tests (big-endian, 66 bytes, under the group order).
pub const P521_D: [u8; 66] = {
    let mut d = [3; 66];
    d[0] = 0;
    d
};
/// Ed25519 seed for tests.
pub const ED_SEED: [u8; 32] = [5; 32];

/// Unpadded base64url.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The test RSA key.
pub fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).unwrap()
}

/// `value` as the tree the filter parses documents into.
pub fn tree(value: &Value) -> filter_core::json::Json {
    serde_json::from_value(value.clone()).unwrap()
}

/// The public JWK of the test key for `alg`, with `kid`.
pub fn jwk(alg: Alg, kid: &str) -> Value {
    let mut j = match alg {
        Alg::Hs256 | Alg::Hs384 | Alg::Hs512 => json!({"kty": "oct", "k": b64(HS_SECRET)}),
        Alg::Es256 => {
            let sk = p256::ecdsa::SigningKey::from_slice(&P256_D).unwrap();
            let p = sk.verifying_key().to_encoded_point(false);
            json!({"kty": "EC", "crv": "P-256", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
        }
        Alg::Es384 => {
            let sk = p384::ecdsa::SigningKey::from_slice(&P384_D).unwrap();
            let p = sk.verifying_key().to_encoded_point(false);
            json!({"kty": "EC", "crv": "P-384", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
        }
        Alg::Es512 => {
            let sk = p521::ecdsa::SigningKey::from_slice(&P521_D).unwrap();
            let p = p521::ecdsa::VerifyingKey::from(&sk).to_encoded_point(false);
            json!({"kty": "EC", "crv": "P-521", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
        }
        Alg::EdDsa => {
            let sk = ed25519_dalek::SigningKey::from_bytes(&ED_SEED);
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(sk.verifying_key().as_bytes())})
        }
        _ => {
            let k = rsa_key();
            json!({"kty": "RSA", "n": b64(k.n().to_bytes_be()), "e": b64(k.e().to_bytes_be())})
        }
    };
    j["alg"] = json!(alg.as_str());
    j["kid"] = json!(kid);
    j
}

/// The JWK (RS256, with `kid`) of an RSA public key of `bits` bits whose private key nobody
/// holds: an odd number with its top bit set, drawn from `seed`. The module loads it like any key,
/// and no signature verifies under it, after a real check.
pub fn unheld_rsa_jwk(bits: usize, seed: u64, kid: &str) -> Value {
    use rand_core::RngCore as _;
    let mut n = vec![0u8; bits / 8];
    test_rng(seed).fill_bytes(&mut n);
    n[0] |= 0x80;
    if let Some(last) = n.last_mut() {
        *last |= 1;
    }
    json!({"kty": "RSA", "alg": "RS256", "kid": kid, "n": b64(&n), "e": "AQAB"})
}

/// A compact token of raw header and claims JSON text with `signature` as it is (a forgery).
pub fn forged(header: &str, claims: &str, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header), b64(claims), b64(signature))
}

/// A signature of `input` with the test key for `alg`.
pub fn signature(alg: Alg, input: &[u8]) -> Vec<u8> {
    fn mac<M: Mac + hmac::digest::KeyInit>(input: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(HS_SECRET).unwrap();
        m.update(input);
        m.finalize().into_bytes().to_vec()
    }
    let rng = &mut test_rng(42);
    match alg {
        Alg::Hs256 => mac::<Hmac<Sha256>>(input),
        Alg::Hs384 => mac::<Hmac<Sha384>>(input),
        Alg::Hs512 => mac::<Hmac<Sha512>>(input),
        Alg::Rs256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(rsa_key())
            .sign(input)
            .to_vec(),
        Alg::Rs384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(rsa_key())
            .sign(input)
            .to_vec(),
        Alg::Rs512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(rsa_key())
            .sign(input)
            .to_vec(),
        Alg::Ps256 => rsa::pss::SigningKey::<Sha256>::new(rsa_key())
            .sign_with_rng(rng, input)
            .to_vec(),
        Alg::Ps384 => rsa::pss::SigningKey::<Sha384>::new(rsa_key())
            .sign_with_rng(rng, input)
            .to_vec(),
        Alg::Ps512 => rsa::pss::SigningKey::<Sha512>::new(rsa_key())
            .sign_with_rng(rng, input)
            .to_vec(),
        Alg::Es256 => {
            let sk = p256::ecdsa::SigningKey::from_slice(&P256_D).unwrap();
            let s: p256::ecdsa::Signature = sk.sign(input);
            s.to_bytes().to_vec()
        }
        Alg::Es384 => {
            let sk = p384::ecdsa::SigningKey::from_slice(&P384_D).unwrap();
            let s: p384::ecdsa::Signature = sk.sign(input);
            s.to_bytes().to_vec()
        }
        Alg::Es512 => {
            let sk = p521::ecdsa::SigningKey::from_slice(&P521_D).unwrap();
            let s: p521::ecdsa::Signature = sk.sign_with_rng(rng, input);
            s.to_bytes().to_vec()
        }
        Alg::EdDsa => {
            use ed25519_dalek::Signer as _;
            ed25519_dalek::SigningKey::from_bytes(&ED_SEED)
                .sign(input)
                .to_bytes()
                .to_vec()
        }
    }
}

/// A compact token of raw header and claims JSON text, signed with the test key for `alg`.
pub fn token_raw(alg: Alg, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = signature(alg, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// A compact token with header `{"alg", "kid"}` and `claims`.
pub fn token(alg: Alg, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": alg.as_str(), "kid": kid, "typ": "JWT"});
    token_raw(alg, &header.to_string(), &claims.to_string())
}

/// A fake host checking signatures as Envoy's `verify_signature` does (host-test's
/// implementation, through the wire format). On wasm32, where these tests are only compiled, a
/// host without native checks.
pub fn envoy_host() -> FakeHost {
    #[cfg(not(target_arch = "wasm32"))]
    return host_answering(|check| {
        let out = host_test::signature::verify_signature(&wire::encode_arguments(check)).ok()?;
        wire::decode_result(&out)
    });
    #[cfg(target_arch = "wasm32")]
    FakeHost::new()
}

/// A fake host whose native signature checks answer with `f`.
pub fn host_answering(f: impl Fn(&SignatureCheck<'_>) -> Option<bool> + 'static) -> FakeHost {
    let mut host = FakeHost::new();
    host.signature_verifier = Some(SignatureVerifier(std::rc::Rc::new(f)));
    host
}

/// A deterministic RNG for PSS salts and ECDSA nonces in tests (ChaCha8 from a seed).
pub fn test_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::rand_core::SeedableRng::seed_from_u64(seed)
}
