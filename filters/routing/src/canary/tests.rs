//! Tests of canary shares and sticky buckets.

use super::*;
use crate::sticky::mint;
use filter_core::{FakeHost, Host};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn consumer(id: &str) -> StickyKey {
    StickyKey::Consumer(id.as_bytes().to_vec())
}

#[test]
fn ramp_steps_on_the_fake_clock() {
    let mut host = FakeHost::new();
    let t0 = host.now();
    let ramp = Ramp {
        start: t0,
        end: t0 + 10 * HOUR,
        steps: 5,
        from: 0,
        to: 5000,
    };
    host.set_time(0);
    assert_eq!(
        ramp_share(&ramp, host.now()),
        0,
        "clock far behind the start"
    );
    host.now = t0 - Duration::from_secs(1);
    let cases: &[(Duration, u32, &str)] = &[
        (
            Duration::from_secs(1),
            0,
            "at start: the first step is not reached yet",
        ),
        (
            2 * HOUR - Duration::from_secs(1),
            0,
            "just before the first step",
        ),
        (Duration::from_secs(1), 1000, "first step (2 h)"),
        (3 * HOUR, 2000, "5 h: two whole steps"),
        (
            5 * HOUR - Duration::from_nanos(1),
            4000,
            "just before the end",
        ),
        (Duration::from_nanos(1), 5000, "at the end"),
        (1000 * HOUR, 5000, "long after the end"),
    ];
    for (advance, want, msg) in cases {
        host.advance(*advance);
        assert_eq!(ramp_share(&ramp, host.now()), *want, "{msg}");
        assert_eq!(
            share(&Weight::Ramp(ramp.clone()), host.now()),
            *want,
            "{msg}"
        );
    }
    host.now = t0;
    assert_eq!(
        ramp_share(&ramp, host.now()),
        0,
        "clock jumped back to the start"
    );
}

#[test]
fn ramp_down_and_single_step() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let down = Ramp {
        start: t0,
        end: t0 + 4 * HOUR,
        steps: 4,
        from: 10_000,
        to: 2000,
    };
    let cases = [(0, 10_000), (1, 8000), (2, 6000), (3, 4000), (4, 2000)];
    for (hours, want) in cases {
        assert_eq!(
            ramp_share(&down, t0 + hours * HOUR),
            want,
            "{hours} h into a ramp down"
        );
    }
    let one = Ramp { steps: 1, ..down };
    assert_eq!(
        ramp_share(&one, t0 + 3 * HOUR),
        10_000,
        "one step: nothing until the end"
    );
    assert_eq!(ramp_share(&one, t0 + 4 * HOUR), 2000);
    assert_eq!(share(&Weight::Fixed(1234), t0), 1234);
}

#[test]
fn the_same_consumer_always_gets_the_same_side() {
    for id in ["alice", "bob", "carol", ""] {
        let first = bucket("v1>v2", &consumer(id));
        for _ in 0..100 {
            assert_eq!(bucket("v1>v2", &consumer(id)), first, "{id}");
        }
        assert!(first < FULL);
    }
    // The hash is fixed: these values hold on every platform and every worker.
    assert_eq!(bucket("v1>v2", &consumer("alice")), 879, "alice");
    assert_eq!(bucket("v1>v2", &consumer("bob")), 9519, "bob");
    assert_ne!(
        bucket("v1>v2", &consumer("x")),
        bucket("v1>v2", &StickyKey::Client("x".into())),
        "a consumer id and a client key with the same text are different clients"
    );
}

#[test]
fn split_over_10000_consumers_is_within_two_points() {
    for target in [100, 1000, 2500, 5000, 9000] {
        let diverted = (0..10_000)
            .filter(|i| diverts("v1>v2", Some(&consumer(&format!("consumer-{i}"))), target))
            .count() as i64;
        // Within 2 percentage points of the target = within 200 of 10 000.
        let off = (diverted - i64::from(target)).abs();
        assert!(
            off <= 200,
            "target {target} bp: {diverted} of 10000 diverted"
        );
    }
}

#[test]
fn a_growing_share_never_moves_a_client_back() {
    let keys: Vec<StickyKey> = (0..2000).map(|i| consumer(&format!("c{i}"))).collect();
    let mut previous: Vec<bool> = vec![false; keys.len()];
    for share in (0..=FULL).step_by(500) {
        for (k, was) in keys.iter().zip(previous.iter_mut()) {
            let now = diverts("v1>v2", Some(k), share);
            assert!(
                now || !*was,
                "{k:?} left the canary when the share grew to {share}"
            );
            *was = now;
        }
    }
}

#[test]
fn edge_shares_and_missing_keys() {
    let k = consumer("alice");
    let cases = [
        (0, Some(&k), false, "0 % never diverts"),
        (FULL, Some(&k), true, "100 % always diverts"),
        (FULL, None, true, "100 % needs no key"),
        (5000, None, false, "no key stays on the stable side"),
        (880, Some(&k), true, "alice's bucket 879 is below 880"),
        (879, Some(&k), false, "and not below 879"),
    ];
    for (share, key, want, msg) in cases {
        assert_eq!(diverts("v1>v2", key, share), want, "{msg}");
    }
}

#[test]
fn minted_keys_spread_like_consumers() {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let diverted = (0..10_000u64)
        .filter(|i| {
            let key = StickyKey::Minted(mint(b"", t + Duration::from_nanos(*i), *i));
            diverts("v1>v2", Some(&key), 1000)
        })
        .count();
    assert!(
        (800..=1200).contains(&diverted),
        "{diverted} of 10000 minted keys in a 10 % canary"
    );
}
