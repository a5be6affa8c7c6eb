//! The plugin (per-VM state: validated config, metrics, JWKS caches, the password cache, the
//! verified-token cache and the refused-signature cache) and the per-request stream that drives
//! an [`Authenticator`] over them with the request's [`Allowance`]: clear client identity
//! headers, evaluate, then let through, refuse, wait for JWT keys, or wait for the body.

use std::rc::Rc;
use std::time::Duration;

use filter_core::{
    CallFailure, CallResponse, ConfigError, Decision, HeaderMap, Host, Plugin, Stream,
};

use crate::authenticate::{
    apply, hmac_presented, unix_secs, Allowance, Authenticator, Halt, Success,
};
use crate::basic::PasswordCache;
use crate::config::Config;
use crate::consumer;
use crate::credential::CredentialType;
use crate::jwks::{Fetched, JwksCache, Reason};
use crate::jwt::cache::TokenCache;
use crate::jwt::refusals::RefusalCache;
use crate::jwt::KeySource;
use crate::metrics::{Metric, Metrics};
use crate::reply::Failure;
use crate::signing::{self, BodyDigest};

/// Per-VM state.
#[derive(Debug)]
pub struct AuthPlugin {
    /// The configuration.
    pub config: Config,
    /// Metrics.
    pub metrics: Metrics,
    /// Remote key caches by provider index.
    pub jwks: Vec<Option<JwksCache>>,
    /// Recently verified and refused basic passwords.
    pub basic_cache: PasswordCache,
    /// Recently verified JWTs.
    pub tokens: TokenCache,
    /// Recently refused JWT signatures.
    pub refusals: RefusalCache,
}

impl AuthPlugin {
    /// The authenticator over this plugin's configuration and caches.
    pub fn authenticator(&self) -> Authenticator<'_> {
        Authenticator {
            config: &self.config,
            jwks: &self.jwks,
            basic_cache: &self.basic_cache,
            tokens: &self.tokens,
            refusals: &self.refusals,
            metrics: &self.metrics,
        }
    }

    /// Handles the response of JWKS fetch `token` for provider `index` (nothing when it was
    /// handled already).
    pub fn complete_fetch(
        &self,
        index: usize,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    ) {
        let Some(cache) = self.jwks.get(index).and_then(Option::as_ref) else {
            return;
        };
        let now = unix_secs(host.now());
        match cache.complete(host, now, token, response) {
            Some(Fetched::Updated { skipped }) => {
                self.metrics.count(host, Metric::JwksFetchOk);
                let skipped = u32::try_from(skipped).unwrap_or(u32::MAX);
                self.metrics.add(host, Metric::JwksKeySkipped, skipped);
            }
            Some(Fetched::Failed(why)) => {
                if let Some(line) = cache.failure_line(&why, now) {
                    log::warn!("{line}");
                }
                self.metrics.count(host, Metric::JwksFetchFailed);
            }
            None => {}
        }
    }
}

impl Plugin for AuthPlugin {
    const NAME: &'static str = "auth";
    type Stream = AuthStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        let config = Config::parse(config)?;
        let jwks = config
            .jwt
            .iter()
            .flat_map(|j| j.providers.iter())
            .map(|p| match &p.keys {
                KeySource::Remote(r) => {
                    let cache = JwksCache::new(&p.name, r.clone());
                    cache.init_shared(host);
                    cache.sync(host);
                    Some(cache)
                }
                KeySource::Inline(_) => None,
            })
            .collect();
        Ok(Self {
            metrics: Metrics::define(host),
            config,
            jwks,
            basic_cache: PasswordCache::default(),
            tokens: TokenCache::default(),
            refusals: RefusalCache::default(),
        })
    }

    fn new_stream(plugin: &Rc<Self>) -> AuthStream {
        AuthStream {
            plugin: Rc::clone(plugin),
            phase: Phase::Headers,
            headers_ended: false,
            allowance: Allowance::new(&plugin.config),
        }
    }

    fn tick_period(&self) -> Option<Duration> {
        self.jwks
            .iter()
            .any(Option::is_some)
            .then_some(Duration::from_secs(1))
    }

    fn on_tick(&self, host: &mut dyn Host) {
        let now = unix_secs(host.now());
        for (index, cache) in self.jwks.iter().enumerate() {
            let Some(cache) = cache else { continue };
            cache.sync(host);
            if cache.needs_refresh(now) {
                // The cache tracks the token; the answer comes to `on_call_response` below.
                let _ = self
                    .authenticator()
                    .dispatch_fetch(index, Reason::Refresh, host, now);
            }
        }
    }

    fn on_call_response(
        &self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    ) {
        let index = self
            .jwks
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.is_running(token)));
        if let Some(index) = index {
            self.complete_fetch(index, token, response, host);
        }
    }
}

/// Where a stream is.
#[derive(Debug)]
enum Phase {
    /// Waiting for request headers.
    Headers,
    /// Paused for a JWKS fetch (`joined`: another request's); `body_maybe` when an HMAC
    /// signature may still need the body.
    AwaitingKeys {
        token: u32,
        provider: usize,
        joined: bool,
        body_maybe: bool,
    },
    /// Authenticated but for the body digest.
    AwaitingBody(Box<Success>),
    /// Decided.
    Done,
}

/// Per-request state.
#[derive(Debug)]
pub struct AuthStream {
    plugin: Rc<AuthPlugin>,
    phase: Phase,
    /// The request headers ended the stream (no body).
    headers_ended: bool,
    /// What the request may still spend.
    allowance: Allowance,
}

impl AuthStream {
    fn refuse(&mut self, failure: &Failure, host: &mut dyn Host) -> Decision {
        self.phase = Phase::Done;
        self.plugin.metrics.count(host, failure.metric());
        Decision::Respond(failure.reply(&self.plugin.config.realm))
    }

    fn admit(
        &mut self,
        success: &Success,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        self.phase = Phase::Done;
        apply(success, headers, host);
        self.plugin.metrics.count(host, success.metric);
        Decision::Continue
    }

    fn run(
        &mut self,
        headers: &mut HeaderMap,
        end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let outcome = self
            .plugin
            .authenticator()
            .evaluate(headers, host, &mut self.allowance);
        match outcome {
            Err(Halt::Public) => {
                self.phase = Phase::Done;
                self.plugin.metrics.count(host, Metric::Public);
                Decision::Continue
            }
            Err(Halt::Fail(f)) => self.refuse(&f, host),
            Err(Halt::Fetch {
                token,
                provider,
                joined,
            }) => {
                let body_maybe = !end_of_stream
                    && self
                        .plugin
                        .config
                        .hmac
                        .as_ref()
                        .is_some_and(|h| h.body_digest != BodyDigest::Off)
                    && hmac_presented(headers);
                self.phase = Phase::AwaitingKeys {
                    token,
                    provider,
                    joined,
                    body_maybe,
                };
                Decision::Pause
            }
            Ok(success) => match &success.body_digest {
                Some(digest) if end_of_stream => {
                    if signing::body_matches(digest, b"") {
                        self.admit(&success, headers, host)
                    } else {
                        self.refuse(&body_mismatch(), host)
                    }
                }
                Some(_) => {
                    // Envoy forwards the headers before a filter sees the body, so the identity
                    // goes with them now; a body that fails its digest then gets a 401 and the
                    // upstream request is reset before any body byte reaches it.
                    apply(&success, headers, host);
                    self.phase = Phase::AwaitingBody(Box::new(success));
                    Decision::Continue
                }
                None => self.admit(&success, headers, host),
            },
        }
    }
}

fn body_mismatch() -> Failure {
    Failure::Invalid(
        CredentialType::Hmac,
        signing::SigningError::Digest.to_string(),
    )
}

impl Stream for AuthStream {
    fn reads_response_headers(&self) -> bool {
        false
    }

    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        self.headers_ended = end_of_stream;
        consumer::clear(headers);
        if let Some(jwt) = &self.plugin.config.jwt {
            let names: Vec<String> = jwt.claim_headers().map(str::to_owned).collect();
            for name in names {
                headers.remove(&name);
            }
        }
        self.run(headers, end_of_stream, host)
    }

    fn wants_request_body(&self) -> bool {
        match self.phase {
            Phase::AwaitingBody(_) => true,
            Phase::AwaitingKeys { body_maybe, .. } => body_maybe,
            _ => false,
        }
    }

    fn body_cap(&self) -> usize {
        self.plugin
            .config
            .hmac
            .as_ref()
            .map_or(1 << 20, |h| h.max_body_bytes)
    }

    fn on_request_body(
        &mut self,
        body: &[u8],
        _headers: &HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        let Phase::AwaitingBody(success) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return Decision::Continue;
        };
        match &success.body_digest {
            Some(digest) if !signing::body_matches(digest, body) => {
                self.refuse(&body_mismatch(), host)
            }
            _ => {
                self.plugin.metrics.count(host, success.metric);
                Decision::Continue
            }
        }
    }

    fn on_call_response(
        &mut self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        let Phase::AwaitingKeys {
            token: want,
            provider,
            joined,
            body_maybe,
        } = self.phase
        else {
            return Decision::Continue;
        };
        if token != want {
            return Decision::Pause;
        }
        let cache = self.plugin.jwks.get(provider).and_then(Option::as_ref);
        if joined && response.is_err() && cache.is_some_and(|c| c.is_running(token)) {
            // The request that made the fetch ended before its answer (the host cancelled the
            // callout): this one may fetch (or join another fetch) once more.
            if let Some(cache) = cache {
                cache.orphaned(host, token);
            }
            self.allowance.may_fetch = !self.allowance.rejoined;
            self.allowance.rejoined = true;
        } else {
            self.plugin.complete_fetch(provider, token, response, host);
            self.allowance.may_fetch = false;
        }
        // With a body, a digest is checked in on_request_body (the adapter buffers it because
        // `wants_request_body` said so while paused); without one, it is checked right here.
        let ended = self.headers_ended;
        let decision = self.run(headers, ended, host);
        if matches!(self.phase, Phase::AwaitingBody(_)) && !body_maybe {
            // The adapter is not buffering the body, so its digest could never be checked.
            return self.refuse(&body_mismatch(), host);
        }
        decision
    }
}

#[cfg(test)]
mod tests;
