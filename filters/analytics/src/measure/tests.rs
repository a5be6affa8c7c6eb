//! Tests of measuring a request: API matching, Envoy properties and their fallbacks, hostile
//! values.

use super::*;
use filter_core::{FakeHost, HeaderMap};

fn config() -> Config {
    crate::config::parse(
        br#"{"apis":[
            {"name":"orders","path_prefixes":["/orders","/v1/orders","/v2/orders"]},
            {"name":"root","path_prefixes":["/static/"]}
        ]}"#,
    )
    .unwrap()
}

fn le(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

#[test]
fn decode_int_cases() {
    let cases: &[(&[u8], Option<i64>, &str)] = &[
        (&le(200), Some(200), "Envoy little-endian"),
        (&le(-1), Some(-1), "negative"),
        (b"404", Some(404), "ASCII decimal"),
        (b"12345678", Some(12_345_678), "8 ASCII digits are decimal"),
        (b"", None, "empty"),
        (b"12x", None, "junk"),
        (&[1, 2, 3], None, "short binary"),
        (b"99999999999999999999", None, "decimal overflow"),
    ];
    for (input, want, why) in cases {
        assert_eq!(decode_int(input), *want, "{why}");
    }
}

#[test]
fn api_matching() {
    let c = config();
    type Case<'a> = (&'a [u8], Option<(&'a str, &'a str)>, &'a str);
    let cases: &[Case] = &[
        (b"/orders", Some(("orders", "/orders")), "exact"),
        (b"/orders/1", Some(("orders", "/orders")), "below"),
        (b"/orders?x=/v2", Some(("orders", "/orders")), "query"),
        (
            b"/v2/orders/7",
            Some(("orders", "/v2/orders")),
            "versioned prefix",
        ),
        (b"/ordersx", None, "no segment boundary"),
        (
            b"/static/a.css",
            Some(("root", "/static/")),
            "prefix ending in slash",
        ),
        (b"/static", None, "shorter than prefix"),
        (b"", None, "empty path"),
        (b"*", None, "asterisk form"),
        (b"http://h/orders", None, "absolute form"),
    ];
    for (path, want, why) in cases {
        let got = match_api(&c.apis, path).map(|(a, p)| (a.name.as_str(), p));
        assert_eq!(got, *want, "{why}");
    }
}

fn host_with(req: &[(&str, &[u8])], resp: &[(&str, &[u8])]) -> FakeHost {
    let mut h = FakeHost::new();
    h.headers.insert(
        HeaderKind::Request,
        HeaderMap::from_pairs(req.iter().map(|(k, v)| (*k, v.to_vec()))),
    );
    h.headers.insert(
        HeaderKind::Response,
        HeaderMap::from_pairs(resp.iter().map(|(k, v)| (*k, v.to_vec()))),
    );
    h
}

#[test]
fn upstream_response_with_envoy_properties() {
    let mut h = host_with(
        &[
            (":method", b"GET"),
            (":path", b"/v2/orders/1?api_key=secret"),
            ("x-gateway-consumer", b"alice"),
            ("x-gateway-plan", b"gold"),
            ("x-gateway-version", b"v2"),
            ("x-request-id", b"r-1"),
        ],
        &[(":status", b"200"), ("x-envoy-upstream-service-time", b"7")],
    );
    h.set_prop("response.code", le(200));
    h.set_prop("response.code_details", "via_upstream");
    h.set_prop("request.total_size", le(120));
    h.set_prop("response.total_size", le(3400));
    h.set_prop("request.duration", le(9_500_000));
    h.set_prop("xds.route_name", "orders_v2");
    let m = Measurement::collect(&config(), Seen::default(), &h);
    assert_eq!(m.consumer.as_deref(), Some(&b"alice"[..]));
    assert_eq!(m.plan.as_deref(), Some(&b"gold"[..]));
    assert_eq!(m.api, "orders");
    assert_eq!(m.version.as_deref(), Some(&b"v2"[..]));
    assert_eq!(m.route.as_deref(), Some(&b"orders_v2"[..]));
    assert_eq!(
        m.path.as_deref(),
        Some(&b"/v2/orders/1"[..]),
        "query never kept"
    );
    assert_eq!(m.status, Some(200));
    assert!(!m.local);
    assert_eq!(m.auth, AuthOutcome::Ok);
    assert_eq!(m.quota, QuotaOutcome::Ok);
    assert_eq!(m.request_bytes, Some(120));
    assert_eq!(m.response_bytes, Some(3400));
    assert_eq!(m.duration, Some(Duration::from_micros(9500)));
    assert_eq!(m.upstream, Some(Duration::from_millis(7)));
}

#[test]
fn local_replies_and_outcomes() {
    let cases: &[(u16, &str, bool, AuthOutcome, QuotaOutcome, &str)] = &[
        (
            401,
            "gateway_missing_credentials",
            false,
            AuthOutcome::Denied,
            QuotaOutcome::None,
            "auth 401",
        ),
        (
            403,
            "gateway_forbidden",
            false,
            AuthOutcome::Denied,
            QuotaOutcome::None,
            "acl 403",
        ),
        (
            429,
            "gateway_quota_exceeded",
            true,
            AuthOutcome::Ok,
            QuotaOutcome::Exceeded,
            "quota 429",
        ),
        (
            404,
            "gateway_unknown_version",
            true,
            AuthOutcome::Ok,
            QuotaOutcome::Ok,
            "routing 404",
        ),
        (
            503,
            "gateway_keys_unavailable",
            false,
            AuthOutcome::None,
            QuotaOutcome::None,
            "auth 503",
        ),
        (
            404,
            "route_not_found",
            false,
            AuthOutcome::None,
            QuotaOutcome::None,
            "envoy local reply",
        ),
    ];
    for (status, details, identified, auth, quota, why) in cases {
        let mut req: Vec<(&str, &[u8])> = vec![(":path", b"/orders"), (":method", b"GET")];
        if *identified {
            req.push(("x-gateway-consumer", b"bob"));
        }
        let mut h = host_with(&req, &[(":status", status.to_string().as_bytes())]);
        h.set_prop("response.code", le(i64::from(*status)));
        h.set_prop("response.code_details", *details);
        let m = Measurement::collect(&config(), Seen::default(), &h);
        assert!(m.local, "{why}");
        assert_eq!(m.status, Some(*status), "{why}");
        assert_eq!(m.auth, *auth, "{why}");
        assert_eq!(m.quota, *quota, "{why}");
        assert_eq!(m.details.as_deref(), Some(details.as_bytes()), "{why}");
    }
}

#[test]
fn fallbacks_without_envoy_properties() {
    let mut h = host_with(
        &[(":path", b"/orders"), ("content-length", b"42")],
        &[(":status", b"201"), ("content-length", b" 10 ")],
    );
    h.set_prop("request.time", le(1_767_225_600_000_000_000 - 2_000_000));
    let m = Measurement::collect(&config(), Seen::default(), &h);
    assert_eq!(m.status, Some(201));
    assert!(m.local, "no upstream header and no details: local");
    assert_eq!(m.request_bytes, Some(42));
    assert_eq!(m.response_bytes, Some(10));
    assert_eq!(
        m.duration,
        Some(Duration::from_millis(2)),
        "now - request.time"
    );
    assert_eq!(
        m.route.as_deref(),
        Some(&b"/orders"[..]),
        "matched prefix as route"
    );

    let mut h = host_with(&[], &[]);
    let seen = Seen {
        path: Some(b"/v1/orders".to_vec()),
        method: Some(b"POST".to_vec()),
        started: Some(h.now),
        headers: None,
    };
    h.advance(Duration::from_millis(5));
    h.set_prop("request.duration", le(9_000_000));
    let m = Measurement::collect(&config(), seen, &h);
    assert_eq!(m.api, "orders", "path seen in on_request_headers");
    assert_eq!(m.status, None);
    assert!(!m.local);
    assert_eq!(
        m.duration,
        Some(Duration::from_millis(5)),
        "from when the filter saw the request headers"
    );
    let mut h = host_with(&[], &[]);
    h.set_prop("request.time", le(i64::MAX));
    let m = Measurement::collect(&config(), Seen::default(), &h);
    assert_eq!(
        m.duration,
        Some(Duration::ZERO),
        "request.time in the future saturates"
    );
    assert_eq!(m.request_bytes, None);

    let h = host_with(&[], &[]);
    let seen = Seen {
        started: Some(h.now + Duration::from_secs(9)),
        ..Seen::default()
    };
    let m = Measurement::collect(&config(), seen, &h);
    assert_eq!(m.duration, Some(Duration::ZERO), "clock went backwards");
    assert_eq!(m.api, "unknown");
}

#[test]
fn hostile_values_are_cut() {
    let big = vec![b'a'; 70_000];
    let mut h = host_with(
        &[
            (":path", &big),
            ("x-gateway-consumer", &big),
            (":method", &big),
        ],
        &[],
    );
    h.set_prop("response.code", le(-5));
    h.set_prop("request.duration", le(-1));
    let m = Measurement::collect(&config(), Seen::default(), &h);
    assert_eq!(m.path.unwrap().len(), MAX_PATH);
    assert_eq!(m.consumer.unwrap().len(), MAX_FIELD);
    assert_eq!(m.method.unwrap().len(), 32);
    assert_eq!(m.status, None, "negative status ignored");
    assert_eq!(m.duration, None, "negative duration ignored");
}

#[test]
fn header_fields_seen_in_the_request_are_not_read_again() {
    let request = HeaderMap::from_pairs([
        ("x-request-id", "r-1"),
        ("x-gateway-consumer", "alice"),
        ("x-gateway-plan", ""),
    ]);
    let cfg = config();
    let seen = Seen {
        headers: Some(SeenHeaders::capture(&cfg, &request)),
        ..Seen::default()
    };
    // What the host holds at the end of the stream differs: the captured fields win, and only
    // the version (absent when the request passed) is read from the host.
    let h = host_with(
        &[
            ("x-gateway-consumer", b"mallory"),
            ("x-gateway-plan", b"gold"),
            ("x-gateway-version", b"v2"),
        ],
        &[],
    );
    let m = Measurement::collect(&cfg, seen, &h);
    assert_eq!(m.consumer.as_deref(), Some(&b"alice"[..]));
    assert_eq!(m.request_id.as_deref(), Some(&b"r-1"[..]));
    assert_eq!(m.plan, None, "empty when seen: not read again");
    assert_eq!(m.version.as_deref(), Some(&b"v2"[..]), "read at the end");
}

#[test]
fn the_version_is_the_one_forwarded_never_the_one_a_client_sent() {
    let cfg = config();
    let request =
        HeaderMap::from_pairs([("x-gateway-consumer", "alice"), ("x-gateway-version", "v9")]);
    let seen = || Seen {
        headers: Some(SeenHeaders::capture(&cfg, &request)),
        ..Seen::default()
    };
    // Separate filters: routing, after analytics, replaced the client's value; read at the end.
    let h = host_with(&[("x-gateway-version", b"v2")], &[]);
    let m = Measurement::collect(&cfg, seen(), &h);
    assert_eq!(m.version.as_deref(), Some(&b"v2"[..]));
    // In a chain, the forwarded headers say it, present or not, and nothing is read at the end.
    for (forwarded, want) in [(Some("v1"), Some(&b"v1"[..])), (None, None)] {
        let mut s = seen();
        let out = HeaderMap::from_pairs(forwarded.map(|v| ("x-gateway-version", v)));
        if let Some(headers) = s.headers.as_mut() {
            headers.forwarded(&cfg, &out);
        }
        assert_eq!(Measurement::collect(&cfg, s, &h).version.as_deref(), want);
    }
}
