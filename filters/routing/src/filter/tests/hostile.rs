//! Invariants over generated hostile requests (proptest, from a fixed seed): no input panics the
//! filter, a forwarded request always goes to a configured cluster of a served version with a
//! safe path, and every refusal is a well-formed problem. A failing request is shrunk to a
//! smallest one before it is reported.

use super::*;
use crate::config::tests::EXAMPLE;
use filter_core::{FakeHost, HeaderEdit};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;

const PATH_PARTS: &[&[u8]] = &[
    b"/",
    b"/",
    b"/",
    b"v1",
    b"v2",
    b"V1",
    b"v0",
    b"v1beta",
    b"v9",
    b"1",
    b"users",
    b"..",
    b".",
    b"%2e",
    b"%2E",
    b"%2F",
    b"%2f",
    b"%5c",
    b"%5C",
    b"%25",
    b"%00",
    b"%76",
    b"%",
    b";p=1",
    b"\\",
    b"//",
    b"?",
    b"x=/v2",
    b"&",
    b"api-version=",
    b"api-version=v2",
    b"#",
    b"\0",
    b"\r\n",
    b"\xc3\xa9",
    b"\xff",
    b"*",
    b"http://h",
    b" ",
    b"\t",
];

const VALUES: &[&[u8]] = &[
    b"v1",
    b"v2",
    b"2",
    b"V2",
    b"v0",
    b"v1beta",
    b"v9",
    b"",
    b" v2 ",
    b"v2, v1",
    b"\xff",
    b"\r\nx: y",
    b"two",
    b"99999999999999999999999999999999999999",
    b"application/vnd.shop.v2+json",
    b"application/vnd.shop.v1+json, application/vnd.shop.v2+json",
    b"staff",
    b"partners",
    b"gw_version_key=abc",
    b"gw_version_key=\"",
    b"alice",
    b"anonymous",
    b"api_admin",
];

const NAMES: &[&[u8]] = &[
    b"api-version",
    b"accept",
    b"x-gateway-consumer",
    b"x-gateway-groups",
    b"x-gateway-credential",
    b"x-api-version-override",
    b"cookie",
    b"x-sticky-key",
    b"x-gateway-cluster",
    b"x-gateway-version",
];

/// Generated requests: a `:path` (missing one time in 30) of up to 7 parts, starting with `/`
/// nine times in ten and 9,000 bytes longer one time in 50, then up to 5 headers from the names
/// and values above, a value being 70 KiB one time in 40.
fn request() -> impl Strategy<Value = HeaderMap> {
    let path = (
        prop::bool::weighted(0.9),
        prop::collection::vec(select(PATH_PARTS), 0..8),
        prop::bool::weighted(1.0 / 50.0),
    )
        .prop_map(|(slash, parts, long)| {
            let mut path = Vec::new();
            if slash {
                path.push(b'/');
            }
            for part in parts {
                path.extend_from_slice(part);
            }
            if long {
                path.extend(std::iter::repeat_n(b'a', 9000));
            }
            path
        });
    let header = (
        select(NAMES),
        select(VALUES),
        prop::bool::weighted(1.0 / 40.0),
    )
        .prop_map(|(name, value, huge)| {
            let name = String::from_utf8_lossy(name).into_owned();
            let value = if huge {
                vec![b'v'; 70 * 1024]
            } else {
                value.to_vec()
            };
            (name, value)
        });
    (
        prop::option::weighted(29.0 / 30.0, path),
        prop::collection::vec(header, 0..6),
    )
        .prop_map(|(path, headers)| {
            let mut pairs: Vec<(String, Vec<u8>)> = vec![(":method".into(), b"GET".to_vec())];
            if let Some(path) = path {
                pairs.push((":path".into(), path));
            }
            pairs.extend(headers);
            HeaderMap::from_pairs(pairs)
        })
}

#[test]
fn hostile_requests_never_reach_an_unconfigured_backend() {
    let mut host = FakeHost::new();
    let plugin = Rc::new(RoutingPlugin::configure(EXAMPLE.as_bytes(), &mut host).unwrap());
    let config = &plugin.config;
    let host = RefCell::new(host);
    let (forwarded, refused, case) = (Cell::new(0), Cell::new(0), Cell::new(0));
    // A fixed seed, so a run and its failures reproduce; no regression files are written.
    let settings = RunnerConfig {
        cases: 20_000,
        failure_persistence: None,
        ..RunnerConfig::default()
    };
    let mut runner =
        TestRunner::new_with_rng(settings, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let result = runner.run(&request(), |mut headers| {
        let host = &mut *host.borrow_mut();
        let i = case.replace(case.get() + 1);
        let original = headers.clone();
        let mut stream = RoutingPlugin::new_stream(&plugin);
        let decision = stream.on_request_headers(&mut headers, true, host);
        let ctx = || format!("case {i}: {original:?}");
        match decision {
            Decision::Continue => {
                forwarded.set(forwarded.get() + 1);
                let clusters: Vec<_> = headers.get_all("x-gateway-cluster").collect();
                let versions: Vec<_> = headers.get_all("x-gateway-version").collect();
                assert_eq!((clusters.len(), versions.len()), (1, 1), "{}", ctx());
                let v = config
                    .versions
                    .iter()
                    .find(|v| v.name.as_bytes() == versions[0])
                    .unwrap_or_else(|| panic!("unconfigured version: {}", ctx()));
                assert_eq!(
                    v.cluster.as_deref().map(str::as_bytes),
                    Some(clusters[0]),
                    "{}",
                    ctx()
                );
                assert!(
                    !config.is_retired(config.find(&v.name).unwrap(), host.now),
                    "{}",
                    ctx()
                );
                let path = headers.path();
                assert!(
                    crate::target::parse(path, usize::MAX).is_ok(),
                    "forwarded path must still be unambiguous: {}",
                    ctx()
                );
                assert!(!headers.contains("x-api-version-override"), "{}", ctx());
            }
            Decision::Respond(reply) => {
                refused.set(refused.get() + 1);
                assert!(matches!(reply.status, 400 | 404 | 410 | 414), "{}", ctx());
                let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
                assert!(
                    body["type"]
                        .as_str()
                        .unwrap()
                        .starts_with("urn:gateway:problem:"),
                    "{}",
                    ctx()
                );
                assert_eq!(
                    reply.safe_headers().count(),
                    reply.headers.len(),
                    "{}",
                    ctx()
                );
            }
            Decision::Pause => panic!("the filter never pauses: {}", ctx()),
        }
        for edit in headers.edits() {
            if let HeaderEdit::Set(_, v) | HeaderEdit::Add(_, v) = edit {
                assert!(filter_core::headers::is_safe_value(v), "{}", ctx());
            }
        }
        let mut response = HeaderMap::from_pairs([(":status", "200")]);
        stream.on_response_headers(&mut response, true, host);
        for (_, v) in response.pairs() {
            assert!(filter_core::headers::is_safe_value(v), "{}", ctx());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (forwarded, refused) = (forwarded.get(), refused.get());
    assert!(
        forwarded > 1000 && refused > 1000,
        "{forwarded} forwarded, {refused} refused"
    );
}
