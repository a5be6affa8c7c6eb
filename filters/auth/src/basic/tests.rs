//! Basic-credential tests: both password-hash formats, refused hashes, the verified cache.

use super::*;

/// `pbkdf2_sha256` hash of "s3cret" with salt "saltsalt" and 1000 iterations, computed by
/// Python's `hashlib.pbkdf2_hmac` (the Django format).
const PBKDF2: &str = "pbkdf2_sha256$1000$saltsalt$1RWAS5YYkIY9nckTZesthMF5e49TOFXt8bOwrxWRD7s=";

fn config(hash: &str) -> BasicConfig {
    BasicConfig {
        strip: true,
        cache_seconds: 60,
        users: vec![BasicUser {
            username: "alice".into(),
            hash: PasswordHash::parse(hash).unwrap(),
            consumer: 3,
        }],
    }
}

fn creds(s: &str) -> Vec<u8> {
    STANDARD.encode(s).into_bytes()
}

#[test]
fn verifies_both_formats() {
    // sha256 of "saltsalt" + "s3cret".
    let sha = format!(
        "sha256$saltsalt${}",
        hex(&Sha256::digest(b"saltsalts3cret"))
    );
    for hash in [PBKDF2, sha.as_str()] {
        let cfg = config(hash);
        let cache = VerifiedCache::default();
        let cases = [
            ("alice:s3cret", Ok(3), "right password"),
            ("alice:wrong", Err(BasicError::Invalid), "wrong password"),
            ("bob:s3cret", Err(BasicError::Invalid), "unknown user"),
            ("alice", Err(BasicError::Malformed), "no colon"),
        ];
        for (plain, want, msg) in cases {
            assert_eq!(
                cfg.authenticate(&creds(plain), 100, &cache),
                want,
                "{msg} ({hash})"
            );
        }
        assert_eq!(
            cfg.authenticate(b"!!!", 100, &cache),
            Err(BasicError::Malformed)
        );
        assert_eq!(
            cfg.authenticate(&creds("alice:s3cret"), 159, &cache),
            Ok(3),
            "cached"
        );
        assert_eq!(
            cfg.authenticate(&creds("alice:wrong"), 159, &cache),
            Err(BasicError::Invalid),
            "cache holds only verified passwords"
        );
    }
}

#[test]
fn refuses_bad_hashes() {
    for bad in [
        "plain",
        "pbkdf2_sha256$10$salt$AAAA",
        "pbkdf2_sha256$x$salt$AAAA",
        "pbkdf2_sha256$1000$salt$!!",
        "sha256$short$00",
        "md5$salt$00",
    ] {
        assert!(PasswordHash::parse(bad).is_err(), "{bad}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
