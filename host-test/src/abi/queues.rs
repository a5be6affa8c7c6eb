//! Shared queues: registered per (vm_id, name) by one VM, resolvable by any VM, unbounded.
//! Each enqueue schedules `proxy_on_queue_ready(root, qid)` on the registering VM, delivered
//! by the gateway after the current callback (Envoy posts it to the owner's thread). Queue ids
//! start at 1; only VMs with the queue's vm_id may dequeue (NOT_FOUND otherwise).

use super::guest::{copy_out, done, read, read_str, write_u32, Cx};
use crate::state::HostState;
use crate::value::status;
use crate::world::Queue;
use wasmtime::Linker;

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut cx: Cx<'_>, np: i32, nn: i32, qp: i32| {
            let Some(name) = read_str(&mut cx, np, nn) else {
                return done(
                    &mut cx,
                    "proxy_register_shared_queue",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let qid = {
                let st = cx.data();
                let owner = (st.plugin.index, st.worker);
                let vm_id = st.plugin.vm_id.clone();
                let mut w = st.world();
                match w
                    .queues
                    .iter()
                    .position(|q| q.vm_id == vm_id && q.name == name)
                {
                    Some(i) => {
                        w.queues[i].owner = owner;
                        i + 1
                    }
                    None => {
                        w.queues.push(Queue {
                            vm_id,
                            name,
                            owner,
                            items: Default::default(),
                        });
                        w.queues.len()
                    }
                }
            };
            let s = if write_u32(&mut cx, qp, qid as u32) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            };
            done(&mut cx, "proxy_register_shared_queue", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut cx: Cx<'_>, vp: i32, vn: i32, np: i32, nn: i32, qp: i32| {
            let (Some(vm), Some(name)) = (read_str(&mut cx, vp, vn), read_str(&mut cx, np, nn))
            else {
                return done(
                    &mut cx,
                    "proxy_resolve_shared_queue",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let found = cx
                .data()
                .world()
                .queues
                .iter()
                .position(|q| q.vm_id == vm && q.name == name);
            let s = match found {
                None => status::NOT_FOUND,
                Some(i) if write_u32(&mut cx, qp, i as u32 + 1) => status::OK,
                Some(_) => status::INVALID_MEMORY_ACCESS,
            };
            done(&mut cx, "proxy_resolve_shared_queue", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut cx: Cx<'_>, qid: i32, vp: i32, vn: i32| {
            let Some(v) = read(&mut cx, vp, vn) else {
                return done(
                    &mut cx,
                    "proxy_enqueue_shared_queue",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let s = {
                let mut w = cx.data().world();
                match w.queues.get_mut((qid as u32 as usize).wrapping_sub(1)) {
                    None => status::NOT_FOUND,
                    Some(q) => {
                        q.items.push_back(v);
                        w.ready_queues.push_back(qid as u32);
                        status::OK
                    }
                }
            };
            done(&mut cx, "proxy_enqueue_shared_queue", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut cx: Cx<'_>, qid: i32, vpp: i32, vlp: i32| {
            let item = {
                let st = cx.data();
                let mut w = st.world();
                match w.queues.get_mut((qid as u32 as usize).wrapping_sub(1)) {
                    Some(q) if q.vm_id == st.plugin.vm_id => {
                        q.items.pop_front().ok_or(status::EMPTY)
                    }
                    _ => Err(status::NOT_FOUND),
                }
            };
            let s = match item {
                Ok(v) => copy_out(&mut cx, &v, vpp, vlp)?,
                Err(s) => s,
            };
            Ok(done(&mut cx, "proxy_dequeue_shared_queue", s))
        },
    )?;
    Ok(())
}
