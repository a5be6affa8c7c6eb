//! The configuration as it arrives: wire structs, one per JSON object, read by hand from the
//! parsed document (unknown members are errors). Defaults are stated on each field; ranges and
//! cross-references are checked when the wire config is turned into [`super::Config`].

/// The whole plugin configuration.
#[derive(Debug)]
pub struct RawConfig {
    /// Realm named in `WWW-Authenticate` challenges. Default `"gateway"`.
    pub realm: Option<String>,
    /// Known consumers. Default none.
    pub consumers: Vec<RawConsumer>,
    /// API-key credentials. Default: API keys disabled.
    pub api_key: Option<RawApiKey>,
    /// JWT credentials. Default: JWT disabled.
    pub jwt: Option<RawJwt>,
    /// Basic credentials. Default: basic disabled.
    pub basic: Option<RawBasic>,
    /// HMAC request signing. Default: disabled.
    pub hmac: Option<RawHmac>,
    /// Rules, first match wins; a request matching none is denied (403). Required.
    pub rules: Vec<RawRule>,
}

/// One consumer.
#[derive(Debug)]
pub struct RawConsumer {
    /// Identifier: 1–64 of `A-Z a-z 0-9 . _ ~ -`. Required.
    pub id: String,
    /// Plan name (same characters). Default none.
    pub plan: Option<String>,
    /// Group names (same characters). Default none.
    pub groups: Vec<String>,
    /// API keys, as SHA-256 digests. Default none.
    pub api_keys: Vec<RawKeyDigest>,
    /// Basic credential. Default none.
    pub basic: Option<RawBasicCredential>,
    /// HMAC signing keys. Default none.
    pub hmac_keys: Vec<RawHmacKey>,
}

/// One API key of a consumer.
#[derive(Debug)]
pub struct RawKeyDigest {
    /// Lowercase or uppercase hex SHA-256 digest of the key (64 characters). Required.
    pub sha256: String,
    /// Unix time (seconds) from which the key is no longer accepted. Default: never expires.
    pub expires_at: Option<u64>,
}

/// A basic credential: user name and password hash.
#[derive(Debug)]
pub struct RawBasicCredential {
    /// User name (no `:`, no control characters). Required.
    pub username: String,
    /// `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` (Django's format) or
    /// `sha256$<salt>$<hex digest of salt followed by password>`. Required.
    pub password_hash: String,
}

/// An HMAC signing key of a consumer.
#[derive(Debug)]
pub struct RawHmacKey {
    /// Key id the client names in `keyId` (token characters). Required.
    pub key_id: String,
    /// Shared secret, at least 32 bytes. Required. Never logged.
    pub secret: String,
}

/// Where a credential is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawSource {
    /// `Authorization: Bearer <token>` (JWT only).
    Bearer,
    /// A request header, by name.
    Header(String),
    /// A query parameter, by name.
    Query(String),
    /// A cookie, by name.
    Cookie(String),
}

/// API-key settings.
#[derive(Debug)]
pub struct RawApiKey {
    /// Where keys are read from. Default `[{"header": "x-api-key"}]`.
    pub sources: Option<Vec<RawSource>>,
    /// Remove the key before the request goes upstream. Default `true`.
    pub strip: Option<bool>,
    /// Longest key accepted, in bytes. Default 256, at most 4096.
    pub max_length: Option<usize>,
}

/// JWT settings.
#[derive(Debug)]
pub struct RawJwt {
    /// Token issuers. Required, at least one.
    pub providers: Vec<RawProvider>,
    /// Where tokens are read from. Default `["bearer"]`.
    pub sources: Option<Vec<RawSource>>,
    /// Largest token accepted, in bytes, checked before decoding. Default 8192, at most 65536.
    pub max_token_bytes: Option<usize>,
    /// Keep the token in the request sent upstream. Default `false` (it is removed).
    pub forward: Option<bool>,
}

/// One JWT issuer.
#[derive(Debug)]
pub struct RawProvider {
    /// Name used in metrics, shared-data keys and logs (token characters). Required.
    pub name: String,
    /// Exact `iss` value. Required; unique across providers.
    pub issuer: String,
    /// Accepted audiences; `aud` must contain one. Default none (then `aud` is not checked).
    pub audiences: Vec<String>,
    /// Inline JWKS (`{"keys": [...]}`). One of `jwks` or `remote_jwks` is required.
    pub jwks: Option<filter_core::json::Json>,
    /// Remote JWKS fetched from a cluster.
    pub remote_jwks: Option<RawRemoteJwks>,
    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds. Default 60, at most 600.
    pub leeway_seconds: Option<u64>,
    /// Refuse tokens without `exp`. Default `true`.
    pub require_exp: Option<bool>,
    /// Claims (dotted paths) that must be present. Default none.
    pub required_claims: Vec<String>,
    /// Claims copied to request headers. Default none.
    pub claims_to_headers: Vec<RawClaimHeader>,
    /// Claim (dotted path) naming the consumer. Default `"sub"`.
    pub consumer_claim: Option<String>,
    /// Accept tokens whose consumer claim names no configured consumer; the claim value (if it
    /// is a valid consumer id) becomes the consumer id. Default `false`.
    pub allow_unknown_consumers: Option<bool>,
    /// For such unknown consumers: the plan to give them. Default none.
    pub unknown_consumer_plan: Option<String>,
    /// For such unknown consumers: claim (dotted path, string or array) holding their groups.
    /// Default none.
    pub groups_claim: Option<String>,
}

/// A remote JWKS.
#[derive(Debug)]
pub struct RawRemoteJwks {
    /// Envoy cluster serving the key set. Required.
    pub cluster: String,
    /// Request path, starting with `/`. Required.
    pub path: String,
    /// `:authority` of the request. Default: the cluster name.
    pub authority: Option<String>,
    /// Callout timeout in milliseconds. Default 5000, 1..=60000.
    pub timeout_ms: Option<u64>,
    /// Age after which the keys are refreshed in the background, in seconds. Default 600,
    /// 10..=86400.
    pub cache_ttl_seconds: Option<u64>,
    /// Least time between two fetches caused by an unknown `kid`, in seconds. Default 30,
    /// 1..=3600.
    pub unknown_kid_refetch_seconds: Option<u64>,
    /// Wait after a failed fetch before the next try, in seconds. Default 1, 1..=3600.
    pub retry_seconds: Option<u64>,
}

/// One claim copied to a request header.
#[derive(Debug)]
pub struct RawClaimHeader {
    /// Claim path, segments joined with `.` (`realm_access.roles`). Required.
    pub claim: String,
    /// Header name (lowercase token). Required. Client-sent copies are always removed.
    pub header: String,
}

/// Basic-credential settings.
#[derive(Debug)]
pub struct RawBasic {
    /// Remove `Authorization` before the request goes upstream. Default `true`.
    pub strip: Option<bool>,
    /// How long a verified password stays cached (by its SHA-256 digest, in memory), in
    /// seconds; 0 disables the cache. Default 300, at most 3600.
    pub cache_seconds: Option<u64>,
}

/// When the request body must carry a verified `digest` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawBodyDigest {
    /// Never checked.
    Off,
    /// Checked when the client signed a `digest` header.
    IfSigned,
    /// Every signed request must sign a `digest` header that matches the body.
    Required,
}

/// HMAC request-signing settings.
#[derive(Debug)]
pub struct RawHmac {
    /// Largest allowed difference between `date` (or `x-date`) and now, in seconds. Default
    /// 300, 1..=3600.
    pub clock_skew_seconds: Option<u64>,
    /// Headers every signature must cover, besides `date`/`x-date` (always required).
    /// `(request-target)` stands for the method and path. Default `["(request-target)"]`.
    pub required_headers: Option<Vec<String>>,
    /// Accepted algorithms among `hmac-sha256`, `hmac-sha384`, `hmac-sha512`. Default all.
    pub algorithms: Option<Vec<String>>,
    /// Body digest policy: `off`, `if-signed` or `required`. Default `if-signed`.
    pub body_digest: Option<RawBodyDigest>,
    /// Remove `Authorization` before the request goes upstream. Default `true`.
    pub strip: Option<bool>,
    /// Largest body digested, in bytes (larger bodies get 413). Default 1048576.
    pub max_body_bytes: Option<usize>,
}

/// A credential type a rule accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialType {
    /// An API key.
    ApiKey,
    /// A JWT.
    Jwt,
    /// Basic credentials.
    Basic,
    /// An HMAC-signed request.
    Hmac,
}

impl CredentialType {
    /// The name used in `x-gateway-credential`, metrics and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::Jwt => "jwt",
            Self::Basic => "basic",
            Self::Hmac => "hmac",
        }
    }
}

/// One rule.
#[derive(Debug)]
pub struct RawRule {
    /// Path prefix, matched on whole segments (`/api` matches `/api` and `/api/x`, not
    /// `/apix`); `/` matches every path. Required.
    pub prefix: String,
    /// Methods (uppercase). Default: every method.
    pub methods: Vec<String>,
    /// No credential needed. Default `false`. Exclusive with `any_of` and `all_of`.
    pub public: bool,
    /// One credential of these types is needed. Default none.
    pub any_of: Vec<CredentialType>,
    /// A credential of every one of these types is needed, all naming the same consumer.
    /// Default none.
    pub all_of: Vec<CredentialType>,
    /// Consumer id used when the request carries no credential at all. Default none.
    pub anonymous: Option<String>,
    /// The consumer must be in one of these groups. Default: no restriction.
    pub allow_groups: Vec<String>,
    /// A consumer in any of these groups is refused (deny wins over allow). Default none.
    pub deny_groups: Vec<String>,
}
