//! Shared data: one key/value map per vm_id for the whole gateway (every worker VM of a plugin
//! sees it), with Envoy's compare-and-swap: `cas != 0` must match the current cas
//! (CAS_MISMATCH otherwise), `cas == 0` always writes, and a missing key is written whatever
//! the cas (no insert-if-absent). No delete, no TTL. Cas values come from one counter from 1.

use super::guest::{copy_out, done, read, read_str, write_u32, Cx};
use crate::state::HostState;
use crate::value::status;
use crate::world::SharedEntry;
use wasmtime::Linker;

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut cx: Cx<'_>, kp: i32, kn: i32, vpp: i32, vlp: i32, casp: i32| {
            let Some(key) = read_str(&mut cx, kp, kn) else {
                return Ok(done(
                    &mut cx,
                    "proxy_get_shared_data",
                    status::INVALID_MEMORY_ACCESS,
                ));
            };
            let entry = {
                let st = cx.data();
                let w = st.world();
                w.shared
                    .get(&st.plugin.vm_id)
                    .and_then(|m| m.get(&key))
                    .cloned()
            };
            let s = match entry {
                None => status::NOT_FOUND,
                Some(e) => match copy_out(&mut cx, &e.value, vpp, vlp)? {
                    status::OK if !write_u32(&mut cx, casp, e.cas) => status::INVALID_MEMORY_ACCESS,
                    s => s,
                },
            };
            Ok(done(&mut cx, "proxy_get_shared_data", s))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut cx: Cx<'_>, kp: i32, kn: i32, vp: i32, vn: i32, cas: i32| {
            let (Some(key), Some(value)) = (read_str(&mut cx, kp, kn), read(&mut cx, vp, vn))
            else {
                return done(
                    &mut cx,
                    "proxy_set_shared_data",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let s = {
                let st = cx.data();
                let mut w = st.world();
                let next = w.next_cas;
                let map = w.shared.entry(st.plugin.vm_id.clone()).or_default();
                let cas = cas as u32;
                match map.get_mut(&key) {
                    Some(e) if cas != 0 && cas != e.cas => status::CAS_MISMATCH,
                    Some(e) => {
                        *e = SharedEntry { value, cas: next };
                        status::OK
                    }
                    None => {
                        map.insert(key, SharedEntry { value, cas: next });
                        status::OK
                    }
                }
            };
            if s == status::OK {
                let st = cx.data();
                let mut w = st.world();
                w.next_cas = w.next_cas.wrapping_add(1).max(1);
            }
            done(&mut cx, "proxy_set_shared_data", s)
        },
    )?;
    Ok(())
}
