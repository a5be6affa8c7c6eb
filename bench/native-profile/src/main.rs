//! A measuring instrument, not a filter: runs the gateway chain natively on one request many
//! times, for `perf record` (scripts/profile builds it and runs it through
//! bench/bench/native_profile.py). Usage: `native-profile CONFIG.json TOKEN [REQUESTS]`. Build it
//! with the `portable` feature: natively no host checks the RS256 signature, and the chain must
//! admit the request (the program stops if it does not).
//!
//! Prints the heap allocations the chain makes per request, counted over every request after
//! the first (the request and response header maps are built outside the count; what the fake
//! host allocates to hand values over is inside it, as a wasm host allocates in the module).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::rc::Rc;

use filter_bundle::GatewayPlugin;
use filter_core::{Decision, FakeHost, HeaderMap, Plugin, Stream};

/// The system allocator, counting allocations and bytes on this thread while `COUNTING`.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(bytes: usize) {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.with(|a| {
            let (n, b) = a.get();
            a.set((n + 1, b + bytes as u64));
        });
    }
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches only thread-locals
// that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = std::fs::read(&args[1]).unwrap();
    let token = std::fs::read_to_string(&args[2]).unwrap();
    let n: usize = args.get(3).map_or(100_000, |s| s.parse().unwrap());
    let mut host = FakeHost::new();
    host.set_time(1_700_000_000);
    let plugin = Rc::new(GatewayPlugin::configure(&config, &mut host).unwrap());
    let bearer = format!("Bearer {}", token.trim());
    for i in 0..n {
        let mut req = HeaderMap::from_pairs([
            (":method", "GET"),
            (":path", "/v1/orders/1"),
            (":authority", "example.com"),
            (":scheme", "http"),
            ("user-agent", "wrk"),
            ("authorization", bearer.as_str()),
        ]);
        let mut resp = HeaderMap::from_pairs([(":status", "200"), ("content-length", "2")]);
        COUNTING.with(|c| c.set(i > 0));
        let mut stream = GatewayPlugin::new_stream(&plugin);
        let decision = stream.on_request_headers(&mut req, true, &mut host);
        // A denied request takes a short path: profiling it would mislead.
        assert!(
            matches!(decision, Decision::Continue),
            "the chain did not admit the request: {decision:?} (build with --features portable: \
             natively, no host checks RS256 signatures)"
        );
        let _ = stream.on_response_headers(&mut resp, false, &mut host);
        stream.on_log(&mut host);
        drop(stream);
        COUNTING.with(|c| c.set(false));
    }
    let (count, bytes) = ALLOCATIONS.with(Cell::get);
    let steady = n.saturating_sub(1).max(1) as f64;
    eprintln!(
        "allocations per request: {:.1} ({:.0} bytes)",
        count as f64 / steady,
        bytes as f64 / steady
    );
}
