//! Invariants over generated hostile requests: no input panics the filter, a forwarded request
//! always goes to a configured cluster of a served version with a safe path, and every refusal
//! is a well-formed problem.

use super::*;
use crate::config::tests::EXAMPLE;
use filter_core::{FakeHost, HeaderEdit};

/// xorshift64*: a fixed, seedable generator so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
}

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

fn request(rng: &mut Rng) -> HeaderMap {
    let mut path = Vec::new();
    if rng.below(10) != 0 {
        path.push(b'/');
    }
    for _ in 0..rng.below(8) {
        path.extend_from_slice(rng.pick(PATH_PARTS));
    }
    if rng.below(50) == 0 {
        path.extend(std::iter::repeat_n(b'a', 9000));
    }
    let mut pairs: Vec<(String, Vec<u8>)> = vec![(":method".into(), b"GET".to_vec())];
    if rng.below(30) != 0 {
        pairs.push((":path".into(), path));
    }
    for _ in 0..rng.below(6) {
        let name = String::from_utf8_lossy(rng.pick(NAMES)).into_owned();
        let mut value = rng.pick(VALUES).to_vec();
        if rng.below(40) == 0 {
            value = vec![b'v'; 70 * 1024];
        }
        pairs.push((name, value));
    }
    HeaderMap::from_pairs(pairs)
}

#[test]
fn hostile_requests_never_reach_an_unconfigured_backend() {
    let mut host = FakeHost::new();
    let plugin = Rc::new(RoutingPlugin::configure(EXAMPLE.as_bytes(), &mut host).unwrap());
    let config = &plugin.config;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut forwarded, mut refused) = (0, 0);
    for i in 0..20_000 {
        let mut headers = request(&mut rng);
        let original = headers.clone();
        let mut stream = RoutingPlugin::new_stream(&plugin);
        let decision = stream.on_request_headers(&mut headers, true, &mut host);
        let ctx = || format!("case {i}: {original:?}");
        match decision {
            Decision::Continue => {
                forwarded += 1;
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
                refused += 1;
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
        stream.on_response_headers(&mut response, true, &mut host);
        for (_, v) in response.pairs() {
            assert!(filter_core::headers::is_safe_value(v), "{}", ctx());
        }
    }
    assert!(
        forwarded > 1000 && refused > 1000,
        "{forwarded} forwarded, {refused} refused"
    );
}
