//! Proxy-wasm status codes (Envoy's `WasmResult`): what every hostcall returns.

/// Success.
pub const OK: i32 = 0;
/// Missing key, buffer, queue, metric or foreign function.
pub const NOT_FOUND: i32 = 1;
/// Bad argument (unknown map or buffer type, unknown cluster, bad offsets, ...).
pub const BAD_ARGUMENT: i32 = 2;
/// Malformed serialized input.
pub const SERIALIZATION_FAILURE: i32 = 3;
/// Unparsable input (gRPC service config).
pub const PARSE_FAILURE: i32 = 4;
/// A pointer outside guest memory, or the guest allocator failed.
pub const INVALID_MEMORY_ACCESS: i32 = 6;
/// Empty shared queue.
pub const EMPTY: i32 = 7;
/// Shared-data compare-and-swap mismatch.
pub const CAS_MISMATCH: i32 = 8;
/// Internal failure.
pub const INTERNAL_FAILURE: i32 = 10;
/// Connection broken: the code `proxy_get_status` gives after a failed callout.
pub const BROKEN_CONNECTION: i32 = 11;
/// Not implemented by this host.
pub const UNIMPLEMENTED: i32 = 12;
