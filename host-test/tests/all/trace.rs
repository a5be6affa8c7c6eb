//! The hostcall trace as JSON, checked against a golden file
//! (`HOST_TEST_BLESS=1 cargo test -p host-test` rewrites it).

use crate::guests::raw;
use host_test::{FilterSpec, Harness, Request, Response};
use std::path::Path;

#[test]
fn trace_of_one_exchange_matches_the_golden_file() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .trace()
        .build()
        .unwrap();
    gw.request(Request::get("/t"))
        .respond_with(Response::ok())
        .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/raw_exchange_trace.json");
    if let Err(e) = host_test::golden::check(&path, &gw.trace_json()) {
        panic!("{e}");
    }
}
