//! The bounded digest cache: found by digest, starts over when full, pruned on demand.

use super::*;

#[test]
fn parts_are_delimited() {
    assert_ne!(digest(&[b"ab", b"c"]), digest(&[b"a", b"bc"]));
    assert_eq!(digest(&[b"ab", b"c"]), digest(&[b"ab", b"c"]));
    assert_ne!(digest(&[b"abc"]), digest(&[b"", b"abc"]));
}

#[test]
fn starts_over_when_full() {
    let cache = DigestCache::<u32, 4>::default();
    for i in 0..4u8 {
        cache.insert(digest(&[&[i]]), u32::from(i));
    }
    assert!(cache.is_full());
    assert_eq!(cache.get(&digest(&[&[2]])), Some(2));
    cache.insert(digest(&[&[2]]), 20);
    assert_eq!(cache.len(), 4, "a remembered key is replaced in place");
    cache.insert(digest(&[&[9]]), 9);
    assert_eq!(cache.len(), 1, "a new key in a full cache starts it over");
    assert!(cache.contains(&digest(&[&[9]])));
    assert!(!cache.contains(&digest(&[&[2]])));
}

#[test]
fn retain_prunes() {
    let cache = DigestCache::<u32, 8>::default();
    for i in 0..6u8 {
        cache.insert(digest(&[&[i]]), u32::from(i));
    }
    cache.retain(|v| v % 2 == 0);
    assert_eq!(cache.len(), 3);
    assert!(!cache.is_empty());
}

#[test]
fn memory_is_bounded_by_entries() {
    // 1024 entries: 2048 slots of the entry and a control byte.
    assert_eq!(DigestCache::<(), 1024>::MAX_BYTES, 2048 * 33);
    assert_eq!(DigestCache::<u64, 1024>::MAX_BYTES, 2048 * 41);
}
