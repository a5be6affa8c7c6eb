//! The versioned routing filter of the gateway suite.
//!
//! It resolves the API version of each request (path prefix, header, query parameter or
//! `Accept` vendor media type, in a configured order, else a default), optionally sends a
//! sticky share of a version's traffic to a canary (fixed or ramped over time), lets allowed
//! groups force a version, refuses unknown (404/400) and retired (410) versions with a
//! problem+json body listing the supported ones, and tells Envoy the upstream through
//! `x-gateway-cluster` (the route's `cluster_header`) and `x-gateway-version`. Responses carry
//! the version's `Deprecation`, `Sunset` and `Link` headers.
//!
//! Modules, in the order a request meets them:
//! - [`config`]: the runtime configuration and `parse` (wire structs in `config::wire`,
//!   validation in `config::validate`);
//! - [`version`]: what a version name is;
//! - [`target`]: the request target's safety checks;
//! - [`resolve`]: which configured version a request names, and why a request is refused;
//! - [`sticky`]: the key a client is bucketed by (consumer, presented or minted, and its cookie);
//! - [`canary`]: canary shares over time and sticky buckets;
//! - [`lifecycle`]: version stages and the headers announcing them;
//! - [`reply`]: the problem+json reply for each reason a request is refused;
//! - [`metrics`]: every metric the filter defines;
//! - [`filter`]: the `Plugin`/`Stream` implementation, which drives the modules above.
//!
//! Each module's tests are in `<module>/tests.rs`.

pub mod canary;
pub mod config;
pub mod filter;
pub mod lifecycle;
pub mod metrics;
pub mod reply;
pub mod resolve;
pub mod sticky;
pub mod target;
pub mod version;

pub use filter::{RoutingPlugin, RoutingStream};

// Off (`default-features = false`) when the crate is linked into the bundle module.
#[cfg(all(target_arch = "wasm32", feature = "export"))]
filter_core::export_plugin!(RoutingPlugin);
