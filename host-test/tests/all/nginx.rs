//! The NGINX (Kong ngx_wasm_module) host profile: the differences abi.md lists.

use crate::guests::{probe, raw};
use host_test::{FilterSpec, Harness, HostProfile, Request, Response};
use std::collections::BTreeMap;

fn reports(gw: &host_test::Gateway) -> BTreeMap<String, String> {
    gw.logs()
        .into_iter()
        .filter_map(|l| {
            let (k, v) = l.message.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn callouts_grpc_properties_and_metrics_differ() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).name("raw"))
        .profile(HostProfile::Nginx)
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-raw", "statuses"))
        .respond_with(Response::status(201))
        .unwrap();
    let r = reports(&gw);
    for (k, want) in [
        ("call.unknown_cluster", "2"),
        ("grpc.call", "12:0"),
        ("prop.response_code_int", "0:len3"),
        ("prop.source_port", "0:len5"),
        ("prop.xds_node", "1:"),
        ("prop.ngx_version", "0:1.22.1"),
    ] {
        assert_eq!(r.get(k).map(String::as_str), Some(want), "{k}");
    }
    assert_eq!(
        gw.metric("pw:raw:raw_counter"),
        Some(7),
        "{:?}",
        gw.metrics().keys().collect::<Vec<_>>()
    );
    assert_eq!(gw.metric("raw_counter"), None);
}

#[test]
fn no_queue_notifications() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(probe()).config("name=q;queue"))
        .profile(HostProfile::Nginx)
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-probe", "queue"))
        .respond_with(Response::ok())
        .unwrap();
    assert!(!gw.logged("dequeued"));
}

#[test]
fn callout_failure_is_a_dispatch_status_header() {
    let mut gw = Harness::new()
        .filter(FilterSpec::wasm(raw()).config("authz.internal:8080"))
        .profile(HostProfile::Nginx)
        .build()
        .unwrap();
    gw.request(Request::get("/").header("x-raw", "callout"))
        .respond_with(Response::ok())
        .unwrap();
    let call = gw.pending_calls()[0].clone();
    assert_eq!(call.cluster, "authz.internal:8080");
    gw.fail_call(call.id).unwrap();
    let r = reports(&gw);
    assert_eq!(
        r.get("call_response").map(String::as_str),
        Some("1:4:1:0:0")
    );
    assert_eq!(
        r.get("call_response.header").map(String::as_str),
        Some("1:"),
        "no :status, only :dispatch_status"
    );
}
