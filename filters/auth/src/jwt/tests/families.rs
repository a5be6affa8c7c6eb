//! Which keys a token is tried against, as Envoy's `jwt_authn` picks them: a key without `alg`
//! accepts its type's family (or, with `strict_alg`, RS256/HS256 only), a token's `kid` falls back
//! to the keys without `kid`, and encryption keys are passed over; the bounds on work (budget,
//! signature lengths, refusal memory) hold for these candidates too.

use filter_core::FakeHost;
use serde_json::{json, Value};

use super::{check_on, check_with, claims, provider, tampered, NOW};
use crate::jwt::alg::{Alg, Algs};
use crate::jwt::jwk::{load_jwk, load_jwks, KeyRules, Origin};
use crate::jwt::keys::{Checks, KeySet};
use crate::jwt::refusals::RefusalCache;
use crate::jwt::{Budget, JwtError, KeySource, Provider, Work};
use crate::testkit::{b64, envoy_host, forged, jwk, token, token_raw, tree, unheld_rsa_jwk};

/// `jwk` without its `alg` member.
fn without_alg(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

/// `jwk` without its `kid` member.
fn without_kid(mut jwk: Value) -> Value {
    jwk.as_object_mut().unwrap().remove("kid");
    jwk
}

fn provider_with(keys: Vec<Value>, strict_alg: bool) -> Provider {
    let rules = KeyRules {
        strict_alg,
        ..KeyRules::default()
    };
    let (set, _) = load_jwks(&tree(&json!({ "keys": keys })), Origin::Inline, &rules).unwrap();
    provider("https://issuer.example", set)
}

/// A token of `alg` signed with the test key, with `kid` if given.
fn signed(alg: Alg, kid: Option<&str>) -> String {
    let mut header = json!({"alg": alg.as_str()});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    token_raw(alg, &header.to_string(), &claims().to_string())
}

/// The result of `token` against `p` on a host without native checks.
fn result(p: &Provider, token: &str) -> Result<(), JwtError> {
    check_on(p, token, NOW, &FakeHost::new()).0
}

#[test]
fn an_rsa_key_without_alg_accepts_rs_and_ps() {
    use Alg::*;
    for strict in [false, true] {
        let p = provider_with(vec![without_alg(jwk(Rs256, "rsa"))], strict);
        for alg in [Rs256, Rs384, Rs512, Ps256, Ps384, Ps512] {
            let expected = if strict && alg != Rs256 {
                Err(JwtError::AlgMismatch)
            } else {
                Ok(())
            };
            assert_eq!(
                result(&p, &signed(alg, Some("rsa"))),
                expected,
                "{} strict_alg={strict}",
                alg.as_str()
            );
            assert_eq!(
                result(&p, &signed(alg, None)),
                expected,
                "{} no kid",
                alg.as_str()
            );
        }
        for alg in [Hs256, Es256, EdDsa] {
            let t = signed(alg, Some("rsa"));
            assert_eq!(
                result(&p, &t),
                Err(JwtError::AlgMismatch),
                "{}",
                alg.as_str()
            );
        }
    }
    // A key with `alg` accepts that algorithm only, strict or not.
    let p = provider_with(vec![jwk(Rs256, "rsa")], false);
    assert_eq!(result(&p, &signed(Rs256, Some("rsa"))), Ok(()));
    for alg in [Rs384, Ps256] {
        let t = signed(alg, Some("rsa"));
        assert_eq!(
            result(&p, &t),
            Err(JwtError::AlgMismatch),
            "{}",
            alg.as_str()
        );
    }
}

#[test]
fn an_hmac_secret_without_alg_accepts_the_hashes_it_is_long_enough_for() {
    use Alg::*;
    let p = provider_with(vec![without_alg(jwk(Hs256, "hs"))], false);
    for alg in [Hs256, Hs384, Hs512] {
        assert_eq!(
            result(&p, &signed(alg, Some("hs"))),
            Ok(()),
            "{}",
            alg.as_str()
        );
    }
    let p = provider_with(vec![without_alg(jwk(Hs256, "hs"))], true);
    assert_eq!(result(&p, &signed(Hs256, Some("hs"))), Ok(()));
    assert_eq!(
        result(&p, &signed(Hs512, Some("hs"))),
        Err(JwtError::AlgMismatch)
    );
    // Shorter secrets: each hash needs a secret at least as long as its output.
    for (len, algs) in [
        (32, Algs::of(&[Hs256])),
        (48, Algs::of(&[Hs256, Hs384])),
        (64, Algs::of(&[Hs256, Hs384, Hs512])),
    ] {
        let key = json!({"kty": "oct", "k": b64(vec![7u8; len])});
        let k = load_jwk(&tree(&key), Origin::Inline, &KeyRules::default(), "k").unwrap();
        assert_eq!(k.algs, algs, "{len}-byte secret");
    }
    let short = json!({"kty": "oct", "k": b64([7u8; 31])});
    let e = load_jwk(&tree(&short), Origin::Inline, &KeyRules::default(), "k").unwrap_err();
    assert_eq!(
        (e.at.as_str(), e.message.as_str()),
        ("k.k", "HS256 needs a secret of at least 32 bytes")
    );
}

#[test]
fn an_ec_or_ed25519_key_without_alg_accepts_its_curves_algorithm() {
    use Alg::*;
    for strict in [false, true] {
        let keys = vec![
            without_alg(jwk(Es256, "p256")),
            without_alg(jwk(Es384, "p384")),
            without_alg(jwk(Es512, "p521")),
            without_alg(jwk(EdDsa, "ed")),
        ];
        let p = provider_with(keys, strict);
        for (alg, kid) in [
            (Es256, "p256"),
            (Es384, "p384"),
            (Es512, "p521"),
            (EdDsa, "ed"),
        ] {
            assert_eq!(
                result(&p, &signed(alg, Some(kid))),
                Ok(()),
                "{}",
                alg.as_str()
            );
        }
        // The P-256 key takes no ES384 or ES512 token (a P-384 or P-521 key, not tried: its
        // `kid` differs).
        assert_eq!(
            result(&p, &signed(Es384, Some("p256"))),
            Err(JwtError::AlgMismatch)
        );
    }
}

#[test]
fn a_token_kid_falls_back_to_keys_without_kid() {
    // "a" is a key nobody holds; the test key is published without `kid`.
    let keys = vec![
        unheld_rsa_jwk(2048, 1, "a"),
        without_kid(jwk(Alg::Rs256, "")),
    ];
    let p = provider_with(keys, false);
    let host = FakeHost::new();
    // The key named by `kid` first, then the one without `kid`.
    let (result, checks) = check_on(&p, &signed(Alg::Rs256, Some("a")), NOW, &host);
    assert_eq!((result, checks), (Ok(()), Checks { host: 0, module: 2 }));
    // A `kid` no key has: the key without `kid` verifies it, as in `jwt_authn`.
    let (result, checks) = check_on(&p, &signed(Alg::Rs256, Some("new")), NOW, &host);
    assert_eq!((result, checks), (Ok(()), Checks { host: 0, module: 1 }));
    // Forged with an unknown `kid`: tried against the key without `kid`, and still an unknown
    // `kid` (a remote key set may be refetched for it).
    let forged_new = tampered(&signed(Alg::Rs256, Some("new")));
    let (result, checks) = check_on(&p, &forged_new, NOW, &host);
    assert_eq!(
        (result, checks),
        (Err(JwtError::UnknownKid), Checks { host: 0, module: 1 })
    );
}

#[test]
fn keys_with_another_kid_are_never_tried() {
    let p = provider_with(vec![jwk(Alg::Rs256, "other")], false);
    let host = FakeHost::new();
    let (result, checks) = check_on(&p, &signed(Alg::Rs256, Some("mine")), NOW, &host);
    assert_eq!(
        (result, checks),
        (Err(JwtError::UnknownKid), Checks::default())
    );
    // Without a `kid` the token may be checked with any key.
    let (result, _) = check_on(&p, &signed(Alg::Rs256, None), NOW, &host);
    assert_eq!(result, Ok(()));
}

#[test]
fn an_empty_kid_is_no_kid_in_tokens_and_in_keys() {
    // A token with `"kid": ""` may be checked with any key, as one without `kid`.
    let p = provider_with(vec![jwk(Alg::Rs256, "k1")], false);
    let host = FakeHost::new();
    let (result, checks) = check_on(&p, &signed(Alg::Rs256, Some("")), NOW, &host);
    assert_eq!((result, checks), (Ok(()), Checks { host: 0, module: 1 }));
    // A key published with `"kid": ""` is a key without `kid`: a token's `kid` falls back to it.
    let p = provider_with(vec![jwk(Alg::Rs256, "")], false);
    let (result, _) = check_on(&p, &signed(Alg::Rs256, Some("k9")), NOW, &host);
    assert_eq!(result, Ok(()));
}

/// Verifies `token` as a new request with a budget of `budget` checks against the worker's
/// `refusals`: the result, the checks made and whether the refusal was remembered.
fn request(
    p: &Provider,
    token: &str,
    budget: u32,
    refusals: &RefusalCache,
) -> (Result<(), JwtError>, u32, bool) {
    let mut budget = Budget::new(budget);
    let mut work = Work::new(&mut budget, refusals);
    let result = check_with(p, token, NOW, &FakeHost::new(), &mut work);
    (result, work.checks.module, work.remembered)
}

#[test]
fn the_fallback_to_keys_without_kid_is_bounded_like_any_candidates() {
    // Eight keys without `kid`: four of 2048 bits, four of 3072; "k" names a 4096-bit key.
    let mut keys: Vec<Value> = (0..8)
        .map(|i| without_kid(unheld_rsa_jwk(if i < 4 { 2048 } else { 3072 }, i + 1, "")))
        .collect();
    keys.push(unheld_rsa_jwk(4096, 9, "k"));
    let p = provider_with(keys, false);
    let refusals = RefusalCache::default();
    let forged_kid = |kid: &str, len: usize| {
        let header = json!({"alg": "RS256", "kid": kid}).to_string();
        forged(&header, &claims().to_string(), &vec![0x42; len])
    };
    // A 2048-bit signature naming the 4096-bit key: only the 2048-bit keys without `kid` fit,
    // and the budget stops them at 3.
    let t = forged_kid("k", 256);
    assert_eq!(
        request(&p, &t, 3, &refusals),
        (Err(JwtError::CheckLimit), 3, false)
    );
    // Remembered: the same token costs nothing.
    assert_eq!(
        request(&p, &t, 3, &refusals),
        (Err(JwtError::CheckLimit), 0, true)
    );
    // A size no key without `kid` has, naming an unknown `kid`: no check at all.
    let t = forged_kid("unknown", 512);
    assert_eq!(
        request(&p, &t, 3, &refusals),
        (Err(JwtError::UnknownKid), 0, false)
    );
    // An unknown `kid` whose fallback refuses it: remembered, still an unknown `kid`.
    let t = forged_kid("unknown", 384);
    assert_eq!(
        request(&p, &t, 32, &refusals),
        (Err(JwtError::UnknownKid), 4, false)
    );
    assert_eq!(
        request(&p, &t, 32, &refusals),
        (Err(JwtError::UnknownKid), 0, true)
    );
}

#[test]
fn one_key_serves_the_host_for_rs_and_the_module_for_ps() {
    // An RSA key without `alg` on Envoy: RS256 proven by the host, PS256 checked in the module
    // (Envoy's check has no PSS) and remembered by the key.
    let p = provider_with(vec![without_alg(jwk(Alg::Rs256, "rsa"))], false);
    let host = envoy_host();
    let rs = token(Alg::Rs256, "rsa", &claims());
    assert_eq!(
        check_on(&p, &rs, NOW, &host),
        (Ok(()), Checks { host: 1, module: 0 })
    );
    let ps = token(Alg::Ps256, "rsa", &claims());
    assert_eq!(
        check_on(&p, &ps, NOW, &host),
        (Ok(()), Checks { host: 0, module: 1 })
    );
    assert_eq!(check_on(&p, &ps, NOW, &host), (Ok(()), Checks::default()));
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    assert_eq!(
        keys.keys[0].cached_verifications(),
        2,
        "the RS256 signature that proved the host, and the PS256 one"
    );
    // A forged PS256 token is refused by the module even though the host is proven for RS256.
    let (result, checks) = check_on(&p, &tampered(&ps), NOW, &host);
    assert_eq!(
        (result, checks),
        (Err(JwtError::BadSignature), Checks { host: 0, module: 1 })
    );
}

fn loaded(jwks: Value, origin: Origin) -> Result<(KeySet, usize), String> {
    load_jwks(&tree(&jwks), origin, &KeyRules::default())
        .map(|(set, skipped)| (set, skipped.len()))
        .map_err(|e| e.to_string())
}

#[test]
fn encryption_keys_are_passed_over() {
    let sig = jwk(Alg::Rs256, "sig");
    let mut enc = without_alg(jwk(Alg::Rs256, "enc"));
    enc["use"] = json!("enc");
    enc["alg"] = json!("RSA-OAEP");
    let mut wrap = without_alg(jwk(Alg::Es256, "wrap"));
    wrap["key_ops"] = json!(["deriveKey"]);
    for origin in [Origin::Inline, Origin::Remote] {
        let (set, skipped) = loaded(json!({"keys": [enc, sig, wrap]}), origin).unwrap();
        assert_eq!((set.keys.len(), skipped), (1, 0), "{origin:?}");
        assert_eq!(
            loaded(json!({"keys": [enc, wrap]}), origin).unwrap_err(),
            "keys: no usable key"
        );
    }
    // A malformed `use` is an error of the key, not another use.
    let mut bad = jwk(Alg::Rs256, "bad");
    bad["use"] = json!(5);
    assert_eq!(
        loaded(json!({"keys": [sig, bad]}), Origin::Inline).unwrap_err(),
        "keys[1].use: not a signature key"
    );
    // A token signed with the encryption key's private half (here the test key) is refused.
    let p = provider_with(vec![enc, jwk(Alg::Es256, "sig")], false);
    assert_eq!(
        result(&p, &signed(Alg::Rs256, Some("enc"))),
        Err(JwtError::UnknownKid)
    );
    assert_eq!(
        result(&p, &signed(Alg::Rs256, None)),
        Err(JwtError::AlgMismatch)
    );
}
