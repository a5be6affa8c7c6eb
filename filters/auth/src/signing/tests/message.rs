//! RFC 9421 message signatures: the RFC's own HMAC vector, signatures built by hand, every
//! covered component tampered with, times, keys, bounds and malformed fields.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use filter_core::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::signing::message::{content_digest, covers, sign, MessageSignatures, MAX_FIELD_BYTES};
use crate::signing::{
    body_matches, BodyDigest, HmacAlg, HmacConfig, SigningError, SigningKey, SigningString,
    Verified,
};

const SECRET: &[u8] = b"bob-hmac-secret-0123456789abcdef";
const NOW: u64 = 1_767_225_600;

/// RFC 9421 appendix B.1.5, `test-shared-secret`.
const B15_SECRET: &str =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
/// RFC 9421 appendix B.2: the test request's time of signing.
const B2_CREATED: u64 = 1_618_884_473;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn config(required: &[&str], body_digest: BodyDigest) -> HmacConfig {
    HmacConfig {
        clock_skew: Duration::from_secs(300),
        required_headers: vec!["(request-target)".into()],
        algorithms: vec![HmacAlg::Sha256],
        body_digest,
        strip: true,
        max_body_bytes: 1024,
        keys: vec![
            SigningKey {
                key_id: "alice-hmac".into(),
                secret: b"alice-hmac-secret-0123456789abcd".to_vec(),
                consumer: 0,
            },
            SigningKey {
                key_id: "bob-hmac".into(),
                secret: SECRET.to_vec(),
                consumer: 1,
            },
            SigningKey {
                key_id: "test-shared-secret".into(),
                secret: STANDARD.decode(B15_SECRET).unwrap(),
                consumer: 2,
            },
        ],
        signing_string: SigningString::Draft,
        message: Some(MessageSignatures {
            required: required.iter().map(|r| r.to_string()).collect(),
            max_signatures: 4,
            tag: None,
        }),
    }
}

fn default_config() -> HmacConfig {
    config(
        &["@method", "@authority", "@path", "@query"],
        BodyDigest::IfSigned,
    )
}

fn mac(secret: &[u8], base: &str) -> String {
    let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(secret).unwrap();
    m.update(base.as_bytes());
    STANDARD.encode(m.finalize().into_bytes())
}

/// RFC 9421 appendix B.2's test request, as Envoy hands it to the filter.
fn b2_request(signature_input: &str, signature: &str) -> HeaderMap {
    HeaderMap::from_pairs([
        (":method", "POST"),
        (":path", "/foo?param=Value&Pet=dog"),
        (":authority", "example.com"),
        (":scheme", "https"),
        ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
        ("content-type", "application/json"),
        (
            "content-digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        ),
        ("content-length", "18"),
        ("signature-input", signature_input),
        ("signature", signature),
    ])
}

const B25_INPUT: &str =
    r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#;
const B25_SIGNATURE: &str = "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:";

#[test]
fn rfc9421_b25_hmac_sha256_verifies() {
    let h = b2_request(B25_INPUT, B25_SIGNATURE);
    let cfg = config(&["@authority"], BodyDigest::IfSigned);
    let ok = Ok(Verified {
        consumer: 2,
        body_digest: None,
    });
    assert_eq!(cfg.verify_message(&h, at(B2_CREATED)), ok);
    assert_eq!(cfg.verify_message(&h, at(B2_CREATED + 300)), ok);
    assert_eq!(
        cfg.verify_message(&h, at(B2_CREATED + 301)),
        Err(SigningError::Created),
        "created is older than the skew"
    );
    assert_eq!(
        cfg.verify_message(&h, at(B2_CREATED - 301)),
        Err(SigningError::Created),
        "created is in the future"
    );
    // The vector covers neither the method nor the path: refused by the default requirement.
    assert_eq!(
        default_config().verify_message(&h, at(B2_CREATED)),
        Err(SigningError::Components)
    );
    // The signature base built here is the RFC's, byte for byte (its MAC is the RFC's).
    let (input, signature) = sign(
        &STANDARD.decode(B15_SECRET).unwrap(),
        &["date", "@authority", "content-type"],
        r#";created=1618884473;keyid="test-shared-secret""#,
        &h,
    );
    assert_eq!(input, B25_INPUT.replace("sig-b25", "sig1"));
    assert_eq!(signature, B25_SIGNATURE.replace("sig-b25", "sig1"));

    // Each covered value changed after signing.
    for (name, value) in [
        ("date", "Tue, 20 Apr 2021 02:07:56 GMT"),
        (":authority", "example.org"),
        ("content-type", "application/json; charset=utf-8"),
    ] {
        let mut t = h.clone();
        t.set(name, value);
        let t = HeaderMap::from_pairs(t.pairs().map(|(n, v)| (n.to_owned(), v.to_vec())));
        assert_eq!(
            cfg.verify_message(&t, at(B2_CREATED)),
            Err(SigningError::Signature),
            "{name} changed"
        );
    }
    // The RFC's content digest (appendix B.2, sha-512) is the body's.
    let digest = content_digest(h.get("content-digest").unwrap()).unwrap();
    assert!(body_matches(&digest, br#"{"hello": "world"}"#));
    assert!(!body_matches(&digest, br#"{"hello": "World"}"#));
}

/// A request as a client signs it: covered components and parameters written out by hand.
struct Client {
    method: &'static str,
    path: &'static str,
    authority: &'static str,
    scheme: &'static str,
    extra: Vec<(&'static str, String)>,
}

impl Client {
    fn post() -> Self {
        let body_digest = STANDARD.encode(Sha256::digest(b"{\"amount\":10}"));
        Self {
            method: "POST",
            path: "/signed/x?a=1&b=two",
            authority: "gateway.example:8443",
            scheme: "https",
            extra: vec![
                ("content-type", "application/json".into()),
                ("content-digest", format!("sha-256=:{body_digest}:")),
            ],
        }
    }

    fn headers(&self, input: &str, signature: &str) -> HeaderMap {
        let mut pairs: Vec<(String, String)> = vec![
            (":method".into(), self.method.into()),
            (":path".into(), self.path.into()),
            (":authority".into(), self.authority.into()),
            (":scheme".into(), self.scheme.into()),
        ];
        pairs.extend(self.extra.iter().map(|(n, v)| (n.to_string(), v.clone())));
        pairs.push(("signature-input".into(), input.into()));
        pairs.push(("signature".into(), signature.into()));
        HeaderMap::from_pairs(pairs)
    }
}

/// A change made to a signed request.
type Change = fn(&mut Client);

/// `(Signature-Input, Signature)` for `lines` (the covered components' lines of the base, as a
/// client writes them) and the serialized `@signature-params`.
fn signed(label: &str, secret: &[u8], lines: &[&str], params: &str) -> (String, String) {
    let mut base = String::new();
    for l in lines {
        base.push_str(l);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(params);
    (
        format!("{label}={params}"),
        format!("{label}=:{}:", mac(secret, &base)),
    )
}

fn full_lines(created: u64) -> (Vec<String>, String) {
    let digest = STANDARD.encode(Sha256::digest(b"{\"amount\":10}"));
    (
        vec![
            "\"@method\": POST".into(),
            "\"@target-uri\": https://gateway.example:8443/signed/x?a=1&b=two".into(),
            "\"@authority\": gateway.example:8443".into(),
            "\"@scheme\": https".into(),
            "\"@request-target\": /signed/x?a=1&b=two".into(),
            "\"@path\": /signed/x".into(),
            "\"@query\": ?a=1&b=two".into(),
            "\"content-type\": application/json".into(),
            format!("\"content-digest\": sha-256=:{digest}:"),
        ],
        format!(
            r#"("@method" "@target-uri" "@authority" "@scheme" "@request-target" "@path" "@query" "content-type" "content-digest");created={created};keyid="bob-hmac";alg="hmac-sha256";nonce="n-1";tag="app""#
        ),
    )
}

#[test]
fn every_component_a_client_signs_verifies_and_each_change_is_refused() {
    let (lines, params) = full_lines(NOW);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (input, signature) = signed("sig1", SECRET, &lines, &params);
    let client = Client::post();
    let cfg = default_config();
    let v = cfg
        .verify_message(&client.headers(&input, &signature), at(NOW))
        .unwrap();
    assert_eq!(v.consumer, 1);
    let digest = v
        .body_digest
        .expect("content-digest covered: the body is checked");
    assert!(body_matches(&digest, b"{\"amount\":10}"));
    assert!(!body_matches(&digest, b"{\"amount\":1000}"));

    let changes: Vec<(&str, Change)> = vec![
        ("@method", |c| c.method = "PUT"),
        ("@path", |c| c.path = "/signed/y?a=1&b=two"),
        ("@query", |c| c.path = "/signed/x?a=2&b=two"),
        ("query added", |c| c.path = "/signed/x?a=1&b=two&c=3"),
        ("@authority", |c| c.authority = "evil.example:8443"),
        ("@scheme", |c| c.scheme = "http"),
        ("content-type", |c| c.extra[0].1 = "text/plain".into()),
        ("content-digest", |c| {
            let d = STANDARD.encode(Sha256::digest(b"{\"amount\":1000}"));
            c.extra[1].1 = format!("sha-256=:{d}:");
        }),
        ("a covered header repeated", |c| {
            c.extra.push(("content-type", "text/plain".into()))
        }),
    ];
    for (what, change) in changes {
        let mut c = Client::post();
        change(&mut c);
        assert_eq!(
            cfg.verify_message(&c.headers(&input, &signature), at(NOW)),
            Err(SigningError::Signature),
            "{what} changed"
        );
    }
    let mut c = Client::post();
    c.extra.remove(0);
    assert_eq!(
        cfg.verify_message(&c.headers(&input, &signature), at(NOW)),
        Err(SigningError::Components),
        "a covered header removed"
    );
    // A parameter changed in Signature-Input (the MAC covers `@signature-params`).
    for (from, to) in [
        (";created=1767225600", ";created=1767225601"),
        (";nonce=\"n-1\"", ";nonce=\"n-2\""),
        (";tag=\"app\"", ";tag=\"other\""),
        (";tag=\"app\"", ""),
        (" \"content-digest\"", ""),
    ] {
        let tampered = input.replace(from, to);
        assert_ne!(tampered, input);
        assert_eq!(
            cfg.verify_message(&client.headers(&tampered, &signature), at(NOW)),
            Err(SigningError::Signature),
            "{from} -> {to}"
        );
    }
    // Another key's secret, and an unknown key id.
    let (input2, signature2) = signed("sig1", b"not-bobs-secret-0123456789abcdef", &lines, &params);
    assert_eq!(
        cfg.verify_message(&client.headers(&input2, &signature2), at(NOW)),
        Err(SigningError::Signature),
        "wrong secret"
    );
    let unknown = params.replace("bob-hmac", "eve-hmac");
    let (input3, signature3) = signed("sig1", SECRET, &lines, &unknown);
    assert_eq!(
        cfg.verify_message(&client.headers(&input3, &signature3), at(NOW)),
        Err(SigningError::UnknownKey)
    );
}

#[test]
fn created_and_expires_are_enforced_with_the_skew() {
    let client = Client::post();
    let cfg = default_config();
    let lines = [
        "\"@method\": POST",
        "\"@target-uri\": https://gateway.example:8443/signed/x?a=1&b=two",
    ];
    let check = |params: &str, now: u64| {
        let (input, signature) = signed("sig1", SECRET, &lines, params);
        cfg.verify_message(&client.headers(&input, &signature), at(now))
            .map(|v| v.consumer)
    };
    let p = |rest: &str| format!(r#"("@method" "@target-uri"){rest};keyid="bob-hmac""#);
    assert_eq!(check(&p(";created=1767225600"), NOW), Ok(1));
    assert_eq!(check(&p(";created=1767225900"), NOW), Ok(1), "300 s ahead");
    assert_eq!(
        check(&p(";created=1767225901"), NOW),
        Err(SigningError::Created),
        "future created"
    );
    assert_eq!(
        check(&p(";created=1767225299"), NOW),
        Err(SigningError::Created),
        "older than the skew"
    );
    assert_eq!(check(&p(""), NOW), Err(SigningError::Created), "no created");
    assert_eq!(
        check(&p(";created=-5"), NOW),
        Err(SigningError::Created),
        "negative created"
    );
    assert_eq!(
        check(&p(";created=\"1767225600\""), NOW),
        Err(SigningError::Malformed),
        "created as a string"
    );
    let expires = p(";created=1767225600;expires=1767225610");
    assert_eq!(check(&expires, NOW + 10), Ok(1));
    assert_eq!(
        check(&expires, NOW + 11),
        Err(SigningError::Expired),
        "expired, though created is within the skew"
    );
    assert_eq!(
        check(&p(";created=1767225600;expires=1767225599"), NOW),
        Err(SigningError::Malformed),
        "expires before created"
    );
    assert_eq!(
        check(&p(";created=999999999999999;expires=999999999999999"), NOW),
        Err(SigningError::Created),
        "far future, no overflow"
    );
}

#[test]
fn required_components_algorithms_tags_and_labels() {
    let client = Client::post();
    let method = "\"@method\": POST";
    let uri = "\"@target-uri\": https://gateway.example:8443/signed/x?a=1&b=two";
    let path = "\"@path\": /signed/x";
    let authority = "\"@authority\": gateway.example:8443";
    let target = "\"@request-target\": /signed/x?a=1&b=two";
    let verify = |cfg: &HmacConfig, lines: &[&str], params: &str| {
        let (input, signature) = signed("sig1", SECRET, lines, params);
        cfg.verify_message(&client.headers(&input, &signature), at(NOW))
            .map(|v| v.consumer)
    };
    let cfg = default_config();
    let rest = r#";created=1767225600;keyid="bob-hmac""#;
    assert_eq!(
        verify(
            &cfg,
            &[method, authority, target],
            &format!(r#"("@method" "@authority" "@request-target"){rest}"#)
        ),
        Ok(1),
        "@request-target covers @path and @query"
    );
    assert_eq!(
        verify(
            &cfg,
            &[method, authority, path],
            &format!(r#"("@method" "@authority" "@path"){rest}"#)
        ),
        Err(SigningError::Components),
        "@query not covered"
    );
    assert_eq!(
        verify(&cfg, &[uri], &format!(r#"("@target-uri"){rest}"#)),
        Err(SigningError::Components),
        "@method not covered"
    );
    assert!(covers(["@target-uri"].into_iter(), "@scheme"));
    assert!(!covers(["@request-target"].into_iter(), "@authority"));
    assert!(!covers(["@path"].into_iter(), "@query"));

    let both = format!(r#"("@method" "@target-uri"){rest}"#);
    let lines = [method, uri];
    let required = config(&["@method", "@target-uri"], BodyDigest::Required);
    assert_eq!(
        verify(&required, &lines, &both),
        Err(SigningError::Components),
        "body digest required: content-digest must be covered"
    );
    let only384 = HmacConfig {
        algorithms: vec![HmacAlg::Sha384],
        ..default_config()
    };
    assert_eq!(
        verify(&only384, &lines, &both),
        Err(SigningError::Algorithm)
    );
    let alg = |a: &str| format!(r#"("@method" "@target-uri"){rest};alg="{a}""#);
    assert_eq!(verify(&cfg, &lines, &alg("hmac-sha256")), Ok(1));
    for other in ["hmac-sha512", "ed25519", "rsa-pss-sha512"] {
        assert_eq!(
            verify(&cfg, &lines, &alg(other)),
            Err(SigningError::Algorithm),
            "{other}"
        );
    }

    // A configured tag picks the signature; others are passed over.
    let tagged = HmacConfig {
        message: Some(MessageSignatures {
            tag: Some("gateway".into()),
            ..default_config().message.unwrap()
        }),
        ..default_config()
    };
    assert_eq!(
        verify(&tagged, &lines, &both),
        Err(SigningError::UnknownKey),
        "untagged"
    );
    assert_eq!(
        verify(&tagged, &lines, &format!("{both};tag=\"gateway\"")),
        Ok(1)
    );
    assert_eq!(
        verify(&tagged, &lines, &format!("{both};tag=\"other\"")),
        Err(SigningError::UnknownKey)
    );

    // The first label naming a configured key is the one checked, whatever comes first.
    let (input, signature) = signed("mine", SECRET, &lines, &both);
    let proxy_input = format!(r#"proxy=("@method");created=1767225600;keyid="proxy-key", {input}"#);
    let proxy_signature = format!("proxy=:AAAA:, {signature}");
    assert_eq!(
        cfg.verify_message(&client.headers(&proxy_input, &proxy_signature), at(NOW))
            .map(|v| v.consumer),
        Ok(1)
    );
    // Its value must be in Signature under the same label.
    assert_eq!(
        cfg.verify_message(&client.headers(&input, "other=:AAAA:"), at(NOW)),
        Err(SigningError::Malformed)
    );
    // At most max_signatures labels in either field.
    let many: Vec<String> = (0..4)
        .map(|i| format!("p{i}=(\"@method\");keyid=\"x\""))
        .collect();
    let crowded = format!("{}, {input}", many.join(", "));
    assert_eq!(
        cfg.verify_message(&client.headers(&crowded, &signature), at(NOW)),
        Err(SigningError::Malformed),
        "five labels, four allowed"
    );
    let crowded_sig = format!(
        "{}, {signature}",
        (0..4)
            .map(|i| format!("p{i}=:AA==:"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(
        cfg.verify_message(&client.headers(&input, &crowded_sig), at(NOW)),
        Err(SigningError::Malformed)
    );
}

#[test]
fn derived_component_values() {
    // `@authority` is lowercased without the scheme's default port; `@path` of an empty path
    // is `/`; `@query` without a query is `?`; field lines are joined with ", ".
    let h = HeaderMap::from_pairs([
        (":method", "GET"),
        (":path", "/a"),
        (":authority", "API.Example:443"),
        (":scheme", "https"),
        ("x-list", " a "),
        ("x-list", "b"),
    ]);
    let params = r#";created=1767225600;keyid="bob-hmac""#;
    let lines = [
        "\"@authority\": api.example",
        "\"@query\": ?",
        "\"@target-uri\": https://API.Example:443/a",
        "\"x-list\": a, b",
        "\"@method\": GET",
    ];
    let list = r#"("@authority" "@query" "@target-uri" "x-list" "@method")"#;
    let (input, signature) = signed("s", SECRET, &lines, &format!("{list}{params}"));
    let mut h2 = h.clone();
    h2.set("signature-input", input.as_bytes());
    h2.set("signature", signature.as_bytes());
    let h2 = HeaderMap::from_pairs(h2.pairs().map(|(n, v)| (n.to_owned(), v.to_vec())));
    assert_eq!(
        default_config()
            .verify_message(&h2, at(NOW))
            .map(|v| v.consumer),
        Ok(1)
    );
}

#[test]
fn malformed_fields_are_refused_without_panic() {
    let client = Client::post();
    let cfg = default_config();
    let (lines, params) = full_lines(NOW);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let (input, signature) = signed("sig1", SECRET, &lines, &params);
    let refused = |input: &str, signature: &str| {
        cfg.verify_message(&client.headers(input, signature), at(NOW))
    };
    for bad in [
        String::new(),
        "sig1".into(),
        "sig1=".into(),
        "sig1=\"@method\"".into(),
        "sig1=(\"@method\"".into(),
        "sig1=(@method);keyid=\"bob-hmac\"".into(),
        "sig1=(\"@method\";sf);created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"@method\" \"@method\");created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"@Method\");created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"Content-Type\");created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"@status\");created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"@query-param\");created=1767225600;keyid=\"bob-hmac\"".into(),
        "sig1=(\"@method\");created=1767225600;keyid=bob-hmac".into(),
        "sig1=(\"@method\");created=1767225600;keyid=\"bob-hmac\";keyid=\"bob-hmac\"".into(),
        format!("{input}, {input}"),
        format!("{input};x=\u{e9}"),
        input.replace("sig1=", "Sig1="),
        format!(
            "sig1=({});created=1767225600;keyid=\"bob-hmac\"",
            vec!["\"x-a\""; 33].join(" ")
        ),
        format!(
            "sig1=(\"@method\");created=1767225600;keyid=\"bob-hmac\"{}",
            (0..16).map(|i| format!(";p{i}=1")).collect::<String>()
        ),
        format!(
            "sig1=(\"{}\");keyid=\"bob-hmac\"",
            "x".repeat(MAX_FIELD_BYTES)
        ),
    ] {
        let got = refused(&bad, &signature);
        assert!(got.is_err(), "{bad}: {got:?}");
        assert_ne!(
            got,
            Err(SigningError::Signature),
            "{bad}: refused before any MAC"
        );
    }
    for bad in [
        "",
        "sig1",
        "sig1=:not base64:",
        "sig1=\"text\"",
        "sig1=(:AA==:)",
        "sig1=:AA==:, sig1=:AA==:",
    ] {
        assert!(refused(&input, bad).is_err(), "{bad}");
    }
    // Every prefix of a valid field, and bytes no field holds.
    for i in 0..input.len() {
        assert!(refused(&input[..i], &signature).is_err(), "prefix {i}");
    }
    for i in 0..signature.len() {
        assert!(refused(&input, &signature[..i]).is_err(), "prefix {i}");
    }
    let h = HeaderMap::from_pairs(
        client
            .headers(&input, &signature)
            .pairs()
            .map(|(n, v)| (n.to_owned(), v.to_vec()))
            .chain([("signature-input".to_owned(), input.as_bytes().to_vec())]),
    );
    assert_eq!(
        cfg.verify_message(&h, at(NOW)),
        Err(SigningError::Malformed),
        "two fields"
    );
    let raw = HeaderMap::from_pairs([
        (
            "signature-input",
            &b"sig1=(\"\xff\");keyid=\"bob-hmac\""[..],
        ),
        ("signature", b"\x00\x80:"),
    ]);
    assert_eq!(
        cfg.verify_message(&raw, at(NOW)),
        Err(SigningError::Malformed)
    );
}

#[test]
fn content_digests() {
    let body = b"{\"hello\": \"world\"}";
    let s256 = STANDARD.encode(Sha256::digest(body));
    let s512 = STANDARD.encode(Sha512::digest(body));
    // RFC 9530's example values.
    assert_eq!(s256, "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=");
    for (field, len) in [
        (format!("sha-256=:{s256}:"), 32),
        (format!("sha-512=:{s512}:"), 64),
        (format!("sha-512=:{s512}:, sha-256=:{s256}:"), 32),
        (format!("md5=:AA==:, sha-512=:{s512}:"), 64),
    ] {
        let d = content_digest(field.as_bytes()).unwrap();
        assert_eq!(d.len(), len, "{field}");
        assert!(body_matches(&d, body), "{field}");
    }
    for bad in [
        format!("sha-256=:{s512}:"),
        format!("sha-512=:{s256}:"),
        format!("sha-256={s256}"),
        format!("SHA-256=:{s256}:"),
        "md5=:AA==:".into(),
        format!("sha-256=:{s256}:, sha-256=:{s256}:"),
        String::new(),
    ] {
        assert_eq!(
            content_digest(bad.as_bytes()),
            Err(SigningError::Digest),
            "{bad}"
        );
    }
}
