//! Remote JWKS: fetched with an HTTP callout to a configured cluster and cached in shared data,
//! so one fetch serves every worker VM of the Envoy process.
//!
//! Shared data per provider `name`:
//! - `auth.jwks.<name>`: `<fetched-at>\n<JWKS body>`, written after every good fetch;
//! - `auth.jwks.<name>.state`: `<lease-until> <last-unknown-kid-fetch> <last-failure>`, updated
//!   with CAS. A worker fetches only after taking the lease, so workers never fetch together.
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

/// Most unknown `kid`s a worker remembers refetching for, per provider; when full it starts over.
pub const KID_REFETCH_ENTRIES: usize = 1024;

/// Why a fetch is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No keys yet, or the keys are older than the TTL.
    Refresh,
    /// A token named a `kid` the set lacks.
    UnknownKid,
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
}

impl State {
    fn parse(data: &[u8]) -> Self {
        let text = String::from_utf8_lossy(data);
        let mut n = text.split(' ').map(|p| p.parse::<u64>().unwrap_or(0));
        Self {
            lease_until: n.next().unwrap_or(0),
            last_kid_fetch: n.next().unwrap_or(0),
            last_failure: n.next().unwrap_or(0),
        }
    }

    fn encode(&self) -> String {
        format!(
            "{} {} {}",
            self.lease_until, self.last_kid_fetch, self.last_failure
        )
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
        let retry_end = state.last_failure.saturating_add(self.remote.retry);
        if held || (state.last_failure..retry_end).contains(&now) {
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
        // A bounded retry: the state only holds timestamps, so losing a race is harmless.
        for _ in 0..4 {
            let current = host.get_shared(&self.state_key()).ok().flatten();
            let mut state = current
                .as_ref()
                .map(|v| State::parse(&v.data))
                .unwrap_or_default();
            state.lease_until = 0;
            state.last_failure = if ok { 0 } else { now };
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

    /// Handles the response of a fetch this VM made.
    pub fn complete(
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
                Fetched::Failed(message)
            }
        }
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
