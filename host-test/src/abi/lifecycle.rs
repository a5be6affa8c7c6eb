//! Logging, time, ticks, effective context, status, and the stream-control hostcalls
//! (`continue_stream`, `close_stream`, `send_local_response`), which are recorded as effects and
//! applied by the gateway's filter iteration after the callback returns, as Envoy defers them.
//!
//! `send_local_response` always returns OK (Envoy 1.40 has no per-call guard); when a
//! callback sends two, the first reply wins. Extra headers are appended (`addCopy`).

use super::guest::{copy_out, done, read, read_str, write_u32, write_u64, Cx};
use crate::state::{Effect, HostState};
use crate::value::{pairs, status, Headers, HostProfile, LocalReply, LogLevel, LogRecord};
use wasmtime::Linker;

/// Captures a log line at `level` (dropped below the gateway's log level, as Envoy does).
pub(crate) fn log(state: &mut HostState, level: LogLevel, message: String) {
    if level == LogLevel::Critical {
        state.critical = Some(message.clone());
    }
    let mut w = state.world();
    if level >= w.log_level {
        w.logs.push(LogRecord {
            plugin: state.plugin.name.clone(),
            worker: state.worker,
            level,
            message,
        });
    }
}

/// `continue_stream` / `close_stream`. Envoy: request and response are deferred until the
/// callback returns, and `continue_stream` drops the context's request map pointers at once;
/// downstream (2) is accepted, upstream (3) is UNIMPLEMENTED for continue; others BAD_ARGUMENT.
fn stream_effect(cx: &mut Cx<'_>, stream_type: i32, close: bool) -> i32 {
    match (stream_type, close) {
        (0 | 1, _) => {}
        (2, _) | (3, true) => return status::OK,
        (3, false) => return status::UNIMPLEMENTED,
        _ => return status::BAD_ARGUMENT,
    }
    let st = cx.data_mut();
    let ctx = st.effective;
    if st.stream_ctx.contains_key(&ctx) {
        let e = if close {
            Effect::Close { ctx }
        } else {
            if let Some(v) = st.vis.get_mut(&ctx) {
                v.map[0] = false;
                v.map[1] = false;
            }
            Effect::Continue {
                ctx,
                dir: stream_type as usize,
            }
        };
        st.effects.push(e);
    }
    status::OK
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_log",
        |mut cx: Cx<'_>, level: i32, p: i32, n: i32| {
            let Some(level) = LogLevel::from_i32(level) else {
                return done(&mut cx, "proxy_log", status::BAD_ARGUMENT);
            };
            let Some(msg) = read_str(&mut cx, p, n) else {
                return done(&mut cx, "proxy_log", status::INVALID_MEMORY_ACCESS);
            };
            let line = cx.data().tracing.then(|| {
                let name = format!("{level:?}").to_lowercase();
                format!("{name}: {msg}")
            });
            log(cx.data_mut(), level, msg);
            let s = done(&mut cx, "proxy_log", status::OK);
            if let Some(line) = line {
                cx.data().trace_log(line);
            }
            s
        },
    )?;
    l.func_wrap("env", "proxy_get_log_level", |mut cx: Cx<'_>, p: i32| {
        let level = cx.data().world().log_level as u32;
        let s = if write_u32(&mut cx, p, level) {
            status::OK
        } else {
            status::INVALID_MEMORY_ACCESS
        };
        done(&mut cx, "proxy_get_log_level", s)
    })?;
    l.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut cx: Cx<'_>, p: i32| {
            let now = cx.data().world().now_ns;
            let s = if write_u64(&mut cx, p, now) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            };
            done(&mut cx, "proxy_get_current_time_nanoseconds", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut cx: Cx<'_>, ms: i32| {
            let st = cx.data_mut();
            st.tick_ms = ms as u32;
            st.tick_changed = true;
            done(&mut cx, "proxy_set_tick_period_milliseconds", status::OK)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut cx: Cx<'_>, ctx: i32| {
            // ngx_wasm_module accepts any id and changes nothing: hostcalls keep acting on the
            // context whose callback runs.
            if cx.data().world().host == HostProfile::Nginx {
                return done(&mut cx, "proxy_set_effective_context", status::OK);
            }
            let st = cx.data_mut();
            let ctx = ctx as u32;
            let s = if ctx == st.root_ctx || st.stream_ctx.contains_key(&ctx) {
                st.effective = ctx;
                status::OK
            } else {
                status::BAD_ARGUMENT
            };
            done(&mut cx, "proxy_set_effective_context", s)
        },
    )?;
    l.func_wrap("env", "proxy_done", |mut cx: Cx<'_>| {
        cx.data_mut().done_calls += 1;
        done(&mut cx, "proxy_done", status::OK)
    })?;
    l.func_wrap(
        "env",
        "proxy_get_status",
        |mut cx: Cx<'_>, code_p: i32, msg_pp: i32, len_p: i32| {
            let (code, msg) = cx.data().status.clone();
            if !write_u32(&mut cx, code_p, code) {
                return Ok(done(
                    &mut cx,
                    "proxy_get_status",
                    status::INVALID_MEMORY_ACCESS,
                ));
            }
            let s = copy_out(&mut cx, &msg, msg_pp, len_p)?;
            Ok(done(&mut cx, "proxy_get_status", s))
        },
    )?;
    l.func_wrap("env", "proxy_continue_stream", |mut cx: Cx<'_>, t: i32| {
        let s = stream_effect(&mut cx, t, false);
        done(&mut cx, "proxy_continue_stream", s)
    })?;
    l.func_wrap("env", "proxy_close_stream", |mut cx: Cx<'_>, t: i32| {
        let s = stream_effect(&mut cx, t, true);
        done(&mut cx, "proxy_close_stream", s)
    })?;
    // ABI 0.1.0 names.
    l.func_wrap("env", "proxy_continue_request", |mut cx: Cx<'_>| {
        let s = stream_effect(&mut cx, 0, false);
        done(&mut cx, "proxy_continue_request", s)
    })?;
    l.func_wrap("env", "proxy_continue_response", |mut cx: Cx<'_>| {
        let s = stream_effect(&mut cx, 1, false);
        done(&mut cx, "proxy_continue_response", s)
    })?;
    l.func_wrap("env", "proxy_clear_route_cache", |mut cx: Cx<'_>| {
        if let Some(id) = cx.data().stream() {
            if let Some(s) = cx.data().world().streams.get_mut(&id) {
                s.route_cache_cleared += 1;
            }
        }
        done(&mut cx, "proxy_clear_route_cache", status::OK)
    })?;
    l.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut cx: Cx<'_>,
         code: i32,
         dp: i32,
         dn: i32,
         bp: i32,
         bn: i32,
         hp: i32,
         hn: i32,
         grpc: i32| {
            let (Some(details), Some(body), Some(hdrs)) = (
                read_str(&mut cx, dp, dn),
                read(&mut cx, bp, bn),
                read(&mut cx, hp, hn),
            ) else {
                return done(
                    &mut cx,
                    "proxy_send_local_response",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let st = cx.data_mut();
            let ctx = st.effective;
            // cpp-host turns malformed headers into an empty list.
            let headers = Headers::from_pairs(&pairs::deserialize_str(&hdrs).unwrap_or_default());
            if st.stream_ctx.contains_key(&ctx) {
                // Envoy replaces whitespace in details; -1 (or any unknown code) = no gRPC status.
                let details = details
                    .chars()
                    .map(|c| if c.is_whitespace() { '_' } else { c })
                    .collect();
                let reply = LocalReply {
                    filter: st.plugin.name.clone(),
                    status: code as u32 as u16,
                    body,
                    headers,
                    details,
                    grpc_status: (0..=16).contains(&grpc).then_some(grpc as u32),
                };
                st.effects.push(Effect::LocalReply { ctx, reply });
            }
            done(&mut cx, "proxy_send_local_response", status::OK)
        },
    )?;
    Ok(())
}
