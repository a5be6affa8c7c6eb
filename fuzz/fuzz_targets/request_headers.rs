//! Request header maps as the host delivers them (the proxy-wasm serialized layout, names and
//! values as bytes, non-UTF-8 included), and everything that reads them: the map itself
//! (`filter_core::headers`, `filter_core::pairs`), credential sources (`filter_auth::source`:
//! bearer, header, query parameter, cookie; `percent_decode`), request targets and version
//! resolution (`filter_routing::target`, `resolve`), quota routes, costs and keys
//! (`filter_quota::cost`, `key`), analytics label values (`filter_analytics::labels`), and the
//! whole `gateway` chain natively on the fake host.
//!
//! Asserts: the map and `pairs::decode` agree on the layout, and re-encoding round-trips; lookups
//! are case-blind and count every value; a stripped credential is no longer found; percent
//! escapes round-trip; a resolved version exists; a cost is within its bounds; label values are
//! label-safe; and identity headers (`x-gateway-consumer`, plan, groups, credential, version,
//! cluster) leave the chain only as the chain set them, with a configured consumer and its plan,
//! never as the client sent them.
#![no_main]

use std::rc::Rc;

use filter_auth::source::{self, Found, Source};
use filter_bundle::GatewayPlugin;
use filter_core::{pairs, Decision, FakeHost, HeaderEdit, HeaderMap, Plugin, Stream};
use gateway_fuzz::{plan_of, IDENTITY_HEADERS};
use libfuzzer_sys::fuzz_target;

struct Setup {
    routing: filter_routing::config::Config,
    quota: filter_quota::config::Config,
    gateway: Rc<GatewayPlugin>,
    host: FakeHost,
}

thread_local! {
    static SETUP: std::cell::RefCell<Setup> = std::cell::RefCell::new({
        let mut host = FakeHost::new();
        host.clusters = gateway_fuzz::CLUSTERS.iter().map(|c| c.to_string()).collect();
        let config = gateway_fuzz::gateway_config();
        let gateway = Rc::new(GatewayPlugin::configure(config.as_bytes(), &mut host).expect("gateway config"));
        Setup {
            routing: filter_routing::config::parse(&gateway_fuzz::read("filters/routing/example.json")).expect("routing"),
            quota: filter_quota::config::parse(&gateway_fuzz::read("filters/quota/example.json")).expect("quota"),
            gateway,
            host,
        }
    });
}

fn percent_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn map_checks(data: &[u8], map: &HeaderMap) {
    let decoded = pairs::decode(data).expect("the map read it");
    assert_eq!(decoded.len(), map.len());
    for ((name, value), (n, v)) in decoded.iter().zip(map.pairs()) {
        assert_eq!(&name.to_ascii_lowercase(), n);
        assert_eq!(&value[..], v);
    }
    let again = pairs::encode(&decoded);
    assert_eq!(
        pairs::decode(&again).as_ref(),
        Some(&decoded),
        "encode/decode round trip"
    );
    for (name, _) in map.pairs().take(8) {
        let expected: Vec<&[u8]> = map
            .pairs()
            .filter(|(n, _)| n == &name)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(map.count(name), expected.len());
        assert_eq!(map.get(name), expected.first().copied());
        assert_eq!(
            map.get(&name.to_ascii_uppercase()),
            expected.first().copied()
        );
        assert_eq!(map.get_all(name).collect::<Vec<_>>(), expected);
    }
}

fn source_checks(map: &HeaderMap) {
    // The host never delivers CR, LF or NUL in a value (Envoy's codecs refuse them), and an edit
    // carrying one is dropped: a `:path` with a NUL cannot be rewritten without its parameter.
    let deliverable = map
        .pairs()
        .all(|(_, v)| filter_core::headers::is_safe_value(v));
    for src in [
        Source::Bearer,
        Source::Header("x-api-key".into()),
        Source::Query("api_key".into()),
        Source::Cookie("access_token".into()),
    ] {
        let found = src.find(map);
        let mut stripped = map.clone();
        src.strip(&mut stripped);
        if deliverable {
            assert_eq!(
                src.find(&stripped),
                Found::Absent,
                "{src:?} found after strip"
            );
        }
        if let Found::One(v) = found {
            if let Source::Query(_) = src {
                // What a parameter decodes to, encoded again, decodes the same.
                assert_eq!(
                    source::percent_decode(percent_encode(&v).as_bytes()),
                    Some(v)
                );
            }
        }
    }
    if let Some(path) = map.path() {
        let (base, query) = source::split_query(path);
        assert!(!base.contains(&b'?'));
        if let Some(q) = query {
            assert_eq!(base.len() + 1 + q.len(), path.len());
        }
    }
}

fn routing_checks(setup: &Setup, map: &HeaderMap) {
    let config = &setup.routing;
    if let Ok(target) = filter_routing::target::parse(map.path(), config.max_path_bytes) {
        assert!(target.path.starts_with('/'));
        if let Ok(resolved) = filter_routing::resolve::resolve(config, &target, map) {
            assert!(resolved.version < config.versions.len());
        }
        let _ = target.without_first_segment();
    }
}

fn quota_checks(setup: &Setup, map: &HeaderMap) {
    let config = &setup.quota;
    let route = filter_quota::cost::match_route(&config.routes, map);
    if let Ok(cost) = filter_quota::cost::request_cost(config, route, map) {
        let bounded = (config.cost.min..=config.cost.max).contains(&cost);
        assert!(
            cost == 1 || bounded || route.and_then(|r| r.cost) == Some(cost),
            "cost {cost}"
        );
    }
    for (_, value) in map.pairs().take(4) {
        let host = filter_quota::key::strip_port(value);
        assert!(value.windows(host.len().max(1)).any(|w| w == host) || host.is_empty());
        assert!(filter_quota::key::bucket(value, 16) < 16);
        if let Some(amount) = filter_quota::cost::parse_amount(value) {
            assert_eq!(amount.to_string().parse::<u64>().ok(), Some(amount));
        }
    }
}

fn label_checks(map: &HeaderMap) {
    use filter_analytics::labels;
    for (_, value) in map.pairs().take(8) {
        let label = labels::sanitize(value, "fallback");
        assert!(labels::is_label_safe(&label), "label {label:?}");
    }
    let _ = labels::method_label(map.method());
    let _ = labels::status_class(map.status());
}

/// The value a header has after the stream's edits.
fn final_value(map: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    map.get(name).map(<[u8]>::to_vec)
}

fn chain_checks(setup: &mut Setup, map: &HeaderMap) {
    let mut headers = map.clone();
    let client: Vec<(String, Option<Vec<u8>>)> = IDENTITY_HEADERS
        .iter()
        .map(|h| (h.to_string(), final_value(map, h)))
        .collect();
    let mut stream = GatewayPlugin::new_stream(&setup.gateway);
    let decision = stream.on_request_headers(&mut headers, true, &mut setup.host);
    if decision == Decision::Continue {
        // Every identity header that leaves was set (not added or kept) by the chain.
        for (name, _) in &client {
            let value = final_value(&headers, name);
            if value.is_none() {
                continue;
            }
            assert_eq!(headers.count(name), 1, "{name} twice");
            let set_by_chain = headers
                .edits()
                .filter(|e| matches!(e, HeaderEdit::Set(n, _) | HeaderEdit::Remove(n) | HeaderEdit::Add(n, _) if n == name))
                .last();
            assert!(
                matches!(set_by_chain, Some(HeaderEdit::Set(_, v)) if Some(v.to_vec()) == value),
                "{name} reached upstream as the client sent it: {:?}",
                String::from_utf8_lossy(value.as_deref().unwrap_or_default())
            );
        }
        if let Some(consumer) = final_value(&headers, "x-gateway-consumer") {
            let consumer = String::from_utf8(consumer).expect("consumer ids are text");
            let plan =
                plan_of(&consumer).unwrap_or_else(|| panic!("unknown consumer {consumer:?}"));
            assert_eq!(
                final_value(&headers, "x-gateway-plan").as_deref(),
                Some(plan.as_bytes())
            );
        } else {
            assert_eq!(
                final_value(&headers, "x-gateway-plan"),
                None,
                "a plan without a consumer"
            );
        }
        let mut response = HeaderMap::from_pairs([(":status", "200")]);
        let _ = stream.on_response_headers(&mut response, true, &mut setup.host);
    }
    stream.on_log(&mut setup.host);
}

fuzz_target!(|data: &[u8]| {
    let Some(map) = HeaderMap::from_wire(data.to_vec()) else {
        assert!(
            pairs::decode(data).is_none(),
            "pairs decoded what the map refused"
        );
        return;
    };
    map_checks(data, &map);
    source_checks(&map);
    label_checks(&map);
    SETUP.with(|setup| {
        let mut setup = setup.borrow_mut();
        routing_checks(&setup, &map);
        quota_checks(&setup, &map);
        chain_checks(&mut setup, &map);
    });
});
