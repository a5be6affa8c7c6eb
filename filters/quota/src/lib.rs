//! The quota filter of the gateway suite: plans of several limits per consumer, counted exactly
//! across Envoy's worker VMs in shared data, with the IETF `RateLimit` header fields, RFC 9457
//! refusals, shadow mode, post-charging from the response and a usage report.
//!
//! Layout: [`config`] (runtime configuration; [`config::wire`] the JSON format, validation in
//! between), [`window`] and [`limit`] (time windows and the three algorithms, pure), [`codec`]
//! (stored counter values), [`store`] (the `CounterStore` port and its shared-data
//! implementation), [`admission`] (CAS loops and multi-limit admission), [`key`] and [`cost`] (what
//! a request is metered as and what it costs), [`rls`], [`global`] and [`lease`] (the global
//! store's messages, descriptors and per-instance lease), [`reply`] (header fields and the answers
//! the filter sends), [`report`] (usage report), [`metrics`] (names) and [`filter`] (the
//! `Plugin`/`Stream` glue, whose request path runs as named steps: its `local` and `remote`
//! submodules admit against this instance's counters or the global store), and [`protect`]
//! (upstream protection: concurrency limits and circuit breakers per API, checked before the
//! quota so that shed requests are never charged).

pub mod admission;
pub mod codec;
pub mod config;
pub mod cost;
pub mod filter;
pub mod global;
pub mod key;
pub mod lease;
pub mod limit;
pub mod metrics;
pub mod protect;
pub mod reply;
pub mod report;
pub mod rls;
pub mod store;
pub mod window;

pub use filter::{QuotaPlugin, QuotaStream};

// Off (`default-features = false`) when the crate is linked into the bundle module.
#[cfg(all(target_arch = "wasm32", feature = "export"))]
filter_core::export_plugin!(QuotaPlugin);
