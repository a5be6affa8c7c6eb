//! Durations as whole microseconds or milliseconds in a `u64`, without 128-bit arithmetic:
//! wasm32 has none, so `Duration::as_micros` (a `u128`) calls a library routine, on every request
//! for the filters that timestamp them.

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
}
