//! `proxy_http_call`: records an HTTP callout for the test to answer (or a scripted
//! responder, or a timeout from virtual time).
//!
//! Envoy semantics: the call belongs to the root context (its callback gets the root id);
//! an unknown cluster, a negative timeout or a missing `:method`, `:path` or `:authority` is
//! BAD_ARGUMENT; a body adds `content-length`; tokens count 4, 8, 12, ... per VM; timeout 0
//! means none.

use super::guest::{done, read, read_str, write_u32, Cx};
use crate::state::HostState;
use crate::value::{pairs, status, CallId, CallKind, CallRecord, Headers, HostProfile, MapKind};
use wasmtime::Linker;

/// Records a call in the world and the token map; returns the token.
pub(crate) fn record(st: &mut HostState, mut call: CallRecord) -> u32 {
    let token = match call.kind {
        CallKind::Http => {
            st.next_http += 4;
            st.next_http
        }
        CallKind::GrpcCall => {
            st.next_grpc_call += 4;
            st.next_grpc_call
        }
        CallKind::GrpcStream => {
            st.next_grpc_stream += 4;
            st.next_grpc_stream
        }
    };
    let mut w = st.world();
    let id = w.next_call;
    w.next_call += 1;
    call.id = CallId(id);
    call.token = token;
    call.at_ns = w.mono_ns;
    w.calls.push(call);
    drop(w);
    st.tokens.insert(token, id);
    token
}

/// A call record with the fields every kind shares.
pub(crate) fn base(
    st: &HostState,
    kind: CallKind,
    cluster: String,
    headers: Headers,
) -> CallRecord {
    CallRecord {
        id: CallId(0),
        token: 0,
        kind,
        filter: st.plugin.name.clone(),
        filter_index: st.plugin.index,
        stream: st.stream(),
        worker: st.worker,
        cluster,
        headers,
        body: Vec::new(),
        trailers: Headers::new(),
        service: String::new(),
        method: String::new(),
        sent: Vec::new(),
        timeout_ms: 0,
        at_ns: 0,
        pending: true,
    }
}

pub(crate) fn known_cluster(st: &HostState, cluster: &str) -> bool {
    let w = st.world();
    if w.host == HostProfile::Nginx {
        // ngx_wasm_module dials `host:port` itself.
        return cluster.contains(':');
    }
    w.any_cluster || w.clusters.contains(cluster)
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_http_call",
        |mut cx: Cx<'_>,
         up: i32,
         un: i32,
         hp: i32,
         hn: i32,
         bp: i32,
         bn: i32,
         tp: i32,
         tn: i32,
         timeout: i32,
         tokp: i32| {
            let (Some(cluster), Some(h), Some(body), Some(t)) = (
                read_str(&mut cx, up, un),
                read(&mut cx, hp, hn),
                read(&mut cx, bp, bn),
                read(&mut cx, tp, tn),
            ) else {
                return done(&mut cx, "proxy_http_call", status::INVALID_MEMORY_ACCESS);
            };
            let mut headers = Headers::from_pairs(&pairs::deserialize_str(&h).unwrap_or_default());
            let trailers = Headers::from_pairs(&pairs::deserialize_str(&t).unwrap_or_default());
            let st = cx.data_mut();
            if st.world().host == HostProfile::Envoy {
                // Envoy builds the callout's header map with `addCopy`.
                headers = headers.as_envoy(MapKind::RequestHeaders);
            }
            let has_required = [":method", ":path", ":authority"]
                .iter()
                .all(|k| headers.get(k).is_some());
            if timeout < 0 || !known_cluster(st, &cluster) || !has_required {
                return done(&mut cx, "proxy_http_call", status::BAD_ARGUMENT);
            }
            if !body.is_empty() {
                headers.set("content-length", &body.len().to_string());
            }
            let mut call = base(st, CallKind::Http, cluster, headers);
            call.body = body;
            call.trailers = trailers;
            call.timeout_ms = timeout as u32;
            let token = record(st, call);
            let s = if write_u32(&mut cx, tokp, token) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            };
            done(&mut cx, "proxy_http_call", s)
        },
    )?;
    Ok(())
}
