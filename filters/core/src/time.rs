//! Time arithmetic the filters share, in `u64` and without 128-bit arithmetic: durations as whole
//! microseconds or milliseconds (wasm32 has no 128-bit arithmetic, so `Duration::as_micros`, a
//! `u128`, calls a library routine, on every request for the filters that timestamp them), and
//! UTC civil dates (days since the Unix epoch to and from year, month, day; calendar months
//! counted from January 1970) for timestamps and calendar windows.

use std::time::Duration;

/// Whole microseconds in `d`, `u64::MAX` when they do not fit.
pub fn micros(d: Duration) -> u64 {
    whole(d.as_secs(), 1_000_000, d.subsec_micros())
}

/// Whole milliseconds in `d`, `u64::MAX` when they do not fit.
pub fn millis(d: Duration) -> u64 {
    whole(d.as_secs(), 1_000, d.subsec_millis())
}

/// `secs * per_sec + sub` (with `sub < per_sec`), saturating; the bound is a constant division.
fn whole(secs: u64, per_sec: u64, sub: u32) -> u64 {
    if secs > (u64::MAX - u64::from(sub)) / per_sec {
        return u64::MAX;
    }
    secs * per_sec + u64::from(sub)
}

/// Year, month (1..=12) and day (1..=31) of the day `days` after 1970-01-01, in the proleptic
/// Gregorian calendar (H. Hinnant's `civil_from_days`). Inline: analytics dates every event
/// with it.
#[inline]
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`, restricted to dates from the epoch on: `year` at least 1970, earlier
/// dates give 0).
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// The calendar month holding day `days` (since 1970-01-01), counted in months since January
/// 1970 (January 1970 is 0).
pub fn month_of_day(days: u64) -> u64 {
    let (year, month, _) = civil_from_days(days);
    (year - 1970) * 12 + (month - 1)
}

/// The first day (since 1970-01-01) of calendar month `months` (counted as by
/// [`month_of_day`]).
pub fn month_start_day(months: u64) -> u64 {
    let year = 1970u64.saturating_add(months / 12);
    let month = months % 12 + 1;
    days_from_civil(year, month, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_to_the_u128_conversions() {
        let wide = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
        let max_micros = u64::MAX / 1_000_000;
        let max_millis = u64::MAX / 1_000;
        for secs in [
            0,
            1,
            59,
            1_764_190_000,
            max_micros - 1,
            max_micros,
            max_micros + 1,
            max_millis,
            max_millis + 1,
            u64::MAX,
        ] {
            for nanos in [
                0,
                1,
                999,
                1_000,
                999_999,
                1_000_000,
                551_615_999,
                999_999_999,
            ] {
                let d = Duration::new(secs, nanos);
                assert_eq!(micros(d), wide(d.as_micros()), "{d:?}");
                assert_eq!(millis(d), wide(d.as_millis()), "{d:?}");
            }
        }
    }

    #[test]
    fn civil_dates_round_trip() {
        for (days, date, why) in [
            (0, (1970, 1, 1), "epoch"),
            (20_454, (2026, 1, 1), "2026-01-01"),
            (20_513, (2026, 3, 1), "after a non-leap February"),
            (11_016, (2000, 2, 29), "leap day of a 400-year leap year"),
            (47_541, (2100, 3, 1), "2100 is not a leap year"),
        ] {
            assert_eq!(civil_from_days(days), date, "{why}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{why}");
        }
    }

    /// Days in `month` of `year`, by the Gregorian leap-year rule.
    fn month_len(year: u64, month: u64) -> u64 {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    #[test]
    fn every_day_of_six_400_year_cycles_matches_a_calendar_walk() {
        // 1970-01-01 to 4369-12-31, one day at a time, against a date stepped by hand.
        let (mut year, mut month, mut day) = (1970, 1, 1);
        let mut months = 0;
        let mut month_start = 0;
        for days in 0..6 * 146_097 {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            assert_eq!(
                days_from_civil(year, month, day),
                days,
                "{year}-{month}-{day}"
            );
            if day == 1 {
                month_start = days;
            }
            assert_eq!(month_of_day(days), months, "day {days}");
            assert_eq!(month_start_day(months), month_start, "month {months}");
            day += 1;
            if day > month_len(year, month) {
                day = 1;
                month += 1;
                months += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
        assert_eq!((year, month, day), (4370, 1, 1));
    }

    #[test]
    fn far_dates_round_trip() {
        // Up to 2^38 days (the year 752 million), past the last millisecond timestamp in a u64.
        let mut days = 0u64;
        while days < 1 << 38 {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month) && (1..=month_len(year, month)).contains(&day));
            assert_eq!(days_from_civil(year, month, day), days, "day {days}");
            let months = month_of_day(days);
            assert_eq!(months, (year - 1970) * 12 + month - 1, "day {days}");
            assert_eq!(month_start_day(months), days - (day - 1), "day {days}");
            days += days / 1024 + 1;
        }
    }
}
