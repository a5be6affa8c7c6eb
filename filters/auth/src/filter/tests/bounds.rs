//! Bounded work for requests without a valid credential, through the filter: JWT signature
//! checks per request, remembered refusals, the RSA key size limit (inline and remote), basic
//! passwords hashed once, HMAC one credential per request, unknown `kid` refetches per `kid`.
#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;
use std::time::Duration;

use base64::Engine as _;
use filter_core::testing::{problem, reply};
use filter_core::{CallResponse, Decision, FakeHost, HeaderMap, Plugin, Stream};
use serde_json::{json, Value};

use super::{claims, example, inline_example, plugin, req, run};
use crate::filter::AuthPlugin;
use crate::jwt::alg::Alg;
use crate::testkit::{envoy_host, forged, jwk, token, unheld_rsa_jwk};

/// The example with one inline provider whose JWKS holds 32 RSA keys of 2048 bits, the test
/// key last; `jwt` members merged in.
fn many_keys(jwt: Value) -> Value {
    let mut cfg = inline_example();
    let mut keys: Vec<Value> = (0..31)
        .map(|i| unheld_rsa_jwk(2048, i + 1, &format!("k{i}")))
        .collect();
    keys.push(jwk(Alg::Rs256, "rs"));
    cfg["jwt"]["providers"][0]["jwks"] = json!({ "keys": keys });
    for (k, v) in jwt.as_object().unwrap() {
        cfg["jwt"][k] = v.clone();
    }
    cfg
}

/// A request carrying a forged RS256 token without `kid` (signature: 256 bytes of `byte`).
fn forged_request(byte: u8) -> HeaderMap {
    let header = json!({"alg": "RS256"}).to_string();
    let t = forged(&header, &claims("alice").to_string(), &[byte; 256]);
    req("GET", "/v1/x", &[("authorization", &format!("Bearer {t}"))])
}

fn metric(host: &FakeHost, name: &str) -> i64 {
    host.metric(name).unwrap_or(0)
}

/// The refusal's status, problem type and detail.
fn refusal(d: Decision) -> (u16, String, String) {
    let r = reply(d);
    let p = problem(&r);
    (
        r.status,
        p["type"].as_str().unwrap().to_owned(),
        p["detail"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_token_without_kid_against_32_keys_costs_at_most_the_limit_then_nothing() {
    let mut host = envoy_host();
    let p = plugin(&many_keys(json!({})), &mut host);
    let (status, kind, detail) = refusal(run(&p, &mut host, &mut forged_request(1)));
    assert_eq!(
        (status, kind.as_str()),
        (401, "urn:gateway:problem:invalid-credentials")
    );
    assert!(detail.contains("signature check limit reached"), "{detail}");
    assert_eq!(
        host.signature_checks.get(),
        3,
        "3 keys of 32 asked of the host"
    );
    assert_eq!(metric(&host, "auth_jwt_signature_host_total"), 3);
    assert_eq!(metric(&host, "auth_jwt_signature_limit_total"), 1);
    assert_eq!(metric(&host, "auth_rejected_invalid_credentials_total"), 1);

    // The same token again: the same refusal, without a check.
    let again = refusal(run(&p, &mut host, &mut forged_request(1)));
    assert_eq!(again, (status, kind, detail));
    assert_eq!(host.signature_checks.get(), 3);
    assert_eq!(metric(&host, "auth_jwt_refusal_remembered_total"), 1);
    assert_eq!(metric(&host, "auth_jwt_signature_limit_total"), 1);
    assert_eq!(metric(&host, "auth_rejected_invalid_credentials_total"), 2);

    // Each new forgery costs the limit again, never more.
    for byte in 2..6 {
        let _ = run(&p, &mut host, &mut forged_request(byte));
    }
    assert_eq!(host.signature_checks.get(), 3 * 5);
}

#[test]
fn the_limit_is_configured() {
    let mut host = FakeHost::new();
    let p = plugin(&many_keys(json!({"max_signature_checks": 32})), &mut host);
    let (status, _, detail) = refusal(run(&p, &mut host, &mut forged_request(1)));
    assert_eq!(status, 401);
    assert!(detail.contains("invalid signature"), "{detail}");
    assert_eq!(metric(&host, "auth_jwt_signature_module_total"), 32);
    assert_eq!(metric(&host, "auth_jwt_signature_limit_total"), 0);
    // The test key is the 32nd: a valid token without `kid` needs every check.
    let valid = crate::testkit::token_raw(
        Alg::Rs256,
        &json!({"alg": "RS256"}).to_string(),
        &claims("alice").to_string(),
    );
    let mut h = req(
        "GET",
        "/v1/x",
        &[("authorization", &format!("Bearer {valid}"))],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    let mut host = FakeHost::new();
    let p = plugin(&many_keys(json!({})), &mut host);
    let mut h = req(
        "GET",
        "/v1/x",
        &[("authorization", &format!("Bearer {valid}"))],
    );
    assert_eq!(
        reply(run(&p, &mut host, &mut h)).status,
        401,
        "past the default limit of 3"
    );
    // A token naming its key costs one check whatever the set holds.
    let named = token(Alg::Rs256, "rs", &claims("alice"));
    let mut h = req(
        "GET",
        "/v1/x",
        &[("authorization", &format!("Bearer {named}"))],
    );
    let before = metric(&host, "auth_jwt_signature_module_total");
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(metric(&host, "auth_jwt_signature_module_total"), before + 1);
}

#[test]
fn an_rsa_key_over_the_limit_is_a_configuration_error_inline() {
    let mut cfg = inline_example();
    cfg["jwt"]["providers"][0]["jwks"]["keys"][1] = unheld_rsa_jwk(8192, 1, "big");
    let err = AuthPlugin::configure(cfg.to_string().as_bytes(), &mut FakeHost::new()).unwrap_err();
    assert_eq!(err.field, "jwt.providers[0].jwks.keys[1].n");
    assert_eq!(
        err.message,
        "RSA modulus of 8192 bits, over jwt.max_rsa_key_bits (4096)"
    );
    cfg["jwt"]["max_rsa_key_bits"] = json!(8192);
    assert!(AuthPlugin::configure(cfg.to_string().as_bytes(), &mut FakeHost::new()).is_ok());
}

#[test]
fn an_rsa_key_over_the_limit_is_skipped_from_a_key_server() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    p.on_tick(&mut host);
    let body = json!({"keys": [unheld_rsa_jwk(8192, 1, "big"), jwk(Alg::Rs256, "k1")]});
    let token_id = host.calls.last().unwrap().0;
    p.on_call_response(token_id, ok(body.to_string()), &mut host);
    assert_eq!(metric(&host, "auth_jwks_fetch_ok_total"), 1);
    assert_eq!(metric(&host, "auth_jwks_key_skipped_total"), 1);
    let bearer = |kid: &str| {
        let mut c = claims("alice");
        c["exp"] = json!(1_767_225_600 + 300);
        format!("Bearer {}", token(Alg::Rs256, kid, &c))
    };
    let mut h = req("GET", "/v1/x", &[("authorization", &bearer("k1"))]);
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    // A token naming the skipped key asks for a refetch (its `kid` is unknown), which skips it
    // again.
    let mut h = req("GET", "/v1/x", &[("authorization", &bearer("big"))]);
    let mut s = AuthPlugin::new_stream(&p);
    assert_eq!(
        s.on_request_headers(&mut h, true, &mut host),
        Decision::Pause
    );
    let token_id = host.calls.last().unwrap().0;
    let d = s.on_call_response(token_id, ok(body.to_string()), &mut h, &mut host);
    let (status, _, detail) = refusal(d);
    assert_eq!(status, 401);
    assert!(detail.contains("unknown key id"), "{detail}");
    assert_eq!(metric(&host, "auth_jwks_key_skipped_total"), 2);
}

fn ok(body: String) -> Result<CallResponse, filter_core::CallFailure> {
    Ok(CallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body: body.into_bytes(),
    })
}

fn basic(user_password: &str) -> HeaderMap {
    let creds = base64::engine::general_purpose::STANDARD.encode(user_password);
    req(
        "GET",
        "/v1/x",
        &[("authorization", &format!("Basic {creds}"))],
    )
}

#[test]
fn a_repeated_wrong_password_costs_one_pbkdf2() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    for _ in 0..3 {
        let r = reply(run(&p, &mut host, &mut basic("alice:wrong")));
        assert_eq!(r.status, 401);
        assert!(problem(&r)["detail"]
            .as_str()
            .unwrap()
            .contains("invalid user name or password"));
    }
    assert_eq!(metric(&host, "auth_basic_password_hashed_total"), 1);
    assert_eq!(metric(&host, "auth_basic_refusal_remembered_total"), 2);
    // A wrong password costs nothing for an unknown user; the right one still passes, once hashed.
    let _ = run(&p, &mut host, &mut basic("mallory:wrong"));
    assert_eq!(metric(&host, "auth_basic_password_hashed_total"), 1);
    for _ in 0..2 {
        let mut h = basic("alice:alice-password");
        assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    }
    assert_eq!(metric(&host, "auth_basic_password_hashed_total"), 2);
    // Another wrong password is hashed once more.
    let _ = run(&p, &mut host, &mut basic("alice:wrong-2"));
    assert_eq!(metric(&host, "auth_basic_password_hashed_total"), 3);
    assert_eq!(p.basic_cache.refused_len(), 2);
}

#[test]
fn a_password_hash_over_the_iteration_limit_is_refused_at_load() {
    let mut cfg = example();
    let hash = "pbkdf2_sha256$200000$salt$OwkBzqn3nmkPUqXTPTryDe04SLvjEkZp/29DHy0sq5Q=";
    cfg["consumers"][0]["basic"]["password_hash"] = json!(hash);
    let err = AuthPlugin::configure(cfg.to_string().as_bytes(), &mut FakeHost::new()).unwrap_err();
    assert_eq!(err.field, "consumers[0].basic.password_hash");
    assert_eq!(
        err.message,
        "200000 iterations, over basic.max_iterations (100000)"
    );
    cfg["basic"]["max_iterations"] = json!(200_000);
    assert!(AuthPlugin::configure(cfg.to_string().as_bytes(), &mut FakeHost::new()).is_ok());
}

#[test]
fn one_hmac_credential_per_request() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let date = httpdate::fmt_http_date(host.now);
    let mut h = req("GET", "/signed/x", &[("date", &date)]);
    let creds = crate::signing::sign(
        "bob-hmac",
        "hmac-sha256",
        b"bob-hmac-secret-0123456789abcdef",
        &["(request-target)", "date"],
        &h,
    );
    let mut one = h.clone();
    one.add("authorization", format!("Signature {creds}"));
    assert_eq!(run(&p, &mut host, &mut one), Decision::Continue);
    // Two signatures, in one scheme or two: refused before any MAC.
    h.add("authorization", format!("Signature {creds}"));
    let mut two = h.clone();
    two.add("authorization", format!("Signature {creds}"));
    let mut both = h.clone();
    both.add("authorization", format!("hmac {creds}"));
    for mut h in [two, both] {
        let r = reply(run(&p, &mut host, &mut h));
        assert_eq!(
            (r.status, problem(&r)["type"].as_str().unwrap()),
            (400, "urn:gateway:problem:ambiguous-credentials")
        );
    }
}

#[test]
fn one_bogus_kid_asks_for_one_refetch_per_interval_in_a_worker() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let respond = |p: &Rc<AuthPlugin>, host: &mut FakeHost| {
        let token_id = host.calls.last().unwrap().0;
        let body = json!({"keys": [jwk(Alg::EdDsa, "k1")]});
        p.on_call_response(token_id, ok(body.to_string()), host);
    };
    p.on_tick(&mut host);
    respond(&p, &mut host);
    let bearer = |kid: &str, host: &FakeHost| {
        let now = host.now.duration_since(std::time::UNIX_EPOCH).unwrap();
        let mut c = claims("alice");
        c["exp"] = json!(now.as_secs() + 300);
        req(
            "GET",
            "/v1/x",
            &[(
                "authorization",
                &format!("Bearer {}", token(Alg::EdDsa, kid, &c)),
            )],
        )
    };
    let mut s = AuthPlugin::new_stream(&p);
    let mut h = bearer("bogus", &host);
    assert_eq!(
        s.on_request_headers(&mut h, true, &mut host),
        Decision::Pause
    );
    let calls = host.calls.len();
    // The provider's shared limit forgotten (another process, a lost store): the `kid` still
    // asks no more within the interval, while another `kid` may.
    host.shared.borrow_mut().remove("auth.jwks.main.state");
    let mut h = bearer("bogus", &host);
    let (status, _, detail) = refusal(run(&p, &mut host, &mut h));
    assert_eq!(status, 401);
    assert!(detail.contains("unknown key id"), "{detail}");
    assert_eq!(
        host.calls.len(),
        calls,
        "no second refetch for the same kid"
    );
    let mut s2 = AuthPlugin::new_stream(&p);
    let mut h2 = bearer("other", &host);
    assert_eq!(
        s2.on_request_headers(&mut h2, true, &mut host),
        Decision::Pause
    );
    assert_eq!(host.calls.len(), calls + 1);
    // After the interval (30 s in the example) the same kid may ask again.
    host.advance(Duration::from_secs(30));
    host.shared.borrow_mut().remove("auth.jwks.main.state");
    let mut s3 = AuthPlugin::new_stream(&p);
    let mut h3 = bearer("bogus", &host);
    assert_eq!(
        s3.on_request_headers(&mut h3, true, &mut host),
        Decision::Pause
    );
}
