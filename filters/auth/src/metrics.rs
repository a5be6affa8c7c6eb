//! Every metric of the auth filter, declared once. All are counters named `auth_<outcome>_total`;
//! nothing secret or client-chosen ever appears in a name.

use filter_core::{Host, MetricId, MetricKind};

use crate::credential::CredentialType;

/// A counted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Metric {
    /// A public rule let the request through.
    Public,
    /// Authenticated with an API key.
    AllowedApiKey,
    /// Authenticated with a JWT.
    AllowedJwt,
    /// Authenticated with basic credentials.
    AllowedBasic,
    /// Authenticated with an HMAC signature.
    AllowedHmac,
    /// Let through as the anonymous consumer.
    Anonymous,
    /// 401: no credential.
    MissingCredentials,
    /// 401: a credential was refused.
    InvalidCredentials,
    /// 400: a credential given twice, or two kinds at once.
    AmbiguousCredentials,
    /// 401: credentials naming different consumers.
    CredentialMismatch,
    /// 403: refused by the ACL.
    AccessDenied,
    /// 403: no rule matches.
    NoRule,
    /// 400: ambiguous path.
    BadPath,
    /// 503: no JWT keys could be had.
    KeysUnavailable,
    /// A JWKS fetch stored new keys.
    JwksFetchOk,
    /// A JWKS fetch failed (cached keys, if any, kept).
    JwksFetchFailed,
    /// A JWKS fetch caused by an unknown `kid`.
    JwksUnknownKidFetch,
    /// A JWT signature checked natively by the host (Envoy's `verify_signature`).
    JwtSignatureHost,
    /// A JWT signature checked in the module.
    JwtSignatureModule,
    /// A JWT refused because its request's signature checks ran out (`jwt.max_signature_checks`).
    JwtSignatureLimit,
    /// A JWT refused from the worker's memory of refused signatures, without a check.
    JwtRefusalRemembered,
    /// A key of a fetched JWKS skipped (unusable, or RSA over `jwt.max_rsa_key_bits`).
    JwksKeySkipped,
    /// A basic password hashed (PBKDF2 or salted SHA-256).
    BasicPasswordHashed,
    /// A wrong basic password refused from the worker's memory, without a hash.
    BasicRefusalRemembered,
    /// A request without keys waited on a JWKS fetch another request of the worker made.
    JwksFetchJoined,
}

/// Names, in [`Metric`] order.
pub const NAMES: [&str; 25] = [
    "auth_public_total",
    "auth_allowed_api_key_total",
    "auth_allowed_jwt_total",
    "auth_allowed_basic_total",
    "auth_allowed_hmac_total",
    "auth_anonymous_total",
    "auth_rejected_missing_credentials_total",
    "auth_rejected_invalid_credentials_total",
    "auth_rejected_ambiguous_credentials_total",
    "auth_rejected_credential_mismatch_total",
    "auth_rejected_access_denied_total",
    "auth_rejected_no_rule_total",
    "auth_rejected_bad_path_total",
    "auth_rejected_keys_unavailable_total",
    "auth_jwks_fetch_ok_total",
    "auth_jwks_fetch_failed_total",
    "auth_jwks_unknown_kid_fetch_total",
    "auth_jwt_signature_host_total",
    "auth_jwt_signature_module_total",
    "auth_jwt_signature_limit_total",
    "auth_jwt_refusal_remembered_total",
    "auth_jwks_key_skipped_total",
    "auth_basic_password_hashed_total",
    "auth_basic_refusal_remembered_total",
    "auth_jwks_fetch_joined_total",
];

/// The defined metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: Vec<Option<MetricId>>,
}

impl Metrics {
    /// Defines every metric (a host refusing one only loses that metric).
    pub fn define(host: &mut dyn Host) -> Self {
        Self {
            ids: NAMES
                .iter()
                .map(|n| host.define_metric(MetricKind::Counter, n).ok())
                .collect(),
        }
    }

    /// Counts one `metric`.
    pub fn count(&self, host: &mut dyn Host, metric: Metric) {
        self.add(host, metric, 1);
    }

    /// Counts `n` of `metric` (nothing for 0: Envoy refuses increments that are not positive).
    pub fn add(&self, host: &mut dyn Host, metric: Metric, n: u32) {
        if let (Some(Some(id)), true) = (self.ids.get(metric as usize), n > 0) {
            host.increment_metric(*id, i64::from(n));
        }
    }
}

/// The success metric of a credential type.
pub fn allowed(t: CredentialType) -> Metric {
    match t {
        CredentialType::ApiKey => Metric::AllowedApiKey,
        CredentialType::Jwt => Metric::AllowedJwt,
        CredentialType::Basic => Metric::AllowedBasic,
        CredentialType::Hmac => Metric::AllowedHmac,
    }
}
