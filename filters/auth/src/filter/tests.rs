//! Filter tests through `Plugin`/`Stream` with `FakeHost`: API keys, rules, ACLs, identity,
//! JWT (inline keys), basic and HMAC credentials, and every refusal's reply and metric.
#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;
use std::time::Duration;

use filter_core::testing::{problem, reply};
use filter_core::{Decision, FakeHost, HeaderMap, Plugin, Stream};
use serde_json::{json, Value};

use super::AuthPlugin;
use crate::jwt::alg::Alg;
use crate::testkit::{jwk, token};

pub const EXAMPLE: &str = include_str!("../../example.json");

pub fn example() -> Value {
    serde_json::from_str(EXAMPLE).unwrap()
}

/// The example with inline keys (every test algorithm) instead of the remote JWKS.
pub fn inline_example() -> Value {
    let mut cfg = example();
    let p = &mut cfg["jwt"]["providers"][0];
    p.as_object_mut().unwrap().remove("remote_jwks");
    p["jwks"] =
        json!({"keys": [jwk(Alg::Rs256, "rs"), jwk(Alg::Es256, "es"), jwk(Alg::EdDsa, "ed")]});
    p["claims_to_headers"] = json!([
        {"claim": "sub", "header": "x-jwt-sub"},
        {"claim": "roles", "header": "x-jwt-roles"},
        {"claim": "realm.tier", "header": "x-jwt-tier"}
    ]);
    cfg
}

pub fn plugin(cfg: &Value, host: &mut FakeHost) -> Rc<AuthPlugin> {
    Rc::new(AuthPlugin::configure(cfg.to_string().as_bytes(), host).unwrap())
}

pub fn req(method: &str, path: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let mut pairs = vec![
        (":method", method.to_string()),
        (":path", path.to_string()),
        (":authority", "api.example".to_string()),
    ];
    pairs.extend(extra.iter().map(|(n, v)| (*n, v.to_string())));
    HeaderMap::from_pairs(pairs.into_iter().map(|(n, v)| (n, v.into_bytes())))
}

/// Runs request headers (end of stream) through a new stream.
pub fn run(p: &Rc<AuthPlugin>, host: &mut FakeHost, headers: &mut HeaderMap) -> Decision {
    let mut s = AuthPlugin::new_stream(p);
    s.on_request_headers(headers, true, host)
}

pub fn claims(sub: &str) -> Value {
    json!({"iss": "https://issuer.example", "aud": ["gateway"], "sub": sub, "exp": 1_767_225_600 + 300})
}

#[test]
fn api_key_sets_identity_and_strips_the_key() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut h = req("GET", "/v1/items?api_key=x&keep=1", &[]);
    let mut h2 = req(
        "GET",
        "/v1/items",
        &[
            ("x-api-key", "alice-key-123"),
            ("x-gateway-consumer", "mallory"),
            ("x-gateway-plan", "gold"),
            ("x-gateway-credential", "jwt"),
        ],
    );
    assert!(
        matches!(run(&p, &mut host, &mut h), Decision::Respond(_)),
        "unknown key in the query"
    );
    assert_eq!(run(&p, &mut host, &mut h2), Decision::Continue);
    assert_eq!(h2.get_str("x-gateway-consumer"), Some("alice"));
    assert_eq!(h2.get_str("x-gateway-plan"), Some("gold"));
    assert_eq!(h2.get_str("x-gateway-groups"), Some("staff,beta"));
    assert_eq!(h2.get_str("x-gateway-credential"), Some("api-key"));
    assert_eq!(h2.count("x-gateway-consumer"), 1, "the forged copy is gone");
    assert!(!h2.contains("x-api-key"), "key stripped");
    assert_eq!(
        host.properties.get("gateway.consumer").map(Vec::as_slice),
        Some(&b"alice"[..])
    );
    assert_eq!(host.metric("auth_allowed_api_key_total"), Some(1));
    assert_eq!(
        host.metric("auth_rejected_invalid_credentials_total"),
        Some(1)
    );

    let mut q = req("GET", "/v1/items?api_key=bob-key-456&keep=1", &[]);
    assert_eq!(run(&p, &mut host, &mut q), Decision::Continue);
    assert_eq!(
        q.get_str(":path"),
        Some("/v1/items?keep=1"),
        "query key stripped"
    );
    assert_eq!(q.get_str("x-gateway-consumer"), Some("bob"));
    assert_eq!(q.get_str("x-gateway-plan"), Some("free"));
}

#[test]
fn refusals_have_the_right_status_problem_and_metric() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let cases: Vec<(HeaderMap, u16, &str, &str)> = vec![
        (
            req("GET", "/v1/x", &[]),
            401,
            "missing-credentials",
            "auth_rejected_missing_credentials_total",
        ),
        (
            req("GET", "/v1/x", &[("x-api-key", "wrong-key")]),
            401,
            "invalid-credentials",
            "auth_rejected_invalid_credentials_total",
        ),
        (
            req("GET", "/v1/x", &[("x-api-key", "bob-old-key")]),
            401,
            "invalid-credentials",
            "auth_rejected_invalid_credentials_total",
        ),
        (
            req(
                "GET",
                "/v1/x",
                &[
                    ("x-api-key", "alice-key-123"),
                    ("x-api-key", "alice-key-123"),
                ],
            ),
            400,
            "ambiguous-credentials",
            "auth_rejected_ambiguous_credentials_total",
        ),
        (
            req(
                "GET",
                "/v1/x?api_key=bob-key-456",
                &[("x-api-key", "alice-key-123")],
            ),
            400,
            "ambiguous-credentials",
            "auth_rejected_ambiguous_credentials_total",
        ),
        (
            req(
                "GET",
                "/v1/x",
                &[
                    ("authorization", "Bearer a.b.c"),
                    ("authorization", "Bearer d.e.f"),
                ],
            ),
            400,
            "ambiguous-credentials",
            "auth_rejected_ambiguous_credentials_total",
        ),
        (
            req(
                "GET",
                "/v1/x",
                &[
                    ("x-api-key", "alice-key-123"),
                    ("authorization", "Bearer a.b.c"),
                ],
            ),
            400,
            "ambiguous-credentials",
            "auth_rejected_ambiguous_credentials_total",
        ),
        (
            req("GET", "/admin/x", &[("x-api-key", "bob-key-456")]),
            403,
            "access-denied",
            "auth_rejected_access_denied_total",
        ),
        (
            req("GET", "/health/../admin", &[]),
            400,
            "ambiguous-path",
            "auth_rejected_bad_path_total",
        ),
        (
            req("GET", "/v1/x", &[("authorization", "Bearer not-a-jwt")]),
            401,
            "invalid-credentials",
            "auth_rejected_invalid_credentials_total",
        ),
    ];
    for (mut h, status, kind, metric) in cases {
        let before = host.metric(metric).unwrap_or(0);
        let r = reply(run(&p, &mut host, &mut h));
        assert_eq!(r.status, status, "{kind}");
        let body = problem(&r);
        assert_eq!(body["type"], format!("urn:gateway:problem:{kind}"));
        assert_eq!(host.metric(metric), Some(before + 1), "{metric}");
        for secret in [
            "alice-key-123",
            "bob-key-456",
            "wrong-key",
            "bob-old-key",
            "not-a-jwt",
        ] {
            assert!(
                !String::from_utf8_lossy(&r.body).contains(secret),
                "no secret in the body"
            );
            assert!(
                !r.headers.iter().any(|(_, v)| v.contains(secret)),
                "no secret in headers"
            );
        }
        assert!(
            !h.contains("x-gateway-consumer"),
            "no identity on a refusal"
        );
    }
    let mut h = req("GET", "/v1/x", &[]);
    let r = reply(run(&p, &mut host, &mut h));
    let challenge = r.get_header("www-authenticate").unwrap();
    for scheme in [
        "ApiKey realm=\"gateway\"",
        "Bearer realm=\"gateway\"",
        "Basic realm=\"gateway\"",
        "Signature realm=\"gateway\"",
    ] {
        assert!(challenge.contains(scheme), "{challenge} offers {scheme}");
    }
    assert_eq!(r.details, "gateway_missing_credentials");
}

#[test]
fn public_rules_and_no_rule() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut h = req(
        "GET",
        "/health",
        &[
            ("x-gateway-consumer", "mallory"),
            ("x-gateway-groups", "staff"),
        ],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert!(
        !h.contains("x-gateway-consumer") && !h.contains("x-gateway-groups"),
        "forged identity removed on public routes"
    );
    assert_eq!(host.metric("auth_public_total"), Some(1));
    let mut cfg = example();
    cfg["rules"] = json!([{"prefix": "/health", "methods": ["GET"], "public": true}]);
    let p = plugin(&cfg, &mut host);
    for (method, path) in [("POST", "/health"), ("GET", "/other"), ("GET", "/healthz")] {
        let r = reply(run(&p, &mut host, &mut req(method, path, &[])));
        assert_eq!(r.status, 403, "{method} {path}");
        assert_eq!(problem(&r)["type"], "urn:gateway:problem:no-matching-rule");
    }
    let mut connect = HeaderMap::from_pairs([(":method", "CONNECT"), (":authority", "x:443")]);
    assert_eq!(
        reply(run(&p, &mut host, &mut connect)).status,
        400,
        "no :path"
    );
}

#[test]
fn anonymous_consumer_and_acl() {
    let mut host = FakeHost::new();
    let mut cfg = example();
    cfg["consumers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "guest", "plan": "free", "groups": ["anonymous"]}));
    cfg["rules"] = json!([
        {"prefix": "/open", "any_of": ["api-key"], "anonymous": "guest"},
        {"prefix": "/staff", "any_of": ["api-key"], "anonymous": "guest", "allow_groups": ["staff"]},
        {"prefix": "/", "any_of": ["api-key"], "deny_groups": ["partners"]}
    ]);
    let p = plugin(&cfg, &mut host);
    let mut h = req("GET", "/open/x", &[]);
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(h.get_str("x-gateway-consumer"), Some("guest"));
    assert_eq!(h.get_str("x-gateway-credential"), Some("anonymous"));
    assert_eq!(host.metric("auth_anonymous_total"), Some(1));
    let r = reply(run(
        &p,
        &mut host,
        &mut req("GET", "/open/x", &[("x-api-key", "nope")]),
    ));
    assert_eq!(r.status, 401, "a wrong credential is not anonymous");
    assert_eq!(
        reply(run(&p, &mut host, &mut req("GET", "/staff", &[]))).status,
        403,
        "anonymous still passes the ACL"
    );
    assert_eq!(
        run(
            &p,
            &mut host,
            &mut req("GET", "/staff", &[("x-api-key", "alice-key-123")])
        ),
        Decision::Continue
    );
    assert_eq!(
        reply(run(
            &p,
            &mut host,
            &mut req("GET", "/x", &[("x-api-key", "bob-key-456")])
        ))
        .status,
        403,
        "denied group"
    );
    assert_eq!(
        run(
            &p,
            &mut host,
            &mut req("GET", "/x", &[("x-api-key", "alice-key-123")])
        ),
        Decision::Continue
    );
}

#[test]
fn jwt_claims_reach_headers_and_the_token_is_stripped() {
    let mut host = FakeHost::new();
    let p = plugin(&inline_example(), &mut host);
    let mut c = claims("alice");
    c["roles"] = json!(["reader", "writer"]);
    c["realm"] = json!({"tier": "gold"});
    for alg in [Alg::Rs256, Alg::Es256, Alg::EdDsa] {
        let kid = match alg {
            Alg::Rs256 => "rs",
            Alg::Es256 => "es",
            _ => "ed",
        };
        let bearer = format!("Bearer {}", token(alg, kid, &c));
        let mut h = req(
            "GET",
            "/v1/x",
            &[
                ("authorization", &bearer),
                ("x-jwt-roles", "forged"),
                ("x-jwt-tier", "forged"),
            ],
        );
        assert_eq!(
            run(&p, &mut host, &mut h),
            Decision::Continue,
            "{}",
            alg.as_str()
        );
        assert_eq!(h.get_str("x-gateway-consumer"), Some("alice"));
        assert_eq!(h.get_str("x-gateway-credential"), Some("jwt"));
        assert_eq!(h.get_str("x-jwt-sub"), Some("alice"));
        assert_eq!(
            h.get_str("x-jwt-roles"),
            Some("reader,writer"),
            "array claim"
        );
        assert_eq!(h.get_str("x-jwt-tier"), Some("gold"), "nested claim");
        assert_eq!(h.count("x-jwt-roles"), 1);
        assert!(!h.contains("authorization"), "token not forwarded");
    }
    // A token without the optional claims: forged claim headers are still removed.
    let bearer = format!("Bearer {}", token(Alg::Es256, "es", &claims("bob")));
    let mut h = req(
        "GET",
        "/v1/x",
        &[("authorization", &bearer), ("x-jwt-roles", "admin")],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert!(!h.contains("x-jwt-roles"), "forged claim header removed");
    // From a cookie, kept when forwarding.
    let mut cfg = inline_example();
    cfg["jwt"]["forward"] = json!(true);
    let p = plugin(&cfg, &mut host);
    let cookie = format!(
        "a=1; access_token={}",
        token(Alg::Rs256, "rs", &claims("alice"))
    );
    let mut h = req("GET", "/v1/x", &[("cookie", &cookie)]);
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(h.get_str("cookie"), Some(cookie.as_str()), "forwarded");
}

#[test]
fn jwt_refusals_use_bearer_error_codes() {
    let mut host = FakeHost::new();
    let p = plugin(&inline_example(), &mut host);
    let mut expired = claims("alice");
    expired["exp"] = json!(1_000);
    let cases = [
        (token(Alg::Rs256, "rs", &expired), "token expired"),
        (
            token(Alg::Rs256, "nope", &claims("alice")),
            "unknown key id",
        ),
        (
            token(Alg::Rs256, "rs", &claims("mallory")),
            "unknown consumer",
        ),
    ];
    for (t, why) in cases {
        let r = reply(run(
            &p,
            &mut host,
            &mut req("GET", "/v1/x", &[("authorization", &format!("Bearer {t}"))]),
        ));
        assert_eq!(r.status, 401);
        let c = r.get_header("www-authenticate").unwrap();
        assert!(
            c.starts_with("Bearer realm=\"gateway\", error=\"invalid_token\""),
            "{c}"
        );
        assert!(c.contains(why), "{c} says {why}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains(&t),
            "token not echoed"
        );
    }
    let big = format!("Bearer {}", "a".repeat(9000));
    assert_eq!(
        reply(run(
            &p,
            &mut host,
            &mut req("GET", "/v1/x", &[("authorization", &big)])
        ))
        .status,
        401
    );
    let r = reply(run(
        &p,
        &mut host,
        &mut req("GET", "/v1/x", &[("authorization", "Bearer \u{ff}\u{fe}")]),
    ));
    assert_eq!(r.status, 401, "non-UTF-8 token bytes");
}

#[test]
fn unknown_jwt_subjects_when_allowed() {
    let mut host = FakeHost::new();
    let mut cfg = inline_example();
    let p0 = &mut cfg["jwt"]["providers"][0];
    p0["allow_unknown_consumers"] = json!(true);
    p0["unknown_consumer_plan"] = json!("free");
    p0["groups_claim"] = json!("groups");
    let p = plugin(&cfg, &mut host);
    let mut c = claims("carol");
    c["groups"] = json!(["partners", "bad group", "beta"]);
    let mut h = req(
        "GET",
        "/v1/x",
        &[(
            "authorization",
            &format!("Bearer {}", token(Alg::Rs256, "rs", &c)),
        )],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(h.get_str("x-gateway-consumer"), Some("carol"));
    assert_eq!(h.get_str("x-gateway-plan"), Some("free"));
    assert_eq!(
        h.get_str("x-gateway-groups"),
        Some("partners,beta"),
        "invalid group names dropped"
    );
    let mut bad = claims("carol\r\nx: y");
    bad["groups"] = json!([]);
    let mut h = req(
        "GET",
        "/v1/x",
        &[(
            "authorization",
            &format!("Bearer {}", token(Alg::Rs256, "rs", &bad)),
        )],
    );
    assert_eq!(
        reply(run(&p, &mut host, &mut h)).status,
        401,
        "unsafe subject refused"
    );
}

#[test]
fn all_of_needs_one_consumer() {
    let mut host = FakeHost::new();
    let mut cfg = inline_example();
    cfg["rules"] = json!([{"prefix": "/", "all_of": ["api-key", "jwt"]}]);
    let p = plugin(&cfg, &mut host);
    let t = token(Alg::Rs256, "rs", &claims("alice"));
    let bearer = format!("Bearer {t}");
    let mut h = req(
        "GET",
        "/x",
        &[("x-api-key", "alice-key-123"), ("authorization", &bearer)],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(h.get_str("x-gateway-credential"), Some("api-key"));
    assert!(
        !h.contains("x-api-key") && !h.contains("authorization"),
        "both stripped"
    );
    let r = reply(run(
        &p,
        &mut host,
        &mut req(
            "GET",
            "/x",
            &[("x-api-key", "bob-key-456"), ("authorization", &bearer)],
        ),
    ));
    assert_eq!(
        (r.status, problem(&r)["type"].as_str().unwrap()),
        (401, "urn:gateway:problem:credential-mismatch")
    );
    let r = reply(run(
        &p,
        &mut host,
        &mut req("GET", "/x", &[("x-api-key", "alice-key-123")]),
    ));
    assert_eq!(r.status, 401, "one of two missing");
}

#[test]
fn basic_credentials() {
    use base64::Engine as _;
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let b = |s: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    };
    let mut h = req(
        "GET",
        "/v1/x",
        &[("authorization", &b("alice:alice-password"))],
    );
    assert_eq!(run(&p, &mut host, &mut h), Decision::Continue);
    assert_eq!(h.get_str("x-gateway-consumer"), Some("alice"));
    assert_eq!(h.get_str("x-gateway-credential"), Some("basic"));
    assert!(!h.contains("authorization"));
    let r = reply(run(
        &p,
        &mut host,
        &mut req("GET", "/v1/x", &[("authorization", &b("alice:nope"))]),
    ));
    assert_eq!(r.status, 401);
    assert!(r
        .get_header("www-authenticate")
        .unwrap()
        .starts_with("Basic realm=\"gateway\""));
    host.advance(Duration::from_secs(10));
    assert_eq!(
        run(
            &p,
            &mut host,
            &mut req(
                "GET",
                "/v1/x",
                &[("authorization", &b("alice:alice-password"))]
            )
        ),
        Decision::Continue,
        "cached"
    );
}

#[test]
fn hmac_signed_requests_with_body_digest() {
    use sha2::Digest as _;
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let secret = b"bob-hmac-secret-0123456789abcdef";
    let date = httpdate::fmt_http_date(host.now);
    let body = b"{\"amount\":10}";
    let digest = format!(
        "SHA-256={}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            sha2::Sha256::digest(body)
        )
    );
    let mut h = req(
        "POST",
        "/signed/pay",
        &[("date", &date), ("digest", &digest)],
    );
    let creds = crate::signing::sign(
        "bob-hmac",
        "hmac-sha256",
        secret,
        &["(request-target)", "date", "digest"],
        &h,
    );
    h.add("authorization", format!("Signature {creds}"));

    // With a body: the headers go on with the identity (Envoy forwards them before a filter
    // sees the body), and the body is held until it is complete, then checked.
    let mut s = AuthPlugin::new_stream(&p);
    let mut h1 = h.clone();
    assert_eq!(
        s.on_request_headers(&mut h1, false, &mut host),
        Decision::Continue
    );
    assert!(s.wants_request_body(), "the digest needs the body");
    assert_eq!(h1.get_str("x-gateway-consumer"), Some("bob"));
    assert_eq!(h1.get_str("x-gateway-credential"), Some("hmac"));
    assert!(!h1.contains("authorization"));
    assert_eq!(s.on_request_body(body, &h1, &mut host), Decision::Continue);

    let mut s = AuthPlugin::new_stream(&p);
    let mut h2 = h.clone();
    assert_eq!(
        s.on_request_headers(&mut h2, false, &mut host),
        Decision::Continue
    );
    let r = reply(s.on_request_body(b"{\"amount\":1000}", &h2, &mut host));
    assert_eq!(
        r.status, 401,
        "tampered body: refused before the upstream sees any body byte"
    );

    // Headers only: the (empty) body must match right away.
    let r = reply(run(&p, &mut host, &mut h.clone()));
    assert_eq!(r.status, 401, "digest of a body that never came");

    // A stale date.
    host.advance(Duration::from_secs(301));
    let mut s = AuthPlugin::new_stream(&p);
    let r = reply(s.on_request_headers(&mut h.clone(), false, &mut host));
    assert_eq!(r.status, 401, "outside the clock skew");
    assert!(r
        .get_header("www-authenticate")
        .unwrap()
        .starts_with("Signature realm=\"gateway\""));
}

#[test]
fn many_and_huge_headers_are_handled() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let huge = "k".repeat(64 * 1024);
    let noise: Vec<(String, String)> = (0..150)
        .map(|i| (format!("x-noise-{i}"), "v".repeat(100)))
        .collect();
    let mut extra: Vec<(&str, &str)> = noise
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    extra.push(("x-api-key", "alice-key-123"));
    assert_eq!(
        run(&p, &mut host, &mut req("GET", "/v1/x", &extra)),
        Decision::Continue,
        "150 headers"
    );
    let bearer = format!("Bearer {huge}");
    let basic = format!("Basic {huge}");
    let sig = format!("Signature {huge}");
    let cookie = format!("access_token={huge}");
    let path = format!("/v1/x?api_key={huge}");
    let cases: Vec<HeaderMap> = vec![
        req("GET", "/v1/x", &[("x-api-key", &huge)]),
        req("GET", "/v1/x", &[("authorization", &bearer)]),
        req("GET", "/v1/x", &[("authorization", &basic)]),
        req("GET", "/v1/x", &[("authorization", &sig)]),
        req("GET", "/v1/x", &[("cookie", &cookie)]),
        req("GET", &path, &[]),
        HeaderMap::from_pairs([
            (":method", b"GET".to_vec()),
            (":path", b"/v1/x".to_vec()),
            ("x-api-key", b"\xC0\xA7\xC0\xA2".to_vec()),
        ]),
    ];
    for (i, mut h) in cases.into_iter().enumerate() {
        let d = run(&p, &mut host, &mut h);
        let r = reply(d);
        assert!(
            r.status == 401 || r.status == 400 || r.status == 403,
            "case {i}: {}",
            r.status
        );
        assert!(r.body.len() < 2048, "case {i}: the value is not echoed");
    }
    let mut h = HeaderMap::from_pairs([
        (":method", b"GET".to_vec()),
        (":path", b"/v1/\xff".to_vec()),
        ("x-api-key", b"alice-key-123".to_vec()),
    ]);
    assert_eq!(
        run(&p, &mut host, &mut h),
        Decision::Continue,
        "non-UTF-8 path bytes are matched as bytes"
    );
}

#[test]
fn verified_tokens_are_remembered_but_still_expire_and_match_exactly() {
    let mut host = FakeHost::new();
    let p = plugin(&inline_example(), &mut host);
    let jwt = token(Alg::Rs256, "rs", &claims("alice"));
    let bearer = format!("Bearer {jwt}");
    for round in 0..2 {
        let mut h = req("GET", "/v1/x", &[("authorization", &bearer)]);
        assert_eq!(run(&p, &mut host, &mut h), Decision::Continue, "{round}");
        assert_eq!(h.get_str("x-gateway-consumer"), Some("alice"), "{round}");
        assert_eq!(
            h.get_str("x-jwt-sub"),
            Some("alice"),
            "claims from the cache"
        );
        assert_eq!(p.tokens.len(), 1, "one entry for one token");
    }
    // A different signature over the same header and claims is not the remembered token.
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("Bearer {input}.{flipped}{}", &sig[1..]);
    let mut h = req("GET", "/v1/x", &[("authorization", &forged)]);
    assert_eq!(reply(run(&p, &mut host, &mut h)).status, 401);
    assert_eq!(p.tokens.len(), 1, "refusals are not remembered");
    // Past `exp` (300 s) and the example's 60 s leeway the remembered token is refused.
    host.advance(Duration::from_secs(361));
    let mut h = req("GET", "/v1/x", &[("authorization", &bearer)]);
    let r = reply(run(&p, &mut host, &mut h));
    assert_eq!(r.status, 401);
    assert!(
        problem(&r)["detail"].as_str().unwrap().contains("expired"),
        "{:?}",
        problem(&r)
    );
}

#[test]
fn the_token_cache_is_bounded() {
    use crate::jwt::cache::TOKEN_CACHE_ENTRIES;
    let mut host = FakeHost::new();
    let p = plugin(&inline_example(), &mut host);
    let send = |sub: &str, host: &mut FakeHost| {
        let bearer = format!("Bearer {}", token(Alg::EdDsa, "ed", &claims(sub)));
        let mut h = req("GET", "/v1/x", &[("authorization", &bearer)]);
        // Unknown subjects are refused, but their signatures did verify: they are remembered.
        run(&p, host, &mut h)
    };
    for i in 0..TOKEN_CACHE_ENTRIES {
        let _ = send(&format!("u{i}"), &mut host);
    }
    assert_eq!(p.tokens.len(), TOKEN_CACHE_ENTRIES);
    assert_eq!(send("alice", &mut host), Decision::Continue);
    assert_eq!(p.tokens.len(), 1, "full: started over");
}

mod bounds;
mod jwks;
