//! Validation: the wire structs turned into the runtime [`Config`], with ranges, defaults and
//! cross-references checked; every error names the field path.

use std::rc::Rc;
use std::time::Duration;

use filter_core::config::ensure_unique;
use filter_core::ConfigError;

use super::wire::*;
use super::{Config, MAX_ITEMS};
use crate::apikey::{parse_digest, ApiKeyConfig, KeyEntry};
use crate::basic::{BasicConfig, BasicUser, PasswordHash, DEFAULT_MAX_ITERATIONS, MAX_ITERATIONS};
use crate::consumer::{is_name, Consumer};
use crate::credential::CredentialType;
use crate::jwt::claims::{parse_path, ClaimRules};
use crate::jwt::jwk::MAX_KEYS;
use crate::jwt::jwk::{load_jwks, KeyRules, Origin, DEFAULT_MAX_RSA_BITS, MAX_RSA_BITS_FIELD};
use crate::jwt::public_key::RSA_MAX_BITS;
use crate::jwt::{
    ClaimHeader, JwtConfig, KeySource, Provider, RemoteJwks, DEFAULT_MAX_SIGNATURE_CHECKS,
};
use crate::rules::{Requirement, Rule};
use crate::signing::message::{self, MessageSignatures};
use crate::signing::{
    BodyDigest, HmacAlg, HmacConfig, SigningKey, SigningString, MAX_SIGNED_LINES,
};
use crate::source::Source;

fn e(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::new(field, message)
}

fn bounded<T>(field: &str, items: &[T]) -> Result<(), ConfigError> {
    if items.len() > MAX_ITEMS {
        return Err(e(field, format!("more than {MAX_ITEMS} items")));
    }
    Ok(())
}

fn range(
    field: &str,
    value: Option<u64>,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let v = value.unwrap_or(default);
    if !(min..=max).contains(&v) {
        return Err(e(field, format!("must be {min}..={max}")));
    }
    Ok(v)
}

fn header_name(field: &str, name: &str) -> Result<String, ConfigError> {
    if !filter_core::headers::is_valid_name(name) || name.starts_with(':') {
        return Err(e(field, "not a lowercase header name"));
    }
    Ok(name.to_owned())
}

fn sources(
    field: &str,
    raw: Option<Vec<RawSource>>,
    default: RawSource,
    bearer_ok: bool,
) -> Result<Vec<Source>, ConfigError> {
    let raw = raw.unwrap_or_else(|| vec![default]);
    if raw.is_empty() || raw.len() > 8 {
        return Err(e(field, "1 to 8 sources"));
    }
    if let Some(i) = (1..raw.len()).find(|&i| raw[..i].contains(&raw[i])) {
        return Err(e(format!("{field}[{i}]"), "duplicate source"));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let at = format!("{field}[{i}]");
            Ok(match s {
                RawSource::Bearer if bearer_ok => Source::Bearer,
                RawSource::Bearer => return Err(e(at, "bearer is only for JWT")),
                RawSource::Header(h) => {
                    if h == "authorization"
                        || crate::consumer::IDENTITY_HEADERS.contains(&h.as_str())
                    {
                        return Err(e(at, "reserved header"));
                    }
                    Source::Header(header_name(&at, &h)?)
                }
                RawSource::Query(q)
                    if !q.is_empty()
                        && q.bytes()
                            .all(|b| b.is_ascii_graphic() && !b"&=?#%".contains(&b)) =>
                {
                    Source::Query(q)
                }
                RawSource::Cookie(c)
                    if !c.is_empty()
                        && c.bytes()
                            .all(|b| b.is_ascii_graphic() && !b";=,".contains(&b)) =>
                {
                    Source::Cookie(c)
                }
                _ => return Err(e(at, "invalid query parameter or cookie name")),
            })
        })
        .collect()
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let realm = raw.realm.unwrap_or_else(|| "gateway".into());
        if realm.is_empty()
            || realm.len() > 64
            || !realm
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(e("realm", "1-64 visible ASCII characters, no quotes"));
        }
        bounded("consumers", &raw.consumers)?;
        ensure_unique(
            "consumers",
            "consumer id",
            raw.consumers.iter().map(|c| c.id.as_str()),
        )?;
        let max_iterations = range(
            "basic.max_iterations",
            raw.basic.as_ref().and_then(|b| b.max_iterations),
            DEFAULT_MAX_ITERATIONS.into(),
            1000,
            MAX_ITERATIONS.into(),
        )?;
        let mut consumers = Vec::new();
        let mut api_keys = Vec::new();
        let mut users = Vec::new();
        let mut signing_keys = Vec::new();
        for (i, c) in raw.consumers.iter().enumerate() {
            let at = format!("consumers[{i}]");
            if !is_name(&c.id) {
                return Err(e(format!("{at}.id"), "1-64 of A-Z a-z 0-9 . _ ~ -"));
            }
            if let Some(plan) = &c.plan {
                if !is_name(plan) {
                    return Err(e(format!("{at}.plan"), "1-64 of A-Z a-z 0-9 . _ ~ -"));
                }
            }
            for (j, g) in c.groups.iter().enumerate() {
                if !is_name(g) {
                    return Err(e(
                        format!("{at}.groups[{j}]"),
                        "1-64 of A-Z a-z 0-9 . _ ~ -",
                    ));
                }
            }
            bounded(&format!("{at}.api_keys"), &c.api_keys)?;
            for (j, k) in c.api_keys.iter().enumerate() {
                let digest = parse_digest(&k.sha256)
                    .ok_or_else(|| e(format!("{at}.api_keys[{j}].sha256"), "64 hex characters"))?;
                if api_keys.iter().any(|x: &KeyEntry| x.digest == digest) {
                    return Err(e(
                        format!("{at}.api_keys[{j}].sha256"),
                        "duplicate API key digest",
                    ));
                }
                api_keys.push(KeyEntry {
                    digest,
                    expires_at: k.expires_at,
                    consumer: i,
                });
            }
            if let Some(b) = &c.basic {
                let f = format!("{at}.basic");
                if b.username.is_empty()
                    || b.username.len() > 256
                    || b.username.contains(':')
                    || b.username.chars().any(char::is_control)
                {
                    return Err(e(
                        format!("{f}.username"),
                        "1-256 characters, no ':' or control characters",
                    ));
                }
                if users.iter().any(|u: &BasicUser| u.username == b.username) {
                    return Err(e(format!("{f}.username"), "duplicate user name"));
                }
                let hash = PasswordHash::parse(&b.password_hash)
                    .map_err(|m| e(format!("{f}.password_hash"), m))?;
                if let Some(n) = hash.iterations().filter(|n| u64::from(*n) > max_iterations) {
                    return Err(e(
                        format!("{f}.password_hash"),
                        format!("{n} iterations, over basic.max_iterations ({max_iterations})"),
                    ));
                }
                users.push(BasicUser {
                    username: b.username.clone(),
                    hash,
                    consumer: i,
                });
            }
            for (j, k) in c.hmac_keys.iter().enumerate() {
                let f = format!("{at}.hmac_keys[{j}]");
                if !is_name(&k.key_id) {
                    return Err(e(format!("{f}.key_id"), "1-64 of A-Z a-z 0-9 . _ ~ -"));
                }
                if signing_keys
                    .iter()
                    .any(|s: &SigningKey| s.key_id == k.key_id)
                {
                    return Err(e(format!("{f}.key_id"), "duplicate key id"));
                }
                if k.secret.len() < 32 {
                    return Err(e(format!("{f}.secret"), "at least 32 bytes"));
                }
                signing_keys.push(SigningKey {
                    key_id: k.key_id.clone(),
                    secret: k.secret.as_bytes().to_vec(),
                    consumer: i,
                });
            }
            consumers.push(Rc::new(Consumer {
                id: c.id.clone(),
                plan: c.plan.clone(),
                groups: c.groups.clone(),
            }));
        }

        let api_key = raw
            .api_key
            .map(|a| -> Result<_, ConfigError> {
                Ok(ApiKeyConfig {
                    sources: sources(
                        "api_key.sources",
                        a.sources,
                        RawSource::Header("x-api-key".into()),
                        false,
                    )?,
                    strip: a.strip.unwrap_or(true),
                    max_length: range(
                        "api_key.max_length",
                        a.max_length.map(|v| v as u64),
                        256,
                        8,
                        4096,
                    )? as usize,
                    keys: std::mem::take(&mut api_keys),
                })
            })
            .transpose()?;
        if api_key.is_none() && !api_keys.is_empty() {
            return Err(e(
                "api_key",
                "consumers hold API keys but api_key is not configured",
            ));
        }
        let basic = raw
            .basic
            .map(|b| -> Result<_, ConfigError> {
                Ok(BasicConfig {
                    strip: b.strip.unwrap_or(true),
                    cache_seconds: range("basic.cache_seconds", b.cache_seconds, 300, 0, 3600)?,
                    users: std::mem::take(&mut users),
                })
            })
            .transpose()?;
        if basic.is_none() && !users.is_empty() {
            return Err(e(
                "basic",
                "consumers hold basic credentials but basic is not configured",
            ));
        }
        let hmac = raw
            .hmac
            .map(|h| hmac_config(h, std::mem::take(&mut signing_keys)))
            .transpose()?;
        if hmac.is_none() && !signing_keys.is_empty() {
            return Err(e(
                "hmac",
                "consumers hold HMAC keys but hmac is not configured",
            ));
        }
        let jwt = raw.jwt.map(jwt_config).transpose()?;

        if raw.rules.is_empty() {
            return Err(e("rules", "at least one rule"));
        }
        bounded("rules", &raw.rules)?;
        let configured = |t: CredentialType| match t {
            CredentialType::ApiKey => api_key.is_some(),
            CredentialType::Jwt => jwt.is_some(),
            CredentialType::Basic => basic.is_some(),
            CredentialType::Hmac => hmac.is_some(),
        };
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            if !r.prefix.starts_with('/')
                || crate::rules::clean_path(Some(r.prefix.as_bytes())).is_err()
                || r.prefix.contains('?')
            {
                return Err(e(format!("{at}.prefix"), "a clean path starting with '/'"));
            }
            for (j, m) in r.methods.iter().enumerate() {
                if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(e(format!("{at}.methods[{j}]"), "an uppercase method"));
                }
            }
            let requirement = match (r.public, r.any_of.is_empty(), r.all_of.is_empty()) {
                (true, true, true) => Requirement::Public,
                (false, false, true) => {
                    Requirement::AnyOf(dedup(&format!("{at}.any_of"), r.any_of)?)
                }
                (false, true, false) => {
                    Requirement::AllOf(dedup(&format!("{at}.all_of"), r.all_of)?)
                }
                _ => return Err(e(at, "exactly one of public, any_of or all_of")),
            };
            if let Requirement::AnyOf(types) | Requirement::AllOf(types) = &requirement {
                let field = if matches!(requirement, Requirement::AnyOf(_)) {
                    "any_of"
                } else {
                    "all_of"
                };
                if let Some((j, t)) = types.iter().enumerate().find(|(_, t)| !configured(**t)) {
                    return Err(e(
                        format!("{at}.{field}[{j}]"),
                        format!("{} is not configured", t.as_str()),
                    ));
                }
            }
            let anonymous = match &r.anonymous {
                None => None,
                Some(_) if requirement == Requirement::Public => {
                    return Err(e(
                        format!("{at}.anonymous"),
                        "a public rule has no consumer",
                    ))
                }
                Some(id) => Some(
                    consumers
                        .iter()
                        .position(|c| c.id == *id)
                        .ok_or_else(|| e(format!("{at}.anonymous"), "unknown consumer"))?,
                ),
            };
            for (field, groups) in [
                ("allow_groups", &r.allow_groups),
                ("deny_groups", &r.deny_groups),
            ] {
                if requirement == Requirement::Public && !groups.is_empty() {
                    return Err(e(format!("{at}.{field}"), "a public rule has no ACL"));
                }
                if let Some(j) = groups.iter().position(|g| !is_name(g)) {
                    return Err(e(
                        format!("{at}.{field}[{j}]"),
                        "1-64 of A-Z a-z 0-9 . _ ~ -",
                    ));
                }
            }
            rules.push(Rule {
                prefix: r.prefix,
                methods: r.methods,
                requirement,
                anonymous,
                allow_groups: r.allow_groups,
                deny_groups: r.deny_groups,
            });
        }
        let consumer_ids = consumers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Ok(Config {
            realm,
            consumers,
            consumer_ids,
            api_key,
            jwt,
            basic,
            hmac,
            rules,
        })
    }
}

fn dedup(field: &str, types: Vec<CredentialType>) -> Result<Vec<CredentialType>, ConfigError> {
    ensure_unique(field, "credential type", types.iter().map(|t| t.as_str()))?;
    Ok(types)
}

fn hmac_config(h: RawHmac, keys: Vec<SigningKey>) -> Result<HmacConfig, ConfigError> {
    let required_headers = h
        .required_headers
        .unwrap_or_else(|| vec!["(request-target)".into()]);
    for (i, name) in required_headers.iter().enumerate() {
        if name != "(request-target)" {
            header_name(&format!("hmac.required_headers[{i}]"), name)?;
        }
    }
    let algorithms = match h.algorithms {
        None => vec![HmacAlg::Sha256, HmacAlg::Sha384, HmacAlg::Sha512],
        Some(list) if list.is_empty() => {
            return Err(e("hmac.algorithms", "at least one algorithm"))
        }
        Some(list) => list
            .iter()
            .enumerate()
            .map(|(i, a)| {
                HmacAlg::parse(a).ok_or_else(|| {
                    e(
                        format!("hmac.algorithms[{i}]"),
                        "hmac-sha256, hmac-sha384 or hmac-sha512",
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(HmacConfig {
        clock_skew: Duration::from_secs(range(
            "hmac.clock_skew_seconds",
            h.clock_skew_seconds,
            300,
            1,
            3600,
        )?),
        required_headers,
        algorithms,
        body_digest: h.body_digest.unwrap_or(BodyDigest::IfSigned),
        strip: h.strip.unwrap_or(true),
        max_body_bytes: range(
            "hmac.max_body_bytes",
            h.max_body_bytes.map(|v| v as u64),
            1 << 20,
            0,
            16 << 20,
        )? as usize,
        keys,
        signing_string: h.signing_string.unwrap_or(SigningString::Draft),
        message: message_signatures(h.message_signatures)?,
    })
}

fn message_signatures(
    raw: Option<RawMessageSignatures>,
) -> Result<Option<MessageSignatures>, ConfigError> {
    let f = "hmac.message_signatures";
    let raw = raw.unwrap_or(RawMessageSignatures {
        enabled: None,
        required_components: None,
        max_signatures: None,
        tag: None,
    });
    let required = raw
        .required_components
        .unwrap_or_else(|| message::DEFAULT_REQUIRED.map(String::from).to_vec());
    if required.is_empty() || required.len() > MAX_SIGNED_LINES {
        return Err(e(
            format!("{f}.required_components"),
            format!("1 to {} components", MAX_SIGNED_LINES),
        ));
    }
    for (i, c) in required.iter().enumerate() {
        let at = format!("{f}.required_components[{i}]");
        if c.starts_with('@') {
            if !message::DERIVED.contains(&c.as_str()) {
                return Err(e(
                    at,
                    format!("one of {} or a header name", message::DERIVED.join(", ")),
                ));
            }
        } else {
            header_name(&at, c)?;
        }
        if required[..i].contains(c) {
            return Err(e(at, "duplicate component"));
        }
    }
    let max_signatures = range(
        &format!("{f}.max_signatures"),
        raw.max_signatures,
        message::DEFAULT_MAX_SIGNATURES as u64,
        1,
        message::MAX_SIGNATURES as u64,
    )? as usize;
    if let Some(tag) = &raw.tag {
        if tag.is_empty() || tag.len() > 64 || !tag.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(e(format!("{f}.tag"), "1-64 printable ASCII characters"));
        }
    }
    Ok(raw.enabled.unwrap_or(true).then_some(MessageSignatures {
        required,
        max_signatures,
        tag: raw.tag,
    }))
}

fn claim_path(field: &str, text: &str) -> Result<Vec<String>, ConfigError> {
    parse_path(text).ok_or_else(|| {
        e(
            field,
            "a claim path such as \"sub\" or \"realm_access.roles\"",
        )
    })
}

fn jwt_config(j: RawJwt) -> Result<JwtConfig, ConfigError> {
    if j.providers.is_empty() {
        return Err(e("jwt.providers", "at least one provider"));
    }
    bounded("jwt.providers", &j.providers)?;
    ensure_unique(
        "jwt.providers",
        "provider name",
        j.providers.iter().map(|p| p.name.as_str()),
    )?;
    ensure_unique(
        "jwt.providers",
        "issuer",
        j.providers.iter().map(|p| p.issuer.as_str()),
    )?;
    let max_rsa_bits = range(
        MAX_RSA_BITS_FIELD,
        j.max_rsa_key_bits,
        DEFAULT_MAX_RSA_BITS as u64,
        2048,
        RSA_MAX_BITS as u64,
    )? as usize;
    let max_signature_checks = range(
        "jwt.max_signature_checks",
        j.max_signature_checks,
        DEFAULT_MAX_SIGNATURE_CHECKS.into(),
        1,
        MAX_KEYS as u64,
    )? as u32;
    let mut providers = Vec::new();
    for (i, p) in j.providers.into_iter().enumerate() {
        let at = format!("jwt.providers[{i}]");
        if !is_name(&p.name) {
            return Err(e(format!("{at}.name"), "1-64 of A-Z a-z 0-9 . _ ~ -"));
        }
        if p.issuer.is_empty() {
            return Err(e(format!("{at}.issuer"), "must not be empty"));
        }
        let key_rules = KeyRules {
            max_rsa_bits,
            strict_alg: p.strict_alg.unwrap_or(false),
        };
        let keys = match (p.jwks, p.remote_jwks) {
            (Some(jwks), None) => {
                let (set, _) = load_jwks(&jwks, Origin::Inline, &key_rules)
                    .map_err(|k| e(format!("{at}.jwks.{}", k.at), k.message))?;
                KeySource::Inline(Rc::new(set))
            }
            (None, Some(r)) => {
                let f = format!("{at}.remote_jwks");
                if r.cluster.is_empty() {
                    return Err(e(format!("{f}.cluster"), "must not be empty"));
                }
                if !r.path.starts_with('/')
                    || r.path.bytes().any(|b| b.is_ascii_control() || b == b' ')
                {
                    return Err(e(format!("{f}.path"), "a path starting with '/'"));
                }
                KeySource::Remote(RemoteJwks {
                    authority: r.authority.unwrap_or_else(|| r.cluster.clone()),
                    cluster: r.cluster,
                    path: r.path,
                    timeout: Duration::from_millis(range(
                        &format!("{f}.timeout_ms"),
                        r.timeout_ms,
                        5000,
                        1,
                        60_000,
                    )?),
                    ttl: range(
                        &format!("{f}.cache_ttl_seconds"),
                        r.cache_ttl_seconds,
                        600,
                        10,
                        86_400,
                    )?,
                    unknown_kid_refetch: range(
                        &format!("{f}.unknown_kid_refetch_seconds"),
                        r.unknown_kid_refetch_seconds,
                        30,
                        1,
                        3600,
                    )?,
                    retry: range(&format!("{f}.retry_seconds"), r.retry_seconds, 1, 1, 3600)?,
                    key_rules,
                })
            }
            _ => return Err(e(at, "exactly one of jwks or remote_jwks")),
        };
        let required = p
            .required_claims
            .iter()
            .enumerate()
            .map(|(k, c)| claim_path(&format!("{at}.required_claims[{k}]"), c))
            .collect::<Result<_, _>>()?;
        let mut claims_to_headers = Vec::new();
        for (k, c) in p.claims_to_headers.iter().enumerate() {
            let f = format!("{at}.claims_to_headers[{k}]");
            let header = header_name(&format!("{f}.header"), &c.header)?;
            if header == "authorization"
                || crate::consumer::IDENTITY_HEADERS.contains(&header.as_str())
            {
                return Err(e(format!("{f}.header"), "reserved header"));
            }
            claims_to_headers.push(ClaimHeader {
                claim: claim_path(&format!("{f}.claim"), &c.claim)?,
                header,
            });
        }
        if let Some(plan) = &p.unknown_consumer_plan {
            if !is_name(plan) {
                return Err(e(
                    format!("{at}.unknown_consumer_plan"),
                    "1-64 of A-Z a-z 0-9 . _ ~ -",
                ));
            }
        }
        providers.push(Provider {
            name: p.name,
            rules: ClaimRules {
                issuer: p.issuer,
                audiences: p.audiences,
                leeway: range(
                    &format!("{at}.leeway_seconds"),
                    p.leeway_seconds,
                    60,
                    0,
                    600,
                )? as i64,
                require_exp: p.require_exp.unwrap_or(true),
                required,
            },
            keys,
            claims_to_headers,
            consumer_claim: claim_path(
                &format!("{at}.consumer_claim"),
                p.consumer_claim.as_deref().unwrap_or("sub"),
            )?,
            allow_unknown_consumers: p.allow_unknown_consumers.unwrap_or(false),
            unknown_consumer_plan: p.unknown_consumer_plan,
            groups_claim: p
                .groups_claim
                .as_deref()
                .map(|g| claim_path(&format!("{at}.groups_claim"), g))
                .transpose()?,
        });
    }
    Ok(JwtConfig {
        providers,
        sources: sources("jwt.sources", j.sources, RawSource::Bearer, true)?,
        max_token_bytes: range(
            "jwt.max_token_bytes",
            j.max_token_bytes.map(|v| v as u64),
            8192,
            256,
            65_536,
        )? as usize,
        forward: j.forward.unwrap_or(false),
        max_signature_checks,
    })
}
