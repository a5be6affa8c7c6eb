//! JWT tokens (`filter_auth::jwt`): compact decoding (`token::decode`), the signature check and
//! claim rules (`jwt::verify`) against an inline key set (HS256/384/512 secret, Ed25519 key), and
//! the claim rules' time window.
//!
//! The input is used twice: as a whole token (what a client sends), and as the `sub` of a token
//! the fuzz keys sign. Asserts:
//! - a decoded token's signing input is the token up to its second dot, and decoding is stable;
//! - a token verifies only if its signature is independently valid for its `alg` (no forgery),
//!   and verifying it again gives the same answer;
//! - a token the fuzz keys signed verifies, with its claims; changing any one byte of it makes it
//!   fail (never verifies after a one-byte change);
//! - claims that pass the rules at an instant pass them across their whole `window`.
#![no_main]

use std::rc::Rc;

use filter_auth::config::Config;
use filter_auth::jwt::keys::KeySet;
use filter_auth::jwt::refusals::RefusalCache;
use filter_auth::jwt::{token, verify, Budget, JwtError, KeySource, Provider, Work};
use filter_core::json::Json;
use filter_core::FakeHost;
use gateway_fuzz::{Signer, ISSUER};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;

thread_local! {
    static SETUP: (Provider, Rc<KeySet>, FakeHost) = {
        let config = Config::parse(gateway_fuzz::auth_jwt_config().as_bytes()).expect("fuzz config");
        let provider = config.jwt.expect("jwt").providers[0].clone();
        let KeySource::Inline(keys) = provider.keys.clone() else { panic!("inline keys") };
        (provider, keys, FakeHost::new())
    };
}

fn check(
    token: &token::Token,
    provider: &Provider,
    keys: &Rc<KeySet>,
    host: &FakeHost,
) -> Result<Json, JwtError> {
    let refusals = RefusalCache::default();
    let mut budget = Budget::new(3);
    let mut work = Work::new(&mut budget, &refusals);
    verify(token, provider, keys, NOW, host, &mut work)
}

/// Whether `sig` is a valid signature of `input` under the fuzz key for `alg`.
fn independently_valid(alg: &str, input: &[u8], sig: &[u8]) -> bool {
    match alg {
        "HS256" => Signer::Hs256.sign(input) == sig,
        "HS512" => Signer::Hs512.sign(input) == sig,
        "HS384" => {
            use hmac::Mac as _;
            let mut m =
                hmac::Hmac::<sha2::Sha384>::new_from_slice(gateway_fuzz::HS_SECRET).expect("key");
            m.update(input);
            m.verify_slice(sig).is_ok()
        }
        "EdDSA" => {
            let key = ed25519_dalek::SigningKey::from_bytes(&gateway_fuzz::ED_SEED).verifying_key();
            let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
                return false;
            };
            key.verify_strict(input, &sig).is_ok()
        }
        _ => false,
    }
}

fn window_holds(provider: &Provider, claims: &Json) {
    if provider.rules.check(claims, NOW).is_ok() {
        let (from, until) = provider.rules.window(claims);
        assert!(
            from <= NOW && NOW < until,
            "{NOW} outside its window [{from}, {until})"
        );
        for t in [from, until.saturating_sub(1)] {
            if t > i64::MIN / 2 && t < i64::MAX / 2 {
                assert!(
                    provider.rules.check(claims, t).is_ok(),
                    "refused at {t}, inside its window"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    SETUP.with(|(provider, keys, host)| {
        // The input as a token.
        if let Ok(tok) = token::decode(data, 8192) {
            let dots: Vec<usize> = data
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'.')
                .map(|(i, _)| i)
                .collect();
            assert_eq!(dots.len(), 2);
            assert_eq!(tok.signing_input, &data[..dots[1]]);
            let again = token::decode(data, 8192).expect("decodes again");
            assert_eq!(again.signing_input, tok.signing_input);
            assert_eq!(again.signature, tok.signature);
            let first = check(&tok, provider, keys, host);
            if first.is_ok() {
                assert!(
                    independently_valid(tok.alg.as_str(), &tok.signing_input, &tok.signature),
                    "a token verified without a valid signature"
                );
            }
            assert_eq!(
                first.is_ok(),
                check(&tok, provider, keys, host).is_ok(),
                "verify is not stable"
            );
            window_holds(provider, &tok.claims);
        }

        // The input as the subject of a token the fuzz keys sign.
        let signer = match data.first().copied().unwrap_or(0) % 3 {
            0 => Signer::Hs256,
            1 => Signer::Hs512,
            _ => Signer::EdDsa,
        };
        let sub = String::from_utf8_lossy(data);
        let header =
            serde_json::json!({"alg": signer.alg(), "kid": signer.kid(), "typ": "JWT"}).to_string();
        let claims = serde_json::json!({
            "iss": ISSUER, "aud": "gateway", "sub": sub, "iat": NOW - 10, "exp": NOW + 3600
        })
        .to_string();
        let signed = signer.token(header.as_bytes(), claims.as_bytes());
        let tok = token::decode(signed.as_bytes(), 1 << 20).expect("a signed token decodes");
        let verified =
            check(&tok, provider, keys, host).expect("a token the fuzz keys signed verifies");
        assert_eq!(verified.get("sub").and_then(Json::as_str), Some(&*sub));
        window_holds(provider, &verified);

        // One byte changed, anywhere: never verifies.
        let bytes = signed.as_bytes();
        let seed = data.iter().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(*b))
        });
        let at = seed % bytes.len();
        let mut tampered = bytes.to_vec();
        tampered[at] ^= 1 + (data.len() % 255) as u8;
        if let Ok(t) = token::decode(&tampered, 1 << 20) {
            assert!(
                check(&t, provider, keys, host).is_err(),
                "a token verified after byte {at} changed"
            );
        }
    });
});
