//! What became of an admitted request, read in `on_log` from what the host knows about the
//! stream's end.
//!
//! In order:
//! 1. `response.flags` (Envoy's response flags, a bit set) with an upstream failure bit: upstream
//!    request timeout, remote reset, connection failure or termination, no healthy upstream,
//!    overflow, retry limit exceeded, max stream duration, upstream protocol error: **failure**.
//! 2. `response.code_details` beginning with `upstream_reset`, `upstream_response_timeout`,
//!    `upstream_per_try_timeout`, `upstream_per_try_idle_timeout`,
//!    `upstream_max_stream_duration_reached` or `no_healthy_upstream`: **failure**.
//! 3. Other non-empty details than `via_upstream` (a local reply of this or a later filter, the
//!    client going away): **neutral**, nothing learnt about the upstream.
//! 4. The status (`response.code`, else the response `:status`): one of the failure statuses is a
//!    **failure**, any other a **success**; no status at all (the client reset the stream before
//!    a response) is **neutral**.
//!
//! A host without `response.code_details` (NGINX) falls to the status: an upstream reset or
//! timeout that ends in 502, 503 or 504 counts with the default failure statuses.

use filter_core::{HeaderKind, Host};

use super::machine::Outcome;

/// Envoy response flags (`1 << ResponseFlag`) that mean the upstream failed or did not answer:
/// NoHealthyUpstream (1), UpstreamRequestTimeout (2), UpstreamRemoteReset (4),
/// UpstreamConnectionFailure (5), UpstreamConnectionTermination (6), UpstreamOverflow (7),
/// UpstreamRetryLimitExceeded (15), UpstreamMaxStreamDurationReached (19),
/// UpstreamProtocolError (23).
pub const UPSTREAM_FAILURE_FLAGS: u64 =
    1 << 1 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 15 | 1 << 19 | 1 << 23;

/// `response.code_details` prefixes that mean the upstream failed or did not answer.
pub const FAILURE_DETAILS: [&[u8]; 6] = [
    b"upstream_reset",
    b"upstream_response_timeout",
    b"upstream_per_try_timeout",
    b"upstream_per_try_idle_timeout",
    b"upstream_max_stream_duration_reached",
    b"no_healthy_upstream",
];

/// Classifies from the values read (pure).
pub fn classify(
    flags: Option<u64>,
    details: Option<&[u8]>,
    status: Option<u16>,
    failure_statuses: &[u16],
) -> Outcome {
    if flags.is_some_and(|f| f & UPSTREAM_FAILURE_FLAGS != 0) {
        return Outcome::Failure;
    }
    match details.filter(|d| !d.is_empty()) {
        Some(d) if FAILURE_DETAILS.iter().any(|p| d.starts_with(p)) => return Outcome::Failure,
        Some(d) if d != b"via_upstream" => return Outcome::Neutral,
        _ => {}
    }
    match status {
        Some(s) if failure_statuses.contains(&s) => Outcome::Failure,
        Some(_) => Outcome::Success,
        None => Outcome::Neutral,
    }
}

/// Reads the stream's end from the host and classifies it.
pub fn read(host: &dyn Host, failure_statuses: &[u16]) -> Outcome {
    let flags = host.property(&["response", "flags"]).and_then(|v| int(&v));
    let details = host.property(&["response", "code_details"]);
    let status = host
        .property(&["response", "code"])
        .and_then(|v| int(&v))
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c > 0)
        .or_else(|| {
            let s = host.header(HeaderKind::Response, ":status")?;
            std::str::from_utf8(&s).ok()?.parse().ok()
        });
    classify(flags, details.as_deref(), status, failure_statuses)
}

/// An integer property: 8 bytes little-endian as Envoy encodes it, or ASCII decimal.
fn int(v: &[u8]) -> Option<u64> {
    if let Ok(arr) = <[u8; 8]>::try_from(v) {
        if !arr.iter().all(u8::is_ascii_digit) {
            return Some(u64::from_le_bytes(arr));
        }
    }
    std::str::from_utf8(v).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use filter_core::FakeHost;

    const S: &[u16] = &[502, 503, 504];

    type Case<'a> = (Option<u64>, Option<&'a [u8]>, Option<u16>, Outcome);

    #[test]
    fn flags_details_and_statuses() {
        use Outcome::*;
        let cases: &[Case<'_>] = &[
            (None, Some(b"via_upstream"), Some(200), Success),
            (None, Some(b"via_upstream"), Some(503), Failure),
            (None, Some(b"via_upstream"), Some(500), Success),
            (
                None,
                Some(b"upstream_reset_before_response_started{remote_reset}"),
                Some(503),
                Failure,
            ),
            (None, Some(b"upstream_response_timeout"), Some(504), Failure),
            (None, Some(b"gateway_quota_exceeded"), Some(429), Neutral),
            (
                None,
                Some(b"gateway_upstream_unavailable"),
                Some(503),
                Neutral,
            ),
            (None, Some(b"downstream_remote_disconnect"), None, Neutral),
            (Some(1 << 4), None, None, Failure),
            (Some(1 << 2), Some(b"via_upstream"), Some(200), Failure),
            (
                Some(1 << 14),
                Some(b"downstream_remote_disconnect"),
                None,
                Neutral,
            ),
            (Some(0), None, Some(504), Failure),
            (Some(0), None, Some(200), Success),
            (None, None, None, Neutral),
            (None, Some(b""), Some(204), Success),
        ];
        for (flags, details, status, want) in cases {
            assert_eq!(
                classify(*flags, *details, *status, S),
                *want,
                "{flags:?} {details:?} {status:?}"
            );
        }
        assert_eq!(classify(None, None, Some(500), &[500]), Failure);
    }

    #[test]
    fn reads_envoy_encodings() {
        let mut h = FakeHost::new();
        h.set_prop("response.code", 504u64.to_le_bytes().to_vec());
        h.set_prop("response.code_details", "upstream_response_timeout");
        h.set_prop("response.flags", (1u64 << 2).to_le_bytes().to_vec());
        assert_eq!(read(&h, S), Outcome::Failure);
        let mut h = FakeHost::new();
        h.set_prop("response.code", 200u64.to_le_bytes().to_vec());
        h.set_prop("response.code_details", "via_upstream");
        h.set_prop("response.flags", 0u64.to_le_bytes().to_vec());
        assert_eq!(read(&h, S), Outcome::Success);
        let mut h = FakeHost::new();
        h.set_prop("response.code", "503");
        assert_eq!(read(&h, S), Outcome::Failure, "ASCII decimal");
        assert_eq!(read(&FakeHost::new(), S), Outcome::Neutral, "nothing known");
    }
}
