//! The state machine with a fake clock: every transition, the boundaries (exactly N failures,
//! window edges, the cool-down edge), stale outcomes, the in-flight count and the encoding.

use super::*;

const S: u64 = 1_000_000;
const T0: u64 = 1_767_225_600 * S;

fn breaker(consecutive: Option<u32>, rate: Option<Rate>) -> Policy {
    Policy {
        max_in_flight: None,
        breaker: Some(Breaker {
            consecutive,
            rate,
            cool_down_us: 30 * S,
            probes: 2,
            close_after: 3,
        }),
    }
}

fn admitted(s: &mut State, p: &Policy, now: u64) -> Ticket {
    match s.admit(p, now).0 {
        Admit::Admitted(t) => t,
        Admit::Shed(shed) => panic!("shed at {now}: {shed:?} in {s:?}"),
    }
}

fn shed(s: &mut State, p: &Policy, now: u64) -> Shed {
    match s.admit(p, now).0 {
        Admit::Shed(shed) => shed,
        Admit::Admitted(t) => panic!("admitted at {now}: {t:?} in {s:?}"),
    }
}

/// Admits and ends one request at `now`.
fn one(s: &mut State, p: &Policy, now: u64, outcome: Outcome) -> Option<Transition> {
    let t = admitted(s, p, now);
    s.release(p, t, outcome, now)
}

#[test]
fn opens_after_exactly_n_consecutive_failures() {
    let p = breaker(Some(3), None);
    let mut s = State::default();
    assert_eq!(one(&mut s, &p, T0, Outcome::Failure), None);
    assert_eq!(one(&mut s, &p, T0, Outcome::Failure), None, "2 of 3");
    assert_eq!(s.consecutive, 2);
    assert_eq!(
        one(&mut s, &p, T0, Outcome::Failure),
        Some(Transition::Opened),
        "the 3rd"
    );
    assert_eq!(
        s.phase,
        Phase::Open {
            until_us: T0 + 30 * S
        }
    );
    assert_eq!(s.in_flight, 0);
}

#[test]
fn a_success_or_neutral_outcome_between_failures() {
    let p = breaker(Some(3), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    one(&mut s, &p, T0, Outcome::Failure);
    assert_eq!(one(&mut s, &p, T0, Outcome::Success), None);
    assert_eq!(s.consecutive, 0, "a success restarts the count");
    one(&mut s, &p, T0, Outcome::Failure);
    one(&mut s, &p, T0, Outcome::Failure);
    assert_eq!(one(&mut s, &p, T0, Outcome::Neutral), None);
    assert_eq!(
        s.consecutive, 2,
        "a neutral end neither counts nor restarts"
    );
    assert_eq!(
        one(&mut s, &p, T0, Outcome::Failure),
        Some(Transition::Opened)
    );
}

#[test]
fn open_sheds_until_the_cool_down_edge_then_half_opens() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let r = shed(&mut s, &p, T0 + S / 2);
    assert_eq!(r.reason, ShedReason::Open);
    assert_eq!(r.retry_after_us, 30 * S - S / 2);
    let r = shed(&mut s, &p, T0 + 30 * S - 1);
    assert_eq!(r.retry_after_us, S, "at least one second");
    assert_eq!(s.in_flight, 0, "shed requests hold nothing");
    let (admit, t) = s.admit(&p, T0 + 30 * S);
    assert_eq!(t, Some(Transition::HalfOpened), "exactly at the edge");
    assert!(matches!(admit, Admit::Admitted(Ticket { probe: true, .. })));
    assert_eq!((s.phase, s.probes, s.in_flight), (Phase::HalfOpen, 1, 1));
}

#[test]
fn half_open_lets_a_bounded_number_of_probes_through() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let now = T0 + 30 * S;
    let a = admitted(&mut s, &p, now);
    let b = admitted(&mut s, &p, now);
    let r = shed(&mut s, &p, now);
    assert_eq!((r.reason, r.retry_after_us), (ShedReason::HalfOpen, S));
    assert_eq!(s.release(&p, a, Outcome::Neutral, now), None);
    assert_eq!(
        s.probes, 1,
        "a neutral probe frees its place and teaches nothing"
    );
    let c = admitted(&mut s, &p, now);
    assert!(c.probe);
    assert_eq!(s.release(&p, b, Outcome::Success, now), None);
    assert_eq!(s.release(&p, c, Outcome::Success, now), None);
    assert_eq!(s.successes, 2, "close_after is 3");
    assert_eq!(
        one(&mut s, &p, now, Outcome::Success),
        Some(Transition::Closed)
    );
    assert_eq!(s.phase, Phase::Closed);
    assert_eq!(
        (s.in_flight, s.probes, s.successes, s.consecutive),
        (0, 0, 0, 0)
    );
    let t = admitted(&mut s, &p, now);
    assert!(!t.probe, "closed: no probes");
}

#[test]
fn a_failed_probe_reopens_for_a_new_cool_down() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let now = T0 + 40 * S;
    one(&mut s, &p, now, Outcome::Success);
    assert_eq!(
        one(&mut s, &p, now + S, Outcome::Failure),
        Some(Transition::Reopened)
    );
    assert_eq!(
        s.phase,
        Phase::Open {
            until_us: now + 31 * S
        }
    );
    assert_eq!(s.successes, 0);
    assert_eq!(shed(&mut s, &p, now + 30 * S).reason, ShedReason::Open);
}

#[test]
fn outcomes_of_an_earlier_phase_only_give_the_slot_back() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    let slow = admitted(&mut s, &p, T0);
    let slow_fail = admitted(&mut s, &p, T0);
    assert_eq!(
        one(&mut s, &p, T0, Outcome::Failure),
        Some(Transition::Opened)
    );
    assert_eq!(s.in_flight, 2);
    let now = T0 + 30 * S;
    let probe = admitted(&mut s, &p, now);
    assert_eq!(s.release(&p, slow, Outcome::Success, now), None);
    assert_eq!(
        s.successes, 0,
        "a request admitted while closed is no probe"
    );
    assert_eq!(s.probes, 1);
    assert_eq!(s.release(&p, slow_fail, Outcome::Failure, now), None);
    assert_eq!(s.phase, Phase::HalfOpen, "nor does its failure reopen");
    assert_eq!(s.in_flight, 1);
    s.release(&p, probe, Outcome::Neutral, now);
    assert_eq!(s.in_flight, 0);
}

#[test]
fn a_probe_admitted_before_a_close_does_not_reopen() {
    let mut p = breaker(Some(1), None);
    if let Some(b) = &mut p.breaker {
        b.close_after = 1;
    }
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let now = T0 + 30 * S;
    let a = admitted(&mut s, &p, now);
    let b = admitted(&mut s, &p, now);
    assert_eq!(
        s.release(&p, a, Outcome::Success, now),
        Some(Transition::Closed)
    );
    assert_eq!(s.release(&p, b, Outcome::Failure, now), None, "stale probe");
    assert_eq!((s.phase, s.consecutive, s.in_flight), (Phase::Closed, 0, 0));
}

fn rate_policy() -> Policy {
    breaker(
        None,
        Some(Rate {
            percent: 50,
            min_requests: 4,
            window_us: 10 * S,
        }),
    )
}

#[test]
fn the_rate_needs_min_requests_and_the_threshold() {
    let p = rate_policy();
    let mut s = State::default();
    assert_eq!(one(&mut s, &p, T0, Outcome::Failure), None);
    assert_eq!(one(&mut s, &p, T0, Outcome::Failure), None);
    assert_eq!(one(&mut s, &p, T0, Outcome::Failure), None, "3 of min 4");
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Success);
    one(&mut s, &p, T0, Outcome::Success);
    one(&mut s, &p, T0, Outcome::Success);
    one(&mut s, &p, T0, Outcome::Failure);
    one(&mut s, &p, T0, Outcome::Failure);
    assert_eq!(
        s.window(&p.breaker.as_ref().unwrap().rate.unwrap(), T0),
        (5, 2)
    );
    assert_eq!(
        one(&mut s, &p, T0, Outcome::Failure),
        Some(Transition::Opened),
        "3 of 6 is exactly 50 %"
    );
}

#[test]
fn window_edges() {
    let p = rate_policy();
    let rate = p.breaker.as_ref().unwrap().rate.unwrap();
    let mut s = State::default();
    // Three failures in the first bucket [T0, T0 + 1 s).
    for _ in 0..3 {
        one(&mut s, &p, T0, Outcome::Failure);
    }
    assert_eq!(
        s.window(&rate, T0 + 10 * S - 1),
        (3, 3),
        "last µs of the window"
    );
    assert_eq!(s.window(&rate, T0 + 10 * S), (0, 0), "slid out");
    // A fourth failure just before the edge trips it; just after it does not.
    let mut late = s.clone();
    assert_eq!(one(&mut late, &p, T0 + 10 * S, Outcome::Failure), None);
    assert_eq!(late.window(&rate, T0 + 10 * S), (1, 1));
    assert_eq!(
        one(&mut s, &p, T0 + 10 * S - 1, Outcome::Failure),
        Some(Transition::Opened)
    );
}

#[test]
fn a_bucket_is_reused_after_a_full_window() {
    let p = rate_policy();
    let rate = p.breaker.as_ref().unwrap().rate.unwrap();
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Success);
    one(&mut s, &p, T0 + 10 * S, Outcome::Failure);
    assert_eq!(
        s.window(&rate, T0 + 10 * S),
        (1, 1),
        "same slot, fresh counts"
    );
    assert_eq!(
        s.window(&rate, T0 + 5 * S),
        (0, 0),
        "clock moved back: a later bucket is ignored"
    );
}

#[test]
fn the_concurrency_limit() {
    let p = Policy {
        max_in_flight: Some(2),
        breaker: None,
    };
    let mut s = State::default();
    let a = admitted(&mut s, &p, T0);
    let _b = admitted(&mut s, &p, T0);
    let r = shed(&mut s, &p, T0);
    assert_eq!((r.reason, r.retry_after_us), (ShedReason::Concurrency, S));
    assert_eq!(s.in_flight, 2);
    assert_eq!(
        s.release(&p, a, Outcome::Failure, T0),
        None,
        "no breaker: failures teach nothing"
    );
    assert_eq!(s.phase, Phase::Closed);
    admitted(&mut s, &p, T0);
    assert_eq!(s.in_flight, 2);
}

#[test]
fn the_concurrency_limit_applies_to_probes_too() {
    let mut p = breaker(Some(1), None);
    p.max_in_flight = Some(1);
    let mut s = State::default();
    let slow = admitted(&mut s, &p, T0);
    let _ = slow;
    let mut t = State::default();
    one(&mut t, &p, T0, Outcome::Failure);
    t.in_flight = 1; // a request admitted while closed still hangs
    let now = T0 + 30 * S;
    let (admit, tr) = t.admit(&p, now);
    assert_eq!(tr, Some(Transition::HalfOpened));
    assert!(matches!(
        admit,
        Admit::Shed(Shed {
            reason: ShedReason::Concurrency,
            ..
        })
    ));
    assert_eq!(t.probes, 0);
}

#[test]
fn the_in_flight_count_never_goes_negative() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    let t = admitted(&mut s, &p, T0);
    s.release(&p, t, Outcome::Success, T0);
    s.release(&p, t, Outcome::Success, T0);
    assert_eq!(s.in_flight, 0, "a duplicate release saturates");
}

#[test]
fn a_clock_moved_back_keeps_it_open_at_most_one_cool_down() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let r = shed(&mut s, &p, T0 - 3_600 * S);
    assert_eq!(r.retry_after_us, 30 * S);
}

#[test]
fn removing_the_breaker_closes() {
    let p = breaker(Some(1), None);
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    let limit_only = Policy {
        max_in_flight: Some(5),
        breaker: None,
    };
    admitted(&mut s, &limit_only, T0);
    assert_eq!(s.phase, Phase::Closed);
}

#[test]
fn random_interleavings_never_leak_a_slot() {
    // A small deterministic generator: admits and releases in random order with random outcomes
    // and times; every admitted ticket is released exactly once; the count always equals the
    // tickets outstanding.
    let mut p = rate_policy();
    p.max_in_flight = Some(7);
    if let Some(b) = &mut p.breaker {
        b.consecutive = Some(4);
        b.cool_down_us = 3 * S;
    }
    let mut s = State::default();
    let mut held = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut now = T0;
    let mut transitions = 0;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        now += x % 300_000;
        if !x.is_multiple_of(3) {
            let (a, t) = s.admit(&p, now);
            transitions += usize::from(t.is_some());
            if let Admit::Admitted(t) = a {
                held.push(t);
            }
        } else if !held.is_empty() {
            let i = (x as usize / 3) % held.len();
            let t = held.swap_remove(i);
            let outcome =
                [Outcome::Success, Outcome::Failure, Outcome::Neutral][(x % 5 % 3) as usize];
            transitions += usize::from(s.release(&p, t, outcome, now).is_some());
        }
        assert_eq!(s.in_flight as usize, held.len());
        assert!(s.in_flight <= 7);
        assert!(s.probes <= 2);
    }
    for t in held.drain(..) {
        s.release(&p, t, Outcome::Neutral, now);
    }
    assert_eq!(s.in_flight, 0);
    assert!(
        transitions > 10,
        "the walk went through the phases: {transitions}"
    );
}

#[test]
fn encoding_round_trips_and_refuses_garbage() {
    let p = rate_policy();
    let mut s = State::default();
    one(&mut s, &p, T0, Outcome::Failure);
    admitted(&mut s, &p, T0 + 3 * S);
    s.phase = Phase::Open { until_us: 42 };
    s.generation = u32::MAX;
    let bytes = encode(&s);
    assert_eq!(bytes.len(), ENCODED_LEN);
    assert_eq!(decode(&bytes), Some(s.clone()));
    s.phase = Phase::HalfOpen;
    assert_eq!(decode(&encode(&s)), Some(s));
    assert_eq!(decode(b""), None);
    assert_eq!(decode(&bytes[1..]), None);
    let mut bad = bytes.clone();
    bad[0] = b'Q';
    assert_eq!(decode(&bad), None);
    let mut bad = bytes.clone();
    bad[1] = 2;
    assert_eq!(decode(&bad), None);
    let mut bad = bytes;
    bad[2] = 3;
    assert_eq!(decode(&bad), None);
}

/// Whatever a stored value decodes to (another version's writer, a corrupted map), deciding on
/// it never panics and never overflows.
#[test]
fn any_decodable_state_is_handled_without_panicking() {
    let mut p = rate_policy();
    p.max_in_flight = Some(3);
    if let Some(b) = &mut p.breaker {
        b.consecutive = Some(2);
    }
    let mut x: u64 = 0x1234_5678_9ABC_DEF1;
    for round in 0..3_000 {
        let mut bytes = vec![b'P', 1, (round % 3) as u8];
        while bytes.len() < ENCODED_LEN {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Extremes more often than not.
            let v = match x % 4 {
                0 => u64::MAX,
                1 => 0,
                _ => x,
            };
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.truncate(ENCODED_LEN);
        let Some(mut s) = decode(&bytes) else {
            panic!("a well-formed value decodes");
        };
        for now in [0, T0, u64::MAX] {
            let (admit, _) = s.admit(&p, now);
            if let Admit::Admitted(t) = admit {
                s.release(&p, t, Outcome::Failure, now);
            }
            let t = Ticket {
                generation: s.generation,
                probe: round % 2 == 0,
            };
            s.release(&p, t, Outcome::Success, now);
            let _ = s.window(&p.breaker.as_ref().unwrap().rate.unwrap(), now);
        }
    }
}
