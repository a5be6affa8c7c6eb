//! Tests of the chart.

use super::*;

#[test]
fn escaping_and_scales() {
    assert_eq!(escape("<a&\"b'>\u{1}"), "&lt;a&amp;&quot;b&apos;&gt;?");
    let cases = [
        (0.0, 1.0),
        (3.0, 5.0),
        (7.5, 10.0),
        (120.0, 200.0),
        (1.0, 1.0),
    ];
    for (v, want) in cases {
        assert_eq!(nice_max(v), want, "{v}");
    }
}
