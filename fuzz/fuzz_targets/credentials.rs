//! Credentials a client sends in `Authorization` and friends (`filter_auth`): basic credentials
//! (`basic::decode`), stored password hashes (`basic::PasswordHash::parse`), API key digests
//! (`apikey::parse_digest`), and the HMAC signature header (`signing::HmacConfig::verify`, the
//! draft-cavage parameters `keyId="...",algorithm="...",headers="...",signature="..."`).
//! RFC 9421's `Signature-Input`/`Signature` get a target of their own beside this one.
//!
//! Input: the first byte picks how the rest is used. Asserts:
//! - basic: what decodes re-encodes to the same user and password, the user holds no `:`;
//!   any user (without `:`) and password round-trip through base64;
//! - password hashes: a parsed salted SHA-256 hash verifies the password it was made from and
//!   refuses another; PBKDF2 iterations stay in range;
//! - API key digests: 64 hex characters exactly, and the bytes they spell;
//! - HMAC: a fuzzed `Authorization` verifies only if its signature is the one `signing::sign`
//!   makes for it; a request the fuzz key signed verifies, and changing a signed header or the
//!   signature makes it fail.
#![no_main]

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use filter_auth::apikey::parse_digest;
use filter_auth::basic::{self, PasswordHash, MAX_ITERATIONS};
use filter_auth::signing::{self, HmacConfig};
use filter_core::HeaderMap;
use libfuzzer_sys::fuzz_target;
use sha2::Digest as _;

const SECRET: &[u8] = b"fuzz-hmac-secret-0123456789abcdef";

/// HMAC settings read through auth's configuration reader (so the target follows the
/// configuration as it grows): one key `k1` of consumer 0.
fn hmac_config(required: &[&str], body_digest: &str) -> HmacConfig {
    let config = serde_json::json!({
        "consumers": [{"id": "c", "hmac_keys": [{"key_id": "k1", "secret": std::str::from_utf8(SECRET).expect("text")}]}],
        "hmac": {"clock_skew_seconds": 300, "required_headers": required, "body_digest": body_digest,
                 "algorithms": ["hmac-sha256", "hmac-sha384", "hmac-sha512"]},
        "rules": [{"prefix": "/", "any_of": ["hmac"]}]
    });
    filter_auth::config::Config::parse(config.to_string().as_bytes())
        .expect("fuzz hmac config")
        .hmac
        .expect("hmac")
}

/// No protocol known (read only for Kong's `request-line`).
fn protocol() -> Option<Vec<u8>> {
    None
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// [`now`] as an HTTP date.
fn date() -> String {
    "Tue, 14 Nov 2023 22:13:20 GMT".into()
}

fn basic(data: &[u8]) {
    if let Ok((user, pass)) = basic::decode(data) {
        assert!(!user.contains(&b':'));
        let again = STANDARD.encode([&user[..], b":", &pass[..]].concat());
        assert_eq!(basic::decode(again.as_bytes()), Ok((user, pass)));
    }
    let (user, pass) = data.split_at(data.iter().position(|b| *b == 0).unwrap_or(data.len()));
    let user: Vec<u8> = user.iter().copied().filter(|b| *b != b':').collect();
    let encoded = STANDARD.encode([&user[..], b":", pass].concat());
    if encoded.len() <= 4096 {
        assert_eq!(basic::decode(encoded.as_bytes()), Ok((user, pass.to_vec())));
    }
}

fn password_hash(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(hash) = PasswordHash::parse(&text) {
        if let Some(n) = hash.iterations() {
            assert!((1000..=MAX_ITERATIONS).contains(&n));
        }
    }
    // A salted SHA-256 hash made from the input verifies it, and only it.
    let salt = "fuzz-salt";
    let digest = sha2::Sha256::digest([salt.as_bytes(), data].concat());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let hash = PasswordHash::parse(&format!("sha256${salt}${hex}")).expect("a well-formed hash");
    assert!(hash.verify(data));
    assert!(!hash.verify(&[data, b"x"].concat()));
}

fn digest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(bytes) = parse_digest(&text) {
        assert_eq!(text.len(), 64);
        let lower: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(lower, text.to_ascii_lowercase());
    }
}

fn hmac_header(data: &[u8]) {
    let config = hmac_config(&[], "if-signed");
    let headers = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", "/signed"),
        ("date", date().as_str()),
        (
            "digest",
            "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ),
        ("x-a", "1"),
    ]);
    if let Ok(verified) = config.verify(data, &headers, now(), &protocol) {
        // Only a correct signature over the listed headers gets here: rebuild it.
        let text = std::str::from_utf8(data).expect("verified parameters are UTF-8");
        let params: Vec<(String, String)> = text
            .split(',')
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                ))
            })
            .collect();
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        // Rebuilt only when no value holds a comma or quote (this split would misread it).
        let simple = text.matches(',').count() + 1 == params.len()
            && text.matches('"').count() == 2 * params.len();
        if !simple {
            return;
        }
        if let (Some(alg), Some(sig)) = (get("algorithm"), get("signature")) {
            let listed = get("headers")
                .unwrap_or_else(|| "date".into())
                .to_ascii_lowercase();
            let names: Vec<&str> = listed.split(' ').filter(|h| !h.is_empty()).collect();
            let expected = signing::sign("k1", &alg, SECRET, &names, &headers);
            assert!(
                expected.ends_with(&format!("signature=\"{sig}\"")),
                "forged signature verified"
            );
        }
        assert_eq!(verified.consumer, 0);
    }
}

fn hmac_signed(data: &[u8]) {
    // A request whose path and one header come from the input, signed by the fuzz key.
    let half = data.len() / 2;
    let path = format!(
        "/{}",
        String::from_utf8_lossy(&data[..half]).replace(['\r', '\n', '\0'], "")
    );
    let value: Vec<u8> = data[half..]
        .iter()
        .copied()
        .filter(|b| !matches!(b, b'\r' | b'\n' | 0))
        .collect();
    let headers = HeaderMap::from_pairs([
        (":method", &b"POST"[..]),
        (":path", path.as_bytes()),
        ("date", date().as_bytes()),
        ("x-a", &value[..]),
    ]);
    let config = hmac_config(&["(request-target)"], "if-signed");
    let alg = ["hmac-sha256", "hmac-sha384", "hmac-sha512"][data.len() % 3];
    let names = ["(request-target)", "date", "x-a"];
    let auth = signing::sign("k1", alg, SECRET, &names, &headers);
    let verified = config.verify(auth.as_bytes(), &headers, now(), &protocol);
    assert_eq!(
        verified.map(|v| v.consumer),
        Ok(0),
        "a correctly signed request refused"
    );

    let mut changed_value = value.clone();
    changed_value.push(b'x');
    let tampered = HeaderMap::from_pairs([
        (":method", &b"POST"[..]),
        (":path", path.as_bytes()),
        ("date", date().as_bytes()),
        ("x-a", &changed_value[..]),
    ]);
    assert!(
        config
            .verify(auth.as_bytes(), &tampered, now(), &protocol)
            .is_err(),
        "tampered header verified"
    );
    let moved = HeaderMap::from_pairs([
        (":method", &b"POST"[..]),
        (":path", format!("{path}x").as_bytes()),
        ("date", date().as_bytes()),
        ("x-a", &value[..]),
    ]);
    assert!(
        config
            .verify(auth.as_bytes(), &moved, now(), &protocol)
            .is_err(),
        "tampered path verified"
    );
    let sig_at = auth.rfind("signature=\"").expect("signature") + 11;
    let mut bad = auth.into_bytes();
    let at = sig_at + data.len() % 40;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    assert!(
        config.verify(&bad, &headers, now(), &protocol).is_err(),
        "tampered signature verified"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => basic(rest),
        1 => password_hash(rest),
        2 => digest(rest),
        3 => hmac_header(rest),
        _ => hmac_signed(rest),
    }
});
