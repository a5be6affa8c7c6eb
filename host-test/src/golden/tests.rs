#[test]
fn diff_marks_changed_lines() {
    assert_eq!(super::diff("a\nb\nc", "a\nx\nc"), "  a\n- b\n+ x\n  c\n");
}
