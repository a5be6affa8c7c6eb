//! Raw hostcalls that return the host's status as a number.
//!
//! The proxy-wasm SDK panics on any status it does not expect (and its `Status` enum lacks some
//! values real hosts return), which would trap the VM. Every call here returns `Result<_, HostError>`
//! instead, and host-allocated buffers are taken back with `Vec::from_raw_parts`, exactly as the SDK
//! does. The SDK's own declarations of the same imports use an enum return type of the same wasm
//! signature, hence the `clashing_extern_declarations` allowance.
#![allow(clashing_extern_declarations)]

use std::ptr::{null, null_mut};

use crate::host::HostError;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_header_map_pairs(map: u32, data: *mut *mut u8, size: *mut usize) -> u32;
    fn proxy_get_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *mut *mut u8,
        value_size: *mut usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map: u32,
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map: u32, key: *const u8, key_size: usize) -> u32;
    fn proxy_get_buffer_bytes(
        buffer: u32,
        start: usize,
        max_size: usize,
        data: *mut *mut u8,
        size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key: *const u8,
        key_size: usize,
        value: *mut *mut u8,
        value_size: *mut usize,
        cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key: *const u8,
        key_size: usize,
        value: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_define_metric(kind: u32, name: *const u8, name_size: usize, id: *mut u32) -> u32;
    fn proxy_increment_metric(id: u32, offset: i64) -> u32;
    fn proxy_record_metric(id: u32, value: u64) -> u32;
    fn proxy_get_property(
        path: *const u8,
        path_size: usize,
        value: *mut *mut u8,
        value_size: *mut usize,
    ) -> u32;
    fn proxy_call_foreign_function(
        name: *const u8,
        name_size: usize,
        arguments: *const u8,
        arguments_size: usize,
        results: *mut *mut u8,
        results_size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path: *const u8,
        path_size: usize,
        value: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_send_local_response(
        status: u32,
        details: *const u8,
        details_size: usize,
        body: *const u8,
        body_size: usize,
        headers: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_continue_stream(stream: u32) -> u32;
    fn proxy_set_effective_context(context: u32) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
}

/// Header map types.
pub const REQUEST_HEADERS: u32 = 0;
pub const REQUEST_TRAILERS: u32 = 1;
pub const RESPONSE_HEADERS: u32 = 2;
pub const RESPONSE_TRAILERS: u32 = 3;
pub const CALL_RESPONSE_HEADERS: u32 = 6;

/// Buffer types.
pub const REQUEST_BODY: u32 = 0;
pub const CALL_RESPONSE_BODY: u32 = 4;
pub const GRPC_RECEIVE_BUFFER: u32 = 5;
pub const PLUGIN_CONFIGURATION: u32 = 7;

fn check(status: u32) -> Result<(), HostError> {
    if status == 0 {
        Ok(())
    } else {
        Err(HostError::from_status(status))
    }
}

/// Takes ownership of a host-allocated buffer (null or empty means no bytes).
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host allocated exactly `size` bytes through the SDK's allocator export
    // (`proxy_on_memory_allocate`/`malloc`, a `Vec<u8>` with capacity `size`) and passed
    // ownership to us, as the SDK itself assumes.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Current host time in nanoseconds since the Unix epoch.
pub fn now_nanos() -> Result<u64, HostError> {
    let mut t = 0u64;
    // SAFETY: the host writes one u64 through a valid pointer.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut t) })?;
    Ok(t)
}

/// All pairs of a header map, serialized.
pub fn header_pairs(map: u32) -> Result<Vec<u8>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid; the returned buffer is taken by `take`.
    check(unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) })?;
    Ok(take(data, size))
}

/// One header value (the first, as Envoy returns it).
pub fn header_value(map: u32, name: &str) -> Result<Option<Vec<u8>>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: key slice and out-pointers are valid for the call.
    let status =
        unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), &mut data, &mut size) };
    match status {
        0 => Ok(Some(take(data, size))),
        1 => Ok(None),
        other => Err(HostError::from_status(other)),
    }
}

/// Adds a header value.
pub fn add_header(map: u32, name: &[u8], value: &[u8]) -> Result<(), HostError> {
    // SAFETY: slices are valid for the call.
    check(unsafe {
        proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

/// Replaces a header's values.
pub fn replace_header(map: u32, name: &[u8], value: &[u8]) -> Result<(), HostError> {
    // SAFETY: slices are valid for the call.
    check(unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

/// Removes a header.
pub fn remove_header(map: u32, name: &[u8]) -> Result<(), HostError> {
    // SAFETY: the slice is valid for the call.
    check(unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) })
}

/// Bytes `[start, start + max)` of a buffer; empty if the buffer does not exist.
pub fn buffer(buffer: u32, start: usize, max: usize) -> Result<Vec<u8>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: out-pointers are valid; the returned buffer is taken by `take`.
    match unsafe { proxy_get_buffer_bytes(buffer, start, max, &mut data, &mut size) } {
        0 => Ok(take(data, size)),
        1 => Ok(Vec::new()),
        other => Err(HostError::from_status(other)),
    }
}

/// A shared-data value and its CAS, or `None` if the key does not exist.
pub fn get_shared(key: &str) -> Result<Option<(Vec<u8>, u32)>, HostError> {
    let (mut data, mut size, mut cas) = (null_mut(), 0usize, 0u32);
    // SAFETY: key slice and out-pointers are valid for the call.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match status {
        0 => Ok(Some((take(data, size), cas))),
        1 => Ok(None),
        other => Err(HostError::from_status(other)),
    }
}

/// Writes shared data; `cas == 0` writes unconditionally.
pub fn set_shared(key: &str, value: &[u8], cas: u32) -> Result<(), HostError> {
    // SAFETY: slices are valid for the call.
    check(unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    })
}

/// Defines a metric (0 counter, 1 gauge, 2 histogram).
pub fn define_metric(kind: u32, name: &str) -> Result<u32, HostError> {
    let mut id = 0u32;
    // SAFETY: the name slice and out-pointer are valid.
    check(unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

/// Adds to a counter or gauge.
pub fn increment_metric(id: u32, delta: i64) -> Result<(), HostError> {
    // SAFETY: plain values.
    check(unsafe { proxy_increment_metric(id, delta) })
}

/// Records a histogram value or sets a gauge.
pub fn record_metric(id: u32, value: u64) -> Result<(), HostError> {
    // SAFETY: plain values.
    check(unsafe { proxy_record_metric(id, value) })
}

/// A property by its `\0`-joined path; `None` if the host does not have it.
pub fn get_property(path: &[u8]) -> Result<Option<Vec<u8>>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: path slice and out-pointers are valid for the call.
    match unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size) } {
        0 => Ok(Some(take(data, size))),
        1 => Ok(None),
        other => Err(HostError::from_status(other)),
    }
}

/// Calls the host's foreign function `name`; its result bytes.
pub fn call_foreign(name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError> {
    let (mut data, mut size) = (null_mut(), 0usize);
    // SAFETY: name and argument slices and the out-pointers are valid for the call.
    check(unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            arguments.as_ptr(),
            arguments.len(),
            &mut data,
            &mut size,
        )
    })?;
    Ok(take(data, size))
}

/// Sets a property.
pub fn set_property(path: &[u8], value: &[u8]) -> Result<(), HostError> {
    // SAFETY: slices are valid for the call.
    check(unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) })
}

/// Sends a local response with serialized headers.
pub fn send_local_response(
    status: u16,
    details: &str,
    body: &[u8],
    headers: &[u8],
) -> Result<(), HostError> {
    let body_ptr = if body.is_empty() {
        null()
    } else {
        body.as_ptr()
    };
    // SAFETY: slices are valid for the call; -1 means no gRPC status.
    check(unsafe {
        proxy_send_local_response(
            u32::from(status),
            details.as_ptr(),
            details.len(),
            body_ptr,
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Resumes a paused request stream.
pub fn continue_request() -> Result<(), HostError> {
    // SAFETY: plain value.
    check(unsafe { proxy_continue_stream(0) })
}

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_status(code: *mut u32, message: *mut *mut u8, message_size: *mut usize) -> u32;
}

/// The status message of the gRPC call whose callback is running (empty if the host gives none
/// or cannot say).
pub fn grpc_status_message() -> String {
    let mut code = 0u32;
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: out-pointers are valid; the host allocates the message, which `take` owns.
    let status = unsafe { proxy_get_status(&mut code, &mut data, &mut size) };
    if status != 0 {
        return String::new();
    }
    String::from_utf8_lossy(&take(data, size)).into_owned()
}

/// Sets the root context's tick period (0: no ticks).
pub fn set_tick_period_ms(ms: u32) -> Result<(), HostError> {
    // SAFETY: plain value.
    check(unsafe { proxy_set_tick_period_milliseconds(ms) })
}

/// Makes context `id` the one later hostcalls act on.
pub fn set_effective_context(id: u32) -> Result<(), HostError> {
    // SAFETY: plain value.
    check(unsafe { proxy_set_effective_context(id) })
}
