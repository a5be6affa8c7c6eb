//! Tests of reading event files.

use super::*;

#[test]
fn invalid_lines_are_counted_and_skipped() {
    let input = b"{\"v\":1,\"ts_ms\":5,\"api\":\"a\",\"consumer\":\"x\\u2028\"}\n\n\
        not json\n{\"v\":0}\n{\"v\":1,\"ts_ms\":6,\"api\":\"a\",\"extra\":true}\n{\"v\":1,\"ts";
    let mut loaded = Loaded::default();
    read_events(&input[..], &mut loaded).unwrap();
    assert_eq!(loaded.events.len(), 2, "unknown members are tolerated");
    assert_eq!(loaded.invalid_lines, 3, "junk, v0 and a cut last line");
    assert_eq!(loaded.events[0].consumer.as_deref(), Some("x\u{2028}"));
}
