//! Reading the wire structs from the parsed JSON document (unknown members are errors).

use filter_core::config::{Field, Json};
use filter_core::ConfigError;

use super::wire::{
    CredentialType, RawApiKey, RawBasic, RawBasicCredential, RawBodyDigest, RawClaimHeader,
    RawConfig, RawConsumer, RawHmac, RawHmacKey, RawJwt, RawKeyDigest, RawProvider, RawRemoteJwks,
    RawRule, RawSource,
};

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
        let o = f.object(&["providers", "sources", "max_token_bytes", "forward"])?;
        Ok(Self {
            providers: o.req("providers", |f| f.list(RawProvider::read))?,
            sources: o.opt("sources", sources)?,
            max_token_bytes: o.opt("max_token_bytes", Field::usize)?,
            forward: o.opt("forward", Field::bool)?,
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
        let o = f.object(&["strip", "cache_seconds"])?;
        Ok(Self {
            strip: o.opt("strip", Field::bool)?,
            cache_seconds: o.opt("cache_seconds", Field::u64)?,
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
        ])?;
        Ok(Self {
            clock_skew_seconds: o.opt("clock_skew_seconds", Field::u64)?,
            required_headers: o.opt("required_headers", Field::strings)?,
            algorithms: o.opt("algorithms", Field::strings)?,
            body_digest: o.opt("body_digest", |f| {
                f.choice(&[
                    ("off", RawBodyDigest::Off),
                    ("if-signed", RawBodyDigest::IfSigned),
                    ("required", RawBodyDigest::Required),
                ])
            })?,
            strip: o.opt("strip", Field::bool)?,
            max_body_bytes: o.opt("max_body_bytes", Field::usize)?,
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
