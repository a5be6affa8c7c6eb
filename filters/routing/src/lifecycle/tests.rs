//! Tests of the lifecycle header values.

use super::*;
use std::time::Duration;

#[test]
fn header_values() {
    let t = UNIX_EPOCH + Duration::from_secs(1_782_777_600);
    assert_eq!(deprecation_value(t), "@1782777600");
    assert_eq!(
        httpdate::fmt_http_date(t),
        "Tue, 30 Jun 2026 00:00:00 GMT",
        "Sunset is an IMF-fixdate"
    );
    assert_eq!(
        link("/v2", "successor-version"),
        "</v2>; rel=\"successor-version\""
    );
}
