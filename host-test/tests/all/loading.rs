//! Loading: ABI markers, `_initialize` + `main` or `_start`, missing imports, ABI 0.1.0
//! behaviour, failures during start-up.

use crate::guests::{patched, probe, raw};
use host_test::{Error, FilterSpec, Harness, Request, Response};
use std::time::Duration;

fn build(p: std::path::PathBuf) -> host_test::Result<host_test::Gateway> {
    Harness::new()
        .filter(FilterSpec::wasm(p))
        .any_cluster()
        .build()
}

#[test]
fn abi_markers_0_2_0_and_0_1_0_load() {
    for v in ["0_2_0", "0_1_0"] {
        let m = patched(
            &raw(),
            &format!("raw-abi-{v}"),
            &[("proxy_abi_version_0_2_1", &format!("proxy_abi_version_{v}"))],
        );
        let mut gw = build(m).unwrap();
        let out = gw
            .request(Request::get("/").header("x-raw", "statuses"))
            .respond_with(Response::ok())
            .unwrap();
        assert_eq!(out.status(), 200, "{v}");
        // ABI 0.1.0: a missing header is OK with an empty value; 0.2.x: NOT_FOUND.
        let want = if v == "0_1_0" {
            "hdr.missing=0"
        } else {
            "hdr.missing=1"
        };
        assert!(gw.logged(want), "{v}");
    }
}

#[test]
fn missing_marker_fails_to_load() {
    let m = patched(
        &raw(),
        "raw-no-abi",
        &[("proxy_abi_version_0_2_1", "proxy_abi_version_9_9_9")],
    );
    let err = build(m).err().unwrap();
    assert!(
        matches!(err, Error::Load { .. }) && err.to_string().contains("proxy_abi_version"),
        "{err}"
    );
}

#[test]
fn an_import_the_host_lacks_fails_to_load() {
    let m = patched(&raw(), "raw-bad-import", &[("proxy_done", "proxy_dune")]);
    let err = build(m).err().unwrap();
    assert!(err.to_string().contains("proxy_dune"), "{err}");
}

#[test]
fn initialize_then_main_or_start() {
    let m = patched(&raw(), "raw-main", &[("mai0", "main")]);
    let gw = build(m).unwrap();
    assert!(gw.logged("main ran"));
    let m = patched(
        &raw(),
        "raw-start",
        &[("zstart", "_start"), ("_initialize", "_initializX")],
    );
    let gw = build(m).unwrap();
    assert!(gw.logged("start ran") && !gw.logged("initialize ran"));
    let gw = build(raw()).unwrap();
    assert!(gw.logged("initialize ran"));
    assert!(!gw.logged("start ran") && !gw.logged("main ran"));
}

#[test]
fn panic_in_configure_is_a_trap_with_the_panic_message() {
    let err = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("panic_configure"))
        .build()
        .err()
        .unwrap();
    match err {
        Error::Trap {
            callback, message, ..
        } => {
            assert_eq!(callback, "proxy_on_configure");
            assert!(message.contains("bad configuration"), "{message}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn panic_in_on_tick_fails_the_vm() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("tick=100;panic_tick"))
        .workers(2)
        .build()
        .unwrap();
    gw.advance(Duration::from_millis(100)).unwrap();
    assert!(gw
        .vm_failure("sdk_probe", 0)
        .unwrap()
        .contains("tick panic"));
    assert!(gw.vm_failure("sdk_probe", 1).is_some(), "each worker ticks");
    let out = gw
        .request(Request::get("/"))
        .respond_with(Response::ok())
        .unwrap();
    assert_eq!(out.status(), 503);
    gw.advance(Duration::from_secs(1)).unwrap();
    let ticks = gw
        .logs()
        .iter()
        .filter(|l| l.message.contains("tick panic"))
        .count();
    assert_eq!(
        ticks, 3,
        "one tick per worker and on the main thread, then failed VMs stop ticking"
    );
}
