//! Buffer hostcalls: request/response body chunks, callout response body, gRPC message, VM and
//! plugin configuration, foreign-function arguments.
//!
//! Envoy semantics: a body read outside its callback sees an empty buffer; writes there give
//! NOT_FOUND; configuration buffers are read-only (BAD_ARGUMENT on write); `set_buffer_bytes`
//! accepts `start == 0` (drain `size` bytes then prepend) or `start >= len` (append), anything
//! else is BAD_ARGUMENT; the plugin configuration exists only during `proxy_on_configure`.

use super::guest::{copy_out, done, read, write_u32, Cx};
use crate::state::HostState;
use crate::value::status;
use wasmtime::Linker;

enum Buf {
    /// A readable buffer; `true` if writable.
    Bytes(Vec<u8>, bool),
    /// Envoy's buffer wrapper around nothing: reads empty, writes NOT_FOUND.
    Absent,
}

fn lookup(st: &HostState, t: i32) -> Result<Buf, i32> {
    let constant = |b: &Option<Vec<u8>>| {
        b.as_ref()
            .map(|b| Buf::Bytes(b.clone(), false))
            .ok_or(status::NOT_FOUND)
    };
    match t {
        0 | 1 => {
            let body = st.stream().and_then(|id| {
                st.world()
                    .streams
                    .get(&id)
                    .and_then(|s| s.body[t as usize].clone())
            });
            Ok(body.map_or(Buf::Absent, |b| Buf::Bytes(b, true)))
        }
        2 | 3 => Ok(Buf::Absent),
        4 => constant(&st.scope.call_body),
        5 => Ok(st
            .scope
            .grpc_message
            .clone()
            .map_or(Buf::Absent, |b| Buf::Bytes(b, false))),
        6 => Ok(Buf::Bytes(st.plugin.vm_config.clone(), false)),
        7 => constant(&st.scope.plugin_config),
        8 => constant(&st.scope.foreign_args),
        _ => Err(status::BAD_ARGUMENT),
    }
}

fn store_body(st: &HostState, t: i32, bytes: Vec<u8>) {
    if let Some(id) = st.stream() {
        if let Some(s) = st.world().streams.get_mut(&id) {
            s.body[t as usize] = Some(bytes);
        }
    }
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut cx: Cx<'_>, t: i32, start: i32, max: i32, pp: i32, lp: i32| {
            let s = match lookup(cx.data(), t) {
                Err(s) => s,
                Ok(Buf::Absent) => status::OK,
                Ok(Buf::Bytes(b, _)) => {
                    let (start, max) = (start as u32 as usize, max as u32 as usize);
                    let end = start.saturating_add(max).min(b.len());
                    if end > start {
                        copy_out(&mut cx, &b[start..end], pp, lp)?
                    } else {
                        status::OK
                    }
                }
            };
            Ok(done(&mut cx, "proxy_get_buffer_bytes", s))
        },
    )?;
    // ABI 0.1.0: the plugin configuration during configure, else the VM configuration.
    l.func_wrap(
        "env",
        "proxy_get_configuration",
        |mut cx: Cx<'_>, pp: i32, lp: i32| {
            let st = cx.data();
            let cfg = st
                .scope
                .plugin_config
                .clone()
                .unwrap_or_else(|| st.plugin.vm_config.clone());
            let s = copy_out(&mut cx, &cfg, pp, lp)?;
            Ok(done(&mut cx, "proxy_get_configuration", s))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_buffer_status",
        |mut cx: Cx<'_>, t: i32, lp: i32, fp: i32| {
            let s = match lookup(cx.data(), t) {
                Err(s) => s,
                Ok(b) => {
                    let n = match &b {
                        Buf::Bytes(b, _) => b.len(),
                        Buf::Absent => 0,
                    };
                    if write_u32(&mut cx, lp, n as u32) && write_u32(&mut cx, fp, 0) {
                        status::OK
                    } else {
                        status::INVALID_MEMORY_ACCESS
                    }
                }
            };
            done(&mut cx, "proxy_get_buffer_status", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut cx: Cx<'_>, t: i32, start: i32, size: i32, p: i32, n: i32| {
            let found = lookup(cx.data(), t);
            let Some(data) = read(&mut cx, p, n) else {
                return done(
                    &mut cx,
                    "proxy_set_buffer_bytes",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let s = match found {
                Err(s) => s,
                Ok(Buf::Absent) => status::NOT_FOUND,
                Ok(Buf::Bytes(_, false)) => status::BAD_ARGUMENT,
                Ok(Buf::Bytes(mut b, true)) => {
                    let (start, size) = (start as u32 as usize, size as u32 as usize);
                    if start == 0 {
                        b.drain(..size.min(b.len()));
                        b.splice(0..0, data);
                        store_body(cx.data(), t, b);
                        status::OK
                    } else if start >= b.len() {
                        b.extend_from_slice(&data);
                        store_body(cx.data(), t, b);
                        status::OK
                    } else {
                        status::BAD_ARGUMENT
                    }
                }
            };
            done(&mut cx, "proxy_set_buffer_bytes", s)
        },
    )?;
    Ok(())
}
