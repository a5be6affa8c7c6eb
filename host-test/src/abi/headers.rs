//! Header-map hostcalls: request/response headers and trailers of the effective stream,
//! callout response headers/trailers and gRPC metadata of the running callback.
//!
//! Envoy semantics: keys are lowercased; `get` gives the first value of a repeated key
//! (NOT_FOUND when missing); a map the context cannot reach now gives BAD_ARGUMENT for get,
//! set, add, replace, remove and size, and an empty map for `get_header_map_pairs`. A filter
//! reaches request headers from `on_request_headers` until that callback returns CONTINUE or
//! it calls `continue_stream` (so not from a later body callback or the response phase); the
//! same holds for the other maps; `on_log` sees a read-only access-log view. Trailers can be
//! added from the final body callback. `get_header_map_size` is Envoy's `byteSize()`;
//! callout maps are read-only; changing request headers clears the route cache. In the Envoy
//! profile `add` (and `set_header_map_pairs`, which adds each pair) joins a value to an inline
//! header already present with `,` (`HeaderMapImpl::addCopy`), and `replace` removes the
//! header and adds it again, at the end of the map (`setCopy`).

use super::guest::{copy_out, done, read, read_str, write_u32, Cx};
use crate::state::HostState;
use crate::value::{pairs, status, Headers, HostProfile, MapKind};
use wasmtime::Linker;

/// The Envoy map a stream map type (0 to 3) is, when the Envoy profile inserts as Envoy
/// does; `None` for the NGINX profile (plain appends and in-place replaces).
fn envoy_kind(st: &HostState, t: i32) -> Option<MapKind> {
    let envoy = st.world().host == HostProfile::Envoy;
    (envoy && (0..=3).contains(&t)).then(|| MapKind::of_stream(t as usize / 2, t % 2 == 1))
}

/// Runs `f` on the map `t` as Envoy reaches it now: stream maps only while visible to the
/// effective context (BAD_ARGUMENT otherwise; trailers can be created in a final body
/// callback); in `on_log` a read-only access-log view (missing maps NOT_FOUND); callout and
/// gRPC maps read-only during their callbacks.
fn with_map<R>(
    st: &mut HostState,
    t: i32,
    write: bool,
    f: impl FnOnce(&mut Headers) -> R,
) -> Result<R, i32> {
    let scoped = match t {
        4 => Some(&st.scope.grpc_initial),
        5 => Some(&st.scope.grpc_trailing),
        6 => Some(&st.scope.call_headers),
        7 => Some(&st.scope.call_trailers),
        0..=3 => None,
        _ => return Err(status::BAD_ARGUMENT),
    };
    if let Some(m) = scoped {
        if write {
            return Err(status::BAD_ARGUMENT);
        }
        let mut copy = m.clone().ok_or(status::BAD_ARGUMENT)?;
        return Ok(f(&mut copy));
    }
    let id = st.stream().ok_or(status::BAD_ARGUMENT)?;
    let ctx = st.effective;
    let mut v = st.vis();
    let ti = t as usize;
    let mut create = false;
    if v.log {
        if write || t == 1 {
            return Err(if write {
                status::BAD_ARGUMENT
            } else {
                status::NOT_FOUND
            });
        }
    } else if !v.map[ti] {
        let dir = ti / 2;
        if write && ti % 2 == 1 && v.body_eos[dir] {
            v.map[ti] = true;
            v.added_trailers[dir] = true;
            st.vis.insert(ctx, v);
            create = true;
        } else {
            return Err(status::BAD_ARGUMENT);
        }
    }
    let missing = if v.log {
        status::NOT_FOUND
    } else {
        status::BAD_ARGUMENT
    };
    let mut w = st.world();
    let s = w.streams.get_mut(&id).ok_or(missing)?;
    if write && t == 0 {
        s.route_cache_cleared += 1;
    }
    let m = match t {
        0 => &mut s.req_headers,
        1 => &mut s.req_trailers,
        2 => &mut s.resp_headers,
        _ => &mut s.resp_trailers,
    };
    if create && m.is_none() {
        *m = Some(Headers::new());
    }
    m.as_mut().map(f).ok_or(missing)
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut cx: Cx<'_>, t: i32, pp: i32, lp: i32| {
            // Envoy returns an empty map (OK) for a map it cannot reach.
            let r = with_map(cx.data_mut(), t, false, |m| pairs::serialize(&m.0));
            let s = match r {
                Ok(bytes) => copy_out(&mut cx, &bytes, pp, lp)?,
                Err(status::BAD_ARGUMENT) if t > 7 => status::BAD_ARGUMENT,
                Err(_) => copy_out(&mut cx, b"", pp, lp)?,
            };
            Ok(done(&mut cx, "proxy_get_header_map_pairs", s))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut cx: Cx<'_>, t: i32, p: i32, n: i32| {
            let Some(bytes) = read(&mut cx, p, n) else {
                return done(
                    &mut cx,
                    "proxy_set_header_map_pairs",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let mut new = Headers::from_pairs(&pairs::deserialize_str(&bytes).unwrap_or_default());
            if let Some(kind) = envoy_kind(cx.data(), t) {
                new = new.as_envoy(kind);
            }
            let s = match with_map(cx.data_mut(), t, true, |m| *m = new) {
                Ok(()) => status::OK,
                Err(s) => s,
            };
            done(&mut cx, "proxy_set_header_map_pairs", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut cx: Cx<'_>, t: i32, kp: i32, kn: i32, vpp: i32, vlp: i32| {
            let Some(key) = read_str(&mut cx, kp, kn) else {
                return Ok(done(
                    &mut cx,
                    "proxy_get_header_map_value",
                    status::INVALID_MEMORY_ACCESS,
                ));
            };
            let r = with_map(cx.data_mut(), t, false, |m| m.get(&key).map(str::to_string));
            let s = match r {
                Ok(Some(v)) => copy_out(&mut cx, v.as_bytes(), vpp, vlp)?,
                Ok(None) if cx.data().abi_01 => copy_out(&mut cx, b"", vpp, vlp)?,
                Ok(None) => status::NOT_FOUND,
                Err(s) => s,
            };
            Ok(done(&mut cx, "proxy_get_header_map_value", s))
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_header_map_size",
        |mut cx: Cx<'_>, t: i32, sp: i32| {
            // Envoy's size uses the mutable map: stream maps only.
            let r = if (0..=3).contains(&t) && !cx.data().vis().log {
                with_map(cx.data_mut(), t, false, |m| m.byte_size())
            } else {
                Err(status::BAD_ARGUMENT)
            };
            let s = match r {
                Ok(n) if write_u32(&mut cx, sp, n as u32) => status::OK,
                Ok(_) => status::INVALID_MEMORY_ACCESS,
                Err(s) => s,
            };
            done(&mut cx, "proxy_get_header_map_size", s)
        },
    )?;
    type Edit = fn(&mut Headers, Option<MapKind>, &str, &str);
    let edits: [(&'static str, Edit); 2] = [
        ("proxy_add_header_map_value", |m, envoy, k, v| match envoy {
            Some(kind) => m.add_as_envoy(kind, k, v),
            None => m.add(k, v),
        }),
        (
            "proxy_replace_header_map_value",
            |m, envoy, k, v| match envoy {
                Some(kind) => m.set_as_envoy(kind, k, v),
                None => m.set(k, v),
            },
        ),
    ];
    for (name, edit) in edits {
        l.func_wrap(
            "env",
            name,
            move |mut cx: Cx<'_>, t: i32, kp: i32, kn: i32, vp: i32, vn: i32| {
                let (Some(k), Some(v)) = (read_str(&mut cx, kp, kn), read_str(&mut cx, vp, vn))
                else {
                    return done(&mut cx, name, status::INVALID_MEMORY_ACCESS);
                };
                let envoy = envoy_kind(cx.data(), t);
                let s = match with_map(cx.data_mut(), t, true, |m| edit(m, envoy, &k, &v)) {
                    Ok(()) => status::OK,
                    Err(s) => s,
                };
                done(&mut cx, name, s)
            },
        )?;
    }
    l.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut cx: Cx<'_>, t: i32, kp: i32, kn: i32| {
            let Some(k) = read_str(&mut cx, kp, kn) else {
                return done(
                    &mut cx,
                    "proxy_remove_header_map_value",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            let s = match with_map(cx.data_mut(), t, true, |m| m.remove(&k)) {
                Ok(()) => status::OK,
                Err(s) => s,
            };
            done(&mut cx, "proxy_remove_header_map_value", s)
        },
    )?;
    Ok(())
}
