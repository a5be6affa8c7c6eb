//! Fake-clock tests pinning the boundaries of every algorithm.

use super::*;
use crate::window::{Unit, Window, SECOND_US as S};

/// 2026-01-01T00:00:00Z: the start of a second, minute, hour, day and calendar month.
const T0: u64 = 1_767_225_600 * S;
const MS: u64 = 1_000;

fn limit(quota: u64, unit: Unit, algorithm: Algorithm) -> Limit {
    Limit {
        name: "l".into(),
        quota,
        window: Window::new(unit, 1),
        algorithm,
    }
}

/// Expected outcome of one step: admitted with `remaining` left, or refused with a retry delay.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Admit(u64),
    Refuse(u64),
}
use Want::*;

/// Runs steps `(time since T0 in µs, cost, expected, why)` against one counter.
fn run(limit: &Limit, mut counter: Counter, steps: &[(u64, u64, Want, &str)]) -> Counter {
    for &(at, cost, want, why) in steps {
        let got = match limit.check(counter, T0 + at, cost) {
            Verdict::Admit { next, view } => {
                counter = next;
                Admit(view.remaining)
            }
            Verdict::Refuse { retry_after_us, .. } => Refuse(retry_after_us),
        };
        assert_eq!(got, want, "{why} (at +{at}µs, cost {cost})");
    }
    counter
}

#[test]
fn fixed_window_boundaries() {
    let l = limit(3, Unit::Minute, Algorithm::FixedWindow);
    run(
        &l,
        l.empty(),
        &[
            (0, 1, Admit(2), "first call of the window"),
            (10 * S, 2, Admit(0), "a cost of 2 takes the last two units"),
            (10 * S, 1, Refuse(50 * S), "full: retry at the next window"),
            (
                60 * S - 1,
                1,
                Refuse(1),
                "still full one microsecond before the boundary",
            ),
            (
                60 * S,
                1,
                Admit(2),
                "the next window starts exactly on the minute",
            ),
            (
                61 * S,
                3,
                Refuse(59 * S),
                "cost 3 with 2 left is refused whole",
            ),
            (61 * S, 2, Admit(0), "cost 2 with 2 left is admitted"),
            (
                125 * S,
                4,
                Refuse(0),
                "a cost above the limit can never be admitted",
            ),
            (
                125 * S,
                3,
                Admit(0),
                "a window skipped entirely starts from zero",
            ),
        ],
    );
}

#[test]
fn fixed_window_clock_rewind_grants_nothing() {
    let l = limit(2, Unit::Minute, Algorithm::FixedWindow);
    let full = run(&l, l.empty(), &[(60 * S, 2, Admit(0), "fill window 1")]);
    run(
        &l,
        full,
        &[
            (
                59 * S,
                1,
                Refuse(61 * S),
                "clock back into window 0: window 1 stays full until it ends",
            ),
            (
                0,
                1,
                Refuse(120 * S),
                "further back: still full, retry measured from now",
            ),
            (120 * S, 1, Admit(1), "forward again into window 2"),
        ],
    );
    let Counter::Window { id, .. } = full else {
        unreachable!()
    };
    let Verdict::Refuse { .. } = l.check(full, T0, 1) else {
        panic!("a rewind must not reset the count")
    };
    assert_eq!(l.window.id_at(T0 + 60 * S), id, "stored id kept");
}

#[test]
fn sliding_window_boundaries() {
    let l = limit(10, Unit::Minute, Algorithm::SlidingWindow);
    // The previous minute used all 10; the current one starts empty.
    let id = l.window.id_at(T0 + 60 * S);
    let prev_full = Counter::Window {
        id: id - 1,
        count: 10,
        prev: 0,
    };
    run(
        &l,
        prev_full,
        &[
            (
                60 * S,
                1,
                Refuse(6 * S),
                "at the boundary the previous window weighs fully",
            ),
            (
                66 * S - 1,
                1,
                Refuse(1),
                "ceil(10 * 54.000001 / 60) = 10: still refused",
            ),
            (66 * S, 1, Admit(0), "ceil(10 * 54 / 60) = 9: one unit fits"),
            (
                66 * S,
                1,
                Refuse(6 * S),
                "next unit when the weight drops to 8 (at +72 s)",
            ),
            (72 * S, 1, Admit(0), "weight 8 + current 1 + 1"),
            (
                120 * S,
                5,
                Admit(3),
                "next window: previous count 2 weighs 2 at its start",
            ),
            (
                240 * S,
                10,
                Admit(0),
                "two windows later nothing is carried over",
            ),
            (
                241 * S,
                1,
                Refuse(59 * S + 6 * S),
                "current window full: wait into the next one",
            ),
            (
                241 * S,
                11,
                Refuse(0),
                "a cost above the limit can never be admitted",
            ),
        ],
    );
}

#[test]
fn sliding_window_rewind_keeps_the_later_window() {
    let l = limit(4, Unit::Minute, Algorithm::SlidingWindow);
    let later = run(&l, l.empty(), &[(120 * S, 4, Admit(0), "fill window 2")]);
    run(
        &l,
        later,
        &[(
            30 * S,
            1,
            Refuse(165 * S),
            "clock back to window 0: window 2 still full",
        )],
    );
}

#[test]
fn gcra_boundaries() {
    let l = limit(10, Unit::Second, Algorithm::Gcra { burst: 10 });
    assert_eq!(
        l.interval_us(),
        100 * MS,
        "10 per second: one unit every 100 ms"
    );
    let mut steps: Vec<(u64, u64, Want, &str)> = (0..10)
        .map(|i| (0, 1, Admit(9 - i), "an idle bucket admits a burst of 10"))
        .collect();
    steps.extend([
        (
            0,
            1,
            Refuse(100 * MS),
            "bucket empty: one unit refills in 100 ms",
        ),
        (100 * MS - 1, 1, Refuse(1), "one microsecond early"),
        (100 * MS, 1, Admit(0), "refilled exactly on time"),
        (500 * MS, 4, Admit(0), "400 ms refill 4 units"),
        (
            500 * MS,
            11,
            Refuse(0),
            "a cost above the burst can never be admitted",
        ),
        (
            2 * S,
            10,
            Admit(0),
            "fully refilled after a second idle, not more",
        ),
    ]);
    run(&l, l.empty(), &steps);

    let paced = limit(10, Unit::Second, Algorithm::Gcra { burst: 1 });
    run(
        &paced,
        paced.empty(),
        &[
            (0, 1, Admit(0), "burst 1: one at a time"),
            (50 * MS, 1, Refuse(50 * MS), "too soon"),
            (100 * MS, 1, Admit(0), "evenly spaced"),
        ],
    );
}

#[test]
fn gcra_rounds_the_interval_up_and_survives_rewinds() {
    let l = limit(3, Unit::Second, Algorithm::Gcra { burst: 3 });
    assert_eq!(l.interval_us(), 333_334, "1 s / 3 rounded up");
    let c = run(
        &l,
        l.empty(),
        &[
            (10 * S, 3, Admit(0), "burst of 3"),
            (
                10 * S + 333_333,
                1,
                Refuse(1),
                "rounding never refills early",
            ),
        ],
    );
    run(
        &l,
        c,
        &[(
            5 * S,
            1,
            Refuse(5 * S + 333_334),
            "clock back 5 s: stricter, not looser",
        )],
    );
}

#[test]
fn force_refund_and_usage() {
    let fixed = limit(5, Unit::Minute, Algorithm::FixedWindow);
    let (c, view) = fixed.force(fixed.empty(), T0, 7);
    assert_eq!(view.remaining, 0, "forcing past the limit leaves nothing");
    assert_eq!(fixed.usage(c, T0).0, 7, "usage shows the overdraft");
    let Verdict::Admit { next, .. } = fixed.check(fixed.empty(), T0, 2) else {
        panic!("admits")
    };
    let refunded = fixed.refund(next, next, 2);
    assert_eq!(fixed.usage(refunded, T0).0, 0, "refund in the same window");
    let rolled = Counter::Window {
        id: fixed.window.id_at(T0) + 1,
        count: 1,
        prev: 2,
    };
    assert_eq!(
        fixed.refund(rolled, next, 2),
        Counter::Window {
            id: fixed.window.id_at(T0) + 1,
            count: 1,
            prev: 0
        },
        "a charge that rolled into the previous window is refunded there"
    );
    let far = Counter::Window {
        id: fixed.window.id_at(T0) + 5,
        count: 1,
        prev: 0,
    };
    assert_eq!(
        fixed.refund(far, next, 2),
        far,
        "older charges are gone already"
    );
    let sat = Counter::Window {
        id: fixed.window.id_at(T0),
        count: u64::MAX,
        prev: u64::MAX,
    };
    let (forced, _) = fixed.force(sat, T0, u64::MAX);
    assert_eq!(
        forced,
        Counter::Window {
            id: fixed.window.id_at(T0),
            count: u64::MAX,
            prev: u64::MAX
        },
        "counts saturate"
    );

    let gcra = limit(10, Unit::Second, Algorithm::Gcra { burst: 10 });
    let (c, _) = gcra.force(gcra.empty(), T0, 4);
    assert_eq!(
        gcra.usage(c, T0),
        (
            4,
            View {
                remaining: 6,
                reset_us: 400 * MS
            }
        )
    );
    assert_eq!(gcra.usage(c, T0 + 250 * MS).0, 2, "usage drains over time");
    assert_eq!(
        gcra.usage(gcra.refund(c, c, 4), T0).0,
        0,
        "refund moves the TAT back"
    );
    let (max, _) = gcra.force(Counter::Gcra { tat: u64::MAX }, T0, u64::MAX);
    assert_eq!(max, Counter::Gcra { tat: u64::MAX }, "TAT saturates");
}

#[test]
fn sliding_window_over_calendar_months_weighs_by_the_current_month() {
    let l = Limit {
        window: Window {
            unit: Unit::Month,
            size: 1,
            calendar: true,
        },
        ..limit(280, Unit::Month, Algorithm::SlidingWindow)
    };
    const DAY: u64 = 86_400 * S;
    // January 2026 (31 days) used all 280; February has 28 days.
    let jan = l.window.id_at(T0);
    let counter = Counter::Window {
        id: jan,
        count: 280,
        prev: 0,
    };
    run(
        &l,
        counter,
        &[
            (
                31 * DAY,
                1,
                Refuse(DAY / 10),
                "1 February: January weighs 280",
            ),
            (
                31 * DAY + 7 * DAY,
                70,
                Admit(0),
                "8 February: 3/4 of February left, January weighs 210",
            ),
            (31 * DAY + 7 * DAY, 1, Refuse(DAY / 10), "full again"),
        ],
    );
}
