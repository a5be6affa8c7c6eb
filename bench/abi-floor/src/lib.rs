//! A measuring instrument, not a filter: the least a proxy-wasm HTTP module can be, written
//! against the ABI without the SDK (which exports every callback), so that `scripts/bench` can
//! measure what Envoy spends on any wasm filter before the filter does anything.
//!
//! Envoy skips the callbacks a module does not export. Built by default, the module exports only
//! what Envoy requires and `proxy_on_request_headers`, which lets every request through. With the
//! `every-callback` feature it also exports the other stream callbacks the SDK exports (response
//! headers, log, done, delete), each doing nothing. It keeps no state: a context is only an id.

/// The ABI version this module speaks.
#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Memory for data the host hands over (this module is never handed any).
#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    let mut buffer = std::mem::ManuallyDrop::new(Vec::<u8>::with_capacity(size));
    buffer.as_mut_ptr()
}

/// A root or stream context is created: nothing to keep.
#[no_mangle]
pub extern "C" fn proxy_on_context_create(_context_id: u32, _parent_context_id: u32) {}

/// The VM starts: success.
#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_root_context_id: u32, _configuration_size: u32) -> u32 {
    1
}

/// The plugin is configured: success, whatever the configuration.
#[no_mangle]
pub extern "C" fn proxy_on_configure(_root_context_id: u32, _configuration_size: u32) -> u32 {
    1
}

/// Request headers arrive: continue (action 0).
#[no_mangle]
pub extern "C" fn proxy_on_request_headers(_context_id: u32, _headers: u32, _end: u32) -> u32 {
    0
}

/// The other stream callbacks the SDK exports, each doing nothing.
#[cfg(feature = "every-callback")]
mod every_callback {
    /// Response headers arrive: continue.
    #[no_mangle]
    pub extern "C" fn proxy_on_response_headers(_context_id: u32, _headers: u32, _end: u32) -> u32 {
        0
    }

    /// The stream is logged.
    #[no_mangle]
    pub extern "C" fn proxy_on_log(_context_id: u32) {}

    /// The stream is done: the context may be deleted now.
    #[no_mangle]
    pub extern "C" fn proxy_on_done(_context_id: u32) -> u32 {
        1
    }

    /// The context is deleted.
    #[no_mangle]
    pub extern "C" fn proxy_on_delete(_context_id: u32) {}
}
