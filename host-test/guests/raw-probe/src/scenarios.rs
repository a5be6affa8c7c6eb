//! The scenarios picked by `x-raw`; each logs `name=value` lines.

use crate::ffi::*;
use crate::{buffer, header, http_call, report, ser, shared_get, shared_set, take};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicU32, Ordering};

static MODE: AtomicU32 = AtomicU32::new(0);
static STREAM: AtomicU32 = AtomicU32::new(0);
static RACE_CAS: AtomicU32 = AtomicU32::new(0);
static SCENARIO: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

pub fn remember_scenario(s: &str) {
    if let Ok(mut g) = SCENARIO.lock() {
        *g = s.to_string();
    }
}

pub fn scenario() -> String {
    SCENARIO.lock().map(|g| g.clone()).unwrap_or_default()
}

const FULL: [(&str, &str); 3] = [
    (":method", "GET"),
    (":path", "/check"),
    (":authority", "authz"),
];
const BAD: *const u8 = 0xFFFF_FFF0usize as *const u8;

fn grpc(cluster: &str) -> (u32, u32) {
    let (svc, m) = ("svc.S", "M");
    let mut tok = 0;
    let s = unsafe {
        proxy_grpc_call(
            cluster.as_ptr(),
            cluster.len(),
            svc.as_ptr(),
            svc.len(),
            m.as_ptr(),
            m.len(),
            null_mut(),
            0,
            b"x".as_ptr(),
            1,
            1000,
            &mut tok,
        )
    };
    (s, tok)
}

fn metric(t: u32, name: &str) -> (u32, u32) {
    let mut id = 0;
    let s = unsafe { proxy_define_metric(t, name.as_ptr(), name.len(), &mut id) };
    (s, id)
}

fn get_metric(id: u32) -> String {
    let mut v = 0u64;
    let s = unsafe { proxy_get_metric(id, &mut v) };
    format!("{s}:{}", v as i64)
}

fn prop(path: &str) -> String {
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut p, &mut n) };
    format!("{s}:{}", String::from_utf8_lossy(&take(p, n)))
}

fn foreign(name: &str) -> u32 {
    let (mut p, mut n) = (null_mut(), 0);
    unsafe { proxy_call_foreign_function(name.as_ptr(), name.len(), null_mut(), 0, &mut p, &mut n) }
}

fn edit(
    f: unsafe extern "C" fn(u32, *const u8, usize, *const u8, usize) -> u32,
    k: &str,
    v: &str,
) -> u32 {
    unsafe { f(0, k.as_ptr(), k.len(), v.as_ptr(), v.len()) }
}

pub fn statuses(ctx: u32) -> u32 {
    report("hdr.missing", header(0, "x-missing").0);
    report("hdr.resp_in_request", header(2, ":status").0);
    report("hdr.bad_map", header(9, "a").0);
    report("hdr.call_outside", header(6, "a").0);
    let (s, v) = header(0, "X-Dup");
    report("hdr.dup", format!("{s}:{v}"));
    let mut n = 0;
    let s = unsafe { proxy_get_header_map_size(0, &mut n) };
    report("hdr.size", format!("{s}:{n}"));
    let (mut p, mut l) = (null_mut(), 0);
    report("hdr.trailers_absent", unsafe {
        proxy_get_header_map_pairs(1, &mut p, &mut l)
    });
    edit(proxy_add_header_map_value, "x-a", "1");
    edit(proxy_add_header_map_value, "X-A", "2");
    edit(proxy_replace_header_map_value, "x-a", "3");
    let (s, v) = header(0, "x-a");
    report("hdr.after_edit", format!("{s}:{v}"));
    unsafe { proxy_remove_header_map_value(0, "x-dup".as_ptr(), 5) };
    report("hdr.removed", header(0, "x-dup").0);
    let (mut p, mut l) = (null_mut(), 0);
    report("hdr.bad_memory", unsafe {
        proxy_get_header_map_value(0, BAD, 64, &mut p, &mut l)
    });
    let bad_pairs = [1u8, 0, 0];
    report("hdr.set_pairs_malformed", unsafe {
        proxy_set_header_map_pairs(3, bad_pairs.as_ptr(), 3)
    });

    report("buf.plugin_config_outside", buffer(7, 0, 10).0);
    let (s, b) = buffer(6, 0, 100);
    report(
        "buf.vm_config",
        format!("{s}:{}", String::from_utf8_lossy(&b)),
    );
    report("buf.bad_type", buffer(99, 0, 1).0);
    report("buf.call_outside", buffer(4, 0, 1).0);
    report("buf.set_vm_config", unsafe {
        proxy_set_buffer_bytes(6, 0, 0, b"x".as_ptr(), 1)
    });
    let (s, b) = buffer(0, 0, 10);
    report("buf.body_outside", format!("{s}:{}", b.len()));
    report("buf.set_body_outside", unsafe {
        proxy_set_buffer_bytes(0, 0, 0, b"x".as_ptr(), 1)
    });

    report("call.unknown_cluster", http_call("nope", &FULL).0);
    report("call.no_authority", http_call("authz", &FULL[..2]).0);
    let (s, t) = http_call("authz", &FULL);
    report("call.first", format!("{s}:{t}"));
    let (s, t) = http_call("authz", &FULL);
    report("call.second", format!("{s}:{t}"));

    report("grpc.unknown_cluster", grpc("nope").0);
    let (s, t) = grpc("authz");
    report("grpc.call", format!("{s}:{t}"));
    let (svc, m) = ("svc.S", "M");
    let mut st = 0;
    let s = unsafe {
        proxy_grpc_stream(
            b"authz".as_ptr(),
            5,
            svc.as_ptr(),
            svc.len(),
            m.as_ptr(),
            m.len(),
            null_mut(),
            0,
            &mut st,
        )
    };
    report("grpc.stream", format!("{s}:{st}"));
    report("grpc.send_unknown", unsafe {
        proxy_grpc_send(1000, b"m".as_ptr(), 1, 0)
    });
    report("grpc.send", unsafe {
        proxy_grpc_send(st, b"m".as_ptr(), 1, 0)
    });
    report("grpc.cancel_unknown", unsafe { proxy_grpc_cancel(999) });
    report("grpc.send_on_call", unsafe {
        proxy_grpc_send(t, b"m".as_ptr(), 1, 0)
    });
    report("grpc.close", unsafe { proxy_grpc_close(st) });

    report("metric.bad_type", metric(3, "x").0);
    let (s, c) = metric(0, "raw_counter");
    report("metric.counter", format!("{s}:{c}"));
    report("metric.inc_zero", unsafe { proxy_increment_metric(c, 0) });
    report("metric.inc_negative", unsafe {
        proxy_increment_metric(c, -1)
    });
    report("metric.inc", unsafe { proxy_increment_metric(c, 5) });
    report("metric.record_counter", unsafe {
        proxy_record_metric(c, 2)
    });
    report("metric.counter_value", get_metric(c));
    let (s, g) = metric(1, "raw_gauge");
    report("metric.gauge", format!("{s}:{g}"));
    report("metric.gauge_dec", unsafe { proxy_increment_metric(g, -5) });
    report("metric.gauge_value", get_metric(g));
    let (s, h) = metric(2, "raw_hist");
    report("metric.hist", format!("{s}:{h}"));
    report("metric.hist_record", unsafe { proxy_record_metric(h, 42) });
    report("metric.hist_get", get_metric(h));
    report("metric.hist_inc", unsafe { proxy_increment_metric(h, 1) });
    report("metric.unknown_get", get_metric(1000));
    report("metric.bad_type_get", get_metric(999));
    report("metric.unknown_inc", unsafe {
        proxy_increment_metric(1000, 1)
    });
    report("metric.bad_type_inc", unsafe {
        proxy_increment_metric(999, 1)
    });

    report("shared.missing", shared_get("raw-missing").0);
    report("shared.set", shared_set("raw-k", "v1", 0));
    let (s, v, cas) = shared_get("raw-k");
    report("shared.get", format!("{s}:{}", String::from_utf8_lossy(&v)));
    report("shared.stale_cas", shared_set("raw-k", "v2", cas + 100));
    report("shared.cas", shared_set("raw-k", "v2", cas));
    report("shared.cas_reused", shared_set("raw-k", "v3", cas));
    report("shared.missing_with_cas", shared_set("raw-new", "x", 12345));

    let mut q = 0;
    report("queue.resolve_missing", unsafe {
        proxy_resolve_shared_queue(null_mut(), 0, b"nope".as_ptr(), 4, &mut q)
    });
    let (mut p, mut l) = (null_mut(), 0);
    report("queue.dequeue_unknown", unsafe {
        proxy_dequeue_shared_queue(99, &mut p, &mut l)
    });
    report("queue.enqueue_unknown", unsafe {
        proxy_enqueue_shared_queue(99, b"x".as_ptr(), 1)
    });
    let s = unsafe { proxy_register_shared_queue(b"rawq".as_ptr(), 4, &mut q) };
    report("queue.register", format!("{s}:{q}"));
    report("queue.dequeue_empty", unsafe {
        proxy_dequeue_shared_queue(q, &mut p, &mut l)
    });

    report("prop.unknown", prop("unknown\0prop"));
    report("prop.plugin_name", prop("plugin_name"));
    report("prop.set", unsafe {
        proxy_set_property(b"raw_k".as_ptr(), 5, b"v".as_ptr(), 1)
    });
    report("prop.get_set", prop("raw_k"));
    report("prop.path", prop("request\0path"));
    report("prop.header", prop("request\0headers\0x-raw"));
    report("prop.response_code", prop("response\0code"));
    report("prop.xds_node", prop("xds\0node"));
    report("prop.ngx_version", prop("ngx\0nginx_version"));

    report("foreign.unknown", foreign("nope"));
    report("foreign.clear_route_cache", foreign("clear_route_cache"));

    report("ctx.unknown", unsafe { proxy_set_effective_context(999) });
    report("ctx.self", unsafe { proxy_set_effective_context(ctx) });
    report("stream.bad_type", unsafe { proxy_continue_stream(9) });
    report("log.bad_level", unsafe { proxy_log(9, b"x".as_ptr(), 1) });
    let mut lvl = 9;
    let s = unsafe { proxy_get_log_level(&mut lvl) };
    report("log.level", format!("{s}:{lvl}"));
    let mut t = 0;
    let s = unsafe { proxy_get_current_time_nanoseconds(&mut t) };
    report("time.now", format!("{s}:{t}"));
    report("tick.set", unsafe { proxy_set_tick_period_milliseconds(0) });
    report("done", unsafe { proxy_done() });
    let (mut code, mut p, mut l) = (7, null_mut(), 0);
    let s = unsafe { proxy_get_status(&mut code, &mut p, &mut l) };
    report("status", format!("{s}:{code}:{}", l));
    // ABI 0.1.0 calls.
    report("abi01.clear_route_cache", unsafe {
        proxy_clear_route_cache()
    });
    let (mut p, mut l) = (null_mut(), 0);
    let s = unsafe { proxy_get_configuration(&mut p, &mut l) };
    report(
        "abi01.get_configuration",
        format!("{s}:{}", String::from_utf8_lossy(&take(p, l))),
    );
    report("abi01.continue_response", unsafe {
        proxy_continue_response()
    });
    // Last: continuing drops this context's request headers.
    report("abi01.continue_request", unsafe {
        proxy_continue_request()
    });
    report("after_continue.request_header", header(0, "x-raw").0);
    0
}

pub fn body(size: usize, eos: bool) -> u32 {
    if !eos {
        return 1;
    }
    report("body.size", size);
    // The headers callback returned CONTINUE: Envoy no longer reaches the request headers.
    report("body.request_headers", header(0, "x-raw").0);
    report("body.add_trailer", unsafe {
        proxy_add_header_map_value(1, b"x-t".as_ptr(), 3, b"1".as_ptr(), 1)
    });
    report("body.set_middle", unsafe {
        proxy_set_buffer_bytes(0, 1, 0, b"X".as_ptr(), 1)
    });
    report("body.prepend", unsafe {
        proxy_set_buffer_bytes(0, 0, 0, b"<".as_ptr(), 1)
    });
    report("body.append", unsafe {
        proxy_set_buffer_bytes(0, size + 1, 0, b">".as_ptr(), 1)
    });
    report("body.replace_prefix", unsafe {
        proxy_set_buffer_bytes(0, 0, 1, b"[".as_ptr(), 1)
    });
    let (s, b) = buffer(0, 0, 100);
    report("body.now", format!("{s}:{}", String::from_utf8_lossy(&b)));
    let (s, b) = buffer(0, 2, 100);
    report(
        "body.offset",
        format!("{s}:{}", String::from_utf8_lossy(&b)),
    );
    let (s, b) = buffer(0, 100, 5);
    report("body.past_end", format!("{s}:{}", b.len()));
    0
}

static UPSTREAM: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// A plugin configuration containing ':' is the callout upstream (`host:port`, NGINX).
pub fn set_upstream(cfg: &str) {
    if let Ok(mut g) = UPSTREAM.lock() {
        *g = if cfg.contains(':') {
            cfg.to_string()
        } else {
            "authz".into()
        };
    }
}

pub fn callout() -> u32 {
    MODE.store(1, Ordering::Relaxed);
    let up = UPSTREAM.lock().map(|g| g.clone()).unwrap_or_default();
    let (s, _) = http_call(&up, &FULL);
    if s == 0 {
        1
    } else {
        0
    }
}

pub fn local2() -> u32 {
    let h = ser(&[("x-lr", "1")]);
    let send = |code: u32| unsafe {
        proxy_send_local_response(
            code,
            b"d1".as_ptr(),
            2,
            b"body".as_ptr(),
            4,
            h.as_ptr(),
            h.len(),
            -1,
        )
    };
    report("local.first", send(401));
    report("local.second", send(402));
    1
}

pub fn race_read() -> u32 {
    MODE.store(2, Ordering::Relaxed);
    let (_, _, cas) = shared_get("race");
    RACE_CAS.store(cas, Ordering::Relaxed);
    http_call("authz", &FULL);
    1
}

pub fn remember_stream(ctx: u32) {
    STREAM.store(ctx, Ordering::Relaxed);
}

pub fn call_response(body: usize, nh: usize) {
    let stream = STREAM.load(Ordering::Relaxed);
    if MODE.load(Ordering::Relaxed) == 2 {
        unsafe { proxy_set_effective_context(stream) };
        report(
            "race.set",
            shared_set(
                "race",
                &format!("w{stream}"),
                RACE_CAS.load(Ordering::Relaxed),
            ),
        );
        unsafe { proxy_continue_stream(0) };
        return;
    }
    if nh == 0 {
        let (mut code, mut p, mut l) = (0, null_mut(), 0);
        unsafe { proxy_get_status(&mut code, &mut p, &mut l) };
        report(
            "call_response.status",
            format!("{code}:{}", String::from_utf8_lossy(&take(p, l))),
        );
    } else {
        let (s, v) = header(6, ":status");
        report("call_response.header", format!("{s}:{v}"));
        let (s, b) = buffer(4, 0, body);
        report(
            "call_response.body",
            format!("{s}:{}", String::from_utf8_lossy(&b)),
        );
        report("call_response.set_call_header", edit_call());
    }
    report("call_response.request_hdr_root", header(0, "x-raw").0);
    report("call_response.switch", unsafe {
        proxy_set_effective_context(stream)
    });
    report("call_response.request_hdr_stream", header(0, "x-raw").0);
    report("call_response.continue", unsafe {
        proxy_continue_stream(0)
    });
}

fn edit_call() -> u32 {
    unsafe { proxy_add_header_map_value(6, b"k".as_ptr(), 1, b"v".as_ptr(), 1) }
}

pub fn wasi() -> u32 {
    let line = b"stdout line\n";
    let iov = [line.as_ptr() as u32, line.len() as u32];
    let mut w = 0;
    report("wasi.fd_write_bad_fd", unsafe {
        fd_write(5, iov.as_ptr(), 1, &mut w)
    });
    report("wasi.fd_write_stdout", unsafe {
        fd_write(1, iov.as_ptr(), 1, &mut w)
    });
    let err = b"stderr line";
    let iov = [err.as_ptr() as u32, err.len() as u32];
    unsafe { fd_write(2, iov.as_ptr(), 1, &mut w) };
    let mut t = 0;
    report("wasi.clock_bad", unsafe { clock_time_get(9, 0, &mut t) });
    let s = unsafe { clock_time_get(1, 0, &mut t) };
    report("wasi.clock_monotonic", format!("{s}:{t}"));
    let mut r = [0u8; 8];
    unsafe { random_get(r.as_mut_ptr(), 8) };
    report(
        "wasi.random",
        r.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    );
    let (mut n, mut sz) = (9, 9);
    let s = unsafe { environ_sizes_get(&mut n, &mut sz) };
    report("wasi.environ", format!("{s}:{n}:{sz}"));
    let mut sub = [0u8; 48];
    sub[..8].copy_from_slice(&77u64.to_le_bytes());
    let mut out = [0u8; 32];
    let mut ev = 0;
    let s = unsafe { poll_oneoff(sub.as_ptr(), out.as_mut_ptr(), 1, &mut ev) };
    report("wasi.poll_oneoff", format!("{s}:{ev}:{}", out[0]));
    0
}

pub fn grpc_stream() -> u32 {
    let (svc, m) = ("svc.S", "Watch");
    let md = ser(&[("k", "v")]);
    let mut st = 0;
    let s = unsafe {
        proxy_grpc_stream(
            b"authz".as_ptr(),
            5,
            svc.as_ptr(),
            svc.len(),
            m.as_ptr(),
            m.len(),
            md.as_ptr(),
            md.len(),
            &mut st,
        )
    };
    report("grpc_stream.open", format!("{s}:{st}"));
    unsafe { proxy_grpc_send(st, b"hello".as_ptr(), 5, 0) };
    0
}

fn int_prop(path: &str) -> String {
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut p, &mut n) };
    let b = take(p, n);
    match <[u8; 8]>::try_from(b.as_slice()) {
        Ok(a) => format!("{s}:{}", i64::from_le_bytes(a)),
        Err(_) => format!("{s}:len{}", b.len()),
    }
}

pub fn prop_str(path: &str) -> String {
    prop(path)
}

pub fn typed_props() {
    report("prop.request_path_in_response", prop("request\0path"));
    report("prop.request_header_in_response", header(0, "x-raw").0);
    report("prop.response_code_int", int_prop("response\0code"));
    report("prop.request_time", int_prop("request\0time"));
    report("prop.source_port", int_prop("source\0port"));
    let (mut p, mut n) = (null_mut(), 0);
    let path = "connection\0mtls";
    let s = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut p, &mut n) };
    report("prop.mtls", format!("{s}:{:?}", take(p, n)));
    let path = "response\0headers";
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_property(path.as_ptr(), path.len(), &mut p, &mut n) };
    let b = take(p, n);
    report(
        "prop.response_headers_map",
        format!("{s}:{}", u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
}

/// The keys of header map `t` in order, comma-separated (`status:keys`).
pub fn header_keys(t: u32) -> String {
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_header_map_pairs(t, &mut p, &mut n) };
    let b = take(p, n);
    let mut keys = Vec::new();
    if b.len() >= 4 {
        let count = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let mut at = 4 + count * 8;
        for i in 0..count {
            let len = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as usize;
            let (kl, vl) = (len(4 + i * 8), len(8 + i * 8));
            keys.push(String::from_utf8_lossy(&b[at..at + kl]).into_owned());
            at += kl + 1 + vl + 1;
        }
    }
    format!("{s}:{}", keys.join(","))
}

/// Stream attributes Envoy computes from the connection and the request headers.
pub fn props_headers() -> u32 {
    report("props.request_size", int_prop("request\0size"));
    report("props.filter_state", prop("filter_state"));
    report("props.connection_id", int_prop("connection\0id"));
    report("props.protocol", prop("request\0protocol"));
    report(
        "props.lua",
        prop("metadata\0filter_metadata\0envoy.filters.http.lua\0key"),
    );
    let (s, v) = header(0, "authorization");
    report("props.authorization", format!("{s}:[{v}]"));
    0
}

/// Every request body callback: `size:end_of_stream:request.size`.
pub fn props_body(size: usize, eos: bool) -> u32 {
    report(
        "props.request_body",
        format!("{size}:{eos}:{}", int_prop("request\0size")),
    );
    0
}
