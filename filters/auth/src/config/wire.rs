//! The configuration as it arrives: wire structs, one per JSON object, read by hand from the
//! parsed document (unknown members are errors). Defaults are stated on each field; ranges and
//! cross-references are checked when the wire config is turned into [`super::Config`].

use filter_core::config::{Field, Json};
use filter_core::ConfigError;

use crate::credential::CredentialType;
use crate::signing::{BodyDigest, SigningString};

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
    /// Most signature checks one request may make (keys tried), across every key set its token
    /// is checked against. Default 3, 1..=32.
    pub max_signature_checks: Option<u64>,
    /// Largest RSA key accepted, in bits: inline keys over it are errors, remote ones are
    /// skipped. Default 4096, 2048..=8192.
    pub max_rsa_key_bits: Option<u64>,
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
    /// A key without `alg` accepts RS256 only (RSA) or HS256 only (HMAC) instead of its family
    /// (RS256/384/512 and PS256/384/512; HS256/384/512). Default `false`.
    pub strict_alg: Option<bool>,
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
    /// Least time between two fetches caused by an unknown `kid` (for the provider, across
    /// workers), and between two refetches a worker asks for the same `kid`, in seconds. Default
    /// 30, 1..=3600.
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
    /// Most PBKDF2 iterations a consumer's password hash may take (each request with a new
    /// password for a known user costs one such hash). Default 100000, 1000..=1000000.
    pub max_iterations: Option<u64>,
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
    pub body_digest: Option<BodyDigest>,
    /// Remove `Authorization` before the request goes upstream. Default `true`.
    pub strip: Option<bool>,
    /// Largest body digested, in bytes (larger bodies get 413). Default 1048576.
    pub max_body_bytes: Option<usize>,
    /// How `Authorization` signing strings are built: `draft` (lowercase names,
    /// `(request-target)`) or `kong` (names as listed, `request-line`). Default `draft`.
    pub signing_string: Option<SigningString>,
    /// RFC 9421 message signatures (`Signature-Input` and `Signature`). Default: accepted,
    /// with the defaults of [`RawMessageSignatures`].
    pub message_signatures: Option<RawMessageSignatures>,
}

/// RFC 9421 message-signature settings.
#[derive(Debug)]
pub struct RawMessageSignatures {
    /// Accept them. Default `true`.
    pub enabled: Option<bool>,
    /// Components every signature must cover: derived components (`@method`, `@target-uri`,
    /// `@authority`, `@scheme`, `@request-target`, `@path`, `@query`) and lowercase header
    /// names; `@target-uri` covers `@scheme`, `@authority`, `@path` and `@query`,
    /// `@request-target` covers `@path` and `@query`. Default `["@method", "@authority",
    /// "@path", "@query"]`.
    pub required_components: Option<Vec<String>>,
    /// Most labels `Signature-Input` and `Signature` may hold. Default 4, 1..=16.
    pub max_signatures: Option<u64>,
    /// The `tag` parameter a signature must carry. Default none (any or none).
    pub tag: Option<String>,
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

// Reading the wire structs from the parsed document.

type Result<T> = std::result::Result<T, ConfigError>;

/// Deepest nesting of objects and arrays in the document (an object holding a scalar has depth
/// 1). Only an inline JWKS can go deeper than the wire structs, so it is checked there.
const MAX_DEPTH: usize = 32;

/// The depth of an inline JWKS object: the document, `jwt`, `providers`, the provider, itself.
const JWKS_DEPTH: usize = 5;

impl RawConfig {
    /// Reads the document.
    pub fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "realm",
            "consumers",
            "api_key",
            "jwt",
            "basic",
            "hmac",
            "rules",
        ])?;
        Ok(Self {
            realm: o.opt("realm", Field::string)?,
            consumers: o.or_default("consumers", |f| f.list(RawConsumer::read))?,
            api_key: o.opt("api_key", RawApiKey::read)?,
            jwt: o.opt("jwt", RawJwt::read)?,
            basic: o.opt("basic", RawBasic::read)?,
            hmac: o.opt("hmac", RawHmac::read)?,
            rules: o.req("rules", |f| f.list(RawRule::read))?,
        })
    }
}

impl RawConsumer {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["id", "plan", "groups", "api_keys", "basic", "hmac_keys"])?;
        Ok(Self {
            id: o.req("id", Field::string)?,
            plan: o.opt("plan", Field::string)?,
            groups: o.or_default("groups", Field::strings)?,
            api_keys: o.or_default("api_keys", |f| f.list(RawKeyDigest::read))?,
            basic: o.opt("basic", RawBasicCredential::read)?,
            hmac_keys: o.or_default("hmac_keys", |f| f.list(RawHmacKey::read))?,
        })
    }
}

impl RawKeyDigest {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["sha256", "expires_at"])?;
        Ok(Self {
            sha256: o.req("sha256", Field::string)?,
            expires_at: o.opt("expires_at", Field::u64)?,
        })
    }
}

impl RawBasicCredential {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["username", "password_hash"])?;
        Ok(Self {
            username: o.req("username", Field::string)?,
            password_hash: o.req("password_hash", Field::string)?,
        })
    }
}

impl RawHmacKey {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["key_id", "secret"])?;
        Ok(Self {
            key_id: o.req("key_id", Field::string)?,
            secret: o.req("secret", Field::string)?,
        })
    }
}

impl RawSource {
    /// Reads a source as serde reads an externally tagged enum: `"bearer"` (or `{"bearer":
    /// null}`), or an object of one member naming the kind, `{"header": "x-api-key"}`.
    fn read(f: Field<'_>) -> Result<Self> {
        match f.json() {
            Json::String(_) => {
                let kind = f.clone().choice(&[
                    ("bearer", "bearer"),
                    ("header", "header"),
                    ("query", "query"),
                    ("cookie", "cookie"),
                ])?;
                if kind == "bearer" {
                    Ok(Self::Bearer)
                } else {
                    Err(f.error(format!(
                        "invalid type: `{kind}` alone, expected an object naming it: \
                         {{\"{kind}\": \"<name>\"}}"
                    )))
                }
            }
            Json::Object(_) => {
                let entries = f.clone().entries()?;
                let [(kind, value)] = entries.as_slice() else {
                    return Err(f.error(format!(
                        "invalid length {}, expected an object with one member",
                        entries.len()
                    )));
                };
                let value = value.clone();
                match *kind {
                    "bearer" => match value.nullable() {
                        None => Ok(Self::Bearer),
                        Some(v) => {
                            Err(v
                                .error(format!("invalid type: {}, expected unit", v.json().kind())))
                        }
                    },
                    "header" => value.string().map(Self::Header),
                    "query" => value.string().map(Self::Query),
                    "cookie" => value.string().map(Self::Cookie),
                    other => Err(value.error(format!(
                        "unknown variant `{other}`, expected one of `bearer`, `header`, `query`, \
                         `cookie`"
                    ))),
                }
            }
            other => Err(f.error(format!(
                "invalid type: {}, expected a string or an object with one member",
                other.kind()
            ))),
        }
    }
}

fn sources(f: Field<'_>) -> Result<Vec<RawSource>> {
    f.list(RawSource::read)
}

impl RawApiKey {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["sources", "strip", "max_length"])?;
        Ok(Self {
            sources: o.opt("sources", sources)?,
            strip: o.opt("strip", Field::bool)?,
            max_length: o.opt("max_length", Field::usize)?,
        })
    }
}

impl RawJwt {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "providers",
            "sources",
            "max_token_bytes",
            "forward",
            "max_signature_checks",
            "max_rsa_key_bits",
        ])?;
        Ok(Self {
            providers: o.req("providers", |f| f.list(RawProvider::read))?,
            sources: o.opt("sources", sources)?,
            max_token_bytes: o.opt("max_token_bytes", Field::usize)?,
            forward: o.opt("forward", Field::bool)?,
            max_signature_checks: o.opt("max_signature_checks", Field::u64)?,
            max_rsa_key_bits: o.opt("max_rsa_key_bits", Field::u64)?,
        })
    }
}

impl RawProvider {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "name",
            "issuer",
            "audiences",
            "jwks",
            "remote_jwks",
            "strict_alg",
            "leeway_seconds",
            "require_exp",
            "required_claims",
            "claims_to_headers",
            "consumer_claim",
            "allow_unknown_consumers",
            "unknown_consumer_plan",
            "groups_claim",
        ])?;
        Ok(Self {
            name: o.req("name", Field::string)?,
            issuer: o.req("issuer", Field::string)?,
            audiences: o.or_default("audiences", Field::strings)?,
            jwks: o.opt("jwks", |f| value(f, MAX_DEPTH - JWKS_DEPTH + 1))?,
            remote_jwks: o.opt("remote_jwks", RawRemoteJwks::read)?,
            strict_alg: o.opt("strict_alg", Field::bool)?,
            leeway_seconds: o.opt("leeway_seconds", Field::u64)?,
            require_exp: o.opt("require_exp", Field::bool)?,
            required_claims: o.or_default("required_claims", Field::strings)?,
            claims_to_headers: o
                .or_default("claims_to_headers", |f| f.list(RawClaimHeader::read))?,
            consumer_claim: o.opt("consumer_claim", Field::string)?,
            allow_unknown_consumers: o.opt("allow_unknown_consumers", Field::bool)?,
            unknown_consumer_plan: o.opt("unknown_consumer_plan", Field::string)?,
            groups_claim: o.opt("groups_claim", Field::string)?,
        })
    }
}

/// Any value (the inline JWKS), for the key loader. Duplicate members were refused when the
/// document was parsed; objects and arrays may nest `depth` levels, this one included.
fn value(f: Field<'_>, depth: usize) -> Result<Json> {
    Ok(match f.json() {
        Json::Array(_) | Json::Object(_) if depth == 0 => {
            return Err(f.error(format!(
                "nested too deeply (the configuration nests at most {MAX_DEPTH} levels)"
            )))
        }
        Json::Array(_) => Json::Array(f.list(|f| value(f, depth - 1))?),
        Json::Object(_) => Json::Object(
            f.entries()?
                .into_iter()
                .map(|(name, f)| Ok((name.to_owned(), value(f, depth - 1)?)))
                .collect::<Result<_>>()?,
        ),
        scalar => scalar.clone(),
    })
}

impl RawRemoteJwks {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "cluster",
            "path",
            "authority",
            "timeout_ms",
            "cache_ttl_seconds",
            "unknown_kid_refetch_seconds",
            "retry_seconds",
        ])?;
        Ok(Self {
            cluster: o.req("cluster", Field::string)?,
            path: o.req("path", Field::string)?,
            authority: o.opt("authority", Field::string)?,
            timeout_ms: o.opt("timeout_ms", Field::u64)?,
            cache_ttl_seconds: o.opt("cache_ttl_seconds", Field::u64)?,
            unknown_kid_refetch_seconds: o.opt("unknown_kid_refetch_seconds", Field::u64)?,
            retry_seconds: o.opt("retry_seconds", Field::u64)?,
        })
    }
}

impl RawClaimHeader {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["claim", "header"])?;
        Ok(Self {
            claim: o.req("claim", Field::string)?,
            header: o.req("header", Field::string)?,
        })
    }
}

impl RawBasic {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["strip", "cache_seconds", "max_iterations"])?;
        Ok(Self {
            strip: o.opt("strip", Field::bool)?,
            cache_seconds: o.opt("cache_seconds", Field::u64)?,
            max_iterations: o.opt("max_iterations", Field::u64)?,
        })
    }
}

impl RawHmac {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "clock_skew_seconds",
            "required_headers",
            "algorithms",
            "body_digest",
            "strip",
            "max_body_bytes",
            "signing_string",
            "message_signatures",
        ])?;
        Ok(Self {
            clock_skew_seconds: o.opt("clock_skew_seconds", Field::u64)?,
            required_headers: o.opt("required_headers", Field::strings)?,
            algorithms: o.opt("algorithms", Field::strings)?,
            body_digest: o.opt("body_digest", |f| {
                f.choice(&[
                    ("off", BodyDigest::Off),
                    ("if-signed", BodyDigest::IfSigned),
                    ("required", BodyDigest::Required),
                ])
            })?,
            strip: o.opt("strip", Field::bool)?,
            max_body_bytes: o.opt("max_body_bytes", Field::usize)?,
            signing_string: o.opt("signing_string", |f| {
                f.choice(&[
                    ("draft", SigningString::Draft),
                    ("kong", SigningString::Kong),
                ])
            })?,
            message_signatures: o.opt("message_signatures", RawMessageSignatures::read)?,
        })
    }
}

impl RawMessageSignatures {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&["enabled", "required_components", "max_signatures", "tag"])?;
        Ok(Self {
            enabled: o.opt("enabled", Field::bool)?,
            required_components: o.opt("required_components", Field::strings)?,
            max_signatures: o.opt("max_signatures", Field::u64)?,
            tag: o.opt("tag", Field::string)?,
        })
    }
}

impl RawRule {
    fn read(f: Field<'_>) -> Result<Self> {
        let o = f.object(&[
            "prefix",
            "methods",
            "public",
            "any_of",
            "all_of",
            "anonymous",
            "allow_groups",
            "deny_groups",
        ])?;
        Ok(Self {
            prefix: o.req("prefix", Field::string)?,
            methods: o.or_default("methods", Field::strings)?,
            public: o.or_default("public", Field::bool)?,
            any_of: o.or_default("any_of", credential_types)?,
            all_of: o.or_default("all_of", credential_types)?,
            anonymous: o.opt("anonymous", Field::string)?,
            allow_groups: o.or_default("allow_groups", Field::strings)?,
            deny_groups: o.or_default("deny_groups", Field::strings)?,
        })
    }
}

fn credential_types(f: Field<'_>) -> Result<Vec<CredentialType>> {
    f.list(|f| {
        f.choice(&[
            ("api-key", CredentialType::ApiKey),
            ("jwt", CredentialType::Jwt),
            ("basic", CredentialType::Basic),
            ("hmac", CredentialType::Hmac),
        ])
    })
}
