//! The work a forged token can cause: keys matched by algorithm and signature length before any
//! check, at most a budget of checks per request, and refusals remembered per key set.

use std::rc::Rc;

use filter_core::FakeHost;
use serde_json::{json, Value};

use super::{check_with, claims, provider, NOW};
use crate::jwt::alg::Alg;
use crate::jwt::jwk::{load_jwks, KeyRules, Origin};
use crate::jwt::refusals::RefusalCache;
use crate::jwt::{Budget, JwtError, KeySource, Provider, Work, DEFAULT_MAX_SIGNATURE_CHECKS};
use crate::testkit::{envoy_host, forged, jwk, token_raw, tree, unheld_rsa_jwk};

/// Key rules with RSA keys of up to `bits`.
fn rsa_bits(bits: usize) -> KeyRules {
    KeyRules {
        max_rsa_bits: bits,
        ..KeyRules::default()
    }
}

/// A provider whose JWKS holds `keys` (loaded with an 8192-bit RSA limit).
fn provider_of(keys: Vec<Value>) -> Provider {
    let (set, _) = load_jwks(
        &tree(&json!({ "keys": keys })),
        Origin::Inline,
        &rsa_bits(8192),
    )
    .unwrap();
    provider("https://issuer.example", set)
}

/// 32 RSA keys: `sizes` gives how many of each size, in order; the test key (2048 bits, the
/// only one anything verifies under) at index `held` if any.
fn rsa_keys(sizes: &[(usize, usize)], held: Option<usize>) -> Vec<Value> {
    let mut keys: Vec<Value> = sizes
        .iter()
        .flat_map(|(count, bits)| std::iter::repeat_n(*bits, *count))
        .enumerate()
        .map(|(i, bits)| unheld_rsa_jwk(bits, i as u64 + 1, &format!("k{i}")))
        .collect();
    if let Some(i) = held {
        keys[i] = jwk(Alg::Rs256, &format!("k{i}"));
    }
    keys
}

/// A token without `kid` whose signature is `len` bytes of `byte`.
fn forged_without_kid(alg: Alg, len: usize, byte: u8) -> String {
    let header = json!({"alg": alg.as_str()}).to_string();
    forged(&header, &claims().to_string(), &vec![byte; len])
}

/// A valid RS256 token without `kid`.
fn valid_without_kid() -> String {
    token_raw(
        Alg::Rs256,
        &json!({"alg": "RS256"}).to_string(),
        &claims().to_string(),
    )
}

/// Verifies `token` once as a new request would (a whole budget of `budget` checks) against the
/// worker's `refusals`; the result and the work done.
fn request(
    p: &Provider,
    token: &str,
    host: &FakeHost,
    budget: u32,
    refusals: &RefusalCache,
) -> (Result<(), JwtError>, u32, bool, bool) {
    let mut budget = Budget::new(budget);
    let mut work = Work::new(&mut budget, refusals);
    let result = check_with(p, token, NOW, host, &mut work);
    let checks = work.checks.host.max(work.checks.module);
    (result, checks, work.remembered, work.limited)
}

#[test]
fn a_token_without_kid_against_32_keys_is_checked_at_most_the_budget() {
    let p = provider_of(rsa_keys(&[(32, 2048)], None));
    let refusals = RefusalCache::default();
    // An Envoy whose native check takes none of these keys.
    let mut host = FakeHost::new();
    host.native_signatures = Some(filter_core::signature::NativeSignatures::Offered);
    let t = forged_without_kid(Alg::Rs256, 256, 0x42);
    let (result, checks, _, limited) =
        request(&p, &t, &host, DEFAULT_MAX_SIGNATURE_CHECKS, &refusals);
    assert_eq!(result, Err(JwtError::CheckLimit));
    assert_eq!(checks, DEFAULT_MAX_SIGNATURE_CHECKS, "the budget, not 32");
    assert!(limited);
    assert_eq!(
        host.signature_checks.get(),
        3,
        "the host was asked for 3 keys"
    );
    // Given every key, every key is tried: a plain bad signature.
    let other = forged_without_kid(Alg::Rs256, 256, 0x43);
    let (result, checks, _, limited) = request(&p, &other, &host, 32, &refusals);
    assert_eq!(
        (result, checks, limited),
        (Err(JwtError::BadSignature), 32, false)
    );
}

#[test]
fn only_keys_of_the_signatures_length_are_tried() {
    // 31 keys of other sizes and the test key: a valid token costs one check, a forged one
    // of 2048 bits too, and one of no key's size none.
    let p = provider_of(rsa_keys(&[(16, 4096), (15, 3072), (1, 2048)], Some(31)));
    let refusals = RefusalCache::default();
    let host = FakeHost::new();
    let (result, checks, ..) = request(&p, &valid_without_kid(), &host, 1, &refusals);
    assert_eq!((result, checks), (Ok(()), 1));
    let t = forged_without_kid(Alg::Rs256, 256, 0x42);
    let (result, checks, ..) = request(&p, &t, &host, 1, &refusals);
    assert_eq!((result, checks), (Err(JwtError::BadSignature), 1));
    let t = forged_without_kid(Alg::Rs256, 300, 0x42);
    let (result, checks, ..) = request(&p, &t, &host, 1, &refusals);
    assert_eq!((result, checks), (Err(JwtError::BadSignature), 0));
    // ECDSA and EdDSA signatures have one length: 64 bytes for ES256 and EdDSA, 96 for ES384.
    let p = provider_of(vec![
        jwk(Alg::Es256, "es"),
        jwk(Alg::Es384, "es384"),
        jwk(Alg::EdDsa, "ed"),
    ]);
    for (alg, len) in [(Alg::Es256, 65), (Alg::Es384, 64), (Alg::EdDsa, 63)] {
        let t = forged_without_kid(alg, len, 7);
        let (result, checks, ..) = request(&p, &t, &host, 3, &refusals);
        assert_eq!(
            (result, checks),
            (Err(JwtError::BadSignature), 0),
            "{}",
            alg.as_str()
        );
    }
}

#[test]
fn keys_past_the_budget_are_not_tried() {
    // The test key is the fifth key of its size: a valid token without `kid` needs 5 checks.
    let p = provider_of(rsa_keys(&[(8, 2048)], Some(4)));
    let host = FakeHost::new();
    let refusals = RefusalCache::default();
    let (result, ..) = request(&p, &valid_without_kid(), &host, 3, &refusals);
    assert_eq!(result, Err(JwtError::CheckLimit));
    let (result, checks, ..) = request(&p, &valid_without_kid(), &host, 5, &refusals);
    assert_eq!(
        (result, checks),
        (Err(JwtError::CheckLimit), 0),
        "the refusal is remembered for the key set, as the configuration stands"
    );
    let fresh = RefusalCache::default();
    let (result, checks, ..) = request(&p, &valid_without_kid(), &host, 5, &fresh);
    assert_eq!((result, checks), (Ok(()), 5));
}

#[test]
fn the_same_forged_token_costs_one_check() {
    let p = provider_of(vec![jwk(Alg::Rs256, "rs"), jwk(Alg::Es256, "es")]);
    let host = envoy_host();
    let refusals = RefusalCache::default();
    for alg in [Alg::Rs256, Alg::Es256] {
        let len = if alg == Alg::Rs256 { 256 } else { 64 };
        let t = forged_without_kid(alg, len, 0x21);
        let (result, checks, remembered, _) = request(&p, &t, &host, 3, &refusals);
        assert_eq!(
            (result, checks, remembered),
            (Err(JwtError::BadSignature), 1, false)
        );
        let (result, checks, remembered, _) = request(&p, &t, &host, 3, &refusals);
        assert_eq!(
            (result, checks, remembered),
            (Err(JwtError::BadSignature), 0, true),
            "{}: the same refusal, from memory",
            alg.as_str()
        );
    }
    assert_eq!(refusals.len(), 2);
    // Another key set (a rotation, even to the same keys) checks it again.
    let again = provider_of(vec![jwk(Alg::Rs256, "rs")]);
    let t = forged_without_kid(Alg::Rs256, 256, 0x21);
    let (result, checks, remembered, _) = request(&again, &t, &host, 3, &refusals);
    assert_eq!(
        (result, checks, remembered),
        (Err(JwtError::BadSignature), 1, false)
    );
}

#[test]
fn one_check_the_host_has_proven_is_not_digested() {
    let p = provider_of(vec![jwk(Alg::Rs256, "rs")]);
    let host = envoy_host();
    let refusals = RefusalCache::default();
    assert_eq!(
        request(&p, &valid_without_kid(), &host, 3, &refusals).0,
        Ok(())
    );
    let t = forged_without_kid(Alg::Rs256, 256, 0x21);
    for _ in 0..2 {
        let (result, checks, remembered, _) = request(&p, &t, &host, 3, &refusals);
        assert_eq!(
            (result, checks, remembered),
            (Err(JwtError::BadSignature), 1, false)
        );
    }
    assert!(
        refusals.is_empty(),
        "Envoy's check costs less than the digest"
    );
}

#[test]
fn the_budget_is_the_requests_across_key_sets() {
    let a = provider_of(rsa_keys(&[(2, 2048)], None));
    let b = provider_of(rsa_keys(&[(2, 2048)], None));
    let host = FakeHost::new();
    let refusals = RefusalCache::default();
    let mut budget = Budget::new(3);
    let t = forged_without_kid(Alg::Rs256, 256, 0x42);
    let mut work = Work::new(&mut budget, &refusals);
    assert_eq!(
        check_with(&a, &t, NOW, &host, &mut work),
        Err(JwtError::BadSignature)
    );
    assert_eq!(
        check_with(&b, &t, NOW, &host, &mut work),
        Err(JwtError::CheckLimit)
    );
    assert_eq!(work.checks.module, 3);
    assert_eq!(budget.left(), 0);
    assert_eq!(
        refusals.len(),
        1,
        "a limit reached on checks spent elsewhere is not remembered"
    );
    let KeySource::Inline(keys) = &b.keys else {
        unreachable!()
    };
    assert_eq!(Rc::strong_count(keys), 1, "the memory holds no key set");
}

#[test]
fn rsa_keys_over_the_limit_are_refused_when_loaded() {
    let big = json!({"keys": [unheld_rsa_jwk(8192, 1, "big")]});
    let err = load_jwks(&tree(&big), Origin::Inline, &KeyRules::default()).unwrap_err();
    assert_eq!(err.at, "keys[0].n");
    assert_eq!(
        err.message,
        "RSA modulus of 8192 bits, over jwt.max_rsa_key_bits (4096)"
    );
    assert!(load_jwks(&tree(&big), Origin::Inline, &rsa_bits(8192)).is_ok());
    let edge = json!({"keys": [unheld_rsa_jwk(4096, 1, "edge")]});
    assert!(load_jwks(&tree(&edge), Origin::Inline, &KeyRules::default()).is_ok());
    // From a key server the key is skipped, the others kept.
    let mixed = json!({"keys": [unheld_rsa_jwk(8192, 1, "big"), jwk(Alg::Rs256, "rs")]});
    let (set, skipped) = load_jwks(&tree(&mixed), Origin::Remote, &KeyRules::default()).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].at, "keys[0].n");
    // Over 8192 bits the module's own bound speaks, as before.
    let huge = json!({"keys": [unheld_rsa_jwk(8200, 1, "huge")]});
    let err = load_jwks(&tree(&huge), Origin::Inline, &rsa_bits(8192)).unwrap_err();
    assert_eq!(err.message, "invalid RSA key (at most 8192 bits)");
}

#[test]
fn each_key_expects_signatures_of_one_length() {
    let mut keys = rsa_keys(&[(1, 2048), (1, 3072), (1, 4096), (1, 8192)], Some(0));
    keys.extend([
        jwk(Alg::Hs256, "hs256"),
        jwk(Alg::Hs384, "hs384"),
        jwk(Alg::Hs512, "hs512"),
        jwk(Alg::Es256, "es256"),
        jwk(Alg::Es384, "es384"),
        jwk(Alg::EdDsa, "ed"),
    ]);
    let p = provider_of(keys);
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    let lens: Vec<usize> = keys
        .keys
        .iter()
        .map(|k| k.signature_len(k.algs.iter().next().unwrap()))
        .collect();
    assert_eq!(lens, [256, 384, 512, 1024, 32, 48, 64, 64, 96, 64]);
    // And the test keys' signatures have those lengths.
    for (alg, len) in [
        (Alg::Rs256, 256),
        (Alg::Hs256, 32),
        (Alg::Hs384, 48),
        (Alg::Hs512, 64),
        (Alg::Es256, 64),
        (Alg::Es384, 96),
        (Alg::EdDsa, 64),
    ] {
        assert_eq!(
            crate::testkit::signature(alg, b"x").len(),
            len,
            "{}",
            alg.as_str()
        );
    }
}
