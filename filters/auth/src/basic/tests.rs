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
        let cache = PasswordCache::default();
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
fn a_wrong_password_is_hashed_once() {
    let cfg = config(PBKDF2);
    let cache = PasswordCache::default();
    for now in [100, 200, 100_000] {
        assert_eq!(
            cfg.authenticate(&creds("alice:wrong"), now, &cache),
            Err(BasicError::Invalid)
        );
    }
    assert_eq!(
        cache.take_work(),
        BasicWork {
            hashed: 1,
            remembered: 2
        }
    );
    assert_eq!(cache.take_work(), BasicWork::default(), "taken");
    assert_eq!(cfg.authenticate(&creds("alice:s3cret"), 100, &cache), Ok(3));
    assert_eq!(
        cfg.authenticate(&creds("bob:wrong"), 100, &cache),
        Err(BasicError::Invalid)
    );
    assert_eq!(
        cache.take_work(),
        BasicWork {
            hashed: 1,
            remembered: 0
        },
        "an unknown user costs no hash"
    );
    // Bounded: a full memory of refusals starts over ("alice:wrong" is one of them).
    for i in 1..CACHE_CAP {
        let _ = cfg.authenticate(&creds(&format!("alice:wrong-{i}")), 100, &cache);
    }
    assert_eq!(cache.refused_len(), CACHE_CAP);
    let _ = cfg.authenticate(&creds("alice:one-more"), 100, &cache);
    assert_eq!(cache.refused_len(), 1);
    // The hash's iteration count, for the configured bound.
    assert_eq!(
        PasswordHash::parse(PBKDF2).unwrap().iterations(),
        Some(1000)
    );
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
