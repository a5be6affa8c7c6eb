//! Runs the gateway chain natively on one request many times, for `perf record` (see
//! scripts/bench-results.md). Usage: `profile CONFIG.json TOKEN [REQUESTS]`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::rc::Rc;

use filter_bundle::GatewayPlugin;
use filter_core::{FakeHost, HeaderMap, Plugin, Stream};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = std::fs::read(&args[1]).unwrap();
    let token = std::fs::read_to_string(&args[2]).unwrap();
    let n: usize = args.get(3).map_or(100_000, |s| s.parse().unwrap());
    let mut host = FakeHost::new();
    host.set_time(1_700_000_000);
    let plugin = Rc::new(GatewayPlugin::configure(&config, &mut host).unwrap());
    let bearer = format!("Bearer {}", token.trim());
    for _ in 0..n {
        let mut stream = GatewayPlugin::new_stream(&plugin);
        let mut req = HeaderMap::from_pairs([
            (":method", "GET"),
            (":path", "/v1/orders/1"),
            (":authority", "example.com"),
            (":scheme", "http"),
            ("user-agent", "wrk"),
            ("authorization", bearer.as_str()),
        ]);
        let _ = stream.on_request_headers(&mut req, true, &mut host);
        let mut resp = HeaderMap::from_pairs([(":status", "200"), ("content-length", "2")]);
        let _ = stream.on_response_headers(&mut resp, false, &mut host);
        stream.on_log(&mut host);
    }
}
