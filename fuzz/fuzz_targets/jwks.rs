//! JWKS documents (`filter_auth::jwt::jwk`, `filter_auth::jwks`): a key server's body as the
//! remote key cache takes it (`JwksCache::complete`: JSON at depth 8, keys loaded with unusable
//! ones skipped), and the same document as an inline key set (`load_jwks`, every problem an
//! error), under the default and the strict key rules. Tokens are then checked against whatever
//! keys loaded (attacker-chosen RSA moduli, curve points, secrets).
//!
//! Asserts: a loaded set is non-empty and within `MAX_KEYS`; every error and skipped key names
//! its member (`keys...`); a remote set never holds an HMAC secret; an inline set that loads
//! loads remotely too, with as many keys when it holds no secret; the cache holds keys exactly
//! when the body was accepted; checking tokens against the keys never verifies a forgery.
#![no_main]

use std::rc::Rc;
use std::time::Duration;

use filter_auth::jwks::{Fetched, JwksCache};
use filter_auth::jwt::jwk::{load_jwks, KeyRules, Origin, MAX_KEYS};
use filter_auth::jwt::keys::KeySet;
use filter_auth::jwt::refusals::RefusalCache;
use filter_auth::jwt::verifier::Verifier;
use filter_auth::jwt::{token, Budget, Provider, RemoteJwks, Work};
use filter_core::host::CallResponse;
use filter_core::{FakeHost, HeaderMap};
use libfuzzer_sys::fuzz_target;

fn remote() -> RemoteJwks {
    RemoteJwks {
        cluster: "jwks".into(),
        path: "/jwks.json".into(),
        authority: "idp.example".into(),
        timeout: Duration::from_secs(2),
        ttl: 600,
        unknown_kid_refetch: 30,
        retry: 1,
        key_rules: KeyRules::default(),
    }
}

/// Tokens no key of `keys` can have signed: every verification must fail.
fn forgeries_fail(keys: &Rc<KeySet>, data: &[u8]) {
    PROVIDER.with(|provider| forgeries_fail_with(provider, keys, data));
}

thread_local! {
    static PROVIDER: Provider = filter_auth::config::Config::parse(
        gateway_fuzz::auth_jwt_config().as_bytes(),
    )
    .expect("fuzz config")
    .jwt
    .expect("jwt")
    .providers[0]
        .clone();
}

fn forgeries_fail_with(provider: &Provider, keys: &Rc<KeySet>, data: &[u8]) {
    let host = FakeHost::new();
    let kids: Vec<Option<&str>> = keys.keys.iter().map(|k| k.kid.as_deref()).take(4).collect();
    for alg in [
        "RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256",
    ] {
        for kid in kids.iter().chain([&None]) {
            let mut header = serde_json::json!({"alg": alg});
            if let Some(kid) = kid {
                header["kid"] = (*kid).into();
            }
            let claims = serde_json::json!({"iss": gateway_fuzz::ISSUER, "sub": "x"});
            for len in [64usize, 96, 132, 256, 512] {
                let sig: Vec<u8> = data.iter().copied().cycle().take(len).collect();
                let text = format!(
                    "{}.{}.{}",
                    gateway_fuzz::b64(header.to_string()),
                    gateway_fuzz::b64(claims.to_string()),
                    gateway_fuzz::b64(&sig)
                );
                let Ok(tok) = token::decode(text.as_bytes(), 1 << 20) else {
                    continue;
                };
                let refusals = RefusalCache::default();
                let mut budget = Budget::new(3);
                let mut work = Work::new(&mut budget, &refusals);
                let result =
                    filter_auth::jwt::verify(&tok, provider, keys, 1_700_000_000, &host, &mut work);
                // A signature made of the fuzz input repeated: a forgery unless the input is a
                // secret's own output, which the fuzzer cannot find.
                assert!(
                    result.is_err(),
                    "{alg} token with a cycled signature verified"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = filter_core::json::parse(data, 8) else {
        return;
    };
    let mut remote_count = None;
    for rules in [
        KeyRules::default(),
        KeyRules {
            strict_alg: true,
            max_rsa_bits: 2048,
        },
    ] {
        let remote_set = load_jwks(&json, Origin::Remote, &rules);
        match &remote_set {
            Ok((set, skipped)) => {
                assert!(!set.keys.is_empty() && set.keys.len() <= MAX_KEYS);
                for e in skipped {
                    assert!(e.at.starts_with("keys["), "skipped key at {:?}", e.at);
                }
                assert!(set
                    .keys
                    .iter()
                    .all(|k| !matches!(k.verifier, Verifier::Hmac(_))));
                assert!(set.keys.iter().all(|k| !k.algs.is_empty()));
                if rules == KeyRules::default() {
                    remote_count = Some(set.keys.len());
                }
            }
            Err(e) => assert!(e.at.starts_with("keys"), "error at {:?}", e.at),
        }
        match load_jwks(&json, Origin::Inline, &rules) {
            Ok((set, skipped)) => {
                assert!(skipped.is_empty(), "inline keys are never skipped");
                assert!(!set.keys.is_empty() && set.keys.len() <= MAX_KEYS);
                let secrets = set
                    .keys
                    .iter()
                    .any(|k| matches!(k.verifier, Verifier::Hmac(_)));
                if !secrets {
                    let (remote, _) = remote_set.as_ref().expect("inline loads, remote refuses");
                    assert_eq!(remote.keys.len(), set.keys.len());
                }
            }
            Err(e) => assert!(e.at.starts_with("keys"), "error at {:?}", e.at),
        }
    }

    // The body as the key server's answer (a larger one is refused before it is parsed).
    if data.len() > filter_auth::jwks::MAX_JWKS_BYTES {
        return;
    }
    let cache = JwksCache::new("fuzz", remote());
    let mut host = FakeHost::new();
    cache.init_shared(&mut host);
    let response = CallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: data.to_vec(),
    };
    cache.started(7);
    match cache
        .complete(&mut host, 1_700_000_000, 7, Ok(response))
        .expect("fetch 7 is in flight")
    {
        Fetched::Updated { .. } => {
            let keys = cache.keys().expect("keys after an update");
            assert_eq!(Some(keys.keys.len()), remote_count);
            forgeries_fail(&keys, data);
        }
        Fetched::Failed(_) => {
            assert!(cache.keys().is_none());
            assert_eq!(remote_count, None);
        }
    }
});
