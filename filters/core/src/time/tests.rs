//! Tests of the time arithmetic: whole units against the `u128` conversions, civil dates
//! against a calendar walk over six 400-year cycles, and RFC 3339 timestamps.

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
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
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

#[test]
fn rfc3339_formatting() {
    let cases = [
        (0, "1970-01-01T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_767_225_600_123, "2026-01-01T00:00:00.123Z"),
        (1_772_323_199_999, "2026-02-28T23:59:59.999Z"),
        (4_102_444_800_000, "2100-01-01T00:00:00.000Z"),
    ];
    for (ms, want) in cases {
        assert_eq!(format_rfc3339_ms(ms), want, "{ms}");
    }
}
