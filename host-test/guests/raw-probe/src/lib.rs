//! host-test guest without an SDK: raw `env` imports, so it can make calls the SDK would
//! panic on and log each status as `name=value` at info. The request header `x-raw` picks the
//! scenario: statuses, body, callout, local2, race, exit, grow, wasi, grpc_stream, props.

#![allow(clippy::missing_safety_doc)]

mod ffi;

use ffi::*;
use std::ptr::null_mut;

fn log(msg: &str) {
    unsafe { proxy_log(2, msg.as_ptr(), msg.len()) };
}

fn report(name: &str, v: impl std::fmt::Display) {
    log(&format!("{name}={v}"));
}

fn take(p: *mut u8, n: usize) -> Vec<u8> {
    if p.is_null() {
        Vec::new()
    } else {
        unsafe { Vec::from_raw_parts(p, n, n) }
    }
}

#[no_mangle]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// The WASI reactor entry point (like the SDK's `main!`).
#[no_mangle]
pub extern "C" fn _initialize() {
    log("initialize ran");
}

/// Renamed to `_start` by a test (byte patch) to check `_start` modules.
#[export_name = "zstart"]
pub extern "C" fn start_probe() {
    log("start ran");
}

/// Renamed to `main` by a test (byte patch) to check `_initialize` + `main`.
#[export_name = "mai0"]
pub extern "C" fn main_probe(_argc: i32, _argv: i32) -> i32 {
    log("main ran");
    0
}

#[no_mangle]
pub extern "C" fn proxy_on_memory_allocate(n: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(n);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

fn header(t: u32, k: &str) -> (u32, String) {
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_header_map_value(t, k.as_ptr(), k.len(), &mut p, &mut n) };
    (s, String::from_utf8_lossy(&take(p, n)).into_owned())
}

fn buffer(t: u32, start: usize, max: usize) -> (u32, Vec<u8>) {
    let (mut p, mut n) = (null_mut(), 0);
    let s = unsafe { proxy_get_buffer_bytes(t, start, max, &mut p, &mut n) };
    (s, take(p, n))
}

fn ser(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend((k.len() as u32).to_le_bytes());
        out.extend((v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend(k.as_bytes());
        out.push(0);
        out.extend(v.as_bytes());
        out.push(0);
    }
    out
}

fn http_call(cluster: &str, headers: &[(&str, &str)]) -> (u32, u32) {
    let h = ser(headers);
    let mut tok = 0;
    let s = unsafe {
        proxy_http_call(
            cluster.as_ptr(),
            cluster.len(),
            h.as_ptr(),
            h.len(),
            null_mut(),
            0,
            null_mut(),
            0,
            1000,
            &mut tok,
        )
    };
    (s, tok)
}

fn shared_get(k: &str) -> (u32, Vec<u8>, u32) {
    let (mut p, mut n, mut cas) = (null_mut(), 0, 0);
    let s = unsafe { proxy_get_shared_data(k.as_ptr(), k.len(), &mut p, &mut n, &mut cas) };
    (s, take(p, n), cas)
}

fn shared_set(k: &str, v: &str, cas: u32) -> u32 {
    unsafe { proxy_set_shared_data(k.as_ptr(), k.len(), v.as_ptr(), v.len(), cas) }
}

#[no_mangle]
pub extern "C" fn proxy_on_context_create(_ctx: u32, _parent: u32) {}

#[no_mangle]
pub extern "C" fn proxy_on_vm_start(_root: u32, n: usize) -> u32 {
    let (s, b) = buffer(6, 0, n);
    report(
        "vm_start.vm_config",
        format!("{s}:{}", String::from_utf8_lossy(&b)),
    );
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_configure(_root: u32, n: usize) -> u32 {
    let (s, b) = buffer(7, 0, n);
    report(
        "configure.plugin_config",
        format!("{s}:{}", String::from_utf8_lossy(&b)),
    );
    scenarios::set_upstream(&String::from_utf8_lossy(&b));
    let mut len = 0;
    let mut flags = 0;
    let s = unsafe { proxy_get_buffer_status(7, &mut len, &mut flags) };
    report("configure.buffer_status", format!("{s}:{len}"));
    let s = unsafe { proxy_set_buffer_bytes(7, 0, 0, b"x".as_ptr(), 1) };
    report("configure.set_plugin_config", s);
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_request_headers(ctx: u32, n: usize, _eos: u32) -> u32 {
    let (_, which) = header(0, "x-raw");
    report("request_headers.n", n);
    scenarios::remember_stream(ctx);
    scenarios::remember_scenario(&which);
    match which.as_str() {
        "statuses" => scenarios::statuses(ctx),
        "callout" => scenarios::callout(),
        "local2" => scenarios::local2(),
        "race" => scenarios::race_read(),
        "wasi" => scenarios::wasi(),
        "grpc_stream" => scenarios::grpc_stream(),
        "props" => scenarios::props_headers(),
        "exit" => unsafe { proc_exit(3) },
        "close" => {
            report("close", unsafe { proxy_close_stream(0) });
            1
        }
        "grow" => {
            let v = std::hint::black_box(vec![1u8; std::hint::black_box(64 << 20)]);
            report("grow.len", v.len());
            0
        }
        _ => 0,
    }
}

#[no_mangle]
pub extern "C" fn proxy_on_request_body(_ctx: u32, size: usize, eos: u32) -> u32 {
    match scenarios::scenario().as_str() {
        "body" => scenarios::body(size, eos != 0),
        "props" => scenarios::props_body(size, eos != 0),
        _ => 0,
    }
}

#[no_mangle]
pub extern "C" fn proxy_on_response_headers(_ctx: u32, _n: usize, _eos: u32) -> u32 {
    let (s, v) = header(2, ":status");
    report("response_headers.status", format!("{s}:{v}"));
    scenarios::typed_props();
    if scenarios::scenario() == "local2" {
        report("response_headers.keys", scenarios::header_keys(2));
    }
    if scenarios::scenario() == "statuses" {
        let pairs = ser(&[(":status", &v), ("x-set", "1")]);
        report("response_headers.set_pairs", unsafe {
            proxy_set_header_map_pairs(2, pairs.as_ptr(), pairs.len())
        });
    }
    0
}

#[no_mangle]
pub extern "C" fn proxy_on_grpc_receive_initial_metadata(_root: u32, token: u32, n: usize) {
    let (s, v) = header(4, "k");
    report("grpc.initial", format!("{token}:{n}:{s}:{v}"));
}

#[no_mangle]
pub extern "C" fn proxy_on_grpc_receive(_root: u32, token: u32, len: usize) {
    let (s, b) = buffer(5, 0, len);
    report(
        "grpc.receive",
        format!("{token}:{s}:{}", String::from_utf8_lossy(&b)),
    );
}

#[no_mangle]
pub extern "C" fn proxy_on_grpc_receive_trailing_metadata(_root: u32, token: u32, n: usize) {
    let (s, v) = header(5, "t");
    report("grpc.trailing", format!("{token}:{n}:{s}:{v}"));
}

#[no_mangle]
pub extern "C" fn proxy_on_grpc_close(_root: u32, token: u32, status: u32) {
    let (mut code, mut p, mut l) = (0, null_mut(), 0);
    unsafe { proxy_get_status(&mut code, &mut p, &mut l) };
    let msg = String::from_utf8_lossy(&take(p, l)).into_owned();
    report("grpc.close", format!("{token}:{status}:{code}:{msg}"));
}

#[no_mangle]
pub extern "C" fn proxy_on_http_call_response(
    root: u32,
    token: u32,
    nh: usize,
    body: usize,
    nt: usize,
) {
    report("call_response", format!("{root}:{token}:{nh}:{body}:{nt}"));
    scenarios::call_response(body, nh);
}

#[no_mangle]
pub extern "C" fn proxy_on_log(_ctx: u32) {
    log("on_log");
    let (s, v) = header(2, ":status");
    report("log.response_status", format!("{s}:{v}"));
    report("log.request_trailers", header(1, "x").0);
    report("log.set_header", unsafe {
        proxy_add_header_map_value(0, b"k".as_ptr(), 1, b"v".as_ptr(), 1)
    });
    report("log.request_path", scenarios::prop_str("request\0path"));
}

#[no_mangle]
pub extern "C" fn proxy_on_done(_ctx: u32) -> u32 {
    log("on_done");
    1
}

#[no_mangle]
pub extern "C" fn proxy_on_delete(_ctx: u32) {
    log("on_delete");
}

mod scenarios;
