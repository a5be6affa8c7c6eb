//! Time windows: which window an instant falls in, and where each window starts and ends.
//!
//! Times are microseconds since the Unix epoch (UTC, no leap seconds). A window id only grows with
//! time, so a stored id can be compared with the id of "now": callers never let a clock rewind
//! lower a stored id (see `limit.rs`).
//!
//! Alignment: second, minute, hour and day windows start at multiples of their length since the
//! epoch, which are UTC calendar boundaries. With `calendar`, week windows start on Monday 00:00
//! UTC and month windows on the first of a UTC calendar month; without it a week is 7 days counted
//! from the epoch (a Thursday) and a month is 30 days counted from the epoch. The calendar
//! (which month a day is in, where a month starts) is [`filter_core::time`]'s.

use filter_core::time::{month_of_day, month_start_day};

/// Microseconds in one second.
pub const SECOND_US: u64 = 1_000_000;
const DAY_US: u64 = 86_400 * SECOND_US;
/// 1969-12-29 (a Monday) is 3 days before the epoch.
const MONDAY_OFFSET_US: u64 = 3 * DAY_US;

/// The unit of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// One second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds (a UTC day).
    Day,
    /// 7 days.
    Week,
    /// A UTC calendar month with `calendar`, else 30 days.
    Month,
}

impl Unit {
    /// Length in microseconds (a month counts 30 days).
    pub fn nominal_us(self) -> u64 {
        match self {
            Unit::Second => SECOND_US,
            Unit::Minute => 60 * SECOND_US,
            Unit::Hour => 3_600 * SECOND_US,
            Unit::Day => DAY_US,
            Unit::Week => 7 * DAY_US,
            Unit::Month => 30 * DAY_US,
        }
    }

    /// Lowercase name as in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Unit::Second => "second",
            Unit::Minute => "minute",
            Unit::Hour => "hour",
            Unit::Day => "day",
            Unit::Week => "week",
            Unit::Month => "month",
        }
    }
}

/// A window: `size` units long, calendar-aligned or epoch-aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Unit.
    pub unit: Unit,
    /// Number of units (at least 1).
    pub size: u32,
    /// Whether weeks start on Monday and months on the 1st (UTC).
    pub calendar: bool,
}

impl Window {
    /// A window of `size` units, not calendar-aligned.
    pub fn new(unit: Unit, size: u32) -> Self {
        Self {
            unit,
            size: size.max(1),
            calendar: false,
        }
    }

    /// Nominal length in microseconds (a month counts 30 days).
    pub fn nominal_us(&self) -> u64 {
        mul(self.unit.nominal_us(), u64::from(self.size))
    }

    fn calendar_months(&self) -> bool {
        self.calendar && self.unit == Unit::Month
    }

    fn offset_us(&self) -> u64 {
        if self.calendar && self.unit == Unit::Week {
            MONDAY_OFFSET_US
        } else {
            0
        }
    }

    /// The id of the window containing `now_us`.
    pub fn id_at(&self, now_us: u64) -> u64 {
        if self.calendar_months() {
            return month_of_day(now_us / DAY_US) / u64::from(self.size);
        }
        now_us.saturating_add(self.offset_us()) / self.nominal_us().max(1)
    }

    /// Start and end (exclusive) of window `id`, in microseconds since the epoch.
    pub fn bounds(&self, id: u64) -> (u64, u64) {
        if self.calendar_months() {
            let first = id.saturating_mul(u64::from(self.size));
            let start = month_start_us(first);
            let end = month_start_us(first.saturating_add(u64::from(self.size)));
            return (start, end);
        }
        let len = self.nominal_us().max(1);
        let start = mul(id, len).saturating_sub(self.offset_us());
        let end = mul(id.saturating_add(1), len).saturating_sub(self.offset_us());
        (start, end)
    }
}

/// `a * b`, saturating. When both fit in 32 bits (a window id and length of this era) the
/// product cannot overflow, which spares the 128-bit multiply wasm32 needs to detect overflow.
fn mul(a: u64, b: u64) -> u64 {
    if (a | b) >> 32 == 0 {
        a * b
    } else {
        a.saturating_mul(b)
    }
}

/// Start of the month `months` after January 1970, in microseconds.
fn month_start_us(months: u64) -> u64 {
    month_start_day(months).saturating_mul(DAY_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = SECOND_US;
    /// 2026-01-01T00:00:00Z, a Thursday.
    const JAN1: u64 = 1_767_225_600 * S;

    #[test]
    fn mul_saturates_like_saturating_mul() {
        let edges = [
            0,
            1,
            2,
            60 * S,
            u64::from(u32::MAX),
            1 << 32,
            u64::MAX / 3,
            u64::MAX,
        ];
        for a in edges {
            for b in edges {
                assert_eq!(mul(a, b), a.saturating_mul(b), "{a} * {b}");
            }
        }
    }

    fn cal(unit: Unit, size: u32) -> Window {
        Window {
            unit,
            size,
            calendar: true,
        }
    }

    #[test]
    fn window_boundaries() {
        let cases: &[(Window, u64, (u64, u64), &str)] = &[
            (
                Window::new(Unit::Second, 1),
                JAN1 + 999_999,
                (JAN1, JAN1 + S),
                "last µs of a second",
            ),
            (
                Window::new(Unit::Second, 1),
                JAN1 + S,
                (JAN1 + S, JAN1 + 2 * S),
                "next second starts exactly",
            ),
            (
                Window::new(Unit::Minute, 1),
                JAN1 + 59 * S,
                (JAN1, JAN1 + 60 * S),
                "minute",
            ),
            (
                Window::new(Unit::Minute, 5),
                JAN1 + 301 * S,
                (JAN1 + 300 * S, JAN1 + 600 * S),
                "5 minutes",
            ),
            (
                Window::new(Unit::Hour, 1),
                JAN1 + 3_599 * S,
                (JAN1, JAN1 + 3_600 * S),
                "hour",
            ),
            (
                Window::new(Unit::Day, 1),
                JAN1 + 86_399 * S,
                (JAN1, JAN1 + 86_400 * S),
                "UTC day",
            ),
            // 2026-01-05 is a Monday; calendar weeks run Monday to Monday.
            (
                cal(Unit::Week, 1),
                JAN1 + 4 * 86_400 * S,
                (JAN1 + 4 * 86_400 * S, JAN1 + 11 * 86_400 * S),
                "Monday starts a calendar week",
            ),
            (
                cal(Unit::Week, 1),
                JAN1 + 4 * 86_400 * S - 1,
                (JAN1 - 3 * 86_400 * S, JAN1 + 4 * 86_400 * S),
                "Sunday night ends it",
            ),
            // Epoch weeks start on Thursday, like 2026-01-01.
            (
                Window::new(Unit::Week, 1),
                JAN1 + 4 * 86_400 * S,
                (JAN1, JAN1 + 7 * 86_400 * S),
                "epoch week",
            ),
            (
                cal(Unit::Month, 1),
                JAN1 + 31 * 86_400 * S - 1,
                (JAN1, JAN1 + 31 * 86_400 * S),
                "January has 31 days",
            ),
            (
                cal(Unit::Month, 1),
                JAN1 + 31 * 86_400 * S,
                (JAN1 + 31 * 86_400 * S, JAN1 + 59 * 86_400 * S),
                "February 2026 has 28 days",
            ),
            (
                cal(Unit::Month, 3),
                JAN1 + 80 * 86_400 * S,
                (JAN1, JAN1 + 90 * 86_400 * S),
                "a quarter",
            ),
            (
                cal(Unit::Month, 12),
                JAN1 + 364 * 86_400 * S,
                (JAN1, JAN1 + 365 * 86_400 * S),
                "a calendar year",
            ),
            (
                Window::new(Unit::Month, 1),
                30 * 86_400 * S,
                (30 * 86_400 * S, 60 * 86_400 * S),
                "30-day month",
            ),
        ];
        for (window, now, bounds, why) in cases {
            let id = window.id_at(*now);
            assert_eq!(window.bounds(id), *bounds, "{why}");
            assert!(
                bounds.0 <= *now && *now < bounds.1,
                "{why}: now inside its window"
            );
        }
    }

    #[test]
    fn ids_never_decrease_and_extremes_do_not_overflow() {
        for window in [
            Window::new(Unit::Second, 1),
            Window::new(Unit::Month, 1),
            cal(Unit::Week, 2),
            cal(Unit::Month, 12),
        ] {
            let mut last = 0;
            for now in [0, 1, JAN1, JAN1 + 40 * 86_400 * S, u64::MAX / 2, u64::MAX] {
                let id = window.id_at(now);
                assert!(id >= last, "{window:?} at {now}");
                last = id;
                let (start, end) = window.bounds(id);
                assert!(start <= end, "{window:?} at {now}");
            }
        }
    }
}
