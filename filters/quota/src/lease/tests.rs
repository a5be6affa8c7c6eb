use super::*;
use crate::store::SharedData;
use filter_core::fake::SharedStore;
use filter_core::FakeHost;

fn lease(units: u64) -> Lease {
    Lease {
        expires_us: 1_000,
        units,
        tail: false,
        remaining: vec![5, 70],
    }
}

#[test]
fn codec_round_trips_and_refuses_anything_else() {
    let l = lease(3);
    assert_eq!(Lease::decode(&l.encode()), Some(l.clone()));
    let mut bytes = l.encode();
    bytes.push(0);
    assert_eq!(Lease::decode(&bytes), None, "trailing byte");
    bytes.truncate(10);
    assert_eq!(Lease::decode(&bytes), None, "short");
    let mut tail = l.encode();
    tail[18] = 2;
    assert_eq!(Lease::decode(&tail), None, "tail is 0 or 1");
    assert_eq!(Lease::decode(b"Q\x01"), None);
}

#[test]
fn take_spends_a_live_lease_and_reports_the_tail() {
    let mut h = FakeHost::new();
    let key = "quota/lease/1/p/-/c:a";
    assert_eq!(
        take(&SharedData, &mut h, key, 1, 0, 8),
        Ok(Take::Short { tail: false })
    );
    let u = Update {
        units: 3,
        tail: false,
        remaining: vec![5, 70],
        expires_us: 1_000,
    };
    assert_eq!(update(&SharedData, &mut h, key, 0, &u, 8), Ok(true));
    assert!(matches!(take(&SharedData, &mut h, key, 2, 10, 8), Ok(Take::Taken(l)) if l.units == 1));
    assert_eq!(
        take(&SharedData, &mut h, key, 2, 10, 8),
        Ok(Take::Short { tail: false })
    );
    let tail = Update {
        units: 0,
        tail: true,
        remaining: vec![1, 66],
        expires_us: 1_000,
    };
    assert_eq!(update(&SharedData, &mut h, key, 20, &tail, 8), Ok(true));
    assert_eq!(
        take(&SharedData, &mut h, key, 2, 30, 8),
        Ok(Take::Short { tail: true })
    );
    assert!(
        matches!(take(&SharedData, &mut h, key, 1, 30, 8), Ok(Take::Taken(l)) if l.units == 0 && l.tail)
    );
    // Expired: nothing to take, and the tail is over (a new window).
    assert_eq!(
        take(&SharedData, &mut h, key, 1, 1_000, 8),
        Ok(Take::Short { tail: false })
    );
}

#[test]
fn updates_add_to_a_live_lease_and_restart_an_expired_one() {
    let store = SharedStore::default();
    let mut a = FakeHost::with_store(store.clone());
    let mut b = FakeHost::with_store(store);
    let key = "k";
    let u = |units, expires_us| Update {
        units,
        tail: false,
        remaining: vec![9],
        expires_us,
    };
    assert_eq!(update(&SharedData, &mut a, key, 0, &u(3, 100), 8), Ok(true));
    assert_eq!(
        update(&SharedData, &mut b, key, 50, &u(3, 200), 8),
        Ok(true)
    );
    let got = |h: &FakeHost| Lease::decode(&h.get_shared(key).unwrap().unwrap().data).unwrap();
    assert_eq!(
        (got(&a).units, got(&a).expires_us),
        (6, 100),
        "two workers' blocks add up"
    );
    assert_eq!(
        update(&SharedData, &mut b, key, 100, &u(2, 300), 8),
        Ok(true)
    );
    assert_eq!(
        (got(&b).units, got(&b).expires_us),
        (2, 300),
        "expired units are lost"
    );
    // A conflict on every attempt: nothing written, no error.
    b.fail_next_cas = 8;
    assert_eq!(
        update(&SharedData, &mut b, key, 100, &u(2, 300), 8),
        Ok(false)
    );
}
