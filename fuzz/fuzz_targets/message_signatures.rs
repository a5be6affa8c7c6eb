//! RFC 9421 HTTP Message Signatures (`filter_auth::signing::message`): the `Signature-Input`
//! and `Signature` fields and RFC 9530's `Content-Digest`, as any client can send them.
//!
//! Input: the first byte picks how the rest is used. Asserts:
//! - fuzzed fields: `verify_message` never accepts a request the fuzz key did not sign (the
//!   fields come from the input, the key never does), and `content_digest` only ever gives a
//!   SHA-256 or SHA-512 sized digest;
//! - signed requests: a request whose path and one header come from the input, signed with
//!   `signing::message::sign` as a client would, verifies for the consumer of key `k1`; changing
//!   the path, the covered header or one byte of the signature makes it fail.
#![no_main]

use std::time::{Duration, SystemTime};

use filter_auth::signing::message::{self, content_digest};
use filter_auth::signing::HmacConfig;
use filter_core::HeaderMap;
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-hmac-secret-0123456789abcdef";
const CREATED: u64 = 1_700_000_000;

/// HMAC settings with RFC 9421 signatures on, read through auth's configuration reader.
fn config() -> HmacConfig {
    let config = serde_json::json!({
        "consumers": [{"id": "c", "hmac_keys": [{"key_id": "k1", "secret": SECRET}]}],
        "hmac": {"clock_skew_seconds": 300, "body_digest": "if-signed",
                 "message_signatures": {"enabled": true}},
        "rules": [{"prefix": "/", "any_of": ["hmac"]}]
    });
    filter_auth::config::Config::parse(config.to_string().as_bytes())
        .expect("fuzz hmac config")
        .hmac
        .expect("hmac")
}

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(CREATED)
}

/// Splits `data` in three at its first two 0xFF bytes.
fn three(data: &[u8]) -> [&[u8]; 3] {
    let mut parts = data.splitn(3, |b| *b == 0xFF);
    [
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    ]
}

fn fuzzed_fields(data: &[u8]) {
    let [input, signature, digest] = three(data);
    let headers = HeaderMap::from_pairs([
        (":method", &b"POST"[..]),
        (":path", &b"/v1/orders?x=1"[..]),
        (":authority", &b"gateway.local"[..]),
        (message::SIGNATURE_INPUT, input),
        (message::SIGNATURE, signature),
        ("content-digest", digest),
    ]);
    assert!(
        config().verify_message(&headers, now()).is_err(),
        "fields the fuzz key never signed verified"
    );
    if let Ok(d) = content_digest(digest) {
        assert!(
            d.len() == 32 || d.len() == 64,
            "digest of {} bytes",
            d.len()
        );
    }
}

/// Keeps the bytes a header value may hold.
fn value(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .copied()
        .filter(|b| (0x20..0x7F).contains(b) && *b != b'"')
        .collect()
}

fn signed(data: &[u8]) {
    let half = data.len() / 2;
    let path = format!(
        "/{}",
        String::from_utf8_lossy(&value(&data[..half])).replace([' ', '?', '#'], "")
    );
    let header = value(&data[half..]);
    let headers = HeaderMap::from_pairs([
        (":method", &b"GET"[..]),
        (":path", path.as_bytes()),
        (":authority", &b"gateway.local"[..]),
        ("x-a", &header[..]),
    ]);
    let components = ["@method", "@authority", "@path", "@query", "x-a"];
    let params = format!(";created={CREATED};keyid=\"k1\"");
    let (input, signature) = message::sign(SECRET.as_bytes(), &components, &params, &headers);
    let request = |path: &[u8], header: &[u8], signature: &[u8]| {
        HeaderMap::from_pairs([
            (":method", &b"GET"[..]),
            (":path", path),
            (":authority", &b"gateway.local"[..]),
            ("x-a", header),
            (message::SIGNATURE_INPUT, input.as_bytes()),
            (message::SIGNATURE, signature),
        ])
    };
    let config = config();
    let verified = config.verify_message(
        &request(path.as_bytes(), &header, signature.as_bytes()),
        now(),
    );
    assert_eq!(
        verified.map(|v| v.consumer),
        Ok(0),
        "a correctly signed request refused"
    );

    let moved = format!("{path}x");
    let changed = [&header[..], b"x"].concat();
    assert!(
        config
            .verify_message(
                &request(moved.as_bytes(), &header, signature.as_bytes()),
                now()
            )
            .is_err(),
        "tampered path verified"
    );
    assert!(
        config
            .verify_message(
                &request(path.as_bytes(), &changed, signature.as_bytes()),
                now()
            )
            .is_err(),
        "tampered header verified"
    );
    // `sig1=:<base64>:`: change one character of the base64.
    let mut bad = signature.into_bytes();
    let at = 6 + data.len() % 40;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    assert!(
        config
            .verify_message(&request(path.as_bytes(), &header, &bad), now())
            .is_err(),
        "tampered signature verified"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        fuzzed_fields(rest);
    } else {
        signed(rest);
    }
});
