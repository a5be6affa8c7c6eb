//! Envoy `jwt_authn`'s algorithm set (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA,
//! HS256/384/512) verified natively, in whichever build this file is compiled with: run it for
//! both, `cargo test -p filter-auth --test algorithms` (portable, the default) and
//! `cargo test -p filter-auth --no-default-features --features export --test algorithms` (the
//! build for Envoy). Tokens are signed here with RustCrypto; the hosts are one checking signatures
//! as Envoy's `verify_signature` does (host-test's implementation: RSASSA-PKCS1-v1_5 and ECDSA on
//! P-256 and P-384) and one without native checks (an NGINX host).
//!
//! The JWKS documents under `testdata/jwks/` are shaped like those the common identity providers
//! publish (Google, Auth0, Okta, Microsoft Entra ID, Keycloak, Amazon Cognito, and a self-hosted
//! provider mid-rotation): keys with and without `alg` and `kid`, `x5c`/`x5t` members, encryption
//! keys mixed in, several RSA sizes and every curve. Their keys were generated for these tests;
//! `private.json` holds the private halves of those the tests sign with.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_auth::config::Config;
use filter_auth::jwt::alg::Alg;
use filter_auth::jwt::jwk::{load_jwks, KeyRules, Origin};
use filter_auth::jwt::keys::Checks;
use filter_auth::jwt::refusals::RefusalCache;
use filter_auth::jwt::{self, Budget, JwtError, KeySource, Work};
use filter_core::fake::SignatureVerifier;
use filter_core::FakeHost;
use serde_json::{json, Value};

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;
const ISSUER: &str = "https://issuer.example";
/// Whether this is the portable build (RS*, ES256 and ES384 checked in the module too).
const PORTABLE: bool = cfg!(feature = "portable");

/// The provider-shaped JWKS documents, by name.
const FIXTURES: [(&str, &str); 7] = [
    ("google", include_str!("../testdata/jwks/google.json")),
    ("auth0", include_str!("../testdata/jwks/auth0.json")),
    ("okta", include_str!("../testdata/jwks/okta.json")),
    ("entra", include_str!("../testdata/jwks/entra.json")),
    ("keycloak", include_str!("../testdata/jwks/keycloak.json")),
    ("cognito", include_str!("../testdata/jwks/cognito.json")),
    ("mixed", include_str!("../testdata/jwks/mixed.json")),
];

fn fixture(name: &str) -> Value {
    let (_, text) = FIXTURES.iter().find(|(n, _)| *n == name).unwrap();
    serde_json::from_str(text).unwrap()
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(jwk: &Value, member: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(jwk[member].as_str().unwrap())
        .unwrap()
}

/// A private key tests sign with.
enum Signer {
    Rsa(rsa::RsaPrivateKey),
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Hmac(Vec<u8>),
}

impl Signer {
    /// The signature of `input` under `alg` (one of the key's family).
    fn sign(&self, alg: Alg, input: &[u8]) -> Vec<u8> {
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
        use sha2::{Sha256, Sha384, Sha512};
        let rng = &mut test_rng(u64::from(input.len() as u32));
        match (self, alg) {
            (Self::Rsa(k), Alg::Rs256) => rsa::pkcs1v15::SigningKey::<Sha256>::new(k.clone())
                .sign(input)
                .to_vec(),
            (Self::Rsa(k), Alg::Rs384) => rsa::pkcs1v15::SigningKey::<Sha384>::new(k.clone())
                .sign(input)
                .to_vec(),
            (Self::Rsa(k), Alg::Rs512) => rsa::pkcs1v15::SigningKey::<Sha512>::new(k.clone())
                .sign(input)
                .to_vec(),
            (Self::Rsa(k), Alg::Ps256) => rsa::pss::SigningKey::<Sha256>::new(k.clone())
                .sign_with_rng(rng, input)
                .to_vec(),
            (Self::Rsa(k), Alg::Ps384) => rsa::pss::SigningKey::<Sha384>::new(k.clone())
                .sign_with_rng(rng, input)
                .to_vec(),
            (Self::Rsa(k), Alg::Ps512) => rsa::pss::SigningKey::<Sha512>::new(k.clone())
                .sign_with_rng(rng, input)
                .to_vec(),
            (Self::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (Self::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (Self::P521(k), _) => {
                let s: p521::ecdsa::Signature = k.sign_with_rng(rng, input);
                s.to_bytes().to_vec()
            }
            (Self::Ed25519(k), _) => {
                use ed25519_dalek::Signer as _;
                k.sign(input).to_bytes().to_vec()
            }
            (Self::Hmac(k), _) => {
                use hmac::Hmac;
                fn mac<M: hmac::Mac + hmac::digest::KeyInit>(k: &[u8], input: &[u8]) -> Vec<u8> {
                    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(k).unwrap();
                    m.update(input);
                    m.finalize().into_bytes().to_vec()
                }
                match alg {
                    Alg::Hs384 => mac::<Hmac<Sha384>>(k, input),
                    Alg::Hs512 => mac::<Hmac<Sha512>>(k, input),
                    _ => mac::<Hmac<Sha256>>(k, input),
                }
            }
            (Self::Rsa(_), other) => panic!("{} is no RSA algorithm", other.as_str()),
        }
    }
}

/// The private key of the public JWK `public`, if the tests hold it.
fn signer_for(public: &Value) -> Option<Signer> {
    let private: Value =
        serde_json::from_str(include_str!("../testdata/jwks/private.json")).unwrap();
    let same = |k: &&Value| {
        ["kty", "crv", "n", "x", "y"]
            .iter()
            .all(|m| k.get(m) == public.get(m))
    };
    let k = private["keys"].as_array().unwrap().iter().find(same)?;
    let uint = |m: &str| rsa::BigUint::from_bytes_be(&unb64(k, m));
    Some(match (k["kty"].as_str().unwrap(), k["crv"].as_str()) {
        ("RSA", _) => Signer::Rsa(
            rsa::RsaPrivateKey::from_components(
                uint("n"),
                uint("e"),
                uint("d"),
                vec![uint("p"), uint("q")],
            )
            .unwrap(),
        ),
        ("EC", Some("P-256")) => {
            Signer::P256(p256::ecdsa::SigningKey::from_slice(&unb64(k, "d")).unwrap())
        }
        ("EC", Some("P-384")) => {
            Signer::P384(p384::ecdsa::SigningKey::from_slice(&unb64(k, "d")).unwrap())
        }
        ("EC", Some("P-521")) => {
            Signer::P521(p521::ecdsa::SigningKey::from_slice(&unb64(k, "d")).unwrap())
        }
        ("OKP", _) => Signer::Ed25519(ed25519_dalek::SigningKey::from_bytes(
            &unb64(k, "d").try_into().unwrap(),
        )),
        other => panic!("no signer for {other:?}"),
    })
}

/// A compact token of `alg`, with `kid` if given, signed by `signer`.
fn token(alg: Alg, kid: Option<&str>, signer: &Signer, sub: &str) -> String {
    let mut header = json!({"alg": alg.as_str(), "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let claims = json!({"iss": ISSUER, "aud": "gateway", "sub": sub, "exp": NOW + 300, "iat": NOW});
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = signer.sign(alg, input.as_bytes());
    format!("{input}.{}", b64(sig))
}

/// `token` with the last byte of its signature changed.
fn tampered(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    *sig.last_mut().unwrap() ^= 1;
    format!("{rest}.{}", b64(sig))
}

/// The configuration of one provider with the inline `jwks`.
fn config(jwks: &Value, strict_alg: bool) -> Config {
    let config = json!({
        "jwt": {"providers": [{"name": "idp", "issuer": ISSUER, "audiences": ["gateway"],
                               "jwks": jwks, "strict_alg": strict_alg}]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}]
    });
    Config::parse(config.to_string().as_bytes()).unwrap()
}

/// Decodes and verifies `token` against the one provider of `config` on `host`, with a new
/// request's budget: the verdict and where the checks ran.
fn check(config: &Config, token: &str, host: &FakeHost) -> (Result<(), JwtError>, Checks) {
    let j = config.jwt.as_ref().unwrap();
    let provider = &j.providers[0];
    let KeySource::Inline(keys) = &provider.keys else {
        panic!("inline keys")
    };
    let t = match jwt::token::decode(token.as_bytes(), j.max_token_bytes) {
        Ok(t) => t,
        Err(e) => return (Err(e), Checks::default()),
    };
    let mut budget = Budget::new(j.max_signature_checks);
    let refusals = RefusalCache::default();
    let mut work = Work::new(&mut budget, &refusals);
    let result = jwt::verify(&t, provider, keys, NOW, host, &mut work).map(|_| ());
    (result, work.checks)
}

/// A host checking signatures as Envoy's `verify_signature` does (host-test's implementation,
/// through the wire format).
fn envoy() -> FakeHost {
    let mut host = FakeHost::new();
    host.signature_verifier = Some(SignatureVerifier(Rc::new(|c| {
        let args = filter_core::signature::encode_arguments(c);
        let out = host_test::signature::verify_signature(&args).ok()?;
        filter_core::signature::decode_result(&out)
    })));
    host
}

/// A host without native signature checks (an NGINX host).
fn nginx() -> FakeHost {
    FakeHost::new()
}

/// Whether host-test's Envoy checks `alg` natively (real Envoy takes P-521 keys too).
fn envoy_checks(alg: Alg) -> bool {
    matches!(
        alg,
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Es256 | Alg::Es384
    )
}

/// The self-hosted provider's keys and an inline HMAC secret: a key for every algorithm, most
/// without `alg`.
fn every_algorithm() -> (Value, Vec<(Alg, &'static str)>) {
    let mut jwks = fixture("mixed");
    let secret = b64([0x5a; 64]);
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "hmac", "k": secret}));
    use Alg::*;
    let kids = vec![
        (Rs256, "rsa-4096-2025"),
        (Rs384, "rsa-4096-2025"),
        (Rs512, "rsa-4096-2025"),
        (Ps256, "rsa-4096-2025"),
        (Ps384, "rsa-4096-2025"),
        (Ps512, "rsa-4096-2025"),
        (Ps256, "rsa-2048-ps256"),
        (Es256, "ec-p256"),
        (Es384, "ec-p384"),
        (Es512, "ec-p521"),
        (EdDsa, "ed25519"),
        (Hs256, "hmac"),
        (Hs384, "hmac"),
        (Hs512, "hmac"),
    ];
    (jwks, kids)
}

/// The signer of the key `kid` in `jwks`.
fn signer_of(jwks: &Value, kid: &str) -> Signer {
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    if key["kty"] == "oct" {
        return Signer::Hmac(unb64(key, "k"));
    }
    signer_for(key).unwrap()
}

#[test]
fn every_algorithm_verifies_in_envoy_in_this_build() {
    let (jwks, kids) = every_algorithm();
    let config = config(&jwks, false);
    let host = envoy();
    for (alg, kid) in kids {
        let signer = signer_of(&jwks, kid);
        let t = token(alg, Some(kid), &signer, "alice");
        let (result, checks) = check(&config, &t, &host);
        assert_eq!(result, Ok(()), "{} ({kid})", alg.as_str());
        let expected = if envoy_checks(alg) {
            Checks { host: 1, module: 0 }
        } else {
            // PS*, HMAC and EdDSA never go to the host; ES512 is asked once, and host-test's Envoy
            // takes no P-521 key.
            Checks { host: 0, module: 1 }
        };
        assert_eq!(checks, expected, "{} ({kid})", alg.as_str());
        let (result, _) = check(&config, &tampered(&t), &host);
        assert_eq!(
            result,
            Err(JwtError::BadSignature),
            "{} tampered",
            alg.as_str()
        );
    }
    // Envoy is asked for every RS*/ES256/ES384 token (valid and tampered), and once for the
    // P-521 key, which it cannot check.
    assert_eq!(host.signature_checks.get(), 2 * 5 + 1);
}

#[test]
fn on_a_host_without_native_checks_the_module_checks_what_this_build_checks() {
    let (jwks, kids) = every_algorithm();
    let config = config(&jwks, false);
    let host = nginx();
    for (alg, kid) in kids {
        let signer = signer_of(&jwks, kid);
        let t = token(alg, Some(kid), &signer, "alice");
        let (result, checks) = check(&config, &t, &host);
        if PORTABLE || !envoy_checks(alg) {
            assert_eq!(result, Ok(()), "{} ({kid})", alg.as_str());
            assert_eq!(checks, Checks { host: 0, module: 1 }, "{}", alg.as_str());
        } else {
            // The build for Envoy leaves RS* and ES256/ES384 to the host: refused here.
            assert_eq!(result, Err(JwtError::BadSignature), "{}", alg.as_str());
            assert_eq!(checks, Checks::default(), "{}", alg.as_str());
        }
    }
}

/// Whether `jwk` is meant for another use than signatures (passed over when a JWKS is loaded).
fn for_another_use(jwk: &Value) -> bool {
    let other_use = jwk.get("use").is_some_and(|u| u != "sig");
    let other_ops = jwk
        .get("key_ops")
        .is_some_and(|ops| !ops.as_array().unwrap().contains(&json!("verify")));
    other_use || other_ops
}

/// Every algorithm of `jwk`'s type (and curve).
fn family(jwk: &Value) -> Vec<Alg> {
    use Alg::*;
    match (jwk["kty"].as_str().unwrap(), jwk["crv"].as_str()) {
        ("RSA", _) => vec![Rs256, Rs384, Rs512, Ps256, Ps384, Ps512],
        ("EC", Some("P-256")) => vec![Es256],
        ("EC", Some("P-384")) => vec![Es384],
        ("EC", Some("P-521")) => vec![Es512],
        ("OKP", _) => vec![EdDsa],
        _ => vec![Hs256, Hs384, Hs512],
    }
}

/// The algorithms `jwk` accepts: its `alg`, or without one its family (`strict_alg`: RS256 for an
/// RSA key).
fn accepted(jwk: &Value, strict: bool) -> Vec<Alg> {
    match jwk.get("alg") {
        Some(alg) => vec![Alg::parse(alg.as_str().unwrap()).unwrap()],
        None if strict && jwk["kty"] == "RSA" => vec![Alg::Rs256],
        None => family(jwk),
    }
}

#[test]
fn provider_shaped_jwks_verify_their_tokens_in_this_build() {
    let host = envoy();
    let mut verified = 0;
    for (name, _) in FIXTURES {
        let jwks = fixture(name);
        let keys = jwks["keys"].as_array().unwrap();
        let signing = keys.iter().filter(|k| !for_another_use(k)).count();
        // From a key server: encryption keys are passed over, not skipped as bad keys.
        let tree: filter_core::json::Json = serde_json::from_value(jwks.clone()).unwrap();
        let (set, skipped) = load_jwks(&tree, Origin::Remote, &KeyRules::default()).unwrap();
        assert_eq!((set.keys.len(), skipped.len()), (signing, 0), "{name}");
        for strict in [false, true] {
            let config = config(&jwks, strict);
            for key in keys {
                let Some(signer) = signer_for(key) else {
                    continue;
                };
                let kid = key["kid"].as_str();
                let at = format!("{name} {} strict_alg={strict}", kid.unwrap_or("(no kid)"));
                if for_another_use(key) {
                    // An encryption key never verifies a signature.
                    for alg in family(key) {
                        let t = token(alg, kid, &signer, "mallory");
                        let (result, _) = check(&config, &t, &host);
                        assert!(
                            result.is_err(),
                            "{at}: {} by an encryption key",
                            alg.as_str()
                        );
                        if kid.is_some() {
                            assert_eq!(result, Err(JwtError::UnknownKid), "{at}");
                        }
                    }
                    continue;
                }
                let accepts = accepted(key, strict);
                for alg in family(key) {
                    let t = token(alg, kid, &signer, "alice");
                    let (result, checks) = check(&config, &t, &host);
                    if accepts.contains(&alg) {
                        assert_eq!(result, Ok(()), "{at}: {}", alg.as_str());
                        if kid.is_some() {
                            assert_eq!(checks.host + checks.module, 1, "{at}: one check");
                        }
                        verified += 1;
                        // Without `kid`, too (at most 3 keys of one size in these sets).
                        let t = token(alg, None, &signer, "alice");
                        assert_eq!(check(&config, &t, &host).0, Ok(()), "{at}: no kid");
                    } else {
                        assert!(result.is_err(), "{at}: {} accepted", alg.as_str());
                    }
                }
            }
        }
    }
    assert!(verified > 30, "{verified} tokens verified");
}

#[test]
fn provider_shaped_jwks_keep_their_sizes_and_members() {
    // Several RSA sizes, and x5c chains that are never read as keys.
    let mut sizes = std::collections::BTreeSet::new();
    let mut x5c = 0;
    for (name, _) in FIXTURES {
        for key in fixture(name)["keys"].as_array().unwrap() {
            if key["kty"] == "RSA" {
                sizes.insert(unb64(key, "n").len() * 8);
            }
            x5c += usize::from(key.get("x5c").is_some());
        }
    }
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [2048, 3072, 4096]);
    assert!(x5c >= 8, "{x5c} keys with x5c");
    // Keys without `alg` (Entra) and a Keycloak RSA-OAEP encryption key beside its signing key.
    let entra = fixture("entra");
    assert!(entra["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k.get("alg").is_none() && k["kid"] == k["x5t"]));
    let keycloak = fixture("keycloak");
    assert!(keycloak["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["use"] == "enc" && k["alg"] == "RSA-OAEP"));
}

/// A deterministic RNG for PSS salts and ECDSA nonces in tests (ChaCha8 from a seed).
fn test_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::rand_core::SeedableRng::seed_from_u64(seed)
}
