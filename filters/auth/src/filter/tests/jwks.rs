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

    assert_eq!(call.max_response_bytes, crate::jwks::MAX_JWKS_BYTES);

    // A second request on the same worker waits on that fetch instead of making another.
    let mut h2 = bearer("k1", Alg::Es256, &a);
    let (mut s2, d) = start(&pa, &mut a, &mut h2);
    assert_eq!(d, Decision::Pause, "joins the running fetch");
    assert_eq!(a.calls.len(), 1, "no second fetch");
    assert_eq!(a.joined, vec![last_token(&a)]);
    assert_eq!(a.metric("auth_jwks_fetch_joined_total"), Some(1));

    let d = s.on_call_response(
        last_token(&a),
        ok(jwks(&[("k1", Alg::Es256)])),
        &mut h,
        &mut a,
    );
    assert_eq!(d, Decision::Continue);
    assert_eq!(h.get_str("x-gateway-consumer"), Some("alice"));
    assert_eq!(a.metric("auth_jwks_fetch_ok_total"), Some(1));
    // The request that joined gets the same answer after it: admitted, the keys stored once.
    let token = last_token(&a);
    let d = s2.on_call_response(token, ok(jwks(&[("k1", Alg::Es256)])), &mut h2, &mut a);
    assert_eq!(d, Decision::Continue);
    assert_eq!(h2.get_str("x-gateway-consumer"), Some("alice"));
    assert_eq!(
        a.metric("auth_jwks_fetch_ok_total"),
        Some(1),
        "handled once"
    );

    // Another worker, first used now, takes the shared keys without fetching.
    let mut b = FakeHost::with_store(store.clone());
    let pb = plugin(&example(), &mut b);
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
fn a_worker_without_keys_fetches_even_while_another_holds_the_lease() {
    // Two workers start together: each fetches once (as each jwt_authn worker does) rather than
    // refusing tokens until the other's fetch lands in shared data.
    let store = SharedStore::default();
    let mut a = FakeHost::with_store(store.clone());
    let pa = plugin(&example(), &mut a);
    let mut h = bearer("k1", Alg::Es256, &a);
    assert_eq!(start(&pa, &mut a, &mut h).1, Decision::Pause);
    let mut b = FakeHost::with_store(store);
    let pb = plugin(&example(), &mut b);
    let mut hb = bearer("k1", Alg::Es256, &b);
    let (mut sb, d) = start(&pb, &mut b, &mut hb);
    assert_eq!(d, Decision::Pause);
    assert_eq!(b.calls.len(), 1, "worker B fetches for itself");
    let mut hb2 = bearer("k1", Alg::Es256, &b);
    assert_eq!(start(&pb, &mut b, &mut hb2).1, Decision::Pause);
    assert_eq!(b.calls.len(), 1, "and only once");
    let d = sb.on_call_response(
        last_token(&b),
        ok(jwks(&[("k1", Alg::Es256)])),
        &mut hb,
        &mut b,
    );
    assert_eq!(d, Decision::Continue);
}

#[test]
fn without_joins_a_second_request_is_refused_not_fetched_for() {
    // ngx_wasm_module cannot wake one request from another's callback: the running fetch is
    // not joined, and no second fetch is made for it.
    let mut host = FakeHost::new();
    host.joinable = false;
    let p = plugin(&example(), &mut host);
    let mut h = bearer("k1", Alg::Es256, &host);
    assert_eq!(start(&p, &mut host, &mut h).1, Decision::Pause);
    let mut h2 = bearer("k1", Alg::Es256, &host);
    let r = reply(start(&p, &mut host, &mut h2).1);
    assert_eq!((r.status, r.get_header("retry-after")), (503, Some("1")));
    assert_eq!(host.calls.len(), 1);
}

#[test]
fn a_request_whose_fetch_was_cancelled_fetches_again_without_a_backoff() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut h1 = bearer("k1", Alg::Es256, &host);
    let (_s1, d) = start(&p, &mut host, &mut h1);
    assert_eq!(d, Decision::Pause);
    let first = last_token(&host);
    let mut h2 = bearer("k1", Alg::Es256, &host);
    let (mut s2, d) = start(&p, &mut host, &mut h2);
    assert_eq!(d, Decision::Pause);
    // The first request ends (client gone); its callout is cancelled and the joined request
    // gets a failure for it.
    let d = s2.on_call_response(first, failed(), &mut h2, &mut host);
    assert_eq!(d, Decision::Pause, "fetches again");
    assert_eq!(host.calls.len(), 2);
    assert_eq!(
        host.metric("auth_jwks_fetch_failed_total"),
        Some(0),
        "not a key-server failure"
    );
    let d = s2.on_call_response(
        last_token(&host),
        ok(jwks(&[("k1", Alg::Es256)])),
        &mut h2,
        &mut host,
    );
    assert_eq!(d, Decision::Continue);
}

#[test]
fn failures_in_a_row_double_the_wait_up_to_a_minute() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let mut waits = Vec::new();
    let mut last_fetch = 0u64;
    for second in 0..400u64 {
        let calls = host.calls.len();
        let mut h = bearer("k1", Alg::Es256, &host);
        let (mut s, d) = start(&p, &mut host, &mut h);
        if host.calls.len() > calls {
            assert_eq!(d, Decision::Pause);
            if second > 0 {
                waits.push(second - last_fetch);
            }
            last_fetch = second;
            let r = reply(s.on_call_response(last_token(&host), failed(), &mut h, &mut host));
            assert_eq!(r.status, 503);
        } else {
            assert_eq!(reply(d).status, 503);
        }
        host.advance(Duration::from_secs(1));
    }
    assert_eq!(waits[..7], [1, 2, 4, 8, 16, 32, 60]);
    assert!(waits[7..].iter().all(|w| *w == 60), "{waits:?}");
}

#[test]
fn a_failed_fetch_is_logged_at_most_once_a_minute_and_says_whether_keys_are_kept() {
    let mut host = FakeHost::new();
    let p = plugin(&example(), &mut host);
    let cache = p.jwks.iter().flatten().next().unwrap();
    let line = cache.failure_line("status Some(500)", 100).unwrap();
    assert!(line.contains("no keys cached"), "{line}");
    assert_eq!(cache.failure_line("status Some(500)", 130), None);
    assert_eq!(cache.failure_line("status Some(500)", 159), None);
    assert!(cache.failure_line("status Some(500)", 160).is_some());
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
