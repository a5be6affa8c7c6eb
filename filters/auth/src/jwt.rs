//! JWT credentials: providers (issuer, audiences, keys, claim rules), and verification of a
//! compact token against a provider's key set.
//!
//! The order is fixed: decode (size cap, strict base64url, strict JSON, header rules), pick the
//! provider by exact `iss`, pick keys by (issuer, `kid`, as `jwt_authn` does: a token's `kid`
//! also tries the keys without one) and the algorithms each key accepts, verify the signature,
//! and only then check the claims.
//!
//! The work an unauthenticated request can cause is bounded: only keys whose type and size can
//! have made the signature are tried, at most [`JwtConfig::max_signature_checks`] per request
//! (a [`Budget`]), and a refused signature is remembered per worker ([`refusals`]) so the same
//! bogus token costs its checks once.
//!
//! Parts: [`token`] (decoding), [`claims`] (claim rules), [`alg`] (the algorithm table), [`jwk`]
//! (JWKs loaded into keys), [`keys`] (a key's signature check, on the host or in the module),
//! [`verifier`] (one algorithm-bound key), [`public_key`] (RSA and EC keys), `der` (the DER the
//! host's check takes), [`signature_cache`] (signatures a key verified), [`refusals`]
//! (signatures refused), [`cache`] (verified tokens).

pub mod alg;
pub mod cache;
pub mod claims;
mod der;
pub mod jwk;
pub mod keys;
pub mod public_key;
pub mod refusals;
pub mod signature_cache;
pub mod token;
pub mod verifier;

#[cfg(test)]
mod tests;

use std::rc::Rc;
use std::time::Duration;

use filter_core::json::Json;

use crate::source::Source;
use claims::{ClaimPath, ClaimRules};
use keys::{Checks, Key, KeySet};
use refusals::RefusalCache;
use token::Token;

/// Why a token was refused. Messages never quote the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Larger than the configured cap.
    #[error("token too large")]
    TooLarge,
    /// Not a well-formed compact JWS.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` missing, `none`, or not supported.
    #[error("unsupported algorithm")]
    UnsupportedAlg,
    /// No provider has this `iss`.
    #[error("unknown issuer")]
    UnknownIssuer,
    /// The issuer has no key with this `kid` (nor a key without `kid` that verifies the token).
    #[error("unknown key id")]
    UnknownKid,
    /// No key the token may be checked with accepts its `alg`.
    #[error("algorithm does not match the key")]
    AlgMismatch,
    /// The issuer's keys cannot be had (remote key set never fetched successfully).
    #[error("keys unavailable")]
    KeysUnavailable,
    /// No key verifies the signature.
    #[error("invalid signature")]
    BadSignature,
    /// The request's signature checks ran out before a key verified the signature.
    #[error("signature check limit reached")]
    CheckLimit,
    /// `exp` passed (leeway included).
    #[error("token expired")]
    Expired,
    /// `nbf` not reached (leeway included).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` in the future (leeway included).
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `aud` holds no accepted audience.
    #[error("audience not accepted")]
    BadAudience,
    /// A required claim (or `exp`) is missing.
    #[error("required claim missing")]
    MissingClaim,
    /// A date claim is not a valid NumericDate.
    #[error("invalid {0} claim")]
    InvalidClaim(&'static str),
    /// The consumer claim names no known consumer.
    #[error("unknown consumer")]
    UnknownConsumer,
}

impl JwtError {
    /// The RFC 6750 error code for `WWW-Authenticate: Bearer`.
    pub fn bearer_error(self) -> &'static str {
        "invalid_token"
    }
}

/// Where a provider's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Keys from the configuration, parsed once.
    Inline(Rc<KeySet>),
    /// Keys fetched from a cluster (and cached by the `jwks` module).
    Remote(RemoteJwks),
}

/// A remote key set's settings.
#[derive(Debug, Clone)]
pub struct RemoteJwks {
    /// Cluster.
    pub cluster: String,
    /// Path.
    pub path: String,
    /// `:authority`.
    pub authority: String,
    /// Callout timeout.
    pub timeout: Duration,
    /// Age (seconds) after which the keys are refreshed.
    pub ttl: u64,
    /// Least seconds between unknown-`kid` fetches (for the provider, and per `kid` in a worker).
    pub unknown_kid_refetch: u64,
    /// Seconds to wait after a failure.
    pub retry: u64,
    /// How the key server's keys are loaded (larger RSA keys than the rules allow are skipped).
    pub key_rules: jwk::KeyRules,
}

/// A claim copied to a request header.
#[derive(Debug, Clone)]
pub struct ClaimHeader {
    /// Claim path.
    pub claim: ClaimPath,
    /// Header name.
    pub header: String,
}

/// One issuer.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Name for metrics, logs and shared-data keys.
    pub name: String,
    /// Claim rules (issuer, audiences, leeway, required claims).
    pub rules: ClaimRules,
    /// Keys.
    pub keys: KeySource,
    /// Claims copied to headers.
    pub claims_to_headers: Vec<ClaimHeader>,
    /// Claim naming the consumer.
    pub consumer_claim: ClaimPath,
    /// Accept consumers that are not configured.
    pub allow_unknown_consumers: bool,
    /// Plan given to unknown consumers.
    pub unknown_consumer_plan: Option<String>,
    /// Claim listing the groups of unknown consumers.
    pub groups_claim: Option<ClaimPath>,
}

/// JWT settings.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// Providers; issuers are unique.
    pub providers: Vec<Provider>,
    /// Token sources.
    pub sources: Vec<Source>,
    /// Largest token, in bytes.
    pub max_token_bytes: usize,
    /// Keep the token for the upstream.
    pub forward: bool,
    /// Most signature checks one request may make, whatever key sets it is checked against.
    pub max_signature_checks: u32,
}

impl JwtConfig {
    /// The provider whose issuer is exactly the token's `iss`.
    pub fn provider_for(&self, token: &Token) -> Result<usize, JwtError> {
        let iss = token
            .claims
            .get("iss")
            .and_then(Json::as_str)
            .ok_or(JwtError::UnknownIssuer)?;
        self.providers
            .iter()
            .position(|p| p.rules.issuer == iss)
            .ok_or(JwtError::UnknownIssuer)
    }

    /// Every header name claims may be copied to (client copies are removed first).
    pub fn claim_headers(&self) -> impl Iterator<Item = &str> {
        self.providers
            .iter()
            .flat_map(|p| p.claims_to_headers.iter().map(|c| c.header.as_str()))
    }
}

/// The default most signature checks per request (`jwt.max_signature_checks`): a token without
/// `kid` is tried against up to three keys of its algorithm and size, as during a rotation that
/// publishes the previous, current and next key.
pub const DEFAULT_MAX_SIGNATURE_CHECKS: u32 = 3;

/// The signature checks one request may still make (`jwt.max_signature_checks`), spent across
/// every key set its token is checked against and every evaluation of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: u32,
    whole: u32,
}

impl Budget {
    /// A budget of `checks` signature checks.
    pub fn new(checks: u32) -> Self {
        Self {
            left: checks,
            whole: checks,
        }
    }

    /// Spends one check; false when none is left.
    pub fn take(&mut self) -> bool {
        let ok = self.left > 0;
        self.left = self.left.saturating_sub(1);
        ok
    }

    /// The checks left.
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Whether nothing was spent yet.
    pub fn untouched(&self) -> bool {
        self.left == self.whole
    }
}

/// What signature checks draw on, and what they did: the request's budget, the worker's memory of
/// refusals, and counts for the metrics.
#[derive(Debug)]
pub struct Work<'a> {
    /// The request's signature checks.
    pub budget: &'a mut Budget,
    /// Signatures refused under a key set, per worker.
    pub refusals: &'a RefusalCache,
    /// Where checks ran.
    pub checks: Checks,
    /// A refusal was answered from `refusals`, without a check.
    pub remembered: bool,
    /// The budget ran out before a key verified the signature.
    pub limited: bool,
}

impl<'a> Work<'a> {
    /// Work drawing on `budget` and `refusals`, nothing done yet.
    pub fn new(budget: &'a mut Budget, refusals: &'a RefusalCache) -> Self {
        Self {
            budget,
            refusals,
            checks: Checks::default(),
            remembered: false,
            limited: false,
        }
    }
}

/// Verifies the signature of `token` with `keys`, then checks its claims at `now`.
///
/// Keys are those of the token's issuer only, picked as Envoy's `jwt_authn` picks them. A token
/// with a `kid` is tried against the keys with that `kid`, then those without one (a key with
/// another `kid` never); one without `kid`, against every key. Of those, only the keys that accept
/// the token's `alg` count ([`JwtError::AlgMismatch`] if none does), and of these only the keys
/// whose signatures have the token's signature's length are tried (an RS256 signature is as long
/// as its key's modulus, an ES256 one 64 bytes), in that order (key-set order within each kind),
/// each spending one check of `work.budget` unless the key remembers verifying this signature:
/// [`JwtError::CheckLimit`] when the budget runs out first. A `kid` no key has is
/// [`JwtError::UnknownKid`] (which may bring a refetch of remote keys) unless a key without `kid`
/// verifies the token.
///
/// A signature refusal (no key verified it, or the budget ran out on a request that had spent
/// nothing before) is remembered in `work.refusals` for this key set and answered from there the
/// next time, without a check. A token that can cost only one check the host has proven is not
/// digested for these memories: its check costs less than the digest.
///
/// Signatures are checked by `host` natively where it can (see [`keys`]); `work.checks` counts
/// where.
pub fn verify(
    token: &Token,
    provider: &Provider,
    keys: &Rc<KeySet>,
    now: i64,
    host: &dyn filter_core::Host,
    work: &mut Work<'_>,
) -> Result<Json, JwtError> {
    let (named, unnamed): (Vec<&Key>, Vec<&Key>) = match &token.kid {
        None => (keys.keys.iter().collect(), Vec::new()),
        Some(kid) => (
            keys.keys
                .iter()
                .filter(|k| k.kid.as_ref() == Some(kid))
                .collect(),
            keys.keys.iter().filter(|k| k.kid.is_none()).collect(),
        ),
    };
    // A `kid` none of the issuer's keys has (keys without `kid` may still verify the token).
    let unknown_kid = token.kid.is_some() && named.is_empty();
    let candidates: Vec<&Key> = named
        .iter()
        .chain(&unnamed)
        .copied()
        .filter(|k| k.accepts(token.alg))
        .collect();
    if candidates.is_empty() {
        return Err(if unknown_kid {
            JwtError::UnknownKid
        } else {
            JwtError::AlgMismatch
        });
    }
    let fitting: Vec<&Key> = candidates
        .into_iter()
        .filter(|k| k.signature_len(token.alg) == token.signature.len())
        .collect();
    match check_signature(token, keys, &fitting, host, work) {
        Err(JwtError::BadSignature) if unknown_kid => return Err(JwtError::UnknownKid),
        result => result?,
    }
    provider.rules.check(&token.claims, now)?;
    Ok(token.claims.clone())
}

/// Whether one of `fitting` (keys of `keys` that can have made the signature) verifies `token`'s
/// signature, within the budget and through the memories (see [`verify`]).
fn check_signature(
    token: &Token,
    keys: &Rc<KeySet>,
    fitting: &[&Key],
    host: &dyn filter_core::Host,
    work: &mut Work<'_>,
) -> Result<(), JwtError> {
    let (alg, msg, sig) = (
        token.alg,
        token.signing_input.as_slice(),
        token.signature.as_slice(),
    );
    let one_proven = matches!(fitting, [key] if key.host_proven(alg));
    let digest = (!fitting.is_empty() && !one_proven).then(|| signature_cache::digest(msg, sig));
    if let Some(digest) = &digest {
        if let Some(error) = work.refusals.get(digest, keys) {
            work.remembered = true;
            return Err(error);
        }
        if fitting.iter().any(|k| k.remembers(digest)) {
            return Ok(());
        }
    }
    let untouched = work.budget.untouched();
    let mut error = JwtError::BadSignature;
    for key in fitting {
        if !work.budget.take() {
            work.limited = true;
            error = JwtError::CheckLimit;
            break;
        }
        if key.check(alg, msg, sig, digest.as_ref(), host, &mut work.checks) {
            return Ok(());
        }
    }
    if let Some(digest) = digest {
        // A limit reached after checks spent elsewhere in the request could end otherwise on its
        // own: that refusal is not remembered.
        if error == JwtError::BadSignature || untouched {
            work.refusals.insert(digest, keys, error);
        }
    }
    Err(error)
}
