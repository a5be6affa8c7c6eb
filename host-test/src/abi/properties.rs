//! The property hostcalls, `proxy_get_property` / `proxy_set_property`: resolving a path for the
//! calling context and encoding the value as Envoy does (strings raw, integers 8-byte
//! little-endian, bool 1 byte, timestamps and durations int64 ns, maps in the header-map pair
//! layout). The values and paths themselves ([`Prop`], [`wire_path`]) are in `value/prop.rs`.
//!
//! Lookup order: the request's own overrides, filter state written with `set_property` (shared
//! by every filter of the chain), attributes computed from the stream (`request.*`,
//! `response.*`), gateway overrides, then defaults (`source.*`, `destination.*`,
//! `connection.*`, `upstream.*`, `xds.*`, `plugin_name`, `plugin_root_id`, `plugin_vm_id`;
//! `ngx.nginx_version` in the NGINX profile). Anything else is NOT_FOUND. Only `plugin_*` and
//! Envoy's `xds.node` exist outside a stream context (Envoy has no stream info there); header-backed attributes (`request.path`, `request.headers`,
//! `response.headers`, ...) follow the header-map visibility of the context (see
//! `headers.rs`), so `request.path` is NOT_FOUND in the response phase but found in
//! `on_log`. `set_property` outside a stream is NOT_FOUND. `filter_state` without a key (the
//! whole map) is SERIALIZATION_FAILURE in a stream, as Envoy cannot list it. `request.size` is
//! the Content-Length while the request headers are reachable, else the body bytes received.
//! `connection.id` is the stream's downstream connection (see `Request::connection`).

use super::guest::{copy_out, done, read, Cx};
use crate::state::{HostState, Vis};
use crate::value::{status, Headers, HostProfile};
use crate::world::{StreamData, World};
use wasmtime::Linker;

/// The property values and paths (`value/prop.rs`), where `host_test::abi::properties` named
/// them before.
pub use crate::value::prop::{dotted_path, wire_path, Prop};

/// The nginx version the NGINX profile answers in `ngx.nginx_version` (the one the suite runs).
pub const NGINX_VERSION: &str = "1.22.1";

fn header_prop(h: &Option<Headers>, rest: &[&str]) -> Option<Prop> {
    let h = h.as_ref()?;
    match rest {
        [] => Some(Prop::Map(h.0.clone())),
        [k] => h.get(k).map(Prop::str),
        _ => None,
    }
}

fn computed(w: &World, s: &StreamData, v: Vis, parts: &[&str]) -> Option<Prop> {
    // Header-backed attributes need the map pointer Envoy's context holds now.
    let none = None;
    let req_h = if v.map[0] || v.log {
        &s.req_headers
    } else {
        &none
    };
    let resp_h = if v.map[2] || v.log {
        &s.resp_headers
    } else {
        &none
    };
    let resp_t = if v.map[3] || v.log {
        &s.resp_trailers
    } else {
        &none
    };
    let req = |k: &str| req_h.as_ref().and_then(|h| h.get(k)).map(Prop::str);
    let resp_code = s
        .resp_headers
        .as_ref()
        .and_then(|h| h.get(":status"))
        .and_then(|c| c.parse::<i64>().ok());
    let hdr_bytes = |h: &Option<Headers>| h.as_ref().map_or(0, |h| h.byte_size() as i64);
    Some(match parts {
        ["request", "headers", rest @ ..] => return header_prop(req_h, rest),
        ["response", "headers", rest @ ..] => return header_prop(resp_h, rest),
        ["response", "trailers", rest @ ..] => return header_prop(resp_t, rest),
        ["request", "path"] => return req(":path"),
        ["request", "url_path"] => {
            let p = req_h.as_ref()?.get(":path")?;
            Prop::str(p.split('?').next().unwrap_or(p))
        }
        ["request", "host"] => return req(":authority"),
        ["request", "scheme"] => return req(":scheme"),
        ["request", "method"] => return req(":method"),
        ["request", "referer"] => return req("referer"),
        ["request", "useragent"] => return req("user-agent"),
        ["request", "id"] => return req("x-request-id"),
        ["request", "query"] => {
            let p = req_h.as_ref()?.get(":path")?;
            Prop::str(p.split_once('?').map_or("", |(_, q)| q))
        }
        ["request", "protocol"] => Prop::str(w.protocol.name()),
        ["request", "time"] => Prop::Timestamp(s.started_ns as i64),
        ["request", "duration"] => Prop::Duration(w.now_ns.saturating_sub(s.started_ns) as i64),
        // Envoy prefers the request's Content-Length (known from the headers on) to the bytes
        // received so far; an unparsable one is NOT_FOUND.
        ["request", "size"] => match req_h.as_ref().and_then(|h| h.get("content-length")) {
            Some(cl) => Prop::Int(cl.parse().ok()?),
            None => Prop::Int(s.req_body_bytes as i64),
        },
        ["request", "total_size"] => Prop::Int(s.req_body_bytes as i64 + hdr_bytes(req_h)),
        ["response", "code"] => Prop::Int(resp_code?),
        ["response", "code_details"] => Prop::Str(s.code_details.clone()),
        ["response", "flags"] => Prop::Int(0),
        ["response", "grpc_status"] => {
            let g = s.resp_trailers.as_ref().and_then(|t| t.get("grpc-status"));
            Prop::Int(g.and_then(|g| g.parse().ok())?)
        }
        ["response", "size"] => Prop::Int(s.resp_body_bytes as i64),
        ["response", "total_size"] => {
            Prop::Int(s.resp_body_bytes as i64 + hdr_bytes(&s.resp_headers))
        }
        ["connection", "id"] => Prop::Uint(s.connection_id),
        // ngx_wasm_module's `ngx.*` properties are nginx's variables (in a request only).
        ["ngx", "nginx_version"] if w.host == HostProfile::Nginx => Prop::str(NGINX_VERSION),
        _ => return None,
    })
}

fn plugin_prop(st: &HostState, parts: &[&str]) -> Option<Prop> {
    Some(match parts {
        ["plugin_name"] => Prop::str(&st.plugin.name),
        ["plugin_root_id"] => Prop::str(&st.plugin.root_id),
        ["plugin_vm_id"] => Prop::str(&st.plugin.vm_id),
        // The bootstrap's node (Envoy's local info, in every context): a `Node` message whose
        // `user_agent_name` (field 6) is `envoy`, as Envoy always sets it.
        ["xds", "node"] if st.world().host == HostProfile::Envoy => {
            Prop::Bytes(b"\x32\x05envoy".to_vec())
        }
        _ => return None,
    })
}

/// Stream-info attributes: only a stream context has them.
fn default_prop(parts: &[&str]) -> Option<Prop> {
    Some(match parts {
        ["source", "address"] => Prop::str("127.0.0.1:50000"),
        ["source", "port"] => Prop::Int(50000),
        ["destination", "address"] => Prop::str("127.0.0.1:10000"),
        ["destination", "port"] => Prop::Int(10000),
        ["connection", "mtls"] => Prop::Bool(false),
        ["connection", "requested_server_name"] => Prop::str(""),
        ["upstream", "address"] => Prop::str("127.0.0.1:8080"),
        ["upstream", "port"] => Prop::Int(8080),
        ["xds", "cluster_name"] => Prop::str("upstream"),
        ["xds", "route_name"] => Prop::str("default"),
        ["xds", "listener_direction"] => Prop::Int(1),
        _ => return None,
    })
}

/// Resolves a NUL-separated path for the effective context of `st`, encoded for the host
/// profile; `Err` is the status when there is no value.
pub(crate) fn resolve(st: &HostState, path: &str) -> Result<Vec<u8>, i32> {
    let nginx = st.world().host == HostProfile::Nginx;
    if !nginx {
        // The whole filter state is a map Envoy cannot list, so it cannot serialize it (a
        // stream has filter state; a root context has no stream info: NOT_FOUND).
        if path == "filter_state" && st.stream().is_some() {
            return Err(status::SERIALIZATION_FAILURE);
        }
        return resolve_typed(st, path)
            .map(Resolved::encode_or_raw)
            .ok_or(status::NOT_FOUND);
    }
    let parts: Vec<&str> = path.split('\0').collect();
    if matches!(
        parts.as_slice(),
        [
            "response",
            "code_details" | "flags" | "grpc_status" | "trailers",
            ..
        ]
    ) {
        return Err(status::NOT_FOUND);
    }
    resolve_typed(st, path)
        .map(|p| match p {
            Resolved::Typed(p) => p.encode_text(),
            Resolved::Raw(b) => b,
        })
        .ok_or(status::NOT_FOUND)
}

/// A resolved value: typed, or raw filter-state bytes.
enum Resolved {
    Typed(Prop),
    Raw(Vec<u8>),
}

impl Resolved {
    fn encode_or_raw(self) -> Vec<u8> {
        match self {
            Self::Typed(p) => p.encode(),
            Self::Raw(b) => b,
        }
    }
}

fn resolve_typed(st: &HostState, path: &str) -> Option<Resolved> {
    let parts: Vec<&str> = path.split('\0').collect();
    if let Some(p) = plugin_prop(st, &parts) {
        return Some(Resolved::Typed(p));
    }
    let w = st.world();
    let s = st.stream().and_then(|id| w.streams.get(&id))?;
    if let Some(p) = s.props.get(path) {
        return Some(Resolved::Typed(p.clone()));
    }
    if let Some(v) = s.filter_state.get(path) {
        return Some(Resolved::Raw(v.clone()));
    }
    if let Some(p) = computed(&w, s, st.vis(), &parts) {
        return Some(Resolved::Typed(p));
    }
    if let Some(p) = w.props.get(path) {
        return Some(Resolved::Typed(p.clone()));
    }
    default_prop(&parts).map(Resolved::Typed)
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_get_property",
        |mut cx: Cx<'_>, pp: i32, pn: i32, vpp: i32, vlp: i32| {
            let Some(path) = read(&mut cx, pp, pn) else {
                return Ok(done(
                    &mut cx,
                    "proxy_get_property",
                    status::INVALID_MEMORY_ACCESS,
                ));
            };
            let path = String::from_utf8_lossy(&path).into_owned();
            let s = match resolve(cx.data(), &path) {
                Ok(v) => copy_out(&mut cx, &v, vpp, vlp)?,
                Err(s) => s,
            };
            Ok(done(&mut cx, "proxy_get_property", s))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_property",
        |mut cx: Cx<'_>, pp: i32, pn: i32, vp: i32, vn: i32| {
            let (Some(path), Some(value)) = (read(&mut cx, pp, pn), read(&mut cx, vp, vn)) else {
                return done(&mut cx, "proxy_set_property", status::INVALID_MEMORY_ACCESS);
            };
            let path = String::from_utf8_lossy(&path).into_owned();
            let st = cx.data();
            let s = match st.stream() {
                Some(id) => match st.world().streams.get_mut(&id) {
                    Some(s) => {
                        s.filter_state.insert(path, value);
                        status::OK
                    }
                    None => status::NOT_FOUND,
                },
                None => status::NOT_FOUND,
            };
            done(&mut cx, "proxy_set_property", s)
        },
    )?;
    Ok(())
}
