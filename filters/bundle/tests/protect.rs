//! Upstream protection in the bundle's `gateway` chain, natively: quota's `protect` section
//! works as a chain member, a request shed by it never reaches the members after it, and a
//! request a later member answers locally gives its slot back in the chain's `on_log`.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::rc::Rc;

use filter_bundle::GatewayPlugin;
use filter_core::{Decision, FakeHost, HeaderMap, Plugin, Stream};
use filter_quota::protect::machine::decode;

fn gateway(host: &mut FakeHost) -> Rc<GatewayPlugin> {
    let path = format!(
        "{}/../../envoy-config/plugins/routing.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let routing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let quota = serde_json::json!({
        "plans": [{"name": "p", "limits": [{"name": "l", "limit": 1000, "window": "minute"}]}],
        "consumers": [{"id": "alice", "plan": "p"}],
        "routes": [{"name": "all", "path_prefix": "/", "api": "orders"}],
        "protect": {"apis": [{"api": "orders", "max_in_flight": 1}]}
    });
    let config = serde_json::json!({"quota": quota, "routing": routing});
    host.clusters = vec!["api_v1".into(), "api_v2".into()];
    Rc::new(GatewayPlugin::configure(config.to_string().as_bytes(), host).unwrap())
}

fn request(path: &str) -> HeaderMap {
    HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", path),
        (":authority", "gw"),
        ("x-gateway-consumer", "alice"),
    ])
}

fn in_flight(host: &FakeHost) -> u32 {
    let v = host.shared.borrow()["protect/1/orders/-/-"].data.clone();
    decode(&v).unwrap().in_flight
}

#[test]
fn the_chain_sheds_and_releases_after_a_later_members_reply() {
    let mut host = FakeHost::new();
    host.set_time(1_767_225_600);
    let plugin = gateway(&mut host);

    // Admitted by quota, answered by routing (v0 is retired): the slot is held until on_log.
    let mut retired = GatewayPlugin::new_stream(&plugin);
    let decision = retired.on_request_headers(&mut request("/v0/orders"), true, &mut host);
    let Decision::Respond(reply) = decision else {
        panic!("routing answers a retired version: {decision:?}");
    };
    assert_ne!(reply.status, 503);
    assert_eq!(in_flight(&host), 1);

    // The limit is 1: the next request is shed by quota before routing sees it.
    let mut shed = GatewayPlugin::new_stream(&plugin);
    match shed.on_request_headers(&mut request("/v1/orders"), true, &mut host) {
        Decision::Respond(reply) => {
            assert_eq!(reply.status, 503);
            assert_eq!(reply.details, "gateway_upstream_unavailable");
        }
        other => panic!("expected the 503, got {other:?}"),
    }
    shed.on_log(&mut host);
    assert_eq!(in_flight(&host), 1, "a shed request held nothing");

    retired.on_log(&mut host);
    assert_eq!(in_flight(&host), 0, "the chain's on_log reached quota");

    let mut next = GatewayPlugin::new_stream(&plugin);
    assert_eq!(
        next.on_request_headers(&mut request("/v1/orders"), true, &mut host),
        Decision::Continue
    );
    next.on_log(&mut host);
    assert_eq!(in_flight(&host), 0);
    assert_eq!(host.metric("protect_shed_concurrency"), Some(1));
}
