//! Admission under contention: several fake workers sharing one store, CAS failures injected,
//! and competing requests run between any two store calls of a request.

use std::cell::{Cell, RefCell};
use std::time::SystemTime;

use super::*;
use crate::limit::Algorithm;
use crate::store::SharedData;
use crate::window::{Unit, Window, SECOND_US};
use filter_core::fake::SharedStore;
use filter_core::{FakeHost, HeaderKind, HostError, HttpCall, MetricId, MetricKind, SharedValue};

const NOW: u64 = 1_767_225_600 * SECOND_US;

fn limit(name: &str, quota: u64, unit: Unit) -> Limit {
    Limit {
        name: name.into(),
        quota,
        window: Window::new(unit, 1),
        algorithm: Algorithm::FixedWindow,
    }
}

fn item<'a>(key: &str, limit: &'a Limit) -> Item<'a> {
    Item {
        key: key.into(),
        limit,
        cost: 1,
        charge: true,
    }
}

fn admitted(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Admitted { .. } | Outcome::Failed { admitted: true }
    )
}

fn stored_count(store: &SharedStore, key: &str) -> u64 {
    match codec::decode(&store.borrow()[key].data) {
        Some(Counter::Window { count, .. }) => count,
        other => panic!("unexpected counter {other:?}"),
    }
}

/// A host that runs `hook(n)` before its n-th shared-data call: the hook plays other workers
/// acting between two steps of this worker's read-modify-write.
struct Interleaved<'a> {
    inner: FakeHost,
    calls: Cell<usize>,
    hook: RefCell<Box<dyn FnMut(usize) + 'a>>,
}

impl<'a> Interleaved<'a> {
    fn new(inner: FakeHost, hook: impl FnMut(usize) + 'a) -> Self {
        Self {
            inner,
            calls: Cell::new(0),
            hook: RefCell::new(Box::new(hook)),
        }
    }

    fn step(&self) {
        let n = self.calls.get();
        self.calls.set(n + 1);
        (self.hook.borrow_mut())(n);
    }
}

impl Host for Interleaved<'_> {
    fn now(&self) -> SystemTime {
        self.inner.now()
    }
    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError> {
        self.step();
        self.inner.get_shared(key)
    }
    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.step();
        self.inner.set_shared(key, value, cas)
    }
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError> {
        self.inner.define_metric(kind, name)
    }
    fn increment_metric(&mut self, id: MetricId, delta: i64) {
        self.inner.increment_metric(id, delta)
    }
    fn record_metric(&mut self, id: MetricId, value: u64) {
        self.inner.record_metric(id, value)
    }
    fn http_call(&mut self, call: &HttpCall) -> Result<u32, HostError> {
        self.inner.http_call(call)
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.inner.property(path)
    }
    fn set_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.inner.set_property(path, value)
    }
    fn header(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        self.inner.header(kind, name)
    }
}

#[test]
fn four_workers_with_cas_failures_admit_exactly_the_limit() {
    let store = SharedStore::default();
    let mut workers: Vec<FakeHost> = (0..4)
        .map(|_| FakeHost::with_store(store.clone()))
        .collect();
    let l = limit("per-minute", 7, Unit::Minute);
    let mut engine = Engine::new(&SharedData, 8, OnError::Admit);
    let mut admits = 0;
    for n in 0..40 {
        let w = &mut workers[n % 4];
        // Every third request loses its first CAS races, as if another worker wrote first.
        w.fail_next_cas = if n % 3 == 0 { 2 } else { 0 };
        let o = engine.admit(w, NOW, &[item("k", &l)], false);
        admits += usize::from(admitted(&o));
    }
    assert_eq!(admits, 7, "exactly the limit across workers");
    assert_eq!(stored_count(&store, "k"), 7, "no lost or phantom update");
    assert!(engine.stats.conflicts > 0, "conflicts were retried");
    assert_eq!(engine.stats.exhausted, 0);
}

/// Before each store call of worker A's request, workers B, C and D each run a whole request.
/// Whatever the position, exactly `limit` requests are admitted and the count matches.
#[test]
fn adversarial_interleavings_lose_no_update() {
    let l = limit("per-minute", 3, Unit::Minute);
    for position in 0..10 {
        for injected in [1, 2, 3] {
            let store = SharedStore::default();
            let mut others: Vec<FakeHost> = (0..3)
                .map(|_| FakeHost::with_store(store.clone()))
                .collect();
            let other_admits = Cell::new(0);
            let fired = Cell::new(false);
            let mut other_engine = Engine::new(&SharedData, 8, OnError::Refuse);
            let mut a = Interleaved::new(FakeHost::with_store(store.clone()), |n| {
                if n == position {
                    fired.set(true);
                    for w in others.iter_mut().take(injected) {
                        let o = other_engine.admit(w, NOW, &[item("k", &l)], false);
                        other_admits.set(other_admits.get() + usize::from(admitted(&o)));
                    }
                }
            });
            let mut engine = Engine::new(&SharedData, 8, OnError::Refuse);
            let mine = usize::from(admitted(&engine.admit(
                &mut a,
                NOW,
                &[item("k", &l)],
                false,
            )));
            drop(a);
            let total = mine + other_admits.get();
            let why = format!("{injected} competitors before store call {position}");
            let requests = if fired.get() { injected + 1 } else { 1 };
            assert_eq!(total, requests.min(3), "{why}");
            assert_eq!(
                stored_count(&store, "k"),
                total as u64,
                "{why}: count matches admits"
            );
        }
    }
}

#[test]
fn losing_the_create_race_is_detected_and_harmless() {
    let store = SharedStore::default();
    let l = limit("per-minute", 10, Unit::Minute);
    let mut b = FakeHost::with_store(store.clone());
    let mut b_engine = Engine::new(&SharedData, 8, OnError::Admit);
    // A sees the key missing; before A creates it, B creates it and charges.
    let mut a = Interleaved::new(FakeHost::with_store(store.clone()), |n| {
        if n == 1 {
            let o = b_engine.admit(&mut b, NOW, &[item("k", &l)], false);
            assert!(admitted(&o));
        }
    });
    let mut engine = Engine::new(&SharedData, 8, OnError::Admit);
    assert!(admitted(&engine.admit(
        &mut a,
        NOW,
        &[item("k", &l)],
        false
    )));
    assert_eq!(engine.stats.create_races, 1, "A's create found B's key");
    assert_eq!(
        stored_count(&store, "k"),
        2,
        "B's charge survived A's create"
    );
}

#[test]
fn a_limit_refused_in_the_charge_phase_refunds_the_earlier_ones() {
    let store = SharedStore::default();
    let hourly = limit("per-hour", 100, Unit::Hour);
    let burst = limit("per-second", 1, Unit::Second);
    let items = |c| {
        [
            item("hour", &hourly),
            Item {
                cost: c,
                ..item("sec", &burst)
            },
        ]
    };
    let mut b = FakeHost::with_store(store.clone());
    let mut b_engine = Engine::new(&SharedData, 8, OnError::Admit);
    // A checks both limits (with both keys missing: load, create, load twice: calls 0..=5) and
    // charges the hourly one (call 6); then, before A's per-second CAS (call 7), B takes the
    // only per-second unit.
    let mut a = Interleaved::new(FakeHost::with_store(store.clone()), |n| {
        if n == 7 {
            assert!(admitted(&b_engine.admit(&mut b, NOW, &items(1), false)));
        }
    });
    let mut engine = Engine::new(&SharedData, 8, OnError::Admit);
    let outcome = engine.admit(&mut a, NOW, &items(1), false);
    let Outcome::Refused { index, views, .. } = outcome else {
        panic!("A must be refused, got {outcome:?}")
    };
    assert_eq!(index, 1, "the per-second limit refused");
    assert_eq!(views[1].remaining, 0);
    assert_eq!(engine.stats.rollbacks, 1);
    assert_eq!(engine.stats.rollback_failures, 0);
    assert_eq!(stored_count(&store, "hour"), 1, "only B's charge remains");
    assert_eq!(stored_count(&store, "sec"), 1);
}

#[test]
fn check_all_then_charge_leaves_refused_requests_uncharged() {
    let mut h = FakeHost::new();
    let a = limit("a", 5, Unit::Minute);
    let b = limit("b", 2, Unit::Minute);
    let mut engine = Engine::new(&SharedData, 8, OnError::Admit);
    for _ in 0..2 {
        assert!(admitted(&engine.admit(
            &mut h,
            NOW,
            &[item("a", &a), item("b", &b)],
            false
        )));
    }
    let o = engine.admit(&mut h, NOW, &[item("a", &a), item("b", &b)], false);
    assert!(
        matches!(
            o,
            Outcome::Refused {
                index: 1,
                retry_after_us: 60_000_000,
                ..
            }
        ),
        "{o:?}"
    );
    assert_eq!(
        stored_count(&h.shared, "a"),
        2,
        "a is not charged when b refuses"
    );
}

#[test]
fn failure_modes() {
    let l = limit("l", 5, Unit::Minute);
    // Exhausted retries: admit by default, refuse when configured; counted either way.
    for (on_error, want) in [(OnError::Admit, true), (OnError::Refuse, false)] {
        let mut h = FakeHost::new();
        let mut engine = Engine::new(&SharedData, 4, on_error);
        assert!(admitted(&engine.admit(
            &mut h,
            NOW,
            &[item("k", &l)],
            false
        )));
        h.fail_next_cas = 100;
        let o = engine.admit(&mut h, NOW, &[item("k", &l)], false);
        assert_eq!(o, Outcome::Failed { admitted: want }, "{on_error:?}");
        assert_eq!(engine.stats.exhausted, 1, "{on_error:?}");
        assert_eq!(engine.stats.conflicts, 4, "{on_error:?}: bounded attempts");
        assert_eq!(stored_count(&h.shared, "k"), 1, "{on_error:?}");
    }

    // A value without a version is a store failure.
    let mut broken = Interleaved::new(FakeHost::new(), |_| {});
    broken.inner.shared.borrow_mut().insert(
        "k".into(),
        SharedValue {
            data: codec::encode(&l.empty()),
            cas: 0,
        },
    );
    let mut engine = Engine::new(&SharedData, 4, OnError::Refuse);
    let o = engine.admit(&mut broken, NOW, &[item("k", &l)], false);
    assert_eq!(
        o,
        Outcome::Failed { admitted: false },
        "a versionless value is a store error"
    );
    assert_eq!(engine.stats.errors, 1);

    // Corrupt values are a counted reset.
    let mut h = FakeHost::new();
    h.set_shared("k", b"garbage", None).unwrap();
    let mut engine = Engine::new(&SharedData, 4, OnError::Admit);
    assert!(matches!(
        engine.admit(&mut h, NOW, &[item("k", &l)], false),
        Outcome::Admitted { .. }
    ));
    assert_eq!(engine.stats.corrupt_resets, 1);
    assert_eq!(stored_count(&h.shared, "k"), 1);
}

#[test]
fn shadow_mode_charges_and_reports_but_never_refuses() {
    let mut h = FakeHost::new();
    let l = limit("l", 1, Unit::Minute);
    let mut engine = Engine::new(&SharedData, 4, OnError::Refuse);
    for n in 0..3 {
        let o = engine.admit(&mut h, NOW, &[item("k", &l)], true);
        let Outcome::Admitted { shadow_refused, .. } = o else {
            panic!("shadow never refuses: {o:?}")
        };
        assert_eq!(shadow_refused, (n > 0).then_some(0), "request {n}");
    }
    assert_eq!(stored_count(&h.shared, "k"), 3, "usage is still metered");
}

#[test]
fn probe_items_need_room_but_are_not_charged() {
    let mut h = FakeHost::new();
    let tokens = limit("tokens", 100, Unit::Minute);
    let probe = Item {
        charge: false,
        ..item("t", &tokens)
    };
    let mut engine = Engine::new(&SharedData, 4, OnError::Admit);
    assert!(admitted(&engine.admit(
        &mut h,
        NOW,
        std::slice::from_ref(&probe),
        false
    )));
    assert_eq!(stored_count(&h.shared, "t"), 0);
    let view = engine.charge(&mut h, NOW, "t", &tokens, 150).unwrap();
    assert_eq!(view.remaining, 0, "post-charge may overdraw");
    assert_eq!(stored_count(&h.shared, "t"), 150);
    assert!(matches!(
        engine.admit(&mut h, NOW, &[probe], false),
        Outcome::Refused { .. }
    ));
    assert_eq!(
        engine.peek(&mut h, "t", &tokens),
        codec::decode(&h.shared.borrow()["t"].data)
    );
}

/// Many schedules: four workers, each request of worker 0 has the other three run whole requests
/// before a pseudo-random store call, over three limits of different algorithms. The tightest
/// limit (GCRA, burst 8) admits exactly 8, and every counter holds exactly the admitted charges.
#[test]
fn random_schedules_over_three_algorithms() {
    let fixed = limit("fixed", 10, Unit::Minute);
    let sliding = Limit {
        algorithm: Algorithm::SlidingWindow,
        ..limit("sliding", 12, Unit::Minute)
    };
    let gcra = Limit {
        algorithm: Algorithm::Gcra { burst: 8 },
        ..limit("gcra", 8, Unit::Second)
    };
    let items = || [item("f", &fixed), item("s", &sliding), item("g", &gcra)];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut conflicts, mut rollbacks, mut races) = (0, 0, 0);
    for schedule in 0..50 {
        let store = SharedStore::default();
        let mut others: Vec<FakeHost> = (0..3)
            .map(|_| FakeHost::with_store(store.clone()))
            .collect();
        let admits = Cell::new(0usize);
        let mut other_engine = Engine::new(&SharedData, 8, OnError::Refuse);
        let mut engine = Engine::new(&SharedData, 8, OnError::Refuse);
        for _ in 0..6 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let position = (seed >> 33) as usize % 14;
            let mut a = Interleaved::new(FakeHost::with_store(store.clone()), |n| {
                if n == position {
                    for w in others.iter_mut() {
                        let o = other_engine.admit(w, NOW, &items(), false);
                        admits.set(admits.get() + usize::from(admitted(&o)));
                    }
                }
            });
            let o = engine.admit(&mut a, NOW, &items(), false);
            drop(a);
            admits.set(admits.get() + usize::from(admitted(&o)));
        }
        let n = admits.get() as u64;
        assert_eq!(n, 8, "schedule {schedule}: exactly the tightest limit");
        assert_eq!(stored_count(&store, "f"), n, "schedule {schedule}: fixed");
        assert_eq!(stored_count(&store, "s"), n, "schedule {schedule}: sliding");
        let tat = match codec::decode(&store.borrow()["g"].data) {
            Some(Counter::Gcra { tat }) => tat,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            tat,
            NOW + n * gcra.interval_us(),
            "schedule {schedule}: gcra"
        );
        assert_eq!(engine.stats.exhausted + other_engine.stats.exhausted, 0);
        conflicts += engine.stats.conflicts;
        rollbacks += engine.stats.rollbacks;
        races += engine.stats.create_races;
    }
    assert!(conflicts > 0 && rollbacks > 0 && races > 0, "the schedules exercised CAS conflicts ({conflicts}), refunds ({rollbacks}) and create races ({races})");
}
