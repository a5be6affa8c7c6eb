//! Helpers shared by the fuzz targets (`fuzz_targets/*.rs`): the repository's files, test keys
//! that sign tokens the fuzzed code must accept, and the checks several targets make.
//!
//! Nothing here is used by the filters; the keys are fixed test keys, never secrets.

use std::path::PathBuf;
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::{ConfigError, Decision, FakeHost, HeaderMap, Plugin, Stream};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A file of the repository, read once per call (targets keep what they need in a `OnceLock`).
pub fn read(path: &str) -> Vec<u8> {
    let full = root().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// The HS256 secret of the fuzz key set (64 bytes, long enough for HS512 too).
pub const HS_SECRET: &[u8] = b"fuzz-secret-fuzz-secret-fuzz-secret-fuzz-secret-fuzz-secret-0064";

/// The Ed25519 seed of the fuzz key set.
pub const ED_SEED: [u8; 32] = [11; 32];

/// The issuer of the fuzz provider.
pub const ISSUER: &str = "https://fuzz.example";

/// Unpadded base64url.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The fuzz key set as a JWKS: an HMAC secret (`kid` `hs`) and an Ed25519 key (`kid` `ed`).
pub fn jwks() -> serde_json::Value {
    let ed = ed25519_dalek::SigningKey::from_bytes(&ED_SEED).verifying_key();
    serde_json::json!({"keys": [
        {"kty": "oct", "kid": "hs", "k": b64(HS_SECRET)},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64(ed.as_bytes())},
    ]})
}

/// An auth configuration with one JWT provider holding [`jwks`] inline; consumers `alice` and
/// `bob`, unknown consumers refused.
pub fn auth_jwt_config() -> String {
    serde_json::json!({
        "consumers": [{"id": "alice", "plan": "gold"}, {"id": "bob", "plan": "free"}],
        "jwt": {"providers": [{
            "name": "fuzz", "issuer": ISSUER, "audiences": ["gateway"],
            "jwks": jwks(), "consumer_claim": "sub"
        }]},
        "rules": [{"prefix": "/", "any_of": ["jwt"]}]
    })
    .to_string()
}

/// Which key of [`jwks`] signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, arbitrary::Arbitrary)]
pub enum Signer {
    /// HS256 with [`HS_SECRET`].
    Hs256,
    /// HS512 with [`HS_SECRET`].
    Hs512,
    /// EdDSA with [`ED_SEED`].
    EdDsa,
}

impl Signer {
    /// The JOSE `alg`.
    pub fn alg(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs512 => "HS512",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The `kid` of its key in [`jwks`].
    pub fn kid(self) -> &'static str {
        match self {
            Self::Hs256 | Self::Hs512 => "hs",
            Self::EdDsa => "ed",
        }
    }

    /// The signature of `input`.
    pub fn sign(self, input: &[u8]) -> Vec<u8> {
        match self {
            Self::Hs256 => {
                let mut m = Hmac::<Sha256>::new_from_slice(HS_SECRET).expect("any key length");
                m.update(input);
                m.finalize().into_bytes().to_vec()
            }
            Self::Hs512 => {
                let mut m =
                    Hmac::<sha2::Sha512>::new_from_slice(HS_SECRET).expect("any key length");
                m.update(input);
                m.finalize().into_bytes().to_vec()
            }
            Self::EdDsa => {
                use ed25519_dalek::Signer as _;
                ed25519_dalek::SigningKey::from_bytes(&ED_SEED)
                    .sign(input)
                    .to_bytes()
                    .to_vec()
            }
        }
    }

    /// A compact token of `header` and `claims` (raw bytes, base64url-encoded as they are).
    pub fn token(self, header: &[u8], claims: &[u8]) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let sig = self.sign(input.as_bytes());
        format!("{input}.{}", b64(sig))
    }
}

/// A refused configuration names a field path and says what is wrong, in one line.
pub fn check_config_error(err: &ConfigError) {
    assert!(!err.field.is_empty(), "error without a field path: {err:?}");
    assert!(!err.message.is_empty(), "error without a message: {err:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with("invalid configuration at `"),
        "error shown as {shown:?}"
    );
}

/// Configures plugin `P` from `config` on a fake host. An accepted configuration then runs one
/// ordinary request through a stream (no panic, whatever the configuration); a refused one must
/// name its field. Configuring twice gives the same verdict.
pub fn configure_and_run<P: Plugin>(config: &[u8]) -> bool {
    let mut host = FakeHost::new();
    let plugin = match P::configure(config, &mut host) {
        Ok(plugin) => Rc::new(plugin),
        Err(err) => {
            check_config_error(&err);
            let again = P::configure(config, &mut FakeHost::new()).err();
            assert_eq!(again.as_ref(), Some(&err), "a second configure disagrees");
            return false;
        }
    };
    let mut stream = P::new_stream(&plugin);
    let mut headers = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", "/v1/orders?x=1"),
        (":authority", "example.com"),
        (":scheme", "http"),
        ("x-api-key", "fuzz"),
    ]);
    if let Decision::Continue = stream.on_request_headers(&mut headers, true, &mut host) {
        let mut response = HeaderMap::from_pairs([(":status", "200")]);
        let _ = stream.on_response_headers(&mut response, true, &mut host);
    }
    stream.on_log(&mut host);
    true
}

/// The depth of a JSON tree (a scalar is 0, an object holding a scalar 1).
pub fn depth(json: &filter_core::json::Json) -> usize {
    use filter_core::json::Json;
    match json {
        Json::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Json::Object(members) => 1 + members.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
        _ => 0,
    }
}

/// API keys of the gateway configuration ([`gateway_config`]) and their consumers.
pub const API_KEYS: [(&str, &str); 2] = [("fuzz-alice-key", "alice"), ("fuzz-bob-key", "bob")];

/// Basic credentials of the gateway configuration: user, password (consumer `carol`).
pub const BASIC: (&str, &str) = ("carol", "carol-pass");

/// The HMAC key of the gateway configuration: key id, secret (consumer `bob`).
pub const HMAC_KEY: (&str, &str) = ("bob-hmac", "bob-hmac-secret-0123456789abcdef");

/// The issuer of the gateway configuration's remote key set (cluster `jwks`).
pub const REMOTE_ISSUER: &str = "https://idp.example";

/// Consumers of the gateway configuration and their plans.
pub const CONSUMERS: [(&str, &str); 4] = [
    ("alice", "gold"),
    ("bob", "free"),
    ("carol", "free"),
    ("dave", "gold"),
];

/// Callout clusters the gateway configuration uses.
pub const CLUSTERS: [&str; 4] = ["jwks", "collector", "api_v1", "api_v2"];

/// Identity headers only the chain may set: auth's and routing's.
pub const IDENTITY_HEADERS: [&str; 6] = [
    "x-gateway-consumer",
    "x-gateway-plan",
    "x-gateway-groups",
    "x-gateway-credential",
    "x-gateway-version",
    "x-gateway-cluster",
];

/// The bundle's `gateway` configuration the request targets use: auth with every credential
/// type (API keys, an inline and a remote JWT provider, basic, HMAC; a public prefix, a group
/// ACL), and the example configurations of quota, analytics and routing.
pub fn gateway_config() -> String {
    let example = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&read(&format!("filters/{name}/example.json"))).expect("example")
    };
    let auth = serde_json::json!({
        "realm": "fuzz",
        "consumers": [
            {"id": "alice", "plan": "gold", "groups": ["staff"],
             "api_keys": [{"sha256": "d5a9d22f86aaa9e4f8fbd48e1e9df5cb6762c51e7f637127075801cf3abaf6b1"}]},
            {"id": "bob", "plan": "free", "groups": ["partners"],
             "api_keys": [{"sha256": "b392398af1406ce294c2dbbb40ee23653359a0288b498a1d2df38b951956947e"}],
             "hmac_keys": [{"key_id": HMAC_KEY.0, "secret": HMAC_KEY.1}]},
            {"id": "carol", "plan": "free",
             "basic": {"username": BASIC.0,
                       "password_hash": "sha256$carol-salt-1$42e62047d86029048c3d5b85837f873e12b63503597a963e79f2d2b4cbbff7da"}},
            {"id": "dave", "plan": "gold", "groups": ["staff"]}
        ],
        "api_key": {"sources": [{"header": "x-api-key"}, {"query": "api_key"}], "strip": true},
        "jwt": {
            "providers": [
                {"name": "inline", "issuer": ISSUER, "audiences": ["gateway"], "jwks": jwks(),
                 "consumer_claim": "sub",
                 "claims_to_headers": [{"claim": "scope", "header": "x-jwt-scope"}]},
                {"name": "remote", "issuer": REMOTE_ISSUER,
                 "remote_jwks": {"cluster": "jwks", "path": "/jwks.json", "timeout_ms": 2000,
                                 "retry_seconds": 1},
                 "consumer_claim": "sub"}
            ],
            "sources": ["bearer", {"cookie": "access_token"}]
        },
        "basic": {"strip": true, "cache_seconds": 60},
        "hmac": {"clock_skew_seconds": 300, "body_digest": "if-signed", "strip": true},
        "rules": [
            {"prefix": "/health", "public": true},
            {"prefix": "/admin", "any_of": ["api-key", "jwt"], "allow_groups": ["staff"]},
            {"prefix": "/signed", "any_of": ["hmac"]},
            {"prefix": "/", "any_of": ["api-key", "jwt", "basic", "hmac"]}
        ]
    });
    serde_json::json!({
        "auth": auth,
        "quota": example("quota"),
        "analytics": example("analytics"),
        "routing": example("routing"),
    })
    .to_string()
}

/// The plan of a configured consumer.
pub fn plan_of(consumer: &str) -> Option<&'static str> {
    CONSUMERS
        .iter()
        .find(|(c, _)| *c == consumer)
        .map(|(_, p)| *p)
}
