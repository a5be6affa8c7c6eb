//! Shared core of the gateway filters.
//!
//! Every filter is written as plain logic against the types here and compiles and tests natively:
//!
//! - [`Plugin`] and [`Stream`]: the filter's per-VM state and per-request logic. Each callback takes
//!   values in ([`HeaderMap`], body bytes) and returns a [`Decision`].
//! - [`Host`]: the small typed port for effects that cannot be values (time, shared data with CAS,
//!   metrics, HTTP callouts, properties). [`FakeHost`] implements it for native tests;
//!   the proxy-wasm implementation lives in the adapter.
//! - [`LocalReply`] and [`Problem`]: local responses with RFC 9457 `application/problem+json` bodies.
//! - [`config`]: JSON configuration parsing whose errors name the offending field.
//! - [`json`]: the JSON tree configurations and tokens parse into.
//! - [`time`]: durations as whole microseconds or milliseconds without 128-bit arithmetic, UTC
//!   civil dates (days since the epoch to and from year, month, day; calendar months), and RFC 3339
//!   UTC timestamps.
//! - [`signature`]: signature checks the host can do natively (Envoy's `verify_signature`).
//! - [`bytes`]: byte-string keys compared eight bytes at a time, and a table of them, for lookups
//!   made on every request.
//! - `adapter` (wasm32 only): the one generic proxy-wasm adapter; a filter's glue is the single line
//!   `export_plugin!` (also wasm32 only).

pub mod bytes;
pub mod chain;
pub mod config;
pub mod headers;
pub mod host;
pub mod json;
pub mod pairs;
pub mod plugin;
pub mod reply;
pub mod signature;
pub mod time;

pub mod fake;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

/// The target the shipped modules (`dist/*.wasm`, from `scripts/build`) are compiled for, and
/// the one the filters' host-test suites load. The filters use nothing of WASI, and without it
/// std links no WASI libc (its malloc, errno names and stdio): each module is 17-21 KB smaller
/// after wasm-opt, for the same wasm work per request. The filters build for `wasm32-wasip1`
/// too. `scripts/lib.sh` names the same target; a test checks that the two agree.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

#[cfg(target_arch = "wasm32")]
pub mod adapter;

pub use config::ConfigError;
pub use fake::FakeHost;
pub use headers::{HeaderEdit, HeaderMap};
pub use host::{
    CallFailure, CallResponse, GrpcCall, GrpcFailure, HeaderKind, Host, HostError, HttpCall,
    MetricId, MetricKind, SharedValue,
};
pub use plugin::{Decision, Plugin, Stream};
pub use reply::{Extension, LocalReply, Problem};
pub use signature::SignatureCheck;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub use proxy_wasm;

#[cfg(test)]
mod target_tests {
    #[test]
    fn the_scripts_build_for_the_same_target() {
        let lib = include_str!("../../../scripts/lib.sh");
        let line = format!("WASM_TARGET={}", super::WASM_TARGET);
        assert!(
            lib.lines().any(|l| l == line),
            "scripts/lib.sh lacks `{line}`"
        );
    }
}
