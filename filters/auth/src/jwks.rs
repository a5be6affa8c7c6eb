//! Remote JWKS: fetched with an HTTP callout to a configured cluster and cached in shared data,
//! so one fetch serves every worker VM of the Envoy process.
//!
//! Shared data per provider `name`:
//! - `auth.jwks.<name>`: `<fetched-at>\n<JWKS body>`, written after every good fetch;
//! - `auth.jwks.<name>.state`: `<lease-until> <last-unknown-kid-fetch> <last-failure>
//!   <failures-in-a-row>`, updated with CAS. A worker refreshes only after taking the lease, so
//!   workers never refresh together. A worker with no keys at all fetches without waiting for
//!   another worker's lease (as each `jwt_authn` worker fetches its own), once: its other
//!   requests join that fetch (see `Host::join_call`) instead of failing while it runs.
//! - After a failed fetch no worker fetches again for `retry_seconds`, doubled after each
//!   failure in a row up to [`MAX_BACKOFF_SECS`] (or `retry_seconds` if larger).
//! - A response body over [`MAX_JWKS_BYTES`] is never copied into the VM (the adapter refuses
//!   it by its announced size) and counts as a failure.
//!
//! Each VM parses a body once (when its CAS changes) and keeps the verified key set. Keys are
//! refreshed in the background once older than the TTL, refetched when a token names an unknown
//! `kid` (at most once per `unknown_kid_refetch` for the provider, through the shared state, and
//! at most once per interval for each `kid` in a worker, remembered by digest: a repeated bogus
//! `kid` costs no shared-state round trip), and kept (served stale) when a fetch fails. Keys a
//! body carries that cannot be used (RSA over `jwt.max_rsa_key_bits`, say) are skipped and
//! logged, and counted by the worker that fetched the body; keys for encryption (`use: enc`) are
//! passed over quietly (see `jwt::jwk`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use filter_core::{CallFailure, CallResponse, Host, HttpCall};

use crate::digest_cache::{self, DigestCache};
use crate::jwt::jwk::{self, Origin};
use crate::jwt::keys::KeySet;
use crate::jwt::RemoteJwks;

/// Largest JWKS body accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Longest wait after failures in a row, unless `retry_seconds` is longer.
pub const MAX_BACKOFF_SECS: u64 = 60;

/// Most fetches of one provider a worker tracks while they run.
const MAX_IN_FLIGHT: usize = 16;

/// Most unknown `kid`s a worker remembers refetching for, per provider; when full it starts over.
pub const KID_REFETCH_ENTRIES: usize = 1024;

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No keys yet, or the keys are older than the TTL.
    Refresh,
    /// A token named a `kid` the set lacks.
    UnknownKid,
    /// This worker has no keys at all and no fetch running: a request waits for this one.
    NoKeys,
}

/// The result of a finished fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// New keys stored; `skipped` keys of the body could not be used.
    Updated {
        /// Keys skipped (logged).
        skipped: usize,
    },
    /// The fetch failed; the message is safe to log.
    Failed(String),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct State {
    lease_until: u64,
    last_kid_fetch: u64,
    last_failure: u64,
    failures: u64,
}

impl State {
    fn parse(data: &[u8]) -> Self {
        let text = String::from_utf8_lossy(data);
        let mut n = text.split(' ').map(|p| p.parse::<u64>().unwrap_or(0));
        Self {
            lease_until: n.next().unwrap_or(0),
            last_kid_fetch: n.next().unwrap_or(0),
            last_failure: n.next().unwrap_or(0),
            failures: n.next().unwrap_or(0),
        }
    }

    fn encode(&self) -> String {
        format!(
            "{} {} {} {}",
            self.lease_until, self.last_kid_fetch, self.last_failure, self.failures
        )
    }

    /// When fetching may start again after the last failure.
    fn retry_at(&self, retry: u64) -> u64 {
        if self.failures == 0 {
            return 0;
        }
        let doublings = u32::try_from(self.failures.saturating_sub(1).min(16)).unwrap_or(16);
        let wait = retry
            .saturating_mul(1u64 << doublings)
            .min(MAX_BACKOFF_SECS.max(retry));
        self.last_failure.saturating_add(wait)
    }
}

/// One provider's remote key cache in one VM.
#[derive(Debug)]
pub struct JwksCache {
    /// Provider name (shared-data keys).
    name: String,
    /// Settings.
    pub remote: RemoteJwks,
    keys: RefCell<Option<Rc<KeySet>>>,
    cas: Cell<u32>,
    fetched_at: Cell<u64>,
    /// When this worker last asked for a refetch for an unknown `kid`, by the `kid`'s digest.
    kid_refetches: DigestCache<u64, KID_REFETCH_ENTRIES>,
    /// Tokens of this worker's fetches still running, oldest first.
    in_flight: RefCell<Vec<u32>>,
    /// Failed fetches this worker saw since it last logged one.
    unlogged_failures: Cell<u64>,
    /// When this worker last logged a failed fetch.
    last_logged: Cell<u64>,
}

impl JwksCache {
    /// A cache for provider `name`.
    pub fn new(name: &str, remote: RemoteJwks) -> Self {
        Self {
            name: name.to_owned(),
            remote,
            keys: RefCell::new(None),
            cas: Cell::new(0),
            fetched_at: Cell::new(0),
            kid_refetches: DigestCache::default(),
            in_flight: RefCell::new(Vec::new()),
            unlogged_failures: Cell::new(0),
            last_logged: Cell::new(0),
        }
    }

    /// The name of the provider.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records fetch `token`, just dispatched by this worker.
    pub fn started(&self, token: u32) {
        let mut in_flight = self.in_flight.borrow_mut();
        // The host answers every callout, or cancels it with the request that made it; bound the
        // list regardless.
        if in_flight.len() >= MAX_IN_FLIGHT {
            in_flight.remove(0);
        }
        in_flight.push(token);
    }

    /// Whether fetch `token` is this worker's and still running.
    pub fn is_running(&self, token: u32) -> bool {
        self.in_flight.borrow().contains(&token)
    }

    /// The oldest fetch of this worker still running, for a request to wait on.
    pub fn running(&self) -> Option<u32> {
        self.in_flight.borrow().first().copied()
    }

    /// Forgets fetch `token`; whether it was running.
    fn settle(&self, token: u32) -> bool {
        let mut in_flight = self.in_flight.borrow_mut();
        let before = in_flight.len();
        in_flight.retain(|t| *t != token);
        in_flight.len() != before
    }

    /// Fetch `token` will never be answered (the request that made it ended, and the host
    /// cancelled it): forgotten, and the lease given back without counting a failure.
    pub fn orphaned(&self, host: &mut dyn Host, token: u32) {
        if self.settle(token) {
            self.update_state(host, |state| state.lease_until = 0);
        }
    }

    fn body_key(&self) -> String {
        format!("auth.jwks.{}", self.name)
    }

    fn state_key(&self) -> String {
        format!("auth.jwks.{}.state", self.name)
    }

    /// Creates the shared state key if missing (so later updates can use CAS).
    pub fn init_shared(&self, host: &mut dyn Host) {
        if let Ok(None) = host.get_shared(&self.state_key()) {
            let _ = host.set_shared(
                &self.state_key(),
                State::default().encode().as_bytes(),
                None,
            );
        }
    }

    /// Adopts keys another worker (or this one) stored in shared data, if they changed.
    pub fn sync(&self, host: &mut dyn Host) {
        let Ok(Some(value)) = host.get_shared(&self.body_key()) else {
            return;
        };
        if value.cas == self.cas.get() && self.keys.borrow().is_some() {
            return;
        }
        self.cas.set(value.cas);
        let Some(nl) = value.data.iter().position(|b| *b == b'\n') else {
            return;
        };
        let fetched_at = std::str::from_utf8(&value.data[..nl])
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        match self.parse(&value.data[nl + 1..]) {
            Ok((set, _)) => {
                *self.keys.borrow_mut() = Some(Rc::new(set));
                self.fetched_at.set(fetched_at);
            }
            Err(e) => log::warn!("jwks {}: stored key set unusable: {e}", self.name),
        }
    }

    /// The cached keys, if any (stale ones included).
    pub fn keys(&self) -> Option<Rc<KeySet>> {
        self.keys.borrow().clone()
    }

    /// Whether the cached keys are missing, older than the TTL at `now`, or stamped later than
    /// `now`.
    pub fn needs_refresh(&self, now: u64) -> bool {
        let fetched = self.fetched_at.get();
        // Keys "fetched in the future" (the clock went back) are of unknown age: refresh.
        self.keys.borrow().is_none()
            || fetched > now
            || now >= fetched.saturating_add(self.remote.ttl)
    }

    /// Whether this worker may ask for a refetch for the unknown `kid` at `now`: not if it asked
    /// for one for the same `kid` less than `unknown_kid_refetch` ago. Asking is remembered.
    pub fn may_refetch_for(&self, kid: &str, now: u64) -> bool {
        let key = digest_cache::digest(&[kid.as_bytes()]);
        if let Some(at) = self.kid_refetches.get(&key) {
            // A time in the future means the clock went back: it imposes no wait.
            if (at..at.saturating_add(self.remote.unknown_kid_refetch)).contains(&now) {
                return false;
            }
        }
        self.kid_refetches.insert(key, now);
        true
    }

    /// Takes the fetch lease if no other worker holds it and the rate limits allow a fetch for
    /// `reason` at `now`; returns the callout to make.
    pub fn begin_fetch(&self, host: &mut dyn Host, now: u64, reason: Reason) -> Option<HttpCall> {
        let current = host.get_shared(&self.state_key()).ok().flatten();
        let mut state = current
            .as_ref()
            .map(|v| State::parse(&v.data))
            .unwrap_or_default();
        let lease = self.remote.timeout.as_secs().saturating_add(1);
        // Timestamps in the future mean the clock went back: they grant no extra wait.
        let held = now < state.lease_until && state.lease_until <= now.saturating_add(lease);
        let retry_end = state.retry_at(self.remote.retry);
        let waiting = (state.last_failure..retry_end).contains(&now);
        if waiting || (held && reason != Reason::NoKeys) {
            return None;
        }
        if reason == Reason::UnknownKid {
            let kid_end = state
                .last_kid_fetch
                .saturating_add(self.remote.unknown_kid_refetch);
            if (state.last_kid_fetch..kid_end).contains(&now) {
                return None;
            }
            state.last_kid_fetch = now;
        }
        state.lease_until = now.saturating_add(lease);
        let cas = current.map(|v| v.cas);
        host.set_shared(&self.state_key(), state.encode().as_bytes(), cas)
            .ok()?;
        let mut call = HttpCall::get(&self.remote.cluster, &self.remote.path, self.remote.timeout);
        call.max_response_bytes = MAX_JWKS_BYTES;
        for (name, value) in &mut call.headers {
            if name == ":authority" {
                value.clone_from(&self.remote.authority);
            }
        }
        call.headers
            .push(("accept".into(), "application/json".into()));
        Some(call)
    }

    /// Gives the lease back after `dispatch` failed.
    pub fn abandon_fetch(&self, host: &mut dyn Host, now: u64) {
        self.finish(host, now, false);
    }

    fn finish(&self, host: &mut dyn Host, now: u64, ok: bool) {
        self.update_state(host, |state| {
            state.lease_until = 0;
            if ok {
                state.last_failure = 0;
                state.failures = 0;
            } else {
                state.last_failure = now;
                state.failures = state.failures.saturating_add(1);
            }
        });
    }

    fn update_state(&self, host: &mut dyn Host, change: impl Fn(&mut State)) {
        // A bounded retry: the state only holds timestamps, so losing a race is harmless.
        for _ in 0..4 {
            let current = host.get_shared(&self.state_key()).ok().flatten();
            let mut state = current
                .as_ref()
                .map(|v| State::parse(&v.data))
                .unwrap_or_default();
            change(&mut state);
            if host
                .set_shared(
                    &self.state_key(),
                    state.encode().as_bytes(),
                    current.map(|v| v.cas),
                )
                .is_ok()
            {
                return;
            }
        }
    }

    /// Handles the response of fetch `token`, which this VM made; `None` when it was handled
    /// already (a request that waited on it gets the same answer after the one that made it).
    pub fn complete(
        &self,
        host: &mut dyn Host,
        now: u64,
        token: u32,
        response: Result<CallResponse, CallFailure>,
    ) -> Option<Fetched> {
        if !self.settle(token) {
            return None;
        }
        Some(self.apply(host, now, response))
    }

    fn apply(
        &self,
        host: &mut dyn Host,
        now: u64,
        response: Result<CallResponse, CallFailure>,
    ) -> Fetched {
        let result = match response {
            Err(e) => Err(format!("callout failed: {}", e.reason)),
            Ok(r) if r.status() != Some(200) => Err(format!("status {:?}", r.status())),
            Ok(r) if r.body.len() > MAX_JWKS_BYTES => Err("body over 64 KiB".into()),
            Ok(r) => self.parse(&r.body).map(|parsed| (parsed, r.body)),
        };
        match result {
            Ok(((set, skipped), body)) => {
                let mut value = format!("{now}\n").into_bytes();
                value.extend_from_slice(&body);
                // The cas of the value replaced: ngx_wasm_module checks every cas (0 for a
                // missing key), so a blind write would only ever insert there.
                for _ in 0..4 {
                    let cas = host
                        .get_shared(&self.body_key())
                        .ok()
                        .flatten()
                        .map(|v| v.cas);
                    if host.set_shared(&self.body_key(), &value, cas).is_ok() {
                        break;
                    }
                }
                *self.keys.borrow_mut() = Some(Rc::new(set));
                self.fetched_at.set(now);
                if let Ok(Some(v)) = host.get_shared(&self.body_key()) {
                    self.cas.set(v.cas);
                }
                self.finish(host, now, true);
                Fetched::Updated { skipped }
            }
            Err(message) => {
                self.finish(host, now, false);
                self.unlogged_failures
                    .set(self.unlogged_failures.get().saturating_add(1));
                Fetched::Failed(message)
            }
        }
    }

    /// The log line for a failed fetch, or `None` when this worker logged one less than
    /// [`MAX_BACKOFF_SECS`] ago (the failures since are counted in the next line and in the
    /// `jwks_fetch_failed` metric).
    pub fn failure_line(&self, why: &str, now: u64) -> Option<String> {
        let last = self.last_logged.get();
        if last != 0 && (last..last.saturating_add(MAX_BACKOFF_SECS)).contains(&now) {
            return None;
        }
        self.last_logged.set(now);
        let failures = self.unlogged_failures.replace(0);
        let kept = if self.keys.borrow().is_some() {
            "cached keys kept"
        } else {
            "no keys cached: tokens of this provider get 503"
        };
        let more = if failures > 1 {
            format!(" ({failures} failures since the last line)")
        } else {
            String::new()
        };
        Some(format!(
            "jwks {}: fetch failed: {why}; {kept}{more}",
            self.name
        ))
    }

    /// The key set of a JWKS body, and how many of its keys were skipped (each logged).
    fn parse(&self, body: &[u8]) -> Result<(KeySet, usize), String> {
        let value = filter_core::json::parse(body, 8).map_err(|e| e.to_string())?;
        let (set, skipped) = jwk::load_jwks(&value, Origin::Remote, &self.remote.key_rules)
            .map_err(|e| e.to_string())?;
        for e in &skipped {
            log::info!("jwks {}: key skipped: {e}", self.name);
        }
        Ok((set, skipped.len()))
    }
}
