//! Remote JWKS through the filter with FakeHost: cold-start fetch while the stream is paused,
//! one fetch serving every worker through shared data, background refresh on tick, refetch on
//! an unknown `kid` at a bounded rate, stale keys on errors, 503 when no keys can be had.
#![cfg(not(target_arch = "wasm32"))]

use std::rc::Rc;
use std::time::Duration;

use filter_core::fake::SharedStore;
use filter_core::testing::{problem, reply};
use filter_core::{CallFailure, CallResponse, Decision, FakeHost, HeaderMap, Plugin, Stream};
use serde_json::json;

use super::{claims, example, plugin, req};
use crate::filter::{AuthPlugin, AuthStream};
use crate::jwt::alg::Alg;
use crate::testkit::{jwk, token};

fn jwks(kids: &[(&str, Alg)]) -> Vec<u8> {
    json!({"keys": kids.iter().map(|(k, a)| jwk(*a, k)).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}

fn ok(body: Vec<u8>) -> Result<CallResponse, CallFailure> {
    Ok(CallResponse {
        headers: HeaderMap::from_pairs([(":status", "200")]),
        body,
    })
}

fn failed() -> Result<CallResponse, CallFailure> {
    Err(CallFailure {
        reason: "reset".into(),
    })
}

fn bearer(kid: &str, alg: Alg, host: &FakeHost) -> HeaderMap {
    let now = host
        .now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut c = claims("alice");
    c["exp"] = json!(now + 300);
    req(
        "GET",
        "/v1/x",
        &[("authorization", &format!("Bearer {}", token(alg, kid, &c)))],
    )
}

/// Starts a stream; returns it and its decision.
fn start(p: &Rc<AuthPlugin>, host: &mut FakeHost, h: &mut HeaderMap) -> (AuthStream, Decision) {
    let mut s = AuthPlugin::new_stream(p);
    let d = s.on_request_headers(h, true, host);
    (s, d)
}

fn last_token(host: &FakeHost) -> u32 {
    host.calls.last().unwrap().0
}

#[test]
fn cold_start_fetches_once_for_every_worker() {
    let store = SharedStore::default();
    let mut a = FakeHost::with_store(store.clone());
    a.clusters = vec!["jwks".into()];
    let pa = plugin(&example(), &mut a);
    let mut h = bearer("k1", Alg::Es256, &a);
    let (mut s, d) = start(&pa, &mut a, &mut h);
    assert_eq!(d, Decision::Pause, "waits for the keys");
    let (_, call) = a.calls.last().unwrap().clone();
    assert_eq!(call.upstream, "jwks");
    assert!(call
        .headers
        .contains(&(":path".into(), "/jwks.json".into())));

    // Another worker meanwhile: the lease is taken, so no second fetch, and a 503.
    let mut b = FakeHost::with_store(store.clone());
    let pb = plugin(&example(), &mut b);
    let mut hb = bearer("k1", Alg::Es256, &b);
    let (_, d) = start(&pb, &mut b, &mut hb);
    let r = reply(d);
    assert_eq!((r.status, r.get_header("retry-after")), (503, Some("1")));
    assert!(b.calls.is_empty(), "one fetch at a time");

    let d = s.on_call_response(
        last_token(&a),
        ok(jwks(&[("k1", Alg::Es256)])),
        &mut h,
        &mut a,
    );
    assert_eq!(d, Decision::Continue);
    assert_eq!(h.get_str("x-gateway-consumer"), Some("alice"));
    assert_eq!(a.metric("auth_jwks_fetch_ok_total"), Some(1));

    // Worker B now uses the shared keys without fetching.
    let mut hb = bearer("k1", Alg::Es256, &b);
    let (_, d) = start(&pb, &mut b, &mut hb);
    assert_eq!(d, Decision::Continue);
    assert!(b.calls.is_empty(), "served from shared data");
    // And a third worker started later loads them at configure time.
    let mut c = FakeHost::with_store(store);
    let pc = plugin(&example(), &mut c);
    let mut hc = bearer("k1", Alg::Es256, &c);
    assert_eq!(start(&pc, &mut c, &mut hc).1, Decision::Continue);
}

#[test]
fn outage_without_keys_is_503_not_401() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut h = bearer("k1", Alg::Es256, &host);
    let (mut s, d) = start(&p, &mut host, &mut h);
    assert_eq!(d, Decision::Pause);
    let r = reply(s.on_call_response(last_token(&host), failed(), &mut h, &mut host));
    assert_eq!(r.status, 503);
    assert_eq!(problem(&r)["type"], "urn:gateway:problem:keys-unavailable");
    assert_eq!(host.metric("auth_jwks_fetch_failed_total"), Some(1));
    assert_eq!(host.metric("auth_rejected_keys_unavailable_total"), Some(1));
    // Within the retry interval no new fetch is made: 503 straight away.
    let calls = host.calls.len();
    let mut h = bearer("k1", Alg::Es256, &host);
    assert_eq!(reply(start(&p, &mut host, &mut h).1).status, 503);
    assert_eq!(host.calls.len(), calls, "backoff after a failure");
    // A bad body (not a JWKS, or a non-200) is a failure too.
    host.advance(Duration::from_secs(2));
    let mut h = bearer("k1", Alg::Es256, &host);
    let (mut s, d) = start(&p, &mut host, &mut h);
    assert_eq!(d, Decision::Pause);
    let not_found = Ok(CallResponse {
        headers: HeaderMap::from_pairs([(":status", "404")]),
        body: vec![],
    });
    assert_eq!(
        reply(s.on_call_response(last_token(&host), not_found, &mut h, &mut host)).status,
        503
    );
    // A missing cluster: the callout is refused at once; still 503, never a pass.
    let mut host = FakeHost::new();
    host.clusters = vec!["other".into()];
    let p = plugin(&example(), &mut host);
    let mut h = bearer("k1", Alg::Es256, &host);
    assert_eq!(reply(start(&p, &mut host, &mut h).1).status, 503);
}

#[test]
fn refresh_on_tick_and_stale_keys_on_errors() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    assert_eq!(p.tick_period(), Some(Duration::from_secs(1)));
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 1, "first tick fetches");
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::Rs256)])),
        &mut host,
    );
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 1, "fresh keys: no fetch");
    let mut h = bearer("k1", Alg::Rs256, &host);
    assert_eq!(start(&p, &mut host, &mut h).1, Decision::Continue);

    host.advance(Duration::from_secs(600));
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 2, "TTL passed: refresh");
    p.on_call_response(last_token(&host), failed(), &mut host);
    let mut h = bearer("k1", Alg::Rs256, &host);
    assert_eq!(
        start(&p, &mut host, &mut h).1,
        Decision::Continue,
        "stale keys still serve"
    );
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 2, "retry interval not over");
    host.advance(Duration::from_secs(1));
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 3, "retried after the interval");
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k2", Alg::Rs256)])),
        &mut host,
    );
    let mut h = bearer("k2", Alg::Rs256, &host);
    assert_eq!(
        start(&p, &mut host, &mut h).1,
        Decision::Continue,
        "rotated keys in use"
    );
    // A clock jump backwards grants no extra freshness: the keys' age is unknown, so one
    // refresh, then the new stamp holds.
    host.set_time(1_000);
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 4, "refresh after the clock went back");
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k2", Alg::Rs256)])),
        &mut host,
    );
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 4, "fresh again");
}

#[test]
fn unknown_kid_refetches_at_a_bounded_rate() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    p.on_tick(&mut host);
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::EdDsa)])),
        &mut host,
    );

    // Rotation: a token with a new kid triggers a refetch and succeeds once the key is there.
    let mut h = bearer("k2", Alg::EdDsa, &host);
    let (mut s, d) = start(&p, &mut host, &mut h);
    assert_eq!(d, Decision::Pause);
    assert_eq!(host.metric("auth_jwks_unknown_kid_fetch_total"), Some(1));
    let d = s.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::EdDsa), ("k2", Alg::EdDsa)])),
        &mut h,
        &mut host,
    );
    assert_eq!(d, Decision::Continue);

    // Random kids: one more fetch at most per interval, then plain 401s.
    let calls = host.calls.len();
    for i in 0..20 {
        let mut h = bearer(&format!("random-{i}"), Alg::EdDsa, &host);
        let r = reply(start(&p, &mut host, &mut h).1);
        assert_eq!(r.status, 401, "unknown kid {i}");
    }
    assert_eq!(host.calls.len(), calls, "rate limited");
    host.advance(Duration::from_secs(30));
    let mut h = bearer("random-x", Alg::EdDsa, &host);
    let (mut s, d) = start(&p, &mut host, &mut h);
    assert_eq!(d, Decision::Pause, "allowed again after the interval");
    let r = reply(s.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::EdDsa)])),
        &mut h,
        &mut host,
    ));
    assert_eq!(r.status, 401, "still unknown after the refetch");
    // The refetch failing keeps the old keys.
    host.advance(Duration::from_secs(30));
    let mut h = bearer("random-y", Alg::EdDsa, &host);
    let (mut s, _) = start(&p, &mut host, &mut h);
    assert_eq!(
        reply(s.on_call_response(last_token(&host), failed(), &mut h, &mut host)).status,
        401
    );
    let mut h = bearer("k1", Alg::EdDsa, &host);
    assert_eq!(start(&p, &mut host, &mut h).1, Decision::Continue);
}

#[test]
fn a_stale_response_token_is_ignored() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut h = bearer("k1", Alg::Es256, &host);
    let (mut s, _) = start(&p, &mut host, &mut h);
    assert_eq!(
        s.on_call_response(999, failed(), &mut h, &mut host),
        Decision::Pause
    );
    p.on_call_response(999, failed(), &mut host);
    assert_eq!(host.metric("auth_jwks_fetch_failed_total"), Some(0));
}

#[test]
fn a_backward_clock_jump_does_not_block_fetching() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    host.set_time(1_000_000);
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 1, "lease taken, response outstanding");
    host.set_time(500_000);
    p.on_tick(&mut host);
    assert_eq!(host.calls.len(), 2, "a lease stamped in the future is void");
    p.on_call_response(last_token(&host), failed(), &mut host);
    host.set_time(100_000);
    p.on_tick(&mut host);
    assert_eq!(
        host.calls.len(),
        3,
        "a failure stamped in the future imposes no wait"
    );
}

#[test]
fn a_rotated_key_set_invalidates_remembered_tokens() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    p.on_tick(&mut host);
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::Rs256)])),
        &mut host,
    );
    let h = bearer("k1", Alg::Rs256, &host);
    for _ in 0..2 {
        let mut h = h.clone();
        assert_eq!(start(&p, &mut host, &mut h).1, Decision::Continue);
    }
    assert_eq!(p.tokens.len(), 1);
    // The key set rotates to k2 only: the remembered k1 token must not pass any more.
    host.advance(Duration::from_secs(600));
    p.on_tick(&mut host);
    p.on_call_response(
        last_token(&host),
        ok(jwks(&[("k2", Alg::Rs256)])),
        &mut host,
    );
    let mut again = h.clone();
    let d = start(&p, &mut host, &mut again).1;
    assert_ne!(d, Decision::Continue, "a token of a removed key is refused");
    assert_eq!(again.get_str("x-gateway-consumer"), None);
}
