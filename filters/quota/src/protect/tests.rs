//! The protector over shared data: several workers (FakeHosts sharing one `SharedStore`), writes
//! interleaved between another worker's read and write, deferred releases, partitions, metrics.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use filter_core::fake::SharedStore;
use filter_core::{
    FakeHost, HeaderKind, Host, HostError, HttpCall, MetricId, MetricKind, SharedValue,
};

use super::config::{ApiProtect, Per, Protect};
use super::machine::{Breaker, Outcome, Phase, Policy};
use super::*;

const T0: u64 = 1_767_225_600;

fn protect(policy: Policy, per: Per) -> Protect {
    Protect {
        apis: vec![ApiProtect {
            api: "catalog".into(),
            per,
            policy,
            failure_statuses: vec![502, 503, 504],
        }],
        max_attempts: 8,
    }
}

fn breaker(probes: u32, close_after: u32) -> Policy {
    Policy {
        max_in_flight: None,
        breaker: Some(Breaker {
            consecutive: Some(2),
            rate: None,
            cool_down_us: 10_000_000,
            probes,
            close_after,
        }),
    }
}

struct Worker {
    host: FakeHost,
    p: Protector,
}

fn workers(n: usize, config: &Protect) -> (SharedStore, Vec<Worker>) {
    let store = SharedStore::default();
    let ws = (0..n)
        .map(|_| {
            let mut host = FakeHost::with_store(store.clone());
            host.set_time(T0);
            let p = Protector::new(config.clone(), &mut host);
            Worker { host, p }
        })
        .collect();
    (store, ws)
}

fn now(h: &FakeHost) -> u64 {
    h.now
        .duration_since(UNIX_EPOCH)
        .map(filter_core::time::micros)
        .unwrap_or(0)
}

impl Worker {
    fn admit(&mut self, consumer: &str) -> Result<Option<Held>, LocalReply> {
        let t = now(&self.host);
        self.p.admit(&mut self.host, 0, Some("v1"), consumer, t)
    }
    fn held(&mut self) -> Held {
        self.admit("alice").unwrap().expect("a slot")
    }
    fn release(&mut self, held: Held, outcome: Outcome) {
        let t = now(&self.host);
        self.p.release(&mut self.host, held, outcome, t);
    }
    fn advance(&mut self, secs: u64) {
        self.host.advance(Duration::from_secs(secs));
    }
    fn state(&mut self) -> machine::State {
        self.p.state(&mut self.host, "protect/1/catalog/-/-")
    }
}

/// A host that runs `before` (another worker's step) just before its first CAS write: the
/// other worker writes between this worker's read and its write.
struct Racing<'a> {
    inner: &'a mut FakeHost,
    before: Option<Box<dyn FnOnce() + 'a>>,
}

impl Host for Racing<'_> {
    fn now(&self) -> SystemTime {
        self.inner.now()
    }
    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError> {
        self.inner.get_shared(key)
    }
    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        if let Some(f) = self.before.take() {
            f();
        }
        self.inner.set_shared(key, value, cas)
    }
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError> {
        self.inner.define_metric(kind, name)
    }
    fn increment_metric(&mut self, id: MetricId, delta: i64) {
        self.inner.increment_metric(id, delta);
    }
    fn record_metric(&mut self, id: MetricId, value: u64) {
        self.inner.record_metric(id, value);
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

/// Worker `a` admits with worker `b`'s admission written between `a`'s read and write.
fn race_admit(
    a: &mut Worker,
    b: &mut Worker,
) -> (
    Result<Option<Held>, LocalReply>,
    Result<Option<Held>, LocalReply>,
) {
    let mut b_result = None;
    let t = now(&a.host);
    let a_result = {
        let b_ref = &mut *b;
        let slot = &mut b_result;
        let mut racing = Racing {
            inner: &mut a.host,
            before: Some(Box::new(move || *slot = Some(b_ref.admit("alice")))),
        };
        a.p.admit(&mut racing, 0, Some("v1"), "alice", t)
    };
    (a_result, b_result.expect("b ran"))
}

fn opened(ws: &mut [Worker]) {
    let x = ws[0].held();
    let y = ws[1].held();
    ws[0].release(x, Outcome::Failure);
    ws[1].release(y, Outcome::Failure);
}

#[test]
fn failures_on_two_workers_open_it_for_both() {
    let (_, mut ws) = workers(2, &protect(breaker(1, 1), Per::Api));
    opened(&mut ws);
    assert!(matches!(ws[1].state().phase, Phase::Open { .. }));
    let reply = ws[0].admit("bob").unwrap_err();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.get_header("retry-after"), Some("10"));
    assert_eq!(
        ws[1].host.metric("protect_opened"),
        Some(1),
        "the worker that tripped it"
    );
    assert_eq!(ws[0].host.metric("protect_shed_open"), Some(1));
    assert_eq!(ws[0].host.metric("protect_shed.catalog"), Some(1));
    let open: i64 = ws
        .iter()
        .filter_map(|w| w.host.metric("protect_open.catalog"))
        .sum();
    assert_eq!(open, 1);
}

#[test]
fn probes_racing_across_workers_admit_exactly_the_bound() {
    let (_, mut ws) = workers(2, &protect(breaker(1, 2), Per::Api));
    opened(&mut ws);
    for w in &mut ws {
        w.advance(10);
    }
    let (a, b) = {
        let (x, y) = ws.split_at_mut(1);
        race_admit(&mut x[0], &mut y[0])
    };
    // b wrote first and took the one probe; a's write met b's, re-read and was shed.
    let b = b.unwrap().expect("b probes");
    assert!(b.ticket.probe);
    assert_eq!(a.unwrap_err().status, 503);
    assert_eq!(ws[0].host.metric("protect_store_cas_conflicts"), Some(1));
    assert_eq!(ws[0].host.metric("protect_shed_half_open"), Some(1));
    let half: i64 = ws
        .iter()
        .filter_map(|w| w.host.metric("protect_half_opened"))
        .sum();
    assert_eq!(half, 1, "one transition, made by one worker");
    let s = ws[0].state();
    assert_eq!((s.phase, s.probes, s.in_flight), (Phase::HalfOpen, 1, 1));
    // The probe succeeds, another (on the other worker) too: closed.
    ws[1].release(b, Outcome::Success);
    let c = ws[0].held();
    assert!(c.ticket.probe);
    ws[0].release(c, Outcome::Success);
    let s = ws[1].state();
    assert_eq!((s.phase, s.in_flight), (Phase::Closed, 0));
    let open: i64 = ws
        .iter()
        .filter_map(|w| w.host.metric("protect_open.catalog"))
        .sum();
    assert_eq!(open, 0);
}

#[test]
fn the_concurrency_limit_holds_under_a_race() {
    let limit = Policy {
        max_in_flight: Some(1),
        breaker: None,
    };
    let (_, mut ws) = workers(2, &protect(limit, Per::Api));
    let (a, b) = {
        let (x, y) = ws.split_at_mut(1);
        race_admit(&mut x[0], &mut y[0])
    };
    let b = b.unwrap().expect("b admitted");
    let reply = a.unwrap_err();
    assert_eq!(reply.get_header("retry-after"), Some("1"));
    assert!(String::from_utf8_lossy(&reply.body).contains("concurrency_limit"));
    assert_eq!(ws[0].state().in_flight, 1);
    ws[1].release(b, Outcome::Neutral);
    assert_eq!(ws[0].state().in_flight, 0);
    let a = ws[0].held();
    ws[0].release(a, Outcome::Success);
    let gauge: i64 = ws
        .iter()
        .filter_map(|w| w.host.metric("protect_in_flight.catalog"))
        .sum();
    assert_eq!(
        gauge, 0,
        "the gauges of all workers sum to the shared count"
    );
}

#[test]
fn a_release_racing_an_admission_is_counted_once() {
    let limit = Policy {
        max_in_flight: Some(10),
        breaker: None,
    };
    let (_, mut ws) = workers(2, &protect(limit, Per::Api));
    let held = ws[0].held();
    let mut other = None;
    {
        let (x, y) = ws.split_at_mut(1);
        let (a, b) = (&mut x[0], &mut y[0]);
        let slot = &mut other;
        let mut racing = Racing {
            inner: &mut a.host,
            before: Some(Box::new(move || *slot = Some(b.held()))),
        };
        let t = T0 * 1_000_000;
        a.p.release(&mut racing, held, Outcome::Success, t);
    }
    assert_eq!(ws[0].state().in_flight, 1, "b's slot only");
    ws[1].release(other.unwrap(), Outcome::Success);
    assert_eq!(ws[0].state().in_flight, 0);
}

#[test]
fn a_release_that_cannot_be_written_is_deferred_not_lost() {
    let limit = Policy {
        max_in_flight: Some(1),
        breaker: None,
    };
    let (_, mut ws) = workers(1, &protect(limit, Per::Api));
    let w = &mut ws[0];
    let held = w.held();
    w.host.fail_next_cas = 1_000;
    w.release(held, Outcome::Success);
    assert_eq!(w.p.deferred(), 1);
    assert_eq!(w.host.metric("protect_release_deferred"), Some(1));
    w.host.fail_next_cas = 0;
    assert_eq!(w.state().in_flight, 1, "still taken");
    // The next admission first writes the deferred release, then finds the slot free.
    let again = w.held();
    assert_eq!(w.p.deferred(), 0);
    w.release(again, Outcome::Success);
    assert_eq!(w.state().in_flight, 0);
    assert_eq!(w.host.metric("protect_in_flight.catalog"), Some(0));
}

#[test]
fn the_deferred_list_is_bounded() {
    let limit = Policy {
        max_in_flight: Some(MAX_IN_FLIGHT_FOR_TEST),
        breaker: None,
    };
    let (_, mut ws) = workers(1, &protect(limit, Per::Api));
    let w = &mut ws[0];
    let held: Vec<_> = (0..MAX_DEFERRED + 2).map(|_| w.held()).collect();
    w.host.fail_next_cas = u32::MAX;
    for h in held {
        w.release(h, Outcome::Neutral);
    }
    assert_eq!(w.p.deferred(), MAX_DEFERRED);
    assert_eq!(w.host.metric("protect_release_dropped"), Some(2));
}

const MAX_IN_FLIGHT_FOR_TEST: u32 = 10_000;

#[test]
fn partitions_per_consumer_are_bounded_by_configuration() {
    let (store, mut ws) = workers(1, &protect(breaker(1, 1), Per::VersionAndConsumer));
    let w = &mut ws[0];
    let a = w.admit("alice").unwrap().unwrap();
    assert_eq!(a.key, "protect/1/catalog/v1/alice");
    let t = now(&w.host);
    let other = w.p.admit(&mut w.host, 0, None, crate::metrics::OTHER, t);
    assert_eq!(other.unwrap().unwrap().key, "protect/1/catalog/-/_other");
    assert_eq!(store.borrow().len(), 2);
}

#[test]
fn a_corrupt_state_is_read_as_fresh_and_counted() {
    let (store, mut ws) = workers(1, &protect(breaker(1, 1), Per::Api));
    store.borrow_mut().insert(
        "protect/1/catalog/-/-".into(),
        SharedValue {
            data: b"garbage".to_vec(),
            cas: 7,
        },
    );
    let w = &mut ws[0];
    let h = w.held();
    assert_eq!(w.host.metric("protect_store_corrupt_resets"), Some(1));
    w.release(h, Outcome::Success);
    assert_eq!(w.state().in_flight, 0);
}

#[test]
fn release_at_end_reads_the_outcome_from_the_host() {
    let (_, mut ws) = workers(1, &protect(breaker(1, 1), Per::Api));
    let w = &mut ws[0];
    for _ in 0..2 {
        let h = w.held();
        w.host.set_prop(
            "response.code_details",
            "upstream_reset_before_response_started{remote_reset}",
        );
        let t = now(&w.host);
        w.p.release_at_end(&mut w.host, h, t);
    }
    assert!(matches!(w.state().phase, Phase::Open { .. }));
    assert_eq!(w.host.metric("protect_failures"), Some(2));
}
