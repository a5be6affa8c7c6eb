//! JWT tests: public vectors (RFC 7515 A.1–A.3, RFC 8037 A.4), every algorithm round trip, and
//! every JWT case of the threat list.

use std::rc::Rc;

use serde_json::{json, Value};

use super::claims::ClaimRules;
use filter_core::signature::NativeSignatures;
use filter_core::FakeHost;

use super::alg::Alg;
use super::jwk::{load_jwk, load_jwks, KeyRules, Origin};
use super::keys::{Checks, KeySet};
use super::refusals::RefusalCache;
use super::token::decode;
use super::*;
use crate::testkit::{b64, envoy_host, host_answering, jwk, signature, token, token_raw, tree};

const NOW: i64 = 1_767_225_600;

fn provider(issuer: &str, set: KeySet) -> Provider {
    Provider {
        name: "p".into(),
        rules: ClaimRules {
            issuer: issuer.into(),
            audiences: vec!["gateway".into()],
            leeway: 60,
            require_exp: true,
            required: vec![],
        },
        keys: KeySource::Inline(Rc::new(set)),
        claims_to_headers: vec![],
        consumer_claim: vec!["sub".into()],
        allow_unknown_consumers: false,
        unknown_consumer_plan: None,
        groups_claim: None,
    }
}

fn set(jwks: Value) -> KeySet {
    load_jwks(&tree(&jwks), Origin::Inline, &KeyRules::default())
        .unwrap()
        .0
}

/// Every algorithm this build supports.
fn algs() -> Vec<Alg> {
    use Alg::*;
    let all = [
        Hs256, Hs384, Hs512, Rs256, Rs384, Rs512, Ps256, Ps384, Ps512, Es256, Es384, Es512, EdDsa,
    ];
    all.into()
}

fn all_keys() -> KeySet {
    let algs = algs();
    set(json!({"keys": algs.iter().map(|a| jwk(*a, a.as_str())).collect::<Vec<_>>()}))
}

fn claims() -> Value {
    json!({"iss": "https://issuer.example", "aud": "gateway", "sub": "alice", "exp": NOW + 300, "iat": NOW})
}

/// Decodes and verifies `token` against provider `p` at `now`, on a host without native
/// signature checks.
fn check(p: &Provider, token: &str, now: i64) -> Result<(), JwtError> {
    check_on(p, token, now, &FakeHost::new()).0
}

/// Like [`check`] on `host`, with where the signature checks ran (a request's default budget, and
/// no refusal remembered from before).
fn check_on(
    p: &Provider,
    token: &str,
    now: i64,
    host: &FakeHost,
) -> (Result<(), JwtError>, Checks) {
    let mut budget = Budget::new(DEFAULT_MAX_SIGNATURE_CHECKS);
    let refusals = RefusalCache::default();
    let mut work = Work::new(&mut budget, &refusals);
    let result = check_with(p, token, now, host, &mut work);
    (result, work.checks)
}

/// Decodes and verifies `token` against provider `p` at `now` on `host`, drawing on `work`.
fn check_with(
    p: &Provider,
    token: &str,
    now: i64,
    host: &FakeHost,
    work: &mut Work<'_>,
) -> Result<(), JwtError> {
    let t = decode(token.as_bytes(), 8192)?;
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    verify(&t, p, keys, now, host, work).map(|_| ())
}

/// Whether the host (host-test's Envoy, which takes no P-521 key) checks `alg`'s signatures
/// natively.
fn host_checked(alg: Alg) -> bool {
    matches!(
        alg,
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Es256 | Alg::Es384
    )
}

/// `token` with the last byte of its signature changed (still well-formed base64url).
fn tampered(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    *sig.last_mut().unwrap() ^= 1;
    format!("{rest}.{}", b64(&sig))
}

#[test]
fn every_algorithm_round_trips() {
    let p = provider("https://issuer.example", all_keys());
    for alg in algs() {
        let t = token(alg, alg.as_str(), &claims());
        assert_eq!(check(&p, &t, NOW), Ok(()), "{} with kid", alg.as_str());
        let no_kid = token_raw(
            alg,
            &json!({"alg": alg.as_str()}).to_string(),
            &claims().to_string(),
        );
        assert_eq!(
            check(&p, &no_kid, NOW),
            Ok(()),
            "{} without kid",
            alg.as_str()
        );
    }
}

// --- Public vectors -------------------------------------------------------------------------

const A_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
/// A time before the RFC examples' `exp` (1300819380).
const A_NOW: i64 = 1_300_819_000;

fn joe(key: Value) -> Provider {
    let mut p = provider("joe", set(json!({ "keys": [key] })));
    p.rules.audiences.clear();
    p
}

#[test]
fn rfc7515_a1_hs256() {
    let key = json!({"kty": "oct", "alg": "HS256", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
    let token = format!("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{A_PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    let p = joe(key);
    assert_eq!(check(&p, &token, A_NOW), Ok(()), "RFC 7515 A.1 verifies");
    assert_eq!(
        check(&p, &token, 1_300_819_380 + 60),
        Err(JwtError::Expired),
        "and expires"
    );
}

#[test]
fn rfc7515_a2_rs256() {
    let n = concat!(
        "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx",
        "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs",
        "D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH",
        "SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV",
        "MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8",
        "NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
    );
    let sig = concat!(
        "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh",
        "7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYN",
        "X4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Q",
        "e7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7no",
        "OPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlV",
        "mtVrBp0igcN_IoypGlUPQGe77Rw"
    );
    let p = joe(json!({"kty": "RSA", "n": n, "e": "AQAB"}));
    let token = format!("eyJhbGciOiJSUzI1NiJ9.{A_PAYLOAD}.{sig}");
    assert_eq!(check(&p, &token, A_NOW), Ok(()), "RFC 7515 A.2 verifies");
    let tampered = format!("eyJhbGciOiJSUzI1NiJ9.{A_PAYLOAD}.{}", sig.replace('c', "d"));
    assert_eq!(check(&p, &tampered, A_NOW), Err(JwtError::BadSignature));
}

#[test]
fn rfc7515_a3_es256() {
    let key = json!({"kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let sig =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    let token = format!("eyJhbGciOiJFUzI1NiJ9.{A_PAYLOAD}.{sig}");
    assert_eq!(
        check(&joe(key), &token, A_NOW),
        Ok(()),
        "RFC 7515 A.3 verifies"
    );
}

#[test]
fn rfc8037_a4_ed25519() {
    let key = load_jwk(
        &tree(&json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})),
        Origin::Inline,
        &KeyRules::default(),
        "k",
    )
    .unwrap();
    let input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
    let sig = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    )
    .unwrap();
    assert!(
        key.verifier.verify(Alg::EdDsa, input, &sig) == Some(true),
        "RFC 8037 A.4 verifies"
    );
    assert!(
        key.verifier
            .verify(Alg::EdDsa, b"eyJhbGciOiJFZERTQSJ9.eA", &sig)
            == Some(false)
    );
}

// --- Threats: algorithms and keys ------------------------------------------------------------

#[test]
fn alg_none_missing_or_unbound_is_rejected() {
    let p = provider("https://issuer.example", all_keys());
    let body = b64(claims().to_string());
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"None"}"#,
        r#"{"alg":"NONE"}"#,
        r#"{"alg":"nOnE"}"#,
        r#"{"alg":""}"#,
        r#"{"typ":"JWT"}"#,
        r#"{"alg":null}"#,
        r#"{"alg":["HS256"]}"#,
        r#"{"alg":"hs256"}"#,
        r#"{"alg":"ES256K"}"#,
        r#"{"alg":"RSA-OAEP"}"#,
    ] {
        let t = format!("{}.{body}.{}", b64(header), b64(b"sig"));
        assert_eq!(
            check(&p, &t, NOW),
            Err(JwtError::UnsupportedAlg),
            "{header}"
        );
        let unsigned = format!("{}.{body}.", b64(header));
        assert!(
            check(&p, &unsigned, NOW).is_err(),
            "{header} with an empty signature"
        );
    }
    // A key is bound to one algorithm: RS256 key, token says PS256 (validly PS256-signed).
    let t = token_raw(
        Alg::Ps256,
        r#"{"alg":"PS256","kid":"RS256"}"#,
        &claims().to_string(),
    );
    assert_eq!(
        check(&p, &t, NOW),
        Err(JwtError::AlgMismatch),
        "PS256 token on an RS256 key"
    );
}

#[test]
fn hs_rs_confusion_is_rejected() {
    use base64::Engine as _;
    use hmac::Mac as _;
    use rsa::pkcs8::EncodePublicKey;
    let keys = set(json!({"keys": [jwk(Alg::Rs256, "rsa")]}));
    let p = provider("https://issuer.example", keys);
    let public = crate::testkit::rsa_key().to_public_key();
    let pem = public
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let der = public.to_public_key_der().unwrap();
    for secret in [pem.as_bytes(), der.as_bytes()] {
        for header in [r#"{"alg":"HS256","kid":"rsa"}"#, r#"{"alg":"HS256"}"#] {
            let input = format!("{}.{}", b64(header), b64(claims().to_string()));
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
            mac.update(input.as_bytes());
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(mac.finalize().into_bytes());
            let t = format!("{input}.{sig}");
            assert_eq!(check(&p, &t, NOW), Err(JwtError::AlgMismatch), "{header}");
        }
    }
}

#[test]
fn es256_signature_forms() {
    let p = provider("https://issuer.example", all_keys());
    let header = r#"{"alg":"ES256","kid":"ES256"}"#;
    let input = format!("{}.{}", b64(header), b64(claims().to_string()));
    let good = signature(Alg::Es256, input.as_bytes());
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let (r, s) = good.split_at(32);
    let der = p256::ecdsa::Signature::from_slice(&good)
        .unwrap()
        .to_der()
        .as_bytes()
        .to_vec();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![0; 64], "r = 0 and s = 0 (CVE-2022-21449)"),
        ([&[0u8; 32][..], s].concat(), "r = 0"),
        ([r, &[0u8; 32][..]].concat(), "s = 0"),
        ([&n[..], s].concat(), "r = n"),
        ([r, &n[..]].concat(), "s = n"),
        ([&[0xff; 32][..], s].concat(), "r > n"),
        (der, "DER encoding"),
        (good[..63].to_vec(), "63 bytes"),
        ([&good[..], &[0]].concat(), "65 bytes"),
    ];
    assert_eq!(
        check(&p, &format!("{input}.{}", b64(&good)), NOW),
        Ok(()),
        "the good signature"
    );
    for (sig, msg) in cases {
        assert_eq!(
            check(&p, &format!("{input}.{}", b64(&sig)), NOW),
            Err(JwtError::BadSignature),
            "{msg}"
        );
    }
}

#[test]
fn eddsa_signature_forms() {
    let p = provider("https://issuer.example", all_keys());
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"EdDSA","kid":"EdDSA"}"#),
        b64(claims().to_string())
    );
    let good = signature(Alg::EdDsa, input.as_bytes());
    // S + L (the group order) is the same scalar, non-canonically encoded.
    let l = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    let mut s_plus_l = good[32..].to_vec();
    let mut carry = 0u16;
    for (b, add) in s_plus_l.iter_mut().zip(l.iter()) {
        let sum = u16::from(*b) + u16::from(*add) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
    let non_canonical = [&good[..32], &s_plus_l[..]].concat();
    assert_eq!(check(&p, &format!("{input}.{}", b64(&good)), NOW), Ok(()));
    for (sig, msg) in [
        (non_canonical, "non-canonical S"),
        (good[..63].to_vec(), "63 bytes"),
        ([&good[..], &[0]].concat(), "65 bytes"),
    ] {
        assert_eq!(
            check(&p, &format!("{input}.{}", b64(&sig)), NOW),
            Err(JwtError::BadSignature),
            "{msg}"
        );
    }
}

#[test]
fn weak_keys_are_refused_at_load() {
    let rsa = jwk(Alg::Rs256, "r");
    let short_n = b64([0xc5u8; 128]); // 1024 bits
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"kty": "RSA", "n": short_n, "e": "AQAB"}),
            "k.n",
            "1024-bit RSA",
        ),
        (
            json!({"kty": "RSA", "n": rsa["n"], "e": "Aw"}),
            "k.e",
            "exponent 3",
        ),
        (
            json!({"kty": "RSA", "n": rsa["n"], "e": "AQAA"}),
            "k.e",
            "even exponent",
        ),
        (
            json!({"kty": "RSA", "n": rsa["n"], "e": "AQAB", "d": "AQAB"}),
            "k.d",
            "private member",
        ),
        (
            json!({"kty": "oct", "k": b64([1u8; 31])}),
            "k.k",
            "248-bit HMAC secret",
        ),
        (
            json!({"kty": "oct", "alg": "HS512", "k": b64([1u8; 32])}),
            "k.k",
            "HS512 with 256 bits",
        ),
        (
            json!({"kty": "oct", "alg": "RS256", "k": b64([1u8; 64])}),
            "k.alg",
            "oct key bound to RS256",
        ),
        (
            json!({"kty": "RSA", "alg": "HS256", "n": rsa["n"], "e": "AQAB"}),
            "k.alg",
            "RSA key bound to HS256",
        ),
        (
            json!({"kty": "EC", "crv": "P-256", "alg": "ES384", "x": b64([1u8; 32]), "y": b64([1u8; 32])}),
            "k.alg",
            "curve and alg disagree",
        ),
        (
            json!({"kty": "EC", "crv": "P-256", "x": b64([1u8; 32]), "y": b64([1u8; 32])}),
            "k",
            "point not on the curve",
        ),
        (
            json!({"kty": "EC", "crv": "secp256k1", "x": b64([1u8; 32]), "y": b64([1u8; 32])}),
            "k.crv",
            "secp256k1",
        ),
        (
            json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"}),
            "k",
            "P-521 coordinates too short",
        ),
        (
            json!({"kty": "EC", "crv": "P-521", "x": b64([1u8; 66]), "y": b64([1u8; 66])}),
            "k",
            "point not on P-521",
        ),
        (
            json!({"kty": "EC", "crv": "P-521", "alg": "ES256", "x": b64([1u8; 66]), "y": b64([1u8; 66])}),
            "k.alg",
            "P-521 key bound to ES256",
        ),
        (
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64([0u8; 32])}),
            "k.x",
            "small-order Ed25519 key",
        ),
        (
            json!({"kty": "RSA", "n": rsa["n"], "e": "AQAB", "use": "enc"}),
            "k.use",
            "encryption key",
        ),
        (
            json!({"kty": "RSA", "n": format!("{}=", rsa["n"].as_str().unwrap()), "e": "AQAB"}),
            "k.n",
            "padded base64",
        ),
    ];
    for (key, at, msg) in cases {
        let e = load_jwk(&tree(&key), Origin::Inline, &KeyRules::default(), "k").unwrap_err();
        assert_eq!(e.at, at, "{msg}: {e}");
    }
    let remote_secret = json!({"keys": [{"kty": "oct", "k": b64([1u8; 64])}]});
    assert!(
        load_jwks(&tree(&remote_secret), Origin::Remote, &KeyRules::default()).is_err(),
        "no HMAC secrets from a key server"
    );
}

#[test]
fn keys_are_looked_up_by_issuer_and_kid() {
    // Issuer A has only an EdDSA key "k1"; issuer B's RS256 key is also "k1".
    let a = provider(
        "https://a.example",
        set(json!({"keys": [jwk(Alg::EdDsa, "k1")]})),
    );
    let mut c = claims();
    c["iss"] = json!("https://a.example");
    let t = token(Alg::Rs256, "k1", &c);
    assert_eq!(
        check(&a, &t, NOW),
        Err(JwtError::AlgMismatch),
        "B's key is never consulted for A"
    );
    let t = token(Alg::EdDsa, "k2", &c);
    assert_eq!(check(&a, &t, NOW), Err(JwtError::UnknownKid), "unknown kid");
}

#[test]
fn embedded_keys_and_urls_are_never_trusted() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Rs256, "rsa")]})),
    );
    // Signed with the test EC key, which the provider does not have, advertised in the header.
    for extra in [
        json!({"jwk": jwk(Alg::Es256, "attacker")}),
        json!({"jku": "https://attacker.example/jwks"}),
        json!({"x5u": "https://attacker.example/cert"}),
        json!({"x5c": ["MIIB"]}),
    ] {
        let mut header = json!({"alg": "ES256"});
        header
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let t = token_raw(Alg::Es256, &header.to_string(), &claims().to_string());
        assert_eq!(check(&p, &t, NOW), Err(JwtError::AlgMismatch), "{extra}");
    }
}

#[test]
fn crit_and_duplicates_are_rejected() {
    let p = provider("https://issuer.example", all_keys());
    let c = claims().to_string();
    let cases = [
        (
            r#"{"alg":"HS256","kid":"HS256","crit":["exp"]}"#.to_string(),
            c.clone(),
            "crit with unknown entries",
        ),
        (
            r#"{"alg":"HS256","kid":"HS256","crit":[]}"#.to_string(),
            c.clone(),
            "empty crit",
        ),
        (
            r#"{"alg":"HS256","kid":"HS256","alg":"HS256"}"#.to_string(),
            c.clone(),
            "duplicate alg",
        ),
        (
            r#"{"alg":"HS256","kid":"HS256"}"#.to_string(),
            c.replace("\"sub\":\"alice\"", "\"sub\":\"alice\",\"sub\":\"bob\""),
            "duplicate sub",
        ),
        (
            r#"{"alg":"HS256","kid":"HS256"}"#.to_string(),
            format!(
                "{{\"x\":{}1{},\"iss\":\"https://issuer.example\"}}",
                "[".repeat(40),
                "]".repeat(40)
            ),
            "deeply nested",
        ),
        (
            r#"{"alg":"HS256","kid":"HS256"}"#.to_string(),
            "[1]".to_string(),
            "payload not an object",
        ),
        (
            r#"{"alg":"HS256","kid":7}"#.to_string(),
            c.clone(),
            "kid not a string",
        ),
    ];
    for (header, claims, msg) in cases {
        let t = token_raw(Alg::Hs256, &header, &claims);
        assert!(
            matches!(check(&p, &t, NOW), Err(JwtError::Malformed(_))),
            "{msg}"
        );
    }
}

// --- Threats: claims -------------------------------------------------------------------------

#[test]
fn claims_are_checked() {
    let p = provider("https://issuer.example", all_keys());
    let with = |patch: Value| {
        let mut c = claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        token(Alg::Hs256, "HS256", &c)
    };
    let cases: Vec<(Value, i64, Result<(), JwtError>, &str)> = vec![
        (json!({}), NOW, Ok(()), "valid"),
        (json!({"exp": NOW}), NOW + 59, Ok(()), "inside the leeway"),
        (
            json!({"exp": NOW}),
            NOW + 60,
            Err(JwtError::Expired),
            "leeway boundary",
        ),
        (
            json!({"exp": "1767225900"}),
            NOW,
            Err(JwtError::InvalidClaim("exp")),
            "exp as a string",
        ),
        (
            json!({"exp": u64::MAX}),
            NOW,
            Err(JwtError::InvalidClaim("exp")),
            "exp u64::MAX",
        ),
        (
            json!({"exp": i64::MAX}),
            NOW,
            Err(JwtError::InvalidClaim("exp")),
            "exp i64::MAX",
        ),
        (
            json!({"exp": -1}),
            NOW,
            Err(JwtError::InvalidClaim("exp")),
            "negative exp",
        ),
        (
            json!({"exp": 1.0e300}),
            NOW,
            Err(JwtError::InvalidClaim("exp")),
            "exp float overflow",
        ),
        (
            json!({"exp": (NOW + 300) as f64 + 0.5}),
            NOW,
            Ok(()),
            "fractional exp",
        ),
        (
            json!({"exp": null}),
            NOW,
            Err(JwtError::MissingClaim),
            "missing exp",
        ),
        (json!({"nbf": NOW + 60}), NOW, Ok(()), "nbf at the leeway"),
        (
            json!({"nbf": NOW + 61}),
            NOW,
            Err(JwtError::NotYetValid),
            "nbf past the leeway",
        ),
        (
            json!({"nbf": "soon"}),
            NOW,
            Err(JwtError::InvalidClaim("nbf")),
            "nbf as a string",
        ),
        (
            json!({"iat": NOW + 61}),
            NOW,
            Err(JwtError::IssuedInFuture),
            "iat in the future",
        ),
        (
            json!({"iat": u64::MAX}),
            NOW,
            Err(JwtError::InvalidClaim("iat")),
            "iat u64::MAX",
        ),
        (
            json!({"aud": ["other", "gateway"]}),
            NOW,
            Ok(()),
            "aud array",
        ),
        (
            json!({"aud": ["other"]}),
            NOW,
            Err(JwtError::BadAudience),
            "aud array without ours",
        ),
        (
            json!({"aud": "other"}),
            NOW,
            Err(JwtError::BadAudience),
            "aud string not ours",
        ),
        (
            json!({"aud": 7}),
            NOW,
            Err(JwtError::BadAudience),
            "aud number",
        ),
        (
            json!({"aud": null}),
            NOW,
            Err(JwtError::BadAudience),
            "aud missing",
        ),
        (
            json!({"iss": "https://issuer.example/"}),
            NOW,
            Err(JwtError::UnknownIssuer),
            "iss with a trailing slash",
        ),
        (
            json!({"iss": "HTTPS://ISSUER.EXAMPLE"}),
            NOW,
            Err(JwtError::UnknownIssuer),
            "iss in other case",
        ),
    ];
    for (patch, now, want, msg) in cases {
        assert_eq!(check(&p, &with(patch), now), want, "{msg}");
    }
    // The clock far in the future or at the epoch never overflows.
    assert_eq!(
        check(&p, &with(json!({})), i64::MAX),
        Err(JwtError::Expired),
        "clock at i64::MAX"
    );
    assert_eq!(
        check(&p, &with(json!({"iat": 5})), 0),
        Ok(()),
        "clock at the epoch"
    );

    let mut no_exp = p.clone();
    no_exp.rules.require_exp = false;
    assert_eq!(
        check(&no_exp, &with(json!({"exp": null})), NOW),
        Ok(()),
        "exp optional when configured"
    );
    let mut required = p.clone();
    required.rules.required = vec![vec!["realm".into(), "roles".into()]];
    assert_eq!(
        check(&required, &with(json!({})), NOW),
        Err(JwtError::MissingClaim),
        "required nested claim missing"
    );
    assert_eq!(
        check(&required, &with(json!({"realm": {"roles": []}})), NOW),
        Ok(()),
        "required nested claim present"
    );
}

// --- Threats: encoding -----------------------------------------------------------------------

#[test]
fn encoding_is_strict() {
    let p = provider("https://issuer.example", all_keys());
    let good = token(Alg::Hs256, "HS256", &claims());
    assert_eq!(check(&p, &good, NOW), Ok(()));
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        (format!("{good}="), "padding"),
        (
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            "padded header",
        ),
        (
            good.replacen('-', "+", 1).replacen('_', "/", 1),
            "standard alphabet",
        ),
        (format!("{} ", good), "trailing space"),
        (
            format!("{}.{}\n.{}", parts[0], parts[1], parts[2]),
            "newline",
        ),
        (format!("{good}.x"), "extra segment"),
        (format!("{}..{}", parts[0], parts[2]), "empty payload"),
        (format!("{}.{}", parts[0], parts[1]), "two segments"),
        (format!(".{}.{}", parts[1], parts[2]), "empty header"),
    ];
    for (t, msg) in cases {
        let got = check(&p, &t, NOW);
        assert!(
            matches!(got, Err(JwtError::Malformed(_))) || got == Err(JwtError::BadSignature),
            "{msg}: {got:?}"
        );
        assert_ne!(got, Ok(()), "{msg}");
    }
    let big = "a".repeat(8193);
    assert_eq!(
        decode(big.as_bytes(), 8192).map(|_| ()),
        Err(JwtError::TooLarge),
        "over the cap, before decoding"
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_verified_signature_is_remembered_but_claims_are_checked_every_time() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Rs256, "rs")]})),
    );
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    let t = token(Alg::Rs256, "rs", &claims());
    assert_eq!(keys.keys[0].cached_verifications(), 0);
    assert_eq!(check(&p, &t, NOW), Ok(()));
    assert_eq!(keys.keys[0].cached_verifications(), 1, "remembered");
    assert_eq!(check(&p, &t, NOW), Ok(()), "again, from the cache");
    assert_eq!(keys.keys[0].cached_verifications(), 1);
    // The cached signature does not outlive the token's claims.
    assert_eq!(check(&p, &t, NOW + 400), Err(JwtError::Expired));
    // A tampered payload with the cached signature is a different pair: refused, not cached.
    let mut parts: Vec<&str> = t.split('.').collect();
    let other = b64(
        json!({"iss": "https://issuer.example", "aud": "gateway", "sub": "bob", "exp": NOW + 300})
            .to_string()
            .as_bytes(),
    );
    parts[1] = &other;
    assert_eq!(
        check(&p, &parts.join("."), NOW),
        Err(JwtError::BadSignature)
    );
    assert_eq!(
        keys.keys[0].cached_verifications(),
        1,
        "failures are never remembered"
    );
}

#[test]
fn the_verification_cache_is_bounded() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Hs256, "hs")]})),
    );
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    for i in 0..(signature_cache::VERIFIED_CACHE_ENTRIES + 5) {
        let mut c = claims();
        c["jti"] = json!(i);
        assert_eq!(check(&p, &token(Alg::Hs256, "hs", &c), NOW), Ok(()));
        assert!(keys.keys[0].cached_verifications() <= signature_cache::VERIFIED_CACHE_ENTRIES);
    }
    assert_eq!(
        keys.keys[0].cached_verifications(),
        5,
        "started over when full"
    );
}

/// Inside the window `check` passes on the clock alone; one second outside it fails.
#[test]
fn claim_window_bounds_where_check_passes() {
    let rules = provider("iss", KeySet::default()).rules;
    let claims = |v: Value| tree(&v);
    let c = claims(
        json!({"iss": "iss", "aud": "gateway", "exp": NOW + 100, "nbf": NOW - 10, "iat": NOW}),
    );
    let (from, until) = rules.window(&c);
    assert_eq!(
        (from, until),
        (NOW - 60, NOW + 160),
        "iat is the later start; leeway on both ends"
    );
    for now in [from, from + 1, until - 1] {
        assert_eq!(rules.check(&c, now), Ok(()), "{now} is inside");
    }
    assert_eq!(rules.check(&c, until), Err(JwtError::Expired));
    assert_eq!(rules.check(&c, from - 1), Err(JwtError::IssuedInFuture));
    let bad = claims(json!({"iss": "iss", "aud": "gateway", "exp": "soon"}));
    let (from, until) = rules.window(&bad);
    assert!(from > until, "a malformed date leaves no window");
    let open = claims(json!({"iss": "iss", "aud": "gateway", "exp": NOW}));
    assert_eq!(rules.window(&open), (i64::MIN, NOW + 60));
}

#[test]
fn envoy_checks_rsa_pkcs1_and_ecdsa_signatures_natively() {
    let p = provider("https://issuer.example", all_keys());
    let host = envoy_host();
    for alg in algs() {
        let t = token(alg, alg.as_str(), &claims());
        let (result, checks) = check_on(&p, &t, NOW, &host);
        assert_eq!(result, Ok(()), "{}", alg.as_str());
        let expected = if host_checked(alg) {
            Checks { host: 1, module: 0 }
        } else {
            Checks { host: 0, module: 1 }
        };
        assert_eq!(checks, expected, "{}", alg.as_str());
        let (result, _) = check_on(&p, &tampered(&t), NOW, &host);
        assert_eq!(
            result,
            Err(JwtError::BadSignature),
            "{} tampered",
            alg.as_str()
        );
    }
}

#[test]
fn once_the_host_accepted_a_key_its_refusals_stand_without_a_module_check() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Rs256, "rs")]})),
    );
    let host = envoy_host();
    let (ok, _) = check_on(&p, &token(Alg::Rs256, "rs", &claims()), NOW, &host);
    assert_eq!(ok, Ok(()));
    let mut c = claims();
    c["sub"] = json!("mallory");
    let forged = tampered(&token(Alg::Rs256, "rs", &c));
    let (result, checks) = check_on(&p, &forged, NOW, &host);
    assert_eq!(result, Err(JwtError::BadSignature));
    assert_eq!(
        checks,
        Checks { host: 1, module: 0 },
        "no costly check in wasm"
    );
}

#[test]
fn before_the_host_is_proven_its_refusal_is_checked_in_the_module() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Es256, "ec")]})),
    );
    let host = envoy_host();
    let mut c = claims();
    c["sub"] = json!("mallory");
    let forged = tampered(&token(Alg::Es256, "ec", &c));
    let (result, checks) = check_on(&p, &forged, NOW, &host);
    assert_eq!(result, Err(JwtError::BadSignature));
    assert_eq!(checks, Checks { host: 1, module: 1 });
}

#[test]
fn a_host_refusing_valid_signatures_costs_speed_never_a_valid_token() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Rs256, "rs")]})),
    );
    let host = host_answering(|_| Some(false));
    for i in 0..3 {
        let mut c = claims();
        c["jti"] = json!(i);
        let (result, _) = check_on(&p, &token(Alg::Rs256, "rs", &c), NOW, &host);
        assert_eq!(result, Ok(()), "token {i}");
    }
    assert_eq!(
        host.signature_checks.get(),
        1,
        "after one disagreement the key is checked in the module only"
    );
}

#[test]
fn an_envoy_without_native_checks_is_asked_once_per_key() {
    let p = provider("https://issuer.example", all_keys());
    let mut host = FakeHost::new();
    host.native_signatures = Some(NativeSignatures::Offered);
    for i in 0..3 {
        for alg in algs() {
            let mut c = claims();
            c["jti"] = json!(i);
            let (result, checks) = check_on(&p, &token(alg, alg.as_str(), &c), NOW, &host);
            assert_eq!(result, Ok(()), "{}", alg.as_str());
            assert_eq!(checks, Checks { host: 0, module: 1 }, "{}", alg.as_str());
        }
    }
    // Every key of an algorithm hosts can check (ES512 too: Envoy takes P-521 keys).
    let asked = algs()
        .into_iter()
        .filter(|a| crate::jwt::verifier::native_hash(*a).is_some())
        .count();
    assert_eq!(host.signature_checks.get(), asked);
}

/// ngx_wasm_module traps on an unknown foreign function, and a host that has not shown it is
/// Envoy may lack it: neither is asked, and this build checks every algorithm in the module.
#[test]
fn hosts_not_shown_to_be_envoy_are_never_asked() {
    for found in [NativeSignatures::Absent, NativeSignatures::Unknown] {
        let p = provider("https://issuer.example", all_keys());
        let mut host = envoy_host();
        host.native_signatures = Some(found);
        for i in 0..2 {
            for alg in algs() {
                let mut c = claims();
                c["jti"] = json!(i);
                let (result, checks) = check_on(&p, &token(alg, alg.as_str(), &c), NOW, &host);
                assert_eq!(result, Ok(()), "{found:?} {}", alg.as_str());
                assert_eq!(checks, Checks { host: 0, module: 1 }, "{}", alg.as_str());
            }
        }
        let forged = tampered(&token(Alg::Rs256, "RS256", &claims()));
        assert_eq!(
            check_on(&p, &forged, NOW, &host).0,
            Err(JwtError::BadSignature)
        );
        assert_eq!(host.signature_checks.get(), 0, "{found:?}");
    }
}

#[test]
fn the_der_the_host_gets_parses_back_with_the_der_crates() {
    use p256::pkcs8::DecodePublicKey as _;
    let rsa = load_jwk(
        &tree(&jwk(Alg::Rs256, "rs")),
        Origin::Inline,
        &KeyRules::default(),
        "k",
    )
    .unwrap();
    let spki = rsa.native_key().unwrap();
    assert_eq!(
        rsa::RsaPublicKey::from_public_key_der(spki).unwrap(),
        crate::testkit::rsa_key().to_public_key()
    );
    let ec = load_jwk(
        &tree(&jwk(Alg::Es256, "ec")),
        Origin::Inline,
        &KeyRules::default(),
        "k",
    )
    .unwrap();
    let parsed = p256::ecdsa::VerifyingKey::from_public_key_der(ec.native_key().unwrap()).unwrap();
    let crate::jwt::verifier::Verifier::Ec(key) = &ec.verifier else {
        unreachable!()
    };
    assert_eq!(parsed.to_encoded_point(false).as_bytes(), key.point());
    // Signatures: r and s of every length DER can give them (leading zeros, top bit set).
    let mut lengths = std::collections::BTreeSet::new();
    for i in 0..400u32 {
        let raw = signature(Alg::Es256, &i.to_be_bytes());
        let ours = ec.native_signature(&raw).unwrap();
        let theirs = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
        assert_eq!(ours, theirs.as_bytes(), "signature {i}");
        lengths.insert(ours.len());
    }
    assert!(lengths.len() >= 3, "lengths seen: {lengths:?}");
    let ec = load_jwk(
        &tree(&jwk(Alg::Es384, "ec")),
        Origin::Inline,
        &KeyRules::default(),
        "k",
    )
    .unwrap();
    let parsed = p384::ecdsa::VerifyingKey::from_public_key_der(ec.native_key().unwrap()).unwrap();
    let crate::jwt::verifier::Verifier::Ec(key) = &ec.verifier else {
        unreachable!()
    };
    assert_eq!(parsed.to_encoded_point(false).as_bytes(), key.point());
    let raw = signature(Alg::Es384, b"x");
    let theirs = p384::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    assert_eq!(ec.native_signature(&raw).unwrap(), theirs.as_bytes());
    // P-521: a 158-byte key and signatures over 127 bytes (DER's long lengths).
    let ec = load_jwk(
        &tree(&jwk(Alg::Es512, "ec")),
        Origin::Inline,
        &KeyRules::default(),
        "k",
    )
    .unwrap();
    let parsed = p521::PublicKey::from_public_key_der(ec.native_key().unwrap()).unwrap();
    let crate::jwt::verifier::Verifier::Ec(key) = &ec.verifier else {
        unreachable!()
    };
    use p521::elliptic_curve::sec1::ToEncodedPoint as _;
    assert_eq!(parsed.to_encoded_point(false).as_bytes(), key.point());
    for i in 0..50u32 {
        let raw = signature(Alg::Es512, &i.to_be_bytes());
        let theirs = p521::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
        assert_eq!(ec.native_signature(&raw).unwrap(), theirs.as_bytes(), "{i}");
    }
}

#[test]
fn signatures_the_host_checks_are_not_remembered_by_the_key() {
    let p = provider(
        "https://issuer.example",
        set(json!({"keys": [jwk(Alg::Rs256, "rs")]})),
    );
    let KeySource::Inline(keys) = &p.keys else {
        unreachable!()
    };
    let host = envoy_host();
    for i in 0..3 {
        let mut c = claims();
        c["jti"] = json!(i);
        let t = token(Alg::Rs256, "rs", &c);
        assert_eq!(check_on(&p, &t, NOW, &host).0, Ok(()));
        assert_eq!(
            check_on(&p, &tampered(&t), NOW, &host).0,
            Err(JwtError::BadSignature)
        );
    }
    // The first signature proved the host (remembered as before); later ones skip the digest.
    assert_eq!(keys.keys[0].cached_verifications(), 1);
    assert_eq!(host.signature_checks.get(), 6);
}

mod bounds;
mod families;
mod wycheproof;
