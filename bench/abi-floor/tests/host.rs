//! Both builds of the module in host-test, which runs them as Envoy does: a module that exports
//! only some stream callbacks lets every request through, and its missing callbacks are skipped.

#![cfg(not(target_arch = "wasm32"))]
// Test helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use host_test::build::cargo_wasm_for;
use host_test::{FilterSpec, Harness, Request, Response};

fn passes_requests_through(features: &[&str]) {
    // Built for the shipped filters' target, as scripts/bench builds it.
    let wasm =
        cargo_wasm_for("abi-floor", filter_core::WASM_TARGET, features).expect("abi-floor builds");
    let mut gateway = Harness::new()
        .filter(FilterSpec::wasm(wasm).name("floor"))
        .build()
        .expect("the module starts and takes any configuration");
    for _ in 0..3 {
        let outcome = gateway
            .request(Request::get("/v1/orders/1").header("x-data", "1"))
            .respond_with(Response::ok())
            .expect("the exchange runs");
        assert!(outcome.reached_upstream(), "{:?}", outcome.local_reply());
        assert_eq!(outcome.upstream_request().header("x-data"), Some("1"));
        assert_eq!(outcome.status(), 200);
    }
}

#[test]
fn the_request_headers_only_build_passes_requests_through() {
    passes_requests_through(&[]);
}

#[test]
fn the_every_callback_build_passes_requests_through() {
    passes_requests_through(&["--features", "every-callback"]);
}
