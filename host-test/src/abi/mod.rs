//! The proxy-wasm hostcalls, one file per family, registered on the linker here.
//!
//! Every hostcall returns a proxy-wasm status (see [`status`]); results go through guest
//! pointers (`guest.rs`: memory access and the guest's allocator).

pub(crate) mod buffers;
pub(crate) mod foreign;
pub(crate) mod grpc;
pub(crate) mod guest;
pub(crate) mod headers;
pub(crate) mod http_call;
pub(crate) mod lifecycle;
pub(crate) mod metrics;
pub mod properties;
pub(crate) mod queues;
pub(crate) mod shared;
pub(crate) mod wasi;

/// The pair layout and the status codes (`value/pairs.rs`, `value/status.rs`), where
/// `host_test::abi` named them before.
pub use crate::value::{pairs, status};

use crate::state::HostState;
use wasmtime::Linker;

/// Registers every hostcall (module `env`) and the WASI preview1 functions.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    lifecycle::add(linker)?;
    headers::add(linker)?;
    buffers::add(linker)?;
    http_call::add(linker)?;
    grpc::add(linker)?;
    shared::add(linker)?;
    queues::add(linker)?;
    metrics::add(linker)?;
    properties::add(linker)?;
    foreign::add(linker)?;
    wasi::add(linker)?;
    Ok(())
}
