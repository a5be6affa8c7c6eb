//! What every hostcall shares about the guest calling it: the caller type ([`Cx`]), reads and
//! writes of its linear memory, allocation with its own allocator (`malloc` first, then
//! `proxy_on_memory_allocate`, as cpp-host does; exactly `len` bytes, never for `len == 0`), and
//! the end of a hostcall ([`done`]: trace, profiler).

use crate::state::HostState;
use crate::value::status;
use wasmtime::Caller;

/// The caller of a hostcall: the guest instance and its VM's [`HostState`].
pub(crate) type Cx<'a> = Caller<'a, HostState>;

fn memory(cx: &mut Cx<'_>) -> Option<wasmtime::Memory> {
    cx.get_export("memory").and_then(|e| e.into_memory())
}

/// Reads `len` bytes at `ptr`; `None` when out of bounds.
pub(crate) fn read(cx: &mut Cx<'_>, ptr: i32, len: i32) -> Option<Vec<u8>> {
    let mem = memory(cx)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let data = mem.data(&*cx);
    data.get(ptr..ptr.checked_add(len)?).map(<[u8]>::to_vec)
}

/// Reads a UTF-8 string (lossy) at `ptr`.
pub(crate) fn read_str(cx: &mut Cx<'_>, ptr: i32, len: i32) -> Option<String> {
    read(cx, ptr, len).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Writes `bytes` at `ptr`; false when out of bounds.
pub(crate) fn write(cx: &mut Cx<'_>, ptr: i32, bytes: &[u8]) -> bool {
    let Some(mem) = memory(cx) else { return false };
    let ptr = ptr as u32 as usize;
    let data = mem.data_mut(&mut *cx);
    match ptr
        .checked_add(bytes.len())
        .and_then(|end| data.get_mut(ptr..end))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

pub(crate) fn write_u32(cx: &mut Cx<'_>, ptr: i32, v: u32) -> bool {
    write(cx, ptr, &v.to_le_bytes())
}

pub(crate) fn write_u64(cx: &mut Cx<'_>, ptr: i32, v: u64) -> bool {
    write(cx, ptr, &v.to_le_bytes())
}

/// Allocates `len` bytes with the guest allocator; `Ok(None)` when there is none or it gives 0.
pub(crate) fn alloc(cx: &mut Cx<'_>, len: usize) -> wasmtime::Result<Option<i32>> {
    let f = cx
        .get_export("malloc")
        .or_else(|| cx.get_export("proxy_on_memory_allocate"))
        .and_then(|e| e.into_func());
    let Some(f) = f else { return Ok(None) };
    let f = f.typed::<i32, i32>(&*cx)?;
    crate::sampler::renew(&mut *cx);
    let p = f.call(&mut *cx, len as i32)?;
    Ok((p != 0).then_some(p))
}

/// cpp-host's `copyToPointerSize`: allocates exactly `bytes.len()` (nothing for empty),
/// copies, and writes the pointer and length. Returns a status.
pub(crate) fn copy_out(
    cx: &mut Cx<'_>,
    bytes: &[u8],
    ptr_ptr: i32,
    len_ptr: i32,
) -> wasmtime::Result<i32> {
    let mut ptr = 0;
    if !bytes.is_empty() {
        match alloc(cx, bytes.len())? {
            Some(p) => ptr = p,
            None => return Ok(status::INVALID_MEMORY_ACCESS),
        }
        if !write(cx, ptr, bytes) {
            return Ok(status::INVALID_MEMORY_ACCESS);
        }
    }
    if !write_u32(cx, ptr_ptr, ptr as u32) || !write_u32(cx, len_ptr, bytes.len() as u32) {
        return Ok(status::INVALID_MEMORY_ACCESS);
    }
    Ok(status::OK)
}

/// Records a hostcall in the trace (when enabled) and returns its status.
pub(crate) fn done(cx: &mut Cx<'_>, name: &'static str, status: i32) -> i32 {
    cx.data().trace_hostcall(name, status);
    // The profiler samples guest time only: time spent here does not count toward the next sample.
    crate::sampler::renew(&mut *cx);
    status
}
