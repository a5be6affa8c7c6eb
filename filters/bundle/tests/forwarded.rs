//! The gateway chain natively, on the fake host: what one member learns from another.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)]

use std::rc::Rc;

use filter_bundle::GatewayPlugin;
use filter_core::{Decision, FakeHost, HeaderMap, Plugin, Stream};

fn gateway(host: &mut FakeHost) -> Rc<GatewayPlugin> {
    let member = |name: &str| -> serde_json::Value {
        let path = format!(
            "{}/../../envoy-config/plugins/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let config =
        serde_json::json!({"analytics": member("analytics"), "routing": member("routing")});
    host.clusters = vec!["collector".into(), "api_v1".into(), "api_v2".into()];
    Rc::new(GatewayPlugin::configure(config.to_string().as_bytes(), host).unwrap())
}

#[test]
fn analytics_records_the_version_routing_set_without_asking_the_host() {
    let mut host = FakeHost::new();
    let plugin = gateway(&mut host);
    let mut stream = GatewayPlugin::new_stream(&plugin);
    let mut headers = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", "/v2/orders/1"),
        (":authority", "gw"),
        ("x-gateway-consumer", "alice"),
        // What a client sends is replaced by routing, and not what analytics records.
        ("x-gateway-version", "v9"),
    ]);
    assert_eq!(
        stream.on_request_headers(&mut headers, true, &mut host),
        Decision::Continue
    );
    assert_eq!(headers.get_str("x-gateway-version"), Some("v2"));
    // The fake host holds no request headers: a version read back in on_log would find none.
    assert!(host.headers.is_empty());
    stream.on_log(&mut host);
    let requests: Vec<_> = host
        .metrics
        .iter()
        .filter(|m| m.name.starts_with("gateway_requests_total."))
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].contains(".version=v2."),
        "the version routing chose: {requests:?}"
    );
}
