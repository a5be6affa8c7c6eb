//! Tests of minted keys and of the keys a client may present.

use super::*;
use std::time::Duration;

#[test]
fn minted_keys() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let a = mint(b"req-1", t, 1);
    assert_eq!(a.len(), 32);
    assert!(is_valid_key(&a), "{a}");
    assert_ne!(a, mint(b"req-1", t, 2), "counter changes the key");
    assert_ne!(a, mint(b"req-2", t, 1), "request id changes the key");
    assert_eq!(a, mint(b"req-1", t, 1), "deterministic for the same inputs");
    for (key, want) in [
        ("abc-DEF_09", true),
        ("", false),
        ("a b", false),
        ("a;b", false),
        ("é", false),
        (&"k".repeat(65), false),
    ] {
        assert_eq!(is_valid_key(key), want, "{key:?}");
    }
}
