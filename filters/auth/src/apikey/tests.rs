//! API-key tests: keys found by digest, rotation and expiry, malformed keys, digest parsing.

use super::*;

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[test]
fn authenticates_rotating_keys() {
    let cfg = ApiKeyConfig {
        sources: vec![Source::Header("x-api-key".into())],
        strip: true,
        max_length: 32,
        keys: vec![
            KeyEntry {
                digest: digest("old"),
                expires_at: Some(1000),
                consumer: 0,
            },
            KeyEntry {
                digest: digest("new"),
                expires_at: None,
                consumer: 0,
            },
            KeyEntry {
                digest: digest("bob"),
                expires_at: None,
                consumer: 1,
            },
        ],
    };
    let long = "k".repeat(33);
    type Case<'a> = (&'a [u8], u64, Result<usize, ApiKeyError>, &'a str);
    let cases: &[Case] = &[
        (b"old", 999, Ok(0), "old key before expiry"),
        (b"old", 1000, Err(ApiKeyError::Expired), "old key at expiry"),
        (b"new", 5000, Ok(0), "new key"),
        (b"bob", 5000, Ok(1), "other consumer"),
        (b"nope", 5000, Err(ApiKeyError::Unknown), "unknown"),
        (b"", 5000, Err(ApiKeyError::Malformed), "empty"),
        (b"ne\nw", 5000, Err(ApiKeyError::Malformed), "LF"),
        (b"ne\rw", 5000, Err(ApiKeyError::Malformed), "CR"),
        (b"ne\0w", 5000, Err(ApiKeyError::Malformed), "NUL"),
        (
            long.as_bytes(),
            5000,
            Err(ApiKeyError::Malformed),
            "over the length cap",
        ),
    ];
    for (key, now, want, msg) in cases {
        assert_eq!(cfg.authenticate(key, *now), *want, "{msg}");
    }
}

#[test]
fn digests_parse() {
    let hex = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
    assert_eq!(parse_digest(hex), Some(digest("foo")));
    assert_eq!(parse_digest(&hex.to_uppercase()), Some(digest("foo")));
    assert_eq!(parse_digest(&hex[1..]), None, "63 characters");
    assert_eq!(parse_digest(&format!("{}g", &hex[1..])), None, "not hex");
    assert_eq!(parse_digest(&"é".repeat(32)), None, "multi-byte characters");
}
