//! Time arithmetic the filters share, in `u64` and without 128-bit arithmetic: durations as whole
//! microseconds or milliseconds (wasm32 has no 128-bit arithmetic, so `Duration::as_micros`, a
//! `u128`, calls a library routine, on every request for the filters that timestamp them), UTC
//! civil dates (days since the Unix epoch to and from year, month, day; calendar months counted
//! from January 1970) for timestamps and calendar windows, and RFC 3339 UTC timestamps with
//! milliseconds.

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

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC) for milliseconds since the Unix epoch.
pub fn format_rfc3339_ms(ts_ms: u64) -> String {
    let mut out = Vec::with_capacity(24);
    write_rfc3339_ms(&mut out, ts_ms);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC; ASCII) for milliseconds since the Unix
/// epoch.
pub fn write_rfc3339_ms(out: &mut Vec<u8>, ts_ms: u64) {
    let secs = ts_ms / 1000;
    let (y, mo, d) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    // Analytics dates every event with it: digits are written directly rather than through
    // `format!`.
    let fields: [(u64, usize, u8); 7] = [
        (y, 4, b'-'),
        (mo, 2, b'-'),
        (d, 2, b'T'),
        (rem / 3600, 2, b':'),
        (rem % 3600 / 60, 2, b':'),
        (rem % 60, 2, b'.'),
        (ts_ms % 1000, 3, b'Z'),
    ];
    for (value, width, then) in fields {
        let mut buf = itoa::Buffer::new();
        let digits = buf.format(value);
        for _ in digits.len()..width {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
        out.push(then);
    }
}

#[cfg(test)]
mod tests;
