//! Helpers for the filters' native tests: unwrapping a decision into the reply it sends, and
//! reading that reply's RFC 9457 problem body. Each filter's tests use these instead of their own.
//!
//! Test support only (feature `testing`, on in the filters' dev-dependencies): a helper that
//! finds the wrong decision fails the test by panicking.
#![allow(clippy::panic)]

use crate::plugin::Decision;
use crate::reply::LocalReply;

/// The local reply a decision sends; panics (failing the test) on any other decision.
pub fn reply(d: Decision) -> LocalReply {
    match d {
        Decision::Respond(r) => r,
        other => panic!("expected a local reply, got {other:?}"),
    }
}

/// The JSON body of a reply.
pub fn json(r: &LocalReply) -> serde_json::Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("the reply's body is not JSON ({e}): {:?}", r.body))
}

/// The problem document of a reply, checking it is sent as `application/problem+json`.
pub fn problem(r: &LocalReply) -> serde_json::Value {
    assert_eq!(
        r.get_header("content-type"),
        Some("application/problem+json"),
        "a problem is sent as application/problem+json"
    );
    json(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::Problem;

    #[test]
    fn reads_a_problem_reply() {
        let d = Decision::Respond(LocalReply::problem(&Problem::new(403, "forbidden", "No")));
        let r = reply(d);
        assert_eq!(r.status, 403);
        assert_eq!(problem(&r)["status"], 403);
    }

    #[test]
    #[should_panic(expected = "expected a local reply")]
    fn a_decision_to_continue_is_no_reply() {
        reply(Decision::Continue);
    }
}
