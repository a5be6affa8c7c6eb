//! gRPC callouts: `proxy_grpc_call` (unary), `proxy_grpc_stream`, `proxy_grpc_send`,
//! `proxy_grpc_cancel`, `proxy_grpc_close`. Calls are recorded for scripted replies.
//!
//! The upstream is a cluster name (Envoy also accepts a serialized `GrpcService`); an unknown
//! cluster gives PARSE_FAILURE, the status the Rust SDK expects. Tokens: calls 5, 9, ...,
//! streams 6, 10, ... per VM. Unknown tokens in send/cancel/close give NOT_FOUND; sending on
//! a unary call token is BAD_ARGUMENT.

use super::guest::{done, read, read_str, write_u32, Cx};
use super::http_call::{base, known_cluster, record};
use crate::state::HostState;
use crate::value::{pairs, status, CallKind, CallRecord, Headers, HostProfile, MapKind};
use wasmtime::Linker;

#[allow(clippy::too_many_arguments)]
fn open(
    cx: &mut Cx<'_>,
    kind: CallKind,
    name: &'static str,
    (up, un, sp, sn, mp, mn, mdp, mdn): (i32, i32, i32, i32, i32, i32, i32, i32),
    msg: Option<(i32, i32)>,
    timeout: i32,
    tokp: i32,
) -> i32 {
    let (Some(cluster), Some(service), Some(method), Some(md)) = (
        read_str(cx, up, un),
        read_str(cx, sp, sn),
        read_str(cx, mp, mn),
        read(cx, mdp, mdn),
    ) else {
        return done(cx, name, status::INVALID_MEMORY_ACCESS);
    };
    let body = match msg {
        Some((p, n)) => match read(cx, p, n) {
            Some(b) => b,
            None => return done(cx, name, status::INVALID_MEMORY_ACCESS),
        },
        None => Vec::new(),
    };
    let Some(md) = pairs::deserialize_str(&md) else {
        return done(cx, name, status::SERIALIZATION_FAILURE);
    };
    let st = cx.data_mut();
    if st.world().host == HostProfile::Nginx {
        return done(cx, name, status::UNIMPLEMENTED);
    }
    if !known_cluster(st, &cluster) {
        return done(cx, name, status::PARSE_FAILURE);
    }
    // Envoy builds the initial metadata with `addCopy`.
    let md = Headers::from_pairs(&md).as_envoy(MapKind::RequestHeaders);
    let mut call = base(st, kind, cluster, md);
    call.service = service;
    call.method = method;
    call.body = body;
    call.timeout_ms = timeout as u32;
    let token = record(st, call);
    let s = if write_u32(cx, tokp, token) {
        status::OK
    } else {
        status::INVALID_MEMORY_ACCESS
    };
    done(cx, name, s)
}

/// Runs `f` on the pending call behind `token`, or NOT_FOUND.
fn with_call(cx: &mut Cx<'_>, token: i32, f: impl FnOnce(&mut CallRecord)) -> i32 {
    let st = cx.data();
    let Some(id) = st.tokens.get(&(token as u32)).copied() else {
        return status::NOT_FOUND;
    };
    let mut w = st.world();
    match w.calls.iter_mut().find(|c| c.id.0 == id && c.pending) {
        Some(c) => {
            f(c);
            status::OK
        }
        None => status::NOT_FOUND,
    }
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut cx: Cx<'_>,
         up: i32,
         un: i32,
         sp: i32,
         sn: i32,
         mp: i32,
         mn: i32,
         mdp: i32,
         mdn: i32,
         msgp: i32,
         msgn: i32,
         timeout: i32,
         tokp: i32| {
            let args = (up, un, sp, sn, mp, mn, mdp, mdn);
            let kind = CallKind::GrpcCall;
            open(
                &mut cx,
                kind,
                "proxy_grpc_call",
                args,
                Some((msgp, msgn)),
                timeout,
                tokp,
            )
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut cx: Cx<'_>,
         up: i32,
         un: i32,
         sp: i32,
         sn: i32,
         mp: i32,
         mn: i32,
         mdp: i32,
         mdn: i32,
         tokp: i32| {
            let args = (up, un, sp, sn, mp, mn, mdp, mdn);
            open(
                &mut cx,
                CallKind::GrpcStream,
                "proxy_grpc_stream",
                args,
                None,
                0,
                tokp,
            )
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut cx: Cx<'_>, token: i32, p: i32, n: i32, _end: i32| {
            let Some(msg) = read(&mut cx, p, n) else {
                return done(&mut cx, "proxy_grpc_send", status::INVALID_MEMORY_ACCESS);
            };
            // Odd tokens are unary calls: sending on one is BAD_ARGUMENT.
            if token % 2 == 1 {
                return done(&mut cx, "proxy_grpc_send", status::BAD_ARGUMENT);
            }
            let s = with_call(&mut cx, token, |c| c.sent.push(msg));
            done(&mut cx, "proxy_grpc_send", s)
        },
    )?;
    // Cancel drops the call or stream (no more callbacks). Close cancels a unary call and
    // half-closes a stream, whose replies still arrive.
    l.func_wrap("env", "proxy_grpc_cancel", |mut cx: Cx<'_>, token: i32| {
        let s = with_call(&mut cx, token, |c| c.pending = false);
        done(&mut cx, "proxy_grpc_cancel", s)
    })?;
    l.func_wrap("env", "proxy_grpc_close", |mut cx: Cx<'_>, token: i32| {
        let s = with_call(&mut cx, token, |c| {
            if c.kind == CallKind::GrpcCall {
                c.pending = false;
            }
        });
        done(&mut cx, "proxy_grpc_close", s)
    })?;
    Ok(())
}
