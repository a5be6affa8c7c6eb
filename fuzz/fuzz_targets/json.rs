//! `filter_core::json::parse`, the parser of configurations and of untrusted documents (JWT
//! headers and claims, JWKS bodies), and `filter_core::config::parse`, its configuration form.
//!
//! Asserts: what it accepts serde_json accepts too, within the depth asked; the tree it gives
//! serializes and parses back to the same tree (floats to
//! within a rounding step); the configuration form names a field path
//! whenever it refuses.
#![no_main]

use filter_core::json::{self, Json, JsonError, Number};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let max_depth = usize::from(data.first().copied().unwrap_or(0) % 20);
    for depth_limit in [max_depth, 16, 127] {
        match json::parse(data, depth_limit) {
            Ok(tree) => {
                assert!(
                    gateway_fuzz::depth(&tree) <= depth_limit,
                    "deeper than allowed"
                );
                assert!(
                    serde_json::from_slice::<serde_json::Value>(data).is_ok(),
                    "accepted what serde_json refuses"
                );
                let text = serde_json::to_vec(&tree).expect("a tree serializes");
                let again = json::parse(&text, depth_limit).expect("its own output parses");
                assert!(
                    same(&again, &tree),
                    "round trip changed the tree: {tree:?} -> {again:?}"
                );
            }
            // A duplicate is refused where it is read, before a later error could be.
            Err(JsonError::Invalid | JsonError::TooDeep | JsonError::Duplicate) => {}
        }
    }
    match filter_core::config::parse(data) {
        Ok(tree) => {
            // Blank input reads as `{}`.
            if data.iter().all(u8::is_ascii_whitespace) {
                assert!(tree.is_object());
            }
        }
        Err(err) => gateway_fuzz::check_config_error(&err),
    }
});

/// Equal trees, floats within one unit in the last place or so: serde_json reads decimals with a
/// fast algorithm that is not always correctly rounded (without its `float_roundtrip` feature),
/// so printing the shortest form and reading it back may move a float by one step.
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(Number::Float(x)), Json::Number(Number::Float(y))) => {
            x == y || ((x - y).abs() <= x.abs().max(y.abs()) * 1e-15)
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((n, a), (m, b))| n == m && same(a, b))
        }
        _ => a == b,
    }
}
