//! Consumer tests: which names are valid ids, plans and groups.

use super::*;

#[test]
fn names() {
    for ok in ["alice", "a.b_c~d-e", &"x".repeat(64)] {
        assert!(is_name(ok), "{ok} is a name");
    }
    for bad in ["", "a b", "a,b", "é", &"x".repeat(65), "a\n"] {
        assert!(!is_name(bad), "{bad:?} is not a name");
    }
}
