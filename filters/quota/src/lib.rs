//! The quota filter of the gateway suite: plans of several limits per consumer, counted exactly
//! across Envoy's worker VMs in shared data, with the IETF `RateLimit` header fields, RFC 9457
//! refusals, shadow mode, post-charging from the response and a usage report.
//!
//! Layout: [`config`] (wire format and validation), [`window`] and [`limit`] (time windows and the
//! three algorithms, pure), [`codec`] (stored counter values), [`store`] (the `CounterStore` port
//! and its shared-data implementation), [`admission`] (CAS loops and multi-limit admission),
//! [`key`] and [`cost`] (what a request is metered as and what it costs), [`fields`] (header
//! fields and replies), [`report`] (usage report), [`metrics`] (names) and [`filter`] (the
//! `Plugin`/`Stream` glue).

pub mod admission;
pub mod codec;
pub mod config;
pub mod cost;
pub mod fields;
pub mod filter;
pub mod global;
pub mod key;
pub mod lease;
pub mod limit;
pub mod metrics;
pub mod remote;
pub mod report;
pub mod rls;
pub mod store;
pub mod window;

pub use filter::{QuotaPlugin, QuotaStream};

// Off (`default-features = false`) when the crate is linked into the bundle module.
#[cfg(all(target_arch = "wasm32", feature = "export"))]
filter_core::export_plugin!(QuotaPlugin);
