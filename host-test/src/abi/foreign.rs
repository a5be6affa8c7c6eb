//! Foreign functions: every call is recorded; `clear_route_cache` and, in the Envoy profile,
//! `verify_signature` ([`crate::signature`]) are built in as in Envoy; tests register others (or
//! replace those) with `Harness::foreign`; unknown names give NOT_FOUND as in Envoy.

use super::guest::{copy_out, done, read, read_str, Cx};
use crate::state::HostState;
use crate::value::{status, HostProfile};
use wasmtime::Linker;

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut cx: Cx<'_>, np: i32, nn: i32, ap: i32, an: i32, rpp: i32, rlp: i32| {
            let (Some(name), Some(args)) = (read_str(&mut cx, np, nn), read(&mut cx, ap, an))
            else {
                return Ok(done(
                    &mut cx,
                    "proxy_call_foreign_function",
                    status::INVALID_MEMORY_ACCESS,
                ));
            };
            let result = {
                let st = cx.data();
                let stream = st.stream();
                let mut w = st.world();
                w.foreign_calls.push((name.clone(), args.clone()));
                if let Some(f) = w.foreign.get(&name).cloned() {
                    Ok(f(&args))
                } else if name == "clear_route_cache" {
                    if let Some(s) = stream.and_then(|id| w.streams.get_mut(&id)) {
                        s.route_cache_cleared += 1;
                    }
                    Ok(Vec::new())
                } else if name == "verify_signature" && w.host == HostProfile::Envoy {
                    crate::signature::verify_signature(&args)
                } else {
                    Err(status::NOT_FOUND)
                }
            };
            let s = match result {
                Ok(r) => copy_out(&mut cx, &r, rpp, rlp)?,
                Err(s) => s,
            };
            Ok(done(&mut cx, "proxy_call_foreign_function", s))
        },
    )?;
    Ok(())
}
