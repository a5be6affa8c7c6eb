//! Deterministic WASI preview1: the few functions filters import, implemented against the
//! gateway's state (no wasmtime-wasi) with cpp-host's return codes. `fd_write` to fd 1 logs
//! at info and fd 2 at error (one trailing newline dropped, other fds BADF); clocks 0
//! (realtime) and 1 (monotonic) read virtual time, others NOTSUP; `random_get` is seeded; env
//! and args are empty; no files (no preopens, reads ENOSYS, seek and close succeed);
//! `poll_oneoff` fires every subscription at once; `proc_exit` traps.

use super::guest::{read, write, write_u32, write_u64, Cx};
use super::lifecycle::log;
use crate::state::HostState;
use crate::value::LogLevel;
use wasmtime::Linker;

/// Module names: preview1 and the older `wasi_unstable` (both registered, as in cpp-host).
const MODULES: [&str; 2] = ["wasi_snapshot_preview1", "wasi_unstable"];
const SUCCESS: i32 = 0;
const BADF: i32 = 8;
const FAULT: i32 = 21;
const INVAL: i32 = 28;
const NOSYS: i32 = 52;
const NOTSUP: i32 = 58;

fn fd_write(cx: &mut Cx<'_>, fd: i32, iovs: i32, n: i32, nwritten: i32) -> i32 {
    let mut out = Vec::new();
    for i in 0..n {
        let Some(iov) = read(cx, iovs.wrapping_add(i * 8), 8) else {
            return FAULT;
        };
        let p = i32::from_le_bytes([iov[0], iov[1], iov[2], iov[3]]);
        let l = i32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
        match read(cx, p, l) {
            Some(b) => out.extend_from_slice(&b),
            None => return FAULT,
        }
    }
    let level = match fd {
        1 => LogLevel::Info,
        2 => LogLevel::Error,
        _ => return BADF,
    };
    if !write_u32(cx, nwritten, out.len() as u32) {
        return FAULT;
    }
    let mut msg = String::from_utf8_lossy(&out).into_owned();
    if msg.ends_with('\n') {
        msg.pop();
    }
    if !out.is_empty() {
        log(cx.data_mut(), level, msg);
    }
    SUCCESS
}

fn sizes(cx: &mut Cx<'_>, a: i32, b: i32) -> i32 {
    if write_u32(cx, a, 0) && write_u32(cx, b, 0) {
        SUCCESS
    } else {
        FAULT
    }
}

fn poll_oneoff(cx: &mut Cx<'_>, input: i32, output: i32, n: i32, nevents: i32) -> i32 {
    for i in 0..n {
        let Some(sub) = read(cx, input.wrapping_add(i * 48), 48) else {
            return FAULT;
        };
        let mut ev = [0u8; 32];
        ev[..8].copy_from_slice(&sub[..8]);
        ev[10] = sub[8];
        if !write(cx, output.wrapping_add(i * 32), &ev) {
            return FAULT;
        }
    }
    if write_u32(cx, nevents, n as u32) {
        SUCCESS
    } else {
        FAULT
    }
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    for m in MODULES {
        add_module(l, m)?;
    }
    Ok(())
}

fn add_module(l: &mut Linker<HostState>, module: &str) -> wasmtime::Result<()> {
    let m = module;
    l.func_wrap(
        m,
        "fd_write",
        |mut cx: Cx<'_>, fd: i32, iovs: i32, n: i32, nw: i32| fd_write(&mut cx, fd, iovs, n, nw),
    )?;
    // As cpp-host: no reads; seek and close succeed without effect.
    l.func_wrap(m, "fd_read", |_: Cx<'_>, _: i32, _: i32, _: i32, _: i32| {
        NOSYS
    })?;
    l.func_wrap(m, "fd_close", |_: Cx<'_>, _: i32| SUCCESS)?;
    l.func_wrap(m, "fd_seek", |_: Cx<'_>, _: i32, _: i64, _: i32, _: i32| {
        SUCCESS
    })?;
    l.func_wrap(m, "fd_prestat_get", |_: Cx<'_>, _: i32, _: i32| BADF)?;
    l.func_wrap(
        m,
        "fd_prestat_dir_name",
        |_: Cx<'_>, _: i32, _: i32, _: i32| NOTSUP,
    )?;
    l.func_wrap(m, "fd_filestat_get", |_: Cx<'_>, _: i32, _: i32| BADF)?;
    l.func_wrap(m, "fd_fdstat_set_flags", |_: Cx<'_>, _: i32, _: i32| NOTSUP)?;
    l.func_wrap(m, "fd_fdstat_get", |mut cx: Cx<'_>, fd: i32, buf: i32| {
        if fd != 1 && fd != 2 {
            return BADF;
        }
        // As cpp-host: zeroed except fs_rights_base = FD_WRITE (64).
        let mut stat = [0u8; 24];
        stat[8..16].copy_from_slice(&64u64.to_le_bytes());
        if write(&mut cx, buf, &stat) {
            SUCCESS
        } else {
            FAULT
        }
    })?;
    l.func_wrap(
        m,
        "path_open",
        |_: Cx<'_>, _: i32, _: i32, _: i32, _: i32, _: i32, _: i64, _: i64, _: i32, _: i32| NOTSUP,
    )?;
    l.func_wrap(
        m,
        "path_filestat_get",
        |_: Cx<'_>, _: i32, _: i32, _: i32, _: i32, _: i32| NOTSUP,
    )?;
    l.func_wrap(m, "environ_sizes_get", |mut cx: Cx<'_>, a: i32, b: i32| {
        sizes(&mut cx, a, b)
    })?;
    l.func_wrap(m, "args_sizes_get", |mut cx: Cx<'_>, a: i32, b: i32| {
        sizes(&mut cx, a, b)
    })?;
    l.func_wrap(m, "environ_get", |_: Cx<'_>, _: i32, _: i32| SUCCESS)?;
    l.func_wrap(m, "args_get", |_: Cx<'_>, _: i32, _: i32| SUCCESS)?;
    l.func_wrap(
        m,
        "clock_time_get",
        |mut cx: Cx<'_>, id: i32, _precision: i64, out: i32| {
            let t = {
                let w = cx.data().world();
                match id {
                    0 => w.now_ns,
                    1 => w.mono_ns,
                    _ => return NOTSUP,
                }
            };
            if write_u64(&mut cx, out, t) {
                SUCCESS
            } else {
                FAULT
            }
        },
    )?;
    l.func_wrap(m, "clock_res_get", |mut cx: Cx<'_>, id: i32, out: i32| {
        if !(0..=1).contains(&id) {
            return INVAL;
        }
        if write_u64(&mut cx, out, 1) {
            SUCCESS
        } else {
            FAULT
        }
    })?;
    l.func_wrap(m, "random_get", |mut cx: Cx<'_>, buf: i32, n: i32| {
        let bytes = cx.data().world().random_bytes(n as u32 as usize);
        if write(&mut cx, buf, &bytes) {
            SUCCESS
        } else {
            FAULT
        }
    })?;
    l.func_wrap(m, "sched_yield", |_: Cx<'_>| SUCCESS)?;
    l.func_wrap(
        m,
        "poll_oneoff",
        |mut cx: Cx<'_>, i: i32, o: i32, n: i32, ne: i32| poll_oneoff(&mut cx, i, o, n, ne),
    )?;
    l.func_wrap(
        m,
        "proc_exit",
        |_: Cx<'_>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::format_err!("proc_exit({code})"))
        },
    )?;
    Ok(())
}
