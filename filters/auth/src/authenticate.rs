//! Authentication of one request against the rules, over the configuration and the worker's key
//! caches: which credentials are present, whether they are valid, which consumer they name,
//! whether the ACL lets it in, and what must change in the request on success (identity, claim
//! headers, stripped credentials). Remote JWT keys a token needs are fetched from here.
//!
//! The work a request without a valid credential can cause is bounded here: one credential of
//! each type is evaluated; its JWT signature checks draw on the request's [`Allowance`]; refused
//! JWT signatures and basic passwords are remembered per worker; and what was spent is counted.

use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use filter_core::json::Json;
use filter_core::{HeaderMap, Host};

use crate::basic::PasswordCache;
use crate::config::Config;
use crate::consumer::{is_name, Consumer, Identity};
use crate::credential::CredentialType;
use crate::jwks::{JwksCache, Reason};
use crate::jwt::cache::{TokenCache, Verified};
use crate::jwt::keys::KeySet;
use crate::jwt::refusals::RefusalCache;
use crate::jwt::{self, claims, Budget, JwtError, KeySource, Work};
use crate::metrics::{self, Metric, Metrics};
use crate::reply::Failure;
use crate::rules::{self, Requirement};
use crate::signing;
use crate::source::{self, Found, Source};

/// The whole Unix seconds of `at` (0 before the epoch): the clock of API-key expiry, the
/// basic-password cache, JWT claims and the JWKS caches.
pub fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What authentication works over: the configuration and the worker's caches, borrowed from the
/// plugin.
#[derive(Debug, Clone, Copy)]
pub struct Authenticator<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Remote key caches by provider index.
    pub jwks: &'a [Option<JwksCache>],
    /// Recently verified and refused basic passwords.
    pub basic_cache: &'a PasswordCache,
    /// Recently verified JWTs.
    pub tokens: &'a TokenCache,
    /// Recently refused JWT signatures.
    pub refusals: &'a RefusalCache,
    /// Metrics: signature checks and JWKS fetches are counted here.
    pub metrics: &'a Metrics,
}

/// What one request may still spend, across its evaluations (again after a JWKS fetch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// It may start a JWKS fetch (not when evaluated again after one).
    pub may_fetch: bool,
    /// It waited on a fetch whose request ended, and fetched or joined again: never twice.
    pub rejoined: bool,
    /// Its JWT signature checks (`jwt.max_signature_checks`).
    pub budget: Budget,
}

impl Allowance {
    /// A new request's allowance under `config`.
    pub fn new(config: &Config) -> Self {
        let checks = config
            .jwt
            .as_ref()
            .map_or(jwt::DEFAULT_MAX_SIGNATURE_CHECKS, |j| {
                j.max_signature_checks
            });
        Self {
            may_fetch: true,
            rejoined: false,
            budget: Budget::new(checks),
        }
    }
}

/// A change applied to the request once it is let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Remove a credential from where it was found.
    Strip(Source),
    /// Set a header (claims copied to headers).
    Set(String, Vec<u8>),
}

/// A request that may go on, once `body_digest` (if any) matches the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    /// Who it is.
    pub identity: Identity,
    /// Changes to make to the request.
    pub edits: Vec<Edit>,
    /// Signed digest the body must match (HMAC with a signed `digest` or `content-digest`).
    pub body_digest: Option<Vec<u8>>,
    /// The metric to count.
    pub metric: Metric,
}

/// Why evaluation stopped without a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The request is public: let it through unchanged.
    Public,
    /// Refuse it.
    Fail(Failure),
    /// Wait for the JWKS fetch with this token for this provider (dispatched for this request,
    /// or, when `joined`, another request's that this one joined); evaluate again when it
    /// completes.
    Fetch {
        /// The fetch's callout token.
        token: u32,
        /// The provider's index.
        provider: usize,
        /// Whether another request made the fetch.
        joined: bool,
    },
}

impl From<Failure> for Halt {
    fn from(f: Failure) -> Self {
        Halt::Fail(f)
    }
}

/// What one credential proved.
struct Proof {
    consumer: Rc<Consumer>,
    credential: CredentialType,
    edits: Vec<Edit>,
    body_digest: Option<Vec<u8>>,
}

fn scheme(headers: &HeaderMap, names: &[&str]) -> Found {
    names
        .iter()
        .map(|n| source::authorization(headers, n))
        .find(|f| *f != Found::Absent)
        .unwrap_or(Found::Absent)
}

fn from_sources(
    sources: &[Source],
    headers: &HeaderMap,
) -> Result<Option<(Vec<u8>, Source)>, Failure> {
    let mut found = None;
    for s in sources {
        match s.find(headers) {
            Found::Absent => {}
            Found::Ambiguous => return Err(Failure::Ambiguous),
            Found::One(_) if found.is_some() => return Err(Failure::Ambiguous),
            Found::One(v) => found = Some((v, s.clone())),
        }
    }
    Ok(found)
}

/// Whether the request carries an HMAC `Authorization` scheme or an RFC 9421 message signature.
pub fn hmac_presented(headers: &HeaderMap) -> bool {
    scheme(headers, &["signature", "hmac"]) != Found::Absent || signing::message::presented(headers)
}

impl Authenticator<'_> {
    /// The credential of type `t` in `headers`, and where it was.
    fn presented(
        &self,
        t: CredentialType,
        headers: &HeaderMap,
    ) -> Result<Option<(Vec<u8>, Source)>, Failure> {
        let cfg = &self.config;
        let auth = |names: &[&str]| match scheme(headers, names) {
            Found::Absent => Ok(None),
            Found::Ambiguous => Err(Failure::Ambiguous),
            Found::One(v) => Ok(Some((v, Source::Bearer))),
        };
        match t {
            CredentialType::ApiKey => cfg
                .api_key
                .as_ref()
                .map_or(Ok(None), |a| from_sources(&a.sources, headers)),
            CredentialType::Jwt => cfg
                .jwt
                .as_ref()
                .map_or(Ok(None), |j| from_sources(&j.sources, headers)),
            CredentialType::Basic => auth(&["basic"]),
            CredentialType::Hmac => {
                // An RFC 9421 signature (when accepted) is marked by its `Signature-Input`;
                // with an `Authorization` signature too, the request is ambiguous.
                let draft = auth(&["signature", "hmac"])?;
                let message = cfg.hmac.as_ref().is_some_and(|h| h.message.is_some())
                    && signing::message::presented(headers);
                match (draft, message) {
                    (Some(_), true) => Err(Failure::Ambiguous),
                    (None, true) => Ok(Some((
                        Vec::new(),
                        Source::Header(signing::message::SIGNATURE_INPUT.into()),
                    ))),
                    (draft, false) => Ok(draft),
                }
            }
        }
    }

    /// Evaluates the request, spending from `allowance` (`may_fetch` is false when evaluating
    /// again after a JWKS fetch).
    pub fn evaluate(
        &self,
        headers: &HeaderMap,
        host: &mut dyn Host,
        allowance: &mut Allowance,
    ) -> Result<Success, Halt> {
        let path = rules::clean_path(headers.path()).map_err(|e| Failure::BadPath(e.0))?;
        let method = headers.method().unwrap_or_default();
        let rule = rules::find(&self.config.rules, method, path).ok_or(Failure::NoRule)?;
        let (types, all) = match &rule.requirement {
            Requirement::Public => return Err(Halt::Public),
            Requirement::AnyOf(t) => (t, false),
            Requirement::AllOf(t) => (t, true),
        };
        let mut present = Vec::new();
        for t in types {
            if let Some((value, source)) = self.presented(*t, headers)? {
                present.push((*t, value, source));
            }
        }
        if present.is_empty() {
            return match rule.anonymous.and_then(|i| self.config.consumers.get(i)) {
                Some(c) if rule.allows(&c.groups) => Ok(Success {
                    identity: Identity {
                        consumer: c.clone(),
                        credential: "anonymous",
                    },
                    edits: vec![],
                    body_digest: None,
                    metric: Metric::Anonymous,
                }),
                Some(_) => Err(Failure::Denied.into()),
                None => Err(Failure::Missing(types.clone()).into()),
            };
        }
        if !all && present.len() > 1 {
            return Err(Failure::Ambiguous.into());
        }
        if all && present.len() < types.len() {
            return Err(Failure::Missing(types.clone()).into());
        }
        let mut proofs = Vec::new();
        for (t, value, source) in present {
            proofs.push(self.prove(t, &value, source, headers, host, allowance)?);
        }
        let first = proofs.remove(0);
        if proofs.iter().any(|p| p.consumer.id != first.consumer.id) {
            return Err(Failure::Mismatch.into());
        }
        if !rule.allows(&first.consumer.groups) {
            return Err(Failure::Denied.into());
        }
        let mut edits = first.edits;
        let mut body_digest = first.body_digest;
        for p in proofs {
            edits.extend(p.edits);
            body_digest = body_digest.or(p.body_digest);
        }
        Ok(Success {
            identity: Identity {
                consumer: first.consumer,
                credential: first.credential.as_str(),
            },
            edits,
            body_digest,
            metric: metrics::allowed(first.credential),
        })
    }

    fn consumer(&self, index: usize) -> Result<Rc<Consumer>, Failure> {
        self.config
            .consumers
            .get(index)
            .cloned()
            .ok_or_else(|| Failure::Invalid(CredentialType::ApiKey, "unknown consumer".into()))
    }

    fn prove(
        &self,
        t: CredentialType,
        value: &[u8],
        source: Source,
        headers: &HeaderMap,
        host: &mut dyn Host,
        allowance: &mut Allowance,
    ) -> Result<Proof, Halt> {
        let now = unix_secs(host.now());
        let invalid = |e: &dyn std::fmt::Display| Halt::Fail(Failure::Invalid(t, e.to_string()));
        let proof = |consumer, edits, body_digest| Proof {
            consumer,
            credential: t,
            edits,
            body_digest,
        };
        match t {
            CredentialType::ApiKey => {
                let Some(cfg) = &self.config.api_key else {
                    return Err(invalid(&"not configured"));
                };
                let index = cfg.authenticate(value, now).map_err(|e| invalid(&e))?;
                let edits = if cfg.strip {
                    vec![Edit::Strip(source)]
                } else {
                    vec![]
                };
                Ok(proof(self.consumer(index)?, edits, None))
            }
            CredentialType::Basic => {
                let Some(cfg) = &self.config.basic else {
                    return Err(invalid(&"not configured"));
                };
                let result = cfg.authenticate(value, now, self.basic_cache);
                let work = self.basic_cache.take_work();
                self.metrics
                    .add(host, Metric::BasicPasswordHashed, work.hashed);
                self.metrics
                    .add(host, Metric::BasicRefusalRemembered, work.remembered);
                let index = result.map_err(|e| invalid(&e))?;
                let edits = if cfg.strip {
                    vec![Edit::Strip(Source::Bearer)]
                } else {
                    vec![]
                };
                Ok(proof(self.consumer(index)?, edits, None))
            }
            CredentialType::Hmac => {
                let Some(cfg) = &self.config.hmac else {
                    return Err(invalid(&"not configured"));
                };
                let now = host.now();
                let (v, stripped) = if source == Source::Bearer {
                    let protocol = || host.property(&["request", "protocol"]);
                    let v = cfg.verify(value, headers, now, &protocol);
                    (v, vec![Source::Bearer])
                } else {
                    let v = cfg.verify_message(headers, now);
                    let names = [
                        signing::message::SIGNATURE,
                        signing::message::SIGNATURE_INPUT,
                    ];
                    (v, names.map(|n| Source::Header(n.into())).to_vec())
                };
                let v = v.map_err(|e| invalid(&e))?;
                let edits = if cfg.strip {
                    stripped.into_iter().map(Edit::Strip).collect()
                } else {
                    vec![]
                };
                Ok(proof(self.consumer(v.consumer)?, edits, v.body_digest))
            }
            CredentialType::Jwt => self.prove_jwt(value, source, host, allowance, now),
        }
    }

    fn prove_jwt(
        &self,
        value: &[u8],
        source: Source,
        host: &mut dyn Host,
        allowance: &mut Allowance,
        now: u64,
    ) -> Result<Proof, Halt> {
        let Some(cfg) = &self.config.jwt else {
            return Err(invalid_jwt(JwtError::UnknownIssuer));
        };
        let cached = (value.len() <= cfg.max_token_bytes)
            .then(|| self.tokens.get(value, |i| self.current_keys(i)))
            .flatten();
        let fresh = cached.is_none();
        let verified = match cached {
            Some(verified) => verified,
            None => {
                let verified = self.verify_jwt(value, cfg, host, allowance, now)?;
                self.tokens.insert(value, verified)
            }
        };
        let claims = &verified.claims;
        let Some(provider) = cfg.providers.get(verified.provider) else {
            return Err(invalid_jwt(JwtError::UnknownIssuer));
        };
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let (from, until) = verified.window;
        if !fresh && !(from..until).contains(&now) {
            // A remembered token skipped `jwt::verify`, and the clock has left the window its
            // claims passed in: check them again for the precise refusal.
            provider.rules.check(claims, now).map_err(invalid_jwt)?;
        }
        let consumer = self.jwt_consumer(provider, claims).map_err(invalid_jwt)?;
        let mut edits = Vec::new();
        for ch in &provider.claims_to_headers {
            if let Some(v) = claims::lookup(claims, &ch.claim).and_then(claims::header_value) {
                edits.push(Edit::Set(ch.header.clone(), v.into_bytes()));
            }
        }
        if !cfg.forward {
            edits.push(Edit::Strip(source));
        }
        Ok(Proof {
            consumer,
            credential: CredentialType::Jwt,
            edits,
            body_digest: None,
        })
    }

    /// The key set provider `index` verifies with now, if it has one in this worker.
    fn current_keys(&self, index: usize) -> Option<Rc<KeySet>> {
        let cfg = self.config.jwt.as_ref()?;
        match &cfg.providers.get(index)?.keys {
            KeySource::Inline(set) => Some(Rc::clone(set)),
            KeySource::Remote(_) => self.jwks.get(index)?.as_ref()?.keys(),
        }
    }

    /// Decodes and verifies a token not in the token cache (fetching keys when allowed), within
    /// the request's signature checks, and counts what the checks did.
    fn verify_jwt(
        &self,
        value: &[u8],
        cfg: &jwt::JwtConfig,
        host: &mut dyn Host,
        allowance: &mut Allowance,
        now: u64,
    ) -> Result<Verified, Halt> {
        let may_fetch = allowance.may_fetch;
        let mut work = Work::new(&mut allowance.budget, self.refusals);
        let result = self.verify_jwt_counted(value, cfg, host, may_fetch, now, &mut work);
        let m = self.metrics;
        m.add(host, Metric::JwtSignatureHost, work.checks.host);
        m.add(host, Metric::JwtSignatureModule, work.checks.module);
        m.add(host, Metric::JwtSignatureLimit, work.limited.into());
        m.add(host, Metric::JwtRefusalRemembered, work.remembered.into());
        result
    }

    fn verify_jwt_counted(
        &self,
        value: &[u8],
        cfg: &jwt::JwtConfig,
        host: &mut dyn Host,
        may_fetch: bool,
        now: u64,
        work: &mut Work<'_>,
    ) -> Result<Verified, Halt> {
        let token = jwt::token::decode(value, cfg.max_token_bytes).map_err(invalid_jwt)?;
        let index = cfg.provider_for(&token).map_err(invalid_jwt)?;
        let Some(provider) = cfg.providers.get(index) else {
            return Err(invalid_jwt(JwtError::UnknownIssuer));
        };
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        let verified = |keys: Rc<KeySet>,
                        host: &dyn Host,
                        work: &mut Work<'_>|
         -> Result<Verified, JwtError> {
            let claims = jwt::verify(&token, provider, &keys, now_i, host, work)?;
            Ok(Verified {
                provider: index,
                keys,
                window: provider.rules.window(&claims),
                claims,
            })
        };
        match &provider.keys {
            KeySource::Inline(set) => verified(Rc::clone(set), host, work).map_err(invalid_jwt),
            KeySource::Remote(_) => {
                let Some(cache) = self.jwks.get(index).and_then(Option::as_ref) else {
                    return Err(Failure::KeysUnavailable.into());
                };
                if cache.keys().is_none() {
                    cache.sync(host);
                }
                let Some(set) = cache.keys() else {
                    if may_fetch {
                        if let Some(halt) = self.wait_for_keys(index, cache, host, now) {
                            return Err(halt);
                        }
                    }
                    return Err(Failure::KeysUnavailable.into());
                };
                match verified(Rc::clone(&set), host, work) {
                    Err(JwtError::UnknownKid) => {
                        // Another worker may already hold newer keys.
                        cache.sync(host);
                        let newer = cache.keys().filter(|s| !Rc::ptr_eq(s, &set));
                        match newer {
                            Some(set) => verified(set, host, work).map_err(invalid_jwt),
                            None => {
                                // A `kid` this worker asked a refetch for within the interval
                                // asks no more: no shared-state round trip, no fetch.
                                let kid = token.kid.as_deref().unwrap_or_default();
                                if may_fetch && cache.may_refetch_for(kid, now) {
                                    if let Some(t) =
                                        self.dispatch_fetch(index, Reason::UnknownKid, host, now)
                                    {
                                        return Err(Halt::Fetch {
                                            token: t,
                                            provider: index,
                                            joined: false,
                                        });
                                    }
                                }
                                Err(invalid_jwt(JwtError::UnknownKid))
                            }
                        }
                    }
                    other => other.map_err(invalid_jwt),
                }
            }
        }
    }

    fn jwt_consumer(
        &self,
        provider: &jwt::Provider,
        claims: &Json,
    ) -> Result<Rc<Consumer>, JwtError> {
        let id = claims::lookup(claims, &provider.consumer_claim)
            .and_then(Json::as_str)
            .ok_or(JwtError::UnknownConsumer)?;
        if let Some(c) = self
            .config
            .consumer_ids
            .get(id)
            .and_then(|&i| self.config.consumers.get(i))
        {
            return Ok(Rc::clone(c));
        }
        if !provider.allow_unknown_consumers || !is_name(id) {
            return Err(JwtError::UnknownConsumer);
        }
        let groups = provider
            .groups_claim
            .as_ref()
            .and_then(|p| claims::lookup(claims, p))
            .map(|v| match v {
                Json::String(s) => vec![s.clone()],
                Json::Array(items) => items
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => vec![],
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|g| is_name(g))
            .take(32)
            .collect();
        Ok(Rc::new(Consumer {
            id: id.to_owned(),
            plan: provider.unknown_consumer_plan.clone(),
            groups,
        }))
    }

    /// How a request that finds no keys for provider `index` waits for them: it joins this
    /// worker's running fetch (when the host can wake it), or starts one (when none runs and no
    /// failure is being waited out). `None`: it cannot wait.
    fn wait_for_keys(
        &self,
        index: usize,
        cache: &crate::jwks::JwksCache,
        host: &mut dyn Host,
        now: u64,
    ) -> Option<Halt> {
        if let Some(token) = cache.running() {
            if !host.join_call(token) {
                return None;
            }
            self.metrics.count(host, Metric::JwksFetchJoined);
            return Some(Halt::Fetch {
                token,
                provider: index,
                joined: true,
            });
        }
        let token = self.dispatch_fetch(index, Reason::NoKeys, host, now)?;
        Some(Halt::Fetch {
            token,
            provider: index,
            joined: false,
        })
    }

    /// Starts a JWKS fetch for provider `index` if the lease and rate limits allow; the token.
    pub fn dispatch_fetch(
        &self,
        index: usize,
        reason: Reason,
        host: &mut dyn Host,
        now: u64,
    ) -> Option<u32> {
        let cache = self.jwks.get(index)?.as_ref()?;
        let call = cache.begin_fetch(host, now, reason)?;
        if reason == Reason::UnknownKid {
            self.metrics.count(host, Metric::JwksUnknownKidFetch);
        }
        match host.http_call(&call) {
            Ok(token) => {
                cache.started(token);
                Some(token)
            }
            Err(e) => {
                log::warn!("jwks {}: callout to {} refused: {e}", index, call.upstream);
                cache.abandon_fetch(host, now);
                self.metrics.count(host, Metric::JwksFetchFailed);
                None
            }
        }
    }
}

/// Applies the edits and identity of a success to the request.
pub fn apply(success: &Success, headers: &mut HeaderMap, host: &mut dyn Host) {
    for edit in &success.edits {
        match edit {
            Edit::Strip(source) => source.strip(headers),
            Edit::Set(name, value) => {
                headers.set(name, value);
            }
        }
    }
    success.identity.apply(headers, host);
}

/// A refused JWT.
fn invalid_jwt(e: JwtError) -> Halt {
    Halt::Fail(Failure::Invalid(CredentialType::Jwt, e.to_string()))
}
