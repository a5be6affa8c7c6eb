//! The real `filter_auth.wasm` in host-test (wasmtime, Envoy's ABI semantics): identity headers
//! seen by the upstream, refusals, the remote JWKS (cold-start fetch, shared data across
//! workers, refresh on tick, unknown-`kid` refetch, outage) through scripted callouts and
//! virtual time, and HMAC body digests through buffered bodies.
#![cfg(not(target_arch = "wasm32"))]
// Test helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use host_test::{CallReply, FilterSpec, Gateway, Harness, Request, Response, StreamId};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../example.json");
/// 2026-01-01T00:00:00Z.
const START: u64 = 1_767_225_600;

/// The portable build (default features); host-test builds each module once per process.
fn wasm() -> PathBuf {
    host_test::build::cargo_wasm_target("filter-auth", filter_core::WASM_TARGET).unwrap()
}

fn harness(workers: usize) -> Harness {
    Harness::new()
        .filter(FilterSpec::wasm(wasm()).name("auth").config(EXAMPLE))
        .workers(workers)
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
}

fn now(gw: &Gateway) -> u64 {
    gw.now_ns() / 1_000_000_000
}

fn signing_key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn jwks(keys: &[(&str, u8)]) -> Vec<u8> {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, seed)| {
            let x = URL_SAFE_NO_PAD.encode(signing_key(*seed).verifying_key().as_bytes());
            json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid, "x": x})
        })
        .collect();
    json!({ "keys": keys }).to_string().into_bytes()
}

fn jwt(kid: &str, seed: u8, sub: &str, now: u64) -> String {
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let claims = json!({"iss": "https://issuer.example", "aud": "gateway", "sub": sub, "exp": now + 300, "scope": "read write"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signing_key(seed).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn bearer(kid: &str, seed: u8, gw: &Gateway) -> String {
    format!("Bearer {}", jwt(kid, seed, "alice", now(gw)))
}

fn problem_type(out: &host_test::Outcome) -> String {
    let reply = out.local_reply().expect("a local reply");
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    body["type"].as_str().unwrap().to_owned()
}

#[test]
fn api_keys_set_identity_for_the_upstream() {
    let mut gw = harness(1).cluster("jwks").build().unwrap();
    let out = gw
        .request(
            Request::get("/v1/items?api_key=alice-key-123&page=2")
                .header("x-gateway-consumer", "mallory")
                .header("x-gateway-groups", "admins"),
        )
        .respond_with(Response::ok().body("hello"))
        .unwrap();
    assert_eq!(out.status(), 200);
    let up = out.upstream_request();
    assert_eq!(up.header("x-gateway-consumer"), Some("alice"));
    assert_eq!(up.header("x-gateway-plan"), Some("gold"));
    assert_eq!(up.header("x-gateway-groups"), Some("staff,beta"));
    assert_eq!(up.header("x-gateway-credential"), Some("api-key"));
    assert_eq!(
        up.header(":path"),
        Some("/v1/items?page=2"),
        "key stripped from the query"
    );
    assert_eq!(gw.metric("auth_allowed_api_key_total"), Some(1));

    let out = gw
        .request(
            Request::get("/v1/items")
                .header("x-api-key", "wrong")
                .header("x-gateway-consumer", "alice"),
        )
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 401);
    assert!(!out.reached_upstream());
    assert_eq!(
        problem_type(&out),
        "urn:gateway:problem:invalid-credentials"
    );
    let reply = out.local_reply().unwrap();
    assert_eq!(reply.details, "gateway_invalid_credentials");
    assert!(reply
        .headers
        .get("www-authenticate")
        .unwrap()
        .starts_with("ApiKey realm=\"gateway\""));

    let out = gw
        .request(Request::get("/admin/users").header("x-api-key", "bob-key-456"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 403, "bob is not staff");
    let out = gw
        .request(Request::get("/health"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200, "public");
    let out = gw
        .request(Request::get("/health/../admin"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 400);
    let big = "k".repeat(64 * 1024);
    let out = gw
        .request(Request::get("/v1/x").header("x-api-key", &big))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 401);
    assert_eq!(gw.vm_failure("auth", 0), None, "no trap");
}

#[test]
fn jwks_cold_start_fetch_serves_every_worker() {
    let mut gw = harness(2).cluster("jwks").build().unwrap();
    let auth = bearer("k1", 1, &gw);
    let out = gw
        .request(
            Request::get("/v1/items")
                .header("authorization", &auth)
                .on_worker(0),
        )
        .respond_with(Response::ok())
        .unwrap();
    assert!(!out.finished, "paused on the JWKS fetch");
    let calls = gw.pending_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].cluster, "jwks");
    assert_eq!(calls[0].header(":path"), Some("/jwks.json"));
    gw.reply_call(calls[0].id, CallReply::ok(jwks(&[("k1", 1)])))
        .unwrap();
    let out = gw.outcome(StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 200);
    let up = out.upstream_request();
    assert_eq!(up.header("x-gateway-consumer"), Some("alice"));
    assert_eq!(up.header("x-gateway-credential"), Some("jwt"));
    assert_eq!(up.header("x-jwt-scope"), Some("read write"));
    assert_eq!(up.header("authorization"), None, "token not forwarded");
    assert!(
        gw.shared_data("", "auth.jwks.main").is_some(),
        "keys in shared data"
    );

    let out = gw
        .request(
            Request::get("/v1/items")
                .header("authorization", &auth)
                .on_worker(1),
        )
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200, "the other worker uses the shared keys");
    assert_eq!(gw.calls().len(), 1, "one fetch for every worker");
}

/// Three requests for one token on a worker that has no keys yet, all paused.
fn three_waiting(gw: &mut Gateway) -> Vec<u64> {
    let auth = bearer("k1", 1, gw);
    (0..3)
        .map(|_| {
            let out = gw
                .request(Request::get("/v1/items").header("authorization", &auth))
                .respond_with(Response::ok())
                .unwrap();
            out.stream
        })
        .collect()
}

#[test]
fn requests_arriving_during_the_first_fetch_wait_for_it() {
    // A start under load: requests on a worker whose fetch is running join it (Envoy wakes each
    // from the fetch's answer), instead of getting 503 until the keys land.
    let mut gw = harness(1).cluster("jwks").build().unwrap();
    let streams = three_waiting(&mut gw);
    let calls = gw.pending_calls();
    assert_eq!(calls.len(), 1, "one fetch");
    for s in &streams {
        assert!(!gw.outcome(StreamId(*s)).unwrap().finished, "paused");
    }
    gw.reply_call(calls[0].id, CallReply::ok(jwks(&[("k1", 1)])))
        .unwrap();
    // The one that fetched goes on at once; the others on the tick the adapter asks for (1 ms).
    assert_eq!(gw.outcome(StreamId(streams[0])).unwrap().status(), 200);
    assert!(!gw.outcome(StreamId(streams[1])).unwrap().finished);
    gw.advance(Duration::from_millis(1)).unwrap();
    for s in streams {
        let out = gw.outcome(StreamId(s)).unwrap();
        assert_eq!(out.status(), 200, "stream {s}");
        let up = out.upstream_request();
        assert_eq!(up.header("x-gateway-consumer"), Some("alice"));
    }
    assert_eq!(gw.metric("auth_jwks_fetch_joined_total"), Some(2));
    assert_eq!(gw.metric("auth_jwks_fetch_ok_total"), Some(1));
    assert_eq!(gw.vm_failure("auth", 0), None);
}

#[test]
fn on_nginx_requests_during_the_first_fetch_are_refused_not_left_waiting() {
    // ngx_wasm_module cannot resume one request from another's callback: the others get 503
    // at once (never a request waiting forever), and the one that fetched is admitted.
    // ngx_wasm_module dials `host:port` callout upstreams itself.
    let config = EXAMPLE.replace(r#""cluster": "jwks""#, r#""cluster": "127.0.0.1:9100""#);
    assert_ne!(config, EXAMPLE);
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(wasm()).name("auth").config(config))
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
        .profile(host_test::HostProfile::Nginx)
        .build()
        .unwrap();
    let streams = three_waiting(&mut gw);
    let calls = gw.pending_calls();
    assert_eq!(calls.len(), 1);
    gw.reply_call(calls[0].id, CallReply::ok(jwks(&[("k1", 1)])))
        .unwrap();
    let statuses: Vec<u16> = streams
        .iter()
        .map(|s| gw.outcome(StreamId(*s)).unwrap().status())
        .collect();
    assert_eq!(statuses, [200, 503, 503]);
}

#[test]
fn jwks_outage_is_503_and_stale_keys_keep_serving() {
    let mut gw = harness(1).cluster("jwks").build().unwrap();
    let auth = bearer("k1", 1, &gw);
    let out = gw
        .request(Request::get("/v1/x").header("authorization", &auth))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls()[0].id;
    gw.fail_call(call).unwrap();
    let out = gw.outcome(StreamId(out.stream)).unwrap();
    assert_eq!(out.status(), 503, "no keys at all: 503, not 401");
    assert_eq!(problem_type(&out), "urn:gateway:problem:keys-unavailable");
    assert_eq!(
        out.local_reply().unwrap().headers.get("retry-after"),
        Some("1")
    );

    // The next tick after the retry interval fetches in the background.
    gw.advance(Duration::from_secs(2)).unwrap();
    let call = gw.pending_calls();
    assert_eq!(call.len(), 1, "background fetch on tick");
    assert_eq!(call[0].stream, None, "from the root context");
    gw.reply_call(call[0].id, CallReply::ok(jwks(&[("k1", 1)])))
        .unwrap();
    let auth = bearer("k1", 1, &gw);
    let out = gw
        .request(Request::get("/v1/x").header("authorization", &auth))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);

    // Past the TTL the refresh fails (a timeout is a 504 reply): the old keys keep serving.
    gw.advance(Duration::from_secs(601)).unwrap();
    for call in gw.pending_calls() {
        gw.reply_call(call.id, CallReply::status(504)).unwrap();
    }
    let auth = bearer("k1", 1, &gw);
    let out = gw
        .request(Request::get("/v1/x").header("authorization", &auth))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200, "stale keys served");
    assert!(gw.metric("auth_jwks_fetch_failed_total").unwrap_or(0) >= 2);
}

#[test]
fn rotation_refetches_on_unknown_kid_at_a_bounded_rate() {
    let served = Arc::new(Mutex::new(jwks(&[("k1", 1)])));
    let body = Arc::clone(&served);
    let mut gw = harness(1)
        .responder("jwks", move |_| {
            Some(CallReply::ok(body.lock().unwrap().clone()))
        })
        .build()
        .unwrap();
    gw.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(gw.calls().len(), 1, "first tick fetched");
    let out = gw
        .request(Request::get("/v1/x").header("authorization", &bearer("k1", 1, &gw)))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);

    *served.lock().unwrap() = jwks(&[("k1", 1), ("k2", 2)]);
    let out = gw
        .request(Request::get("/v1/x").header("authorization", &bearer("k2", 2, &gw)))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200, "new kid fetched on demand");
    assert_eq!(gw.calls().len(), 2);
    assert_eq!(gw.metric("auth_jwks_unknown_kid_fetch_total"), Some(1));

    for i in 0..10 {
        let auth = bearer(&format!("random-{i}"), 9, &gw);
        let out = gw
            .request(Request::get("/v1/x").header("authorization", &auth))
            .respond_with(Response::ok())
            .unwrap();
        assert_eq!(out.status(), 401);
    }
    assert_eq!(
        gw.calls().len(),
        2,
        "random kids cannot hammer the key server"
    );
    gw.advance(Duration::from_secs(600)).unwrap();
    assert_eq!(gw.calls().len(), 3, "refreshed after the TTL");
}

/// A POST to `/signed/pay` carrying `body`, signed by bob over a digest of `signed_body`.
fn hmac_request(gw: &Gateway, body: &[u8], signed_body: &[u8]) -> Request {
    use hmac::Mac as _;
    use sha2::Digest as _;
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now(gw)));
    let digest = format!(
        "SHA-256={}",
        STANDARD.encode(sha2::Sha256::digest(signed_body))
    );
    let lines = format!("(request-target): post /signed/pay\ndate: {date}\ndigest: {digest}");
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(b"bob-hmac-secret-0123456789abcdef").unwrap();
    mac.update(lines.as_bytes());
    let sig = STANDARD.encode(mac.finalize().into_bytes());
    let auth = format!(
        "Signature keyId=\"bob-hmac\",algorithm=\"hmac-sha256\",headers=\"(request-target) date digest\",signature=\"{sig}\""
    );
    Request::post("/signed/pay")
        .header("date", &date)
        .header("digest", &digest)
        .header("authorization", &auth)
        .body(body.to_vec())
}

#[test]
fn hmac_body_digest_through_buffered_bodies() {
    // Envoy forwards the headers (with the identity) before the body is inspected; a body that
    // fails its digest gets a 401 and the upstream never sees a byte of it.
    let mut gw = harness(1).cluster("jwks").build().unwrap();
    let body = br#"{"amount":10}"#;
    let out = gw
        .request(hmac_request(&gw, body, body))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 200);
    let up = out.upstream_request();
    assert_eq!(up.header("x-gateway-consumer"), Some("bob"));
    assert_eq!(up.header("x-gateway-credential"), Some("hmac"));
    assert_eq!(up.header("authorization"), None);
    assert_eq!(up.body_str(), r#"{"amount":10}"#);
    assert_eq!(gw.metric("auth_allowed_hmac_total"), Some(1));

    let out = gw
        .request(hmac_request(&gw, br#"{"amount":1000}"#, body))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 401, "tampered body");
    assert!(
        out.upstream_request().body.is_empty(),
        "no body byte upstream"
    );
    assert_eq!(gw.metric("auth_allowed_hmac_total"), Some(1));
    assert_eq!(
        gw.metric("auth_rejected_invalid_credentials_total"),
        Some(1)
    );
}

#[test]
fn a_request_reads_its_headers_once_and_the_clock_once_per_callback() {
    let mut gw = harness(1).cluster("jwks").trace().build().unwrap();
    let out = gw
        .request(Request::get("/v1/items?api_key=alice-key-123"))
        .respond_with(Response::ok().header("x-upstream", "1"))
        .unwrap();
    assert_eq!(out.status(), 200);
    let trace = gw.trace();
    let stream = trace
        .iter()
        .find(|e| e.name == "proxy_on_request_headers")
        .unwrap()
        .context;
    let calls = |name: &str| {
        trace
            .iter()
            .filter(|e| e.context == stream && e.kind == "hostcall" && e.name == name)
            .count()
    };
    // Auth never looks at the response: only the request map is fetched.
    assert_eq!(calls("proxy_get_header_map_pairs"), 1);
    assert_eq!(calls("proxy_get_current_time_nanoseconds"), 1);
}

#[test]
fn identical_requests_keep_no_memory() {
    let keys = jwks(&[("k1", 1)]);
    let mut gw = harness(1)
        .responder("jwks", move |_| Some(CallReply::ok(keys.clone())))
        .build()
        .unwrap();
    let name = gw.filter_names()[0].clone();
    let token = bearer("k1", 1, &gw);
    for (req, credential) in [
        (Request::get("/v1/items?api_key=alice-key-123"), "api-key"),
        (
            Request::get("/v1/items").header("authorization", &token),
            "jwt",
        ),
    ] {
        let out = gw.request(req.clone()).respond_with(Response::ok());
        let seen = out
            .unwrap()
            .upstream_request()
            .header("x-gateway-credential")
            .map(String::from);
        assert_eq!(seen.as_deref(), Some(credential));
        let grew = gw.memory_growth(&name, &req, &Response::ok(), 100, 2000);
        assert_eq!(
            grew.unwrap(),
            0,
            "{credential}: memory grew over identical requests"
        );
    }
}

/// Signs a JWS signing input.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// An RS256, ES256 or ES384 key as a JWK, and a signer of compact JWS tokens with it.
fn native_key(alg: &str) -> (Value, Sign) {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _};
    use rsa::traits::PublicKeyParts as _;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    match alg {
        "RS256" => {
            let k = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa-2048.pem"))
                .unwrap();
            let jwk = json!({"kty": "RSA", "alg": alg, "kid": alg, "n": b64(&k.n().to_bytes_be()), "e": "AQAB"});
            let sk = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k);
            (jwk, Box::new(move |m| sk.sign(m).to_vec()))
        }
        "ES256" => {
            let sk = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
            let p = sk.verifying_key().to_encoded_point(false);
            let jwk = json!({"kty": "EC", "crv": "P-256", "alg": alg, "kid": alg, "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())});
            (
                jwk,
                Box::new(move |m| {
                    let s: p256::ecdsa::Signature = sk.sign(m);
                    s.to_bytes().to_vec()
                }),
            )
        }
        _ => {
            let sk = p384::ecdsa::SigningKey::from_slice(&[9; 48]).unwrap();
            let p = sk.verifying_key().to_encoded_point(false);
            let jwk = json!({"kty": "EC", "crv": "P-384", "alg": alg, "kid": alg, "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())});
            (
                jwk,
                Box::new(move |m| {
                    let s: p384::ecdsa::Signature = sk.sign(m);
                    s.to_bytes().to_vec()
                }),
            )
        }
    }
}

/// The build of auth for Envoy (no `portable` feature): RSA and ECDSA are Envoy's to check.
fn wasm_for_envoy() -> PathBuf {
    host_test::build::cargo_wasm_for(
        "filter-auth",
        filter_core::WASM_TARGET,
        &["--no-default-features", "--features", "export"],
    )
    .unwrap()
}

/// How many of `gw`'s error lines contain `text` (all of them are printed).
fn errors_with(gw: &Gateway, text: &str) -> usize {
    let errors = gw.logs_at(host_test::LogLevel::Error);
    println!("errors: {errors:?}");
    errors.iter().filter(|l| l.contains(text)).count()
}

/// `module` as the filter `auth`.
fn auth(module: PathBuf) -> FilterSpec {
    FilterSpec::wasm(module).name("auth")
}

/// How many RS256, ES256 and ES384 checks a run of [`native_algs`] made: calls of the host's
/// `verify_signature`, then `auth_jwt_signature_host_total` and `auth_jwt_signature_module_total`.
type NativeChecks = (usize, i64, i64);

/// The bundle's `auth` root (the plugin its `gateway` root runs first), built for Envoy or with
/// the `portable` feature.
fn bundle_auth(portable: bool) -> FilterSpec {
    let args: &[&str] = if portable {
        &["--features", "portable"]
    } else {
        &[]
    };
    let module =
        host_test::build::cargo_wasm_for("filter-bundle", filter_core::WASM_TARGET, args).unwrap();
    FilterSpec::wasm(module).name("auth").root_id("auth")
}

/// Sends two valid tokens and a forged one for each of RS256, ES256 and ES384 through `filter`
/// (named `auth`) on a host of `profile`; `valid` says whether valid tokens must pass (forged ones
/// never do).
fn native_algs(
    filter: FilterSpec,
    profile: host_test::HostProfile,
    valid: bool,
) -> (NativeChecks, Gateway) {
    const ALGS: [&str; 3] = ["RS256", "ES256", "ES384"];
    let keys: Vec<_> = ALGS.iter().map(|a| native_key(a)).collect();
    let config = json!({
        "consumers": [{"id": "alice", "plan": "gold"}],
        "jwt": {"providers": [{"name": "idp", "issuer": "https://issuer.example", "audiences": ["gateway"],
                               "jwks": {"keys": keys.iter().map(|(jwk, _)| jwk.clone()).collect::<Vec<_>>()}}]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}]
    });
    let mut gw = Harness::new()
        .filter(filter.config(config.to_string()))
        .profile(profile)
        .start_time(UNIX_EPOCH + Duration::from_secs(START))
        .build()
        .unwrap();
    let token = |alg: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>, sub: &str, i: u32| {
        let header = json!({"alg": alg, "kid": alg, "typ": "JWT"});
        let claims = json!({"iss": "https://issuer.example", "aud": "gateway", "sub": sub, "exp": START + 300, "jti": i});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
        format!("Bearer {input}.{sig}")
    };
    let send = |gw: &mut Gateway, bearer: &str| {
        gw.request(Request::get("/v1/items").header("authorization", bearer))
            .respond_with(Response::ok())
            .unwrap()
    };
    for (alg, (_, sign)) in ALGS.iter().zip(&keys) {
        for i in 0..2 {
            let out = send(&mut gw, &token(alg, sign.as_ref(), "alice", i));
            if valid {
                assert_eq!(
                    out.upstream_request().header("x-gateway-consumer"),
                    Some("alice"),
                    "{profile:?} {alg}"
                );
            } else {
                assert_eq!(
                    out.local_reply().map(|r| r.status),
                    Some(401),
                    "{profile:?} {alg}"
                );
            }
        }
        let valid = token(alg, sign.as_ref(), "alice", 9);
        let forged_claims = token(alg, sign.as_ref(), "mallory", 9);
        let (head_and_claims, _) = forged_claims.rsplit_once('.').unwrap();
        let (_, sig) = valid.rsplit_once('.').unwrap();
        let out = send(&mut gw, &format!("{head_and_claims}.{sig}"));
        assert_eq!(
            out.local_reply().map(|r| r.status),
            Some(401),
            "{profile:?} {alg} forged"
        );
    }
    let asked = gw
        .foreign_calls()
        .iter()
        .filter(|(name, _)| name == "verify_signature")
        .count();
    // NGINX hosts prefix metric names with `pw:<filter>:`.
    let prefix = match profile {
        host_test::HostProfile::Envoy => "",
        _ => "pw:auth:",
    };
    let count = |name: &str| gw.metric(&format!("{prefix}{name}")).unwrap_or(0);
    let checks = (
        asked,
        count("auth_jwt_signature_host_total"),
        count("auth_jwt_signature_module_total"),
    );
    (checks, gw)
}

/// New RS256, ES256 and ES384 tokens are checked by Envoy's `verify_signature` (host-test
/// implements it as Envoy does), not in wasm; on an NGINX host, which has no such function (and
/// traps when a module calls it), the portable module never asks and checks them itself. Forged
/// signatures are refused either way.
#[test]
fn envoy_checks_new_rsa_and_ecdsa_tokens_natively() {
    let (envoy, _) = native_algs(auth(wasm()), host_test::HostProfile::Envoy, true);
    assert_eq!(envoy, (9, 9, 0), "every check in the host");
    let (nginx, _) = native_algs(auth(wasm()), host_test::HostProfile::Nginx, true);
    assert_eq!(nginx, (0, 0, 9), "never asked, every check in the module");
}

/// The build for Envoy leaves RS256, ES256 and ES384 to the host: in Envoy it passes the same
/// tokens through the host's check; on NGINX, which has none (and traps when a module calls
/// it), it refuses them without asking and says in the log which module to load instead.
#[test]
fn the_build_for_envoy_leaves_rsa_and_ecdsa_to_envoy() {
    let (envoy, _) = native_algs(auth(wasm_for_envoy()), host_test::HostProfile::Envoy, true);
    assert_eq!(envoy, (9, 9, 0));
    let (nginx, gw) = native_algs(auth(wasm_for_envoy()), host_test::HostProfile::Nginx, false);
    assert_eq!(
        nginx,
        (0, 0, 0),
        "never asked, and nothing checked in the module"
    );
    assert_eq!(
        errors_with(&gw, "load the portable build (filter_auth_portable.wasm"),
        3,
        "one error per key"
    );
}

/// A PS256 key (RSA-2048, without `alg`: an RSA key's family) and an ES512 key (P-521) as JWKs,
/// and signers of compact JWS tokens with them.
fn module_keys() -> [(&'static str, Value, Sign); 2] {
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
    use rsa::traits::PublicKeyParts as _;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let k = rsa::RsaPrivateKey::from_pkcs8_pem(include_str!("../testdata/rsa-2048.pem")).unwrap();
    let rsa_jwk = json!({"kty": "RSA", "kid": "PS256", "use": "sig", "n": b64(&k.n().to_bytes_be()), "e": "AQAB"});
    let pss = rsa::pss::SigningKey::<sha2::Sha256>::new(k);
    let mut d = [3u8; 66];
    d[0] = 0;
    let ec = p521::ecdsa::SigningKey::from_slice(&d).unwrap();
    let p = p521::ecdsa::VerifyingKey::from(&ec).to_encoded_point(false);
    let ec_jwk = json!({"kty": "EC", "crv": "P-521", "alg": "ES512", "kid": "ES512", "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())});
    [
        (
            "PS256",
            rsa_jwk,
            Box::new(move |m| pss.sign_with_rng(&mut test_rng(m.len() as u64), m).to_vec()),
        ),
        (
            "ES512",
            ec_jwk,
            Box::new(move |m| {
                let s: p521::ecdsa::Signature = ec.sign_with_rng(&mut test_rng(m.len() as u64), m);
                s.to_bytes().to_vec()
            }),
        ),
    ]
}

/// PS256 and ES512 keys load in both builds, and their tokens are checked in the module on
/// every host: Envoy's `verify_signature` has no PSS padding, and host-test's Envoy takes no
/// P-521 key (asked once, it answers that it cannot: the module checks from then on; Envoy itself
/// takes P-521 keys and would check ES512 natively); NGINX is never asked. Forged tokens are
/// refused.
#[test]
fn both_builds_check_ps256_and_es512_in_the_module_where_the_host_cannot() {
    use host_test::HostProfile::{Envoy, Nginx};
    let keys = module_keys();
    let config = json!({
        "consumers": [{"id": "alice", "plan": "gold"}],
        "jwt": {"providers": [{"name": "idp", "issuer": "https://issuer.example", "audiences": ["gateway"],
                               "jwks": {"keys": keys.iter().map(|(_, jwk, _)| jwk.clone()).collect::<Vec<_>>()}}]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}]
    });
    let token = |alg: &str, sign: &dyn Fn(&[u8]) -> Vec<u8>, sub: &str, i: u32| {
        let header = json!({"alg": alg, "kid": alg, "typ": "JWT"});
        let claims = json!({"iss": "https://issuer.example", "aud": "gateway", "sub": sub, "exp": START + 300, "jti": i});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        format!(
            "Bearer {input}.{}",
            URL_SAFE_NO_PAD.encode(sign(input.as_bytes()))
        )
    };
    for (build, module) in [("portable", wasm()), ("for Envoy", wasm_for_envoy())] {
        for profile in [Envoy, Nginx] {
            let mut gw = Harness::new()
                .filter(auth(module.clone()).config(config.to_string()))
                .profile(profile)
                .start_time(UNIX_EPOCH + Duration::from_secs(START))
                .build()
                .unwrap();
            for (alg, _, sign) in &keys {
                let at = format!("{build} on {profile:?}: {alg}");
                for i in 0..2 {
                    let before = gw.fuel_used("auth");
                    let out = gw
                        .request(
                            Request::get("/v1/items")
                                .header("authorization", &token(alg, sign.as_ref(), "alice", i)),
                        )
                        .respond_with(Response::ok())
                        .unwrap();
                    assert_eq!(
                        out.upstream_request().header("x-gateway-consumer"),
                        Some("alice"),
                        "{at}"
                    );
                    println!(
                        "{at}: a new token costs {} fuel",
                        gw.fuel_used("auth") - before
                    );
                }
                let valid = token(alg, sign.as_ref(), "alice", 9);
                let forged = token(alg, sign.as_ref(), "mallory", 9);
                let (head_and_claims, _) = forged.rsplit_once('.').unwrap();
                let (_, sig) = valid.rsplit_once('.').unwrap();
                let out = gw
                    .request(
                        Request::get("/v1/items")
                            .header("authorization", &format!("{head_and_claims}.{sig}")),
                    )
                    .respond_with(Response::ok())
                    .unwrap();
                assert_eq!(
                    out.local_reply().map(|r| r.status),
                    Some(401),
                    "{at} forged"
                );
            }
            let prefix = if profile == Envoy { "" } else { "pw:auth:" };
            let count = |name: &str| gw.metric(&format!("{prefix}{name}")).unwrap_or(0);
            let asked = gw
                .foreign_calls()
                .iter()
                .filter(|(name, _)| name == "verify_signature")
                .count();
            assert_eq!(
                (
                    asked,
                    count("auth_jwt_signature_host_total"),
                    count("auth_jwt_signature_module_total")
                ),
                (usize::from(profile == Envoy), 0, 6),
                "{build} on {profile:?}: the P-521 key asked once (Envoy only), every check in the module"
            );
        }
    }
}

/// The bundle comes in the same two builds: built for Envoy it leaves RS256, ES256 and ES384 to
/// the host and refuses them on a host without `verify_signature`; built with `portable`
/// (`dist/filter_bundle_portable.wasm`) it checks them in the module there.
#[test]
fn the_bundle_checks_signatures_as_the_auth_build_it_carries() {
    use host_test::HostProfile::{Envoy, Nginx};
    for portable in [false, true] {
        let (envoy, _) = native_algs(bundle_auth(portable), Envoy, true);
        assert_eq!(envoy, (9, 9, 0), "portable: {portable}");
    }
    let (nginx, gw) = native_algs(bundle_auth(false), Nginx, false);
    assert_eq!(nginx, (0, 0, 0));
    assert_eq!(
        errors_with(&gw, "or filter_bundle_portable.wasm)"),
        3,
        "one error per key"
    );
    let (nginx, _) = native_algs(bundle_auth(true), Nginx, true);
    assert_eq!(nginx, (0, 0, 9));
}

/// A deterministic RNG for PSS salts and ECDSA nonces in tests (ChaCha8 from a seed).
fn test_rng(seed: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::rand_core::SeedableRng::seed_from_u64(seed)
}
