//! JWT credentials: providers (issuer, audiences, keys, claim rules), and verification of a
//! compact token against a provider's key set.
//!
//! The order is fixed: decode (size cap, strict base64url, strict JSON, header rules), pick the
//! provider by exact `iss`, pick keys by (issuer, `kid`) and the key's bound algorithm, verify the
//! signature, and only then check the claims.
//!
//! Parts: [`token`] (decoding), [`claims`] (claim rules), [`alg`] (the algorithm table), [`jwk`]
//! (JWKs loaded into keys), [`keys`] (a key's signature check, on the host or in the module),
//! [`verifier`] (one algorithm-bound key), [`public_key`] (RSA and EC keys), `der` (the DER the
//! host's check takes), `signature_cache` (signatures a key verified), [`cache`] (verified
//! tokens).

pub mod alg;
pub mod cache;
pub mod claims;
mod der;
pub mod jwk;
pub mod keys;
pub mod public_key;
mod signature_cache;
pub mod token;
pub mod verifier;

#[cfg(test)]
mod tests;

use std::rc::Rc;
use std::time::Duration;

use filter_core::json::Json;

use crate::source::Source;
use claims::{ClaimPath, ClaimRules};
use keys::{Checks, KeySet};
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
    /// The issuer has no key with this `kid`.
    #[error("unknown key id")]
    UnknownKid,
    /// The key named by `kid` is bound to another algorithm.
    #[error("algorithm does not match the key")]
    AlgMismatch,
    /// The issuer's keys cannot be had (remote key set never fetched successfully).
    #[error("keys unavailable")]
    KeysUnavailable,
    /// No key verifies the signature.
    #[error("invalid signature")]
    BadSignature,
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
    /// Least seconds between unknown-`kid` fetches.
    pub unknown_kid_refetch: u64,
    /// Seconds to wait after a failure.
    pub retry: u64,
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

/// Verifies the signature of `token` with `keys`, then checks its claims at `now`.
///
/// Keys are those of the token's issuer only. With a `kid`, only keys with that `kid` are
/// considered ([`JwtError::UnknownKid`] if there is none, [`JwtError::AlgMismatch`] if none is
/// bound to the token's `alg`); without one, every key bound to the token's `alg` is tried.
///
/// Signatures are checked by `host` natively where it can (see [`keys`]); `checks` counts where.
pub fn verify(
    token: &Token,
    provider: &Provider,
    keys: &KeySet,
    now: i64,
    host: &dyn filter_core::Host,
    checks: &mut Checks,
) -> Result<Json, JwtError> {
    let named: Vec<_> = keys
        .keys
        .iter()
        .filter(|k| token.kid.is_none() || k.kid == token.kid)
        .collect();
    if named.is_empty() {
        return Err(if token.kid.is_some() {
            JwtError::UnknownKid
        } else {
            JwtError::AlgMismatch
        });
    }
    let candidates: Vec<_> = named
        .into_iter()
        .filter(|k| k.verifier.alg() == token.alg)
        .collect();
    if candidates.is_empty() {
        return Err(JwtError::AlgMismatch);
    }
    let valid = candidates
        .iter()
        .any(|k| k.verify(&token.signing_input, &token.signature, host, checks));
    if !valid {
        return Err(JwtError::BadSignature);
    }
    provider.rules.check(&token.claims, now)?;
    Ok(token.claims.clone())
}
