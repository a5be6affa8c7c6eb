//! Configuration tests: the shipped example loads, and each invalid configuration names its
//! field.

use serde_json::{json, Value};

use super::*;
use crate::jwt::alg::Alg;
use crate::jwt::jwk::KeyRules;
use crate::jwt::KeySource;
use crate::signing::{BodyDigest, SigningString};
use crate::source::Source;
use crate::testkit::{b64, jwk};

const EXAMPLE: &str = include_str!("../../example.json");

fn minimal() -> Value {
    json!({
        "consumers": [{"id": "alice", "plan": "gold", "groups": ["staff"],
                       "api_keys": [{"sha256": "5d684145ad289893399e490dc70a6d32dabda79c6409496648ebeeb949abf5d3"}]}],
        "api_key": {},
        "rules": [{"prefix": "/", "any_of": ["api-key"]}]
    })
}

fn with(pointer: &str, value: Value) -> Value {
    let mut v = minimal();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    match target {
        Value::Array(a) => {
            let i = key.parse::<usize>().unwrap();
            if i == a.len() {
                a.push(value);
            } else {
                a[i] = value;
            }
        }
        Value::Object(o) => {
            o.insert(key.to_owned(), value);
        }
        _ => unreachable!(),
    }
    v
}

#[test]
fn the_example_loads() {
    let cfg = Config::parse(EXAMPLE.as_bytes()).unwrap();
    assert_eq!(cfg.consumers.len(), 2);
    assert_eq!(cfg.realm, "gateway");
    let jwt = cfg.jwt.unwrap();
    assert!(matches!(
        jwt.providers[0].keys,
        crate::jwt::KeySource::Remote(_)
    ));
    assert_eq!(jwt.max_token_bytes, 8192);
    assert_eq!(cfg.rules.len(), 4);
}

#[test]
fn defaults() {
    let cfg = Config::parse(minimal().to_string().as_bytes()).unwrap();
    let a = cfg.api_key.unwrap();
    assert_eq!(
        a.sources,
        vec![crate::source::Source::Header("x-api-key".into())]
    );
    assert!(a.strip);
    assert_eq!(a.max_length, 256);
}

#[test]
fn invalid_configs_name_the_field() {
    let rsa = jwk(Alg::Rs256, "r");
    let provider = |extra: Value| {
        let mut p = json!({"name": "main", "issuer": "https://issuer.example", "jwks": {"keys": [rsa.clone()]}});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"providers": [p]})
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (with("/rules", json!([])), "rules", "no rule"),
        (with("/realm", json!("a\"b")), "realm", "quote in realm"),
        (
            with("/consumers/0/id", json!("al ice")),
            "consumers[0].id",
            "bad consumer id",
        ),
        (
            with("/consumers/0/plan", json!("")),
            "consumers[0].plan",
            "empty plan",
        ),
        (
            with("/consumers/0/groups", json!(["ok", "a,b"])),
            "consumers[0].groups[1]",
            "comma in a group",
        ),
        (
            with("/consumers/0/api_keys/0/sha256", json!("abc")),
            "consumers[0].api_keys[0].sha256",
            "short digest",
        ),
        (
            with("/consumers/0/api_keys/0/extra", json!(1)),
            "consumers[0].api_keys[0].extra",
            "unknown field",
        ),
        (
            with("/consumers/1", json!({"id": "alice"})),
            "consumers[1]",
            "duplicate consumer",
        ),
        (
            with("/api_key/sources", json!([{"header": "Bad Name"}])),
            "api_key.sources[0]",
            "bad header name",
        ),
        (
            with("/api_key/sources", json!([{"query": "k"}, {"query": "k"}])),
            "api_key.sources[1]",
            "duplicate source",
        ),
        (
            with("/api_key/sources", json!(["bearer"])),
            "api_key.sources[0]",
            "bearer for API keys",
        ),
        (
            with(
                "/api_key/sources",
                json!([{"header": "x-gateway-consumer"}]),
            ),
            "api_key.sources[0]",
            "identity header as a source",
        ),
        (
            with("/api_key/max_length", json!(1_000_000)),
            "api_key.max_length",
            "max_length out of range",
        ),
        (
            with("/api_key/max_length", json!(-1)),
            "api_key.max_length",
            "negative",
        ),
        (
            with("/rules/0", json!({"prefix": "/", "any_of": ["jwt"]})),
            "rules[0].any_of[0]",
            "jwt not configured",
        ),
        (
            with(
                "/rules/0",
                json!({"prefix": "/", "public": true, "any_of": ["api-key"]}),
            ),
            "rules[0]",
            "public and any_of",
        ),
        (
            with(
                "/rules/0",
                json!({"prefix": "/", "any_of": ["api-key", "api-key"]}),
            ),
            "rules[0].any_of[1]",
            "duplicate type",
        ),
        (
            with("/rules/0", json!({"prefix": "/", "any_of": ["password"]})),
            "rules[0].any_of[0]",
            "unknown type",
        ),
        (
            with("/rules/0", json!({"prefix": "/a/../b", "public": true})),
            "rules[0].prefix",
            "dot segment prefix",
        ),
        (
            with("/rules/0", json!({"prefix": "api", "public": true})),
            "rules[0].prefix",
            "relative prefix",
        ),
        (
            with(
                "/rules/0",
                json!({"prefix": "/", "any_of": ["api-key"], "methods": ["get"]}),
            ),
            "rules[0].methods[0]",
            "lowercase method",
        ),
        (
            with(
                "/rules/0",
                json!({"prefix": "/", "any_of": ["api-key"], "anonymous": "nobody"}),
            ),
            "rules[0].anonymous",
            "unknown anonymous",
        ),
        (
            with(
                "/rules/0",
                json!({"prefix": "/", "public": true, "allow_groups": ["staff"]}),
            ),
            "rules[0].allow_groups",
            "ACL on a public rule",
        ),
        (
            with("/jwt", json!({"providers": []})),
            "jwt.providers",
            "no provider",
        ),
        (
            with("/jwt", provider(json!({"name": "a b"}))),
            "jwt.providers[0].name",
            "bad provider name",
        ),
        (
            with(
                "/jwt",
                provider(json!({"remote_jwks": {"cluster": "jwks", "path": "/k"}})),
            ),
            "jwt.providers[0]",
            "inline and remote",
        ),
        (
            with(
                "/jwt",
                provider(json!({"jwks": {"keys": [{"kty": "oct", "k": b64([1u8; 16])}]}})),
            ),
            "jwt.providers[0].jwks.keys[0].k",
            "short HMAC secret",
        ),
        (
            with(
                "/jwt",
                provider(
                    json!({"jwks": {"keys": [{"kty": "RSA", "n": b64([0xc1u8; 128]), "e": "AQAB"}]}}),
                ),
            ),
            "jwt.providers[0].jwks.keys[0].n",
            "1024-bit RSA",
        ),
        (
            with("/jwt", provider(json!({"leeway_seconds": 100_000}))),
            "jwt.providers[0].leeway_seconds",
            "leeway out of range",
        ),
        (
            with("/jwt", provider(json!({"required_claims": ["a..b"]}))),
            "jwt.providers[0].required_claims[0]",
            "empty path segment",
        ),
        (
            with(
                "/jwt",
                provider(
                    json!({"claims_to_headers": [{"claim": "sub", "header": "x-gateway-plan"}]}),
                ),
            ),
            "jwt.providers[0].claims_to_headers[0].header",
            "identity header as a claim header",
        ),
        (
            with(
                "/jwt",
                provider(
                    json!({"jwks": null, "remote_jwks": {"cluster": "jwks", "path": "jwks.json"}}),
                ),
            ),
            "jwt.providers[0].remote_jwks.path",
            "relative JWKS path",
        ),
        (
            with(
                "/jwt",
                provider(
                    json!({"jwks": null, "remote_jwks": {"cluster": "jwks", "path": "/j", "cache_ttl_seconds": 1}}),
                ),
            ),
            "jwt.providers[0].remote_jwks.cache_ttl_seconds",
            "TTL too short",
        ),
        (
            with(
                "/jwt",
                json!({"providers": [{"name": "a", "issuer": "i", "jwks": {"keys": [rsa.clone()]}}, {"name": "b", "issuer": "i", "jwks": {"keys": [rsa.clone()]}}]}),
            ),
            "jwt.providers[1]",
            "duplicate issuer",
        ),
        (
            with("/hmac", json!({"algorithms": ["hmac-md5"]})),
            "hmac.algorithms[0]",
            "unknown HMAC algorithm",
        ),
        (
            with("/hmac", json!({"body_digest": "sometimes"})),
            "hmac.body_digest",
            "unknown digest policy",
        ),
        (
            with("/hmac", json!({"signing_string": "Kong"})),
            "hmac.signing_string",
            "unknown signing string",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"max_signatures": 17}}),
            ),
            "hmac.message_signatures.max_signatures",
            "too many signatures",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"max_signatures": 0}}),
            ),
            "hmac.message_signatures.max_signatures",
            "no signature",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"required_components": []}}),
            ),
            "hmac.message_signatures.required_components",
            "no required component",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"required_components": ["@method", "@status"]}}),
            ),
            "hmac.message_signatures.required_components[1]",
            "unknown derived component",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"required_components": ["Content-Digest"]}}),
            ),
            "hmac.message_signatures.required_components[0]",
            "uppercase header name",
        ),
        (
            with(
                "/hmac",
                json!({"message_signatures": {"required_components": ["@method", "@method"]}}),
            ),
            "hmac.message_signatures.required_components[1]",
            "duplicate component",
        ),
        (
            with("/hmac", json!({"message_signatures": {"tag": ""}})),
            "hmac.message_signatures.tag",
            "empty tag",
        ),
        (
            with("/hmac", json!({"message_signatures": {"label": "sig1"}})),
            "hmac.message_signatures.label",
            "unknown field",
        ),
        (
            with(
                "/consumers/0/hmac_keys",
                json!([{"key_id": "k", "secret": "short"}]),
            ),
            "consumers[0].hmac_keys[0].secret",
            "short HMAC secret",
        ),
        (
            with(
                "/consumers/0/basic",
                json!({"username": "alice", "password_hash": "plain"}),
            ),
            "consumers[0].basic.password_hash",
            "unhashed password",
        ),
        (
            with(
                "/consumers/0/basic",
                json!({"username": "a:b", "password_hash": "plain"}),
            ),
            "consumers[0].basic.username",
            "colon in user name",
        ),
    ];
    for (config, field, msg) in cases {
        let err = Config::parse(config.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.field, field, "{msg}: {err}");
    }
    // Consumers holding basic credentials without the basic section.
    let mut v = minimal();
    v["consumers"][0]["basic"] = json!({"username": "alice", "password_hash": format!("sha256$saltsalt${}", "0".repeat(64))});
    assert_eq!(
        Config::parse(v.to_string().as_bytes()).unwrap_err().field,
        "basic"
    );
}

#[test]
fn work_limits_default_and_are_refused_out_of_range_naming_the_field() {
    let jwt = |extra: Value| {
        let mut v = inline_jwks(json!({"keys": [jwk(Alg::Rs256, "r")]}));
        for (k, x) in extra.as_object().unwrap() {
            v["jwt"][k] = x.clone();
        }
        Config::parse(v.to_string().as_bytes())
    };
    let j = jwt(json!({})).unwrap().jwt.unwrap();
    assert_eq!(j.max_signature_checks, 3);
    let j = jwt(json!({"max_signature_checks": 32, "max_rsa_key_bits": 8192}))
        .unwrap()
        .jwt
        .unwrap();
    assert_eq!(j.max_signature_checks, 32);
    let basic = |extra: Value| {
        let mut v = minimal();
        v["basic"] = extra;
        Config::parse(v.to_string().as_bytes())
    };
    assert!(basic(json!({"max_iterations": 1000})).is_ok());
    assert!(basic(json!({"max_iterations": 1_000_000})).is_ok());
    let cases = [
        (
            jwt(json!({"max_signature_checks": 0})),
            "jwt.max_signature_checks",
            "1..=32",
        ),
        (
            jwt(json!({"max_signature_checks": 33})),
            "jwt.max_signature_checks",
            "1..=32",
        ),
        (
            jwt(json!({"max_rsa_key_bits": 1024})),
            "jwt.max_rsa_key_bits",
            "2048..=8192",
        ),
        (
            jwt(json!({"max_rsa_key_bits": 16384})),
            "jwt.max_rsa_key_bits",
            "2048..=8192",
        ),
        (
            basic(json!({"max_iterations": 999})),
            "basic.max_iterations",
            "1000..=1000000",
        ),
        (
            basic(json!({"max_iterations": 1_000_001})),
            "basic.max_iterations",
            "1000..=1000000",
        ),
    ];
    for (result, field, range) in cases {
        let err = result.unwrap_err();
        assert_eq!(err.field, field, "{err}");
        assert_eq!(err.message, format!("must be {range}"), "{err}");
    }
}

#[test]
fn malformed_documents_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("{", "invalid JSON"),
        ("[]", "not an object"),
        (
            r#"{"rules":[{"prefix":"/","public":true}],"rules":[]}"#,
            "duplicate top-level field",
        ),
        (
            r#"{"rules":[{"prefix":"/","public":true}],"unknown":1}"#,
            "unknown field",
        ),
    ];
    for (input, msg) in cases {
        assert!(Config::parse(input.as_bytes()).is_err(), "{msg}");
    }
    // Duplicate members are refused as the document is parsed, inside an inline JWKS too.
    let err = Config::parse(
        br#"{"rules":[{"prefix":"/","public":true}],"jwt":{"providers":[{"name":"a","issuer":"i","jwks":{"keys":[{"kty":"oct","kty":"oct"}]}}]}}"#,
    )
    .unwrap_err();
    assert_eq!(err.field, "jwt.providers[0].jwks.keys[0].kty", "{err}");
    assert!(err.message.contains("duplicate field `kty`"), "{err}");
    let huge = format!(
        r#"{{"rules":[{}]}}"#,
        vec![r#"{"prefix":"/","public":true}"#; 10_001].join(",")
    );
    assert_eq!(
        Config::parse(huge.as_bytes()).unwrap_err().field,
        "rules",
        "huge array"
    );
}

/// The document with one inline provider whose JWKS is `jwks`.
fn inline_jwks(jwks: Value) -> Value {
    with(
        "/jwt",
        json!({"providers": [{"name": "main", "issuer": "https://issuer.example", "jwks": jwks}]}),
    )
}

#[test]
fn the_inline_jwks_reaches_the_key_loader_as_written() {
    let rsa = jwk(Alg::Rs256, "r");
    let text = json!({
        "keys": [rsa],
        "x-extra": {"u": 18446744073709551615u64, "n": -3, "f": 2.5, "e": 1e-7, "b": [true, false, null], "s": "\u{e9}"}
    })
    .to_string();
    let doc = inline_jwks(serde_json::from_str(&text).unwrap()).to_string();
    let raw = RawConfig::read(Field::root(&parse(doc.as_bytes()).unwrap())).unwrap();
    let jwks = raw.jwt.unwrap().providers.remove(0).jwks.unwrap();
    assert_eq!(
        jwks,
        serde_json::from_str::<filter_core::json::Json>(&text).unwrap()
    );
    assert!(Config::parse(doc.as_bytes()).is_ok());
}

#[test]
fn strict_alg_binds_keys_without_alg_inline_and_remote() {
    let mut rsa = jwk(Alg::Rs256, "r");
    rsa.as_object_mut().unwrap().remove("alg");
    let algs = |strict: Option<Value>| {
        let mut v = inline_jwks(json!({"keys": [rsa]}));
        if let Some(strict) = strict {
            v["jwt"]["providers"][0]["strict_alg"] = strict;
        }
        let cfg = Config::parse(v.to_string().as_bytes()).map_err(|e| e.to_string())?;
        let KeySource::Inline(set) = &cfg.jwt.unwrap().providers[0].keys else {
            unreachable!()
        };
        Ok::<_, String>(set.keys[0].algs.to_string())
    };
    assert_eq!(algs(None).unwrap(), "RS256/RS384/RS512/PS256/PS384/PS512");
    assert_eq!(
        algs(Some(json!(false))).unwrap(),
        "RS256/RS384/RS512/PS256/PS384/PS512"
    );
    assert_eq!(algs(Some(json!(true))).unwrap(), "RS256");
    let err = algs(Some(json!("yes"))).unwrap_err();
    assert!(err.contains("jwt.providers[0].strict_alg"), "{err}");
    // A remote key set is loaded under the same rules.
    let mut v = minimal();
    v["jwt"] = json!({"providers": [{"name": "main", "issuer": "https://issuer.example", "strict_alg": true,
                                     "remote_jwks": {"cluster": "jwks", "path": "/k"}}],
                      "max_rsa_key_bits": 3072});
    let cfg = Config::parse(v.to_string().as_bytes()).unwrap();
    let KeySource::Remote(r) = &cfg.jwt.unwrap().providers[0].keys else {
        unreachable!()
    };
    assert_eq!(
        r.key_rules,
        KeyRules {
            max_rsa_bits: 3072,
            strict_alg: true
        }
    );
}

#[test]
fn an_inline_jwks_nests_within_the_documents_32_levels() {
    // The JWKS object is the fifth level (document, `jwt`, `providers`, provider, JWKS); the
    // arrays under `x` take the rest.
    let nested = |levels: usize| (0..levels).fold(json!(1), |v, _| json!([v]));
    let rsa = jwk(Alg::Rs256, "r");
    let ok = inline_jwks(json!({"keys": [rsa.clone()], "x": nested(27)}));
    assert!(Config::parse(ok.to_string().as_bytes()).is_ok());
    let deep = inline_jwks(json!({"keys": [rsa], "x": nested(28)}));
    let err = Config::parse(deep.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err.field,
        format!("jwt.providers[0].jwks.x{}", "[0]".repeat(27)),
        "{err}"
    );
    assert!(err.message.contains("nested too deeply"), "{err}");
}

#[test]
fn sources_are_a_name_or_an_object_of_one_member() {
    let jwt = |sources: Value| {
        let mut v = inline_jwks(json!({"keys": [jwk(Alg::Rs256, "r")]}));
        v["jwt"]["sources"] = sources;
        Config::parse(v.to_string().as_bytes())
    };
    let cfg = jwt(json!([
        "bearer",
        {"header": "x-token"},
        {"query": "token"},
        {"cookie": "token"}
    ]))
    .unwrap();
    assert_eq!(
        cfg.jwt.unwrap().sources,
        vec![
            Source::Bearer,
            Source::Header("x-token".into()),
            Source::Query("token".into()),
            Source::Cookie("token".into()),
        ]
    );
    // serde's externally tagged form of the unit variant.
    let cfg = jwt(json!([{"bearer": null}])).unwrap();
    assert_eq!(cfg.jwt.unwrap().sources, vec![Source::Bearer]);
    let cases: &[(Value, &str, &str)] = &[
        (
            json!(["cookie"]),
            "jwt.sources[0]",
            r#"`cookie` alone, expected an object naming it: {"cookie": "<name>"}"#,
        ),
        (
            json!(["Bearer"]),
            "jwt.sources[0]",
            "unknown variant `Bearer`, expected one of `bearer`, `header`, `query`, `cookie`",
        ),
        (
            json!([{"path": "/x"}]),
            "jwt.sources[0].path",
            "unknown variant `path`",
        ),
        (
            json!([{"header": 1}]),
            "jwt.sources[0].header",
            "invalid type: a number, expected a string",
        ),
        (
            json!([{"bearer": "x"}]),
            "jwt.sources[0].bearer",
            "invalid type: a string, expected unit",
        ),
        (json!([{}]), "jwt.sources[0]", "invalid length 0"),
        (
            json!([{"header": "a", "query": "b"}]),
            "jwt.sources[0]",
            "invalid length 2",
        ),
        (
            json!(["bearer", null]),
            "jwt.sources[1]",
            "invalid type: null",
        ),
        (json!([1]), "jwt.sources[0]", "invalid type: a number"),
        (json!("bearer"), "jwt.sources", "expected an array"),
    ];
    for (sources, field, message) in cases {
        let err = jwt(sources.clone()).unwrap_err();
        assert_eq!(err.field, *field, "{sources}: {err}");
        assert!(err.message.contains(message), "{sources}: {err}");
    }
}

#[test]
fn enum_spellings() {
    let hmac = |digest: &str| {
        let mut v = minimal();
        v["hmac"] = json!({"body_digest": digest});
        Config::parse(v.to_string().as_bytes()).map(|c| c.hmac.unwrap().body_digest)
    };
    assert_eq!(hmac("off").unwrap(), BodyDigest::Off);
    assert_eq!(hmac("if-signed").unwrap(), BodyDigest::IfSigned);
    assert_eq!(hmac("required").unwrap(), BodyDigest::Required);
    let err = hmac("if_signed").unwrap_err();
    assert_eq!(err.field, "hmac.body_digest");
    assert!(
        err.message.contains(
            "unknown variant `if_signed`, expected one of `off`, `if-signed`, `required`"
        ),
        "{err}"
    );
    let rule = with("/rules/0", json!({"prefix": "/", "all_of": ["api_key"]}));
    let err = Config::parse(rule.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.field, "rules[0].all_of[0]");
    assert!(
        err.message
            .contains("expected one of `api-key`, `jwt`, `basic`, `hmac`"),
        "{err}"
    );
}

#[test]
fn absent_and_null_optional_fields_take_their_defaults() {
    let mut v = minimal();
    v["realm"] = Value::Null;
    v["api_key"] = json!({"sources": null, "strip": null, "max_length": null});
    v["rules"][0]["anonymous"] = Value::Null;
    let cfg = Config::parse(v.to_string().as_bytes()).unwrap();
    assert_eq!(cfg.realm, "gateway");
    let a = cfg.api_key.unwrap();
    assert!(a.strip);
    assert_eq!(a.max_length, 256);
    assert_eq!(cfg.rules[0].anonymous, None);
    // Lists default when absent, but null is not a list.
    let err =
        Config::parse(with("/rules/0/methods", Value::Null).to_string().as_bytes()).unwrap_err();
    assert_eq!(err.field, "rules[0].methods");
    assert!(
        err.message
            .contains("invalid type: null, expected an array"),
        "{err}"
    );
}

#[test]
fn every_value_changed_is_refused_at_its_path_or_accepted() {
    let checked = filter_core::config::testing::check_reader_errors(EXAMPLE.as_bytes(), |b| {
        Config::parse(b).map(drop)
    });
    let (documents, refused) = checked.unwrap();
    assert!(
        documents > 500 && refused > documents / 2,
        "{documents} {refused}"
    );
}

#[test]
fn hmac_signing_settings() {
    let hmac = |h: Value| {
        let mut v = minimal();
        v["hmac"] = h;
        Config::parse(v.to_string().as_bytes()).map(|c| c.hmac.unwrap())
    };
    let defaults = hmac(json!({})).unwrap();
    assert_eq!(defaults.signing_string, SigningString::Draft);
    let m = defaults.message.expect("RFC 9421 accepted by default");
    assert_eq!(m.required, ["@method", "@authority", "@path", "@query"]);
    assert_eq!(m.max_signatures, 4);
    assert_eq!(m.tag, None);

    let set = hmac(json!({
        "signing_string": "kong",
        "message_signatures": {
            "required_components": ["@method", "@target-uri", "content-digest"],
            "max_signatures": 16,
            "tag": "gateway"
        }
    }))
    .unwrap();
    assert_eq!(set.signing_string, SigningString::Kong);
    let m = set.message.unwrap();
    assert_eq!(m.required, ["@method", "@target-uri", "content-digest"]);
    assert_eq!((m.max_signatures, m.tag.as_deref()), (16, Some("gateway")));

    let off = hmac(json!({"message_signatures": {"enabled": false}})).unwrap();
    assert_eq!(off.message, None);

    let err = hmac(json!({"message_signatures": {"max_signatures": 17}})).unwrap_err();
    assert_eq!(err.message, "must be 1..=16");
    let err = hmac(json!({"signing_string": "cavage"})).unwrap_err();
    assert!(
        err.message
            .contains("unknown variant `cavage`, expected one of `draft`, `kong`"),
        "{err}"
    );
}
