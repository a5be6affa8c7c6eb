//! HMAC request-signing tests on the fake clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use filter_core::HeaderMap;

use super::*;
use hmac::{Hmac, Mac};

const SECRET: &[u8] = b"bob-hmac-secret-0123456789abcdef";
const NOW: u64 = 1_767_225_600;

fn config(body_digest: BodyDigest) -> HmacConfig {
    HmacConfig {
        clock_skew: Duration::from_secs(300),
        required_headers: vec!["(request-target)".into()],
        algorithms: vec![HmacAlg::Sha256, HmacAlg::Sha512],
        body_digest,
        strip: true,
        max_body_bytes: 1024,
        keys: vec![SigningKey {
            key_id: "bob-hmac".into(),
            secret: SECRET.to_vec(),
            consumer: 1,
        }],
        signing_string: SigningString::Draft,
        message: None,
    }
}

/// The draft verification with no protocol known (`request-line` is Kong's).
fn verify(
    cfg: &HmacConfig,
    creds: &str,
    h: &HeaderMap,
    now: SystemTime,
) -> Result<Verified, SigningError> {
    cfg.verify(creds.as_bytes(), h, now, &|| None)
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn request(date_secs: u64, extra: &[(&str, &str)]) -> HeaderMap {
    let date = httpdate::fmt_http_date(at(date_secs));
    let mut pairs = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".into(), "/signed/x?a=1".into()),
        ("date".into(), date),
    ];
    pairs.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    HeaderMap::from_pairs(pairs.into_iter().map(|(n, v)| (n, v.into_bytes())))
}

#[test]
fn signatures() {
    let cfg = config(BodyDigest::IfSigned);
    let h = request(NOW, &[]);
    let good = sign(
        "bob-hmac",
        "hmac-sha256",
        SECRET,
        &["(request-target)", "date"],
        &h,
    );
    let ok = Verified {
        consumer: 1,
        body_digest: None,
    };
    assert_eq!(verify(&cfg, &good, &h, at(NOW)), Ok(ok.clone()), "valid");
    assert_eq!(
        verify(&cfg, &good, &h, at(NOW + 300)),
        Ok(ok.clone()),
        "at the skew limit"
    );
    assert_eq!(
        verify(&cfg, &good, &h, at(NOW + 301)),
        Err(SigningError::Date),
        "past the skew"
    );
    assert_eq!(
        verify(&cfg, &good, &h, at(NOW - 301)),
        Err(SigningError::Date),
        "date in the future"
    );
    assert_eq!(
        verify(&cfg, &good, &h, UNIX_EPOCH),
        Err(SigningError::Date),
        "clock at the epoch"
    );
    let hmac_scheme = good.replace("keyId=", "username=");
    assert_eq!(
        verify(&cfg, &hmac_scheme, &h, at(NOW)),
        Ok(ok),
        "Kong's username="
    );

    let cases: Vec<(String, HeaderMap, SigningError, &str)> = vec![
        (
            sign(
                "bob-hmac",
                "hmac-sha256",
                b"wrong-secret-0123456789abcdef012",
                &["(request-target)", "date"],
                &h,
            ),
            h.clone(),
            SigningError::Signature,
            "wrong secret",
        ),
        (
            sign(
                "eve",
                "hmac-sha256",
                SECRET,
                &["(request-target)", "date"],
                &h,
            ),
            h.clone(),
            SigningError::UnknownKey,
            "unknown key id",
        ),
        (
            sign(
                "bob-hmac",
                "hmac-sha384",
                SECRET,
                &["(request-target)", "date"],
                &h,
            ),
            h.clone(),
            SigningError::Algorithm,
            "algorithm not accepted",
        ),
        (
            sign("bob-hmac", "hmac-sha256", SECRET, &["date"], &h),
            h.clone(),
            SigningError::Headers,
            "request target not signed",
        ),
        (
            sign("bob-hmac", "hmac-sha256", SECRET, &["(request-target)"], &h),
            h.clone(),
            SigningError::Headers,
            "date not signed",
        ),
        (
            good.clone(),
            request(NOW + 1, &[]),
            SigningError::Signature,
            "date changed after signing",
        ),
        (
            good.clone(),
            {
                let mut x = h.clone();
                x.set(":path", "/signed/y");
                x
            },
            SigningError::Signature,
            "path changed",
        ),
        (
            good.replace(
                "keyId=\"bob-hmac\",",
                "keyId=\"bob-hmac\",keyId=\"bob-hmac\",",
            ),
            h.clone(),
            SigningError::Malformed,
            "duplicate parameter",
        ),
        (
            "keyId=bob-hmac".into(),
            h.clone(),
            SigningError::Malformed,
            "unquoted",
        ),
        (
            "keyId=\"bob-hmac".into(),
            h.clone(),
            SigningError::Malformed,
            "unterminated",
        ),
        (String::new(), h.clone(), SigningError::Malformed, "empty"),
    ];
    for (creds, headers, want, msg) in cases {
        assert_eq!(verify(&cfg, &creds, &headers, at(NOW)), Err(want), "{msg}");
    }
    let twice = HeaderMap::from_pairs(h.pairs().chain([("date", &b"x"[..])]));
    assert_eq!(
        verify(&cfg, &good, &twice, at(NOW)),
        Err(SigningError::Headers),
        "two date headers"
    );
}

#[test]
fn body_digests() {
    let body = b"{\"amount\":10}";
    let digest = format!(
        "SHA-256={}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body))
    );
    let h = request(NOW, &[("digest", &digest)]);
    let signed = sign(
        "bob-hmac",
        "hmac-sha256",
        SECRET,
        &["(request-target)", "date", "digest"],
        &h,
    );
    let unsigned = sign(
        "bob-hmac",
        "hmac-sha256",
        SECRET,
        &["(request-target)", "date"],
        &h,
    );
    let v = verify(&config(BodyDigest::IfSigned), &signed, &h, at(NOW)).unwrap();
    let expected = v.body_digest.unwrap();
    assert!(body_matches(&expected, body), "matching body");
    assert!(
        !body_matches(&expected, b"{\"amount\":1000}"),
        "tampered body"
    );
    assert_eq!(
        verify(&config(BodyDigest::IfSigned), &unsigned, &h, at(NOW))
            .unwrap()
            .body_digest,
        None,
        "not signed: not checked"
    );
    assert_eq!(
        verify(&config(BodyDigest::Required), &unsigned, &h, at(NOW)),
        Err(SigningError::Headers),
        "required"
    );
    assert_eq!(
        verify(&config(BodyDigest::Off), &signed, &h, at(NOW))
            .unwrap()
            .body_digest,
        None,
        "off"
    );
    let md5 = request(NOW, &[("digest", "MD5=abc")]);
    let s = sign(
        "bob-hmac",
        "hmac-sha256",
        SECRET,
        &["(request-target)", "date", "digest"],
        &md5,
    );
    assert_eq!(
        verify(&config(BodyDigest::IfSigned), &s, &md5, at(NOW)),
        Err(SigningError::Digest),
        "no SHA-256 digest"
    );
}

fn mac256(secret: &[u8], data: &str) -> String {
    let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(secret).unwrap();
    m.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

#[test]
fn digest_labels_are_case_blind() {
    let body = b"{\"amount\":10}";
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let sha256 = b64(&sha2::Sha256::digest(body));
    let sha512 = b64(&sha2::Sha512::digest(body));
    for (digest, want_len) in [
        (format!("SHA-256={sha256}"), 32),
        (format!("sha-256={sha256}"), 32),
        (format!("Sha-256={sha256}"), 32),
        (format!("sha-512={sha512}"), 64),
        (format!("MD5=abc, SHA-512={sha512}"), 64),
        (
            format!("unixsum=12, sha-256={sha256}, sha-512={sha512}"),
            32,
        ),
    ] {
        let h = request(NOW, &[("digest", &digest)]);
        let signed = sign(
            "bob-hmac",
            "hmac-sha256",
            SECRET,
            &["(request-target)", "date", "digest"],
            &h,
        );
        let v = verify(&config(BodyDigest::IfSigned), &signed, &h, at(NOW))
            .unwrap_or_else(|e| panic!("{digest}: {e}"));
        let expected = v.body_digest.unwrap();
        assert_eq!(expected.len(), want_len, "{digest}");
        assert!(body_matches(&expected, body), "{digest}");
        assert!(!body_matches(&expected, b"{\"amount\":1000}"), "{digest}");
    }
    // A supported label whose value is not a digest of its length is refused, not skipped.
    for digest in [
        format!("sha-256={sha512}"),
        format!("SHA-512={sha256}"),
        "sha-256=not base64!".to_owned(),
        "sha-256".to_owned(),
    ] {
        let h = request(NOW, &[("digest", &digest)]);
        let signed = sign(
            "bob-hmac",
            "hmac-sha256",
            SECRET,
            &["(request-target)", "date", "digest"],
            &h,
        );
        assert_eq!(
            verify(&config(BodyDigest::IfSigned), &signed, &h, at(NOW)),
            Err(SigningError::Digest),
            "{digest}"
        );
    }
    assert!(!body_matches(&[0; 48], body), "no 48-byte digest");
}

fn kong(required: &[&str]) -> HmacConfig {
    HmacConfig {
        signing_string: SigningString::Kong,
        required_headers: required.iter().map(|r| r.to_string()).collect(),
        ..config(BodyDigest::IfSigned)
    }
}

fn kong_auth(listed: &str, signing_string: &str) -> String {
    format!(
        "username=\"bob-hmac\", algorithm=\"hmac-sha256\", headers=\"{listed}\", signature=\"{}\"",
        mac256(SECRET, signing_string)
    )
}

#[test]
fn kong_signing_strings() {
    let h = request(NOW, &[("x-custom", "v")]);
    let date = h.get_str("date").unwrap().to_owned();
    let http11 = || Some(b"HTTP/1.1".to_vec());
    let http2 = || Some(b"HTTP/2".to_vec());
    let ok = Ok(Verified {
        consumer: 1,
        body_digest: None,
    });
    let cfg = kong(&["(request-target)"]);

    // Header names keep the case they are listed in; the request line ends in the protocol.
    let auth = kong_auth(
        "Date request-line X-Custom",
        &format!("Date: {date}\nPOST /signed/x?a=1 HTTP/1.1\nX-Custom: v"),
    );
    assert_eq!(cfg.verify(auth.as_bytes(), &h, at(NOW), &http11), ok);
    // Kong writes Envoy's `HTTP/2` as `HTTP/2.0`; an unknown protocol is taken as HTTP/1.1.
    let auth2 = kong_auth(
        "date request-line",
        &format!("date: {date}\nPOST /signed/x?a=1 HTTP/2.0"),
    );
    assert_eq!(cfg.verify(auth2.as_bytes(), &h, at(NOW), &http2), ok);
    assert_eq!(
        cfg.verify(auth2.as_bytes(), &h, at(NOW), &http11),
        Err(SigningError::Signature),
        "the protocol is signed"
    );
    assert_eq!(cfg.verify(auth.as_bytes(), &h, at(NOW), &|| None), ok);
    // A listed header the request lacks signs as `name:`.
    let absent = kong_auth(
        "x-date Date request-line content-md5",
        &format!("x-date:\nDate: {date}\nPOST /signed/x?a=1 HTTP/1.1\ncontent-md5:"),
    );
    assert_eq!(cfg.verify(absent.as_bytes(), &h, at(NOW), &http11), ok);

    // A Kong client's names in their case are refused by the draft signing string (names
    // lowercased there), which has no `request-line` either.
    let draft = HmacConfig {
        required_headers: vec![],
        ..config(BodyDigest::IfSigned)
    };
    let cased = kong_auth("Date X-Custom", &format!("Date: {date}\nX-Custom: v"));
    assert_eq!(kong(&[]).verify(cased.as_bytes(), &h, at(NOW), &http11), ok);
    assert_eq!(
        draft.verify(cased.as_bytes(), &h, at(NOW), &http11),
        Err(SigningError::Signature)
    );
    assert_eq!(
        draft.verify(auth.as_bytes(), &h, at(NOW), &http11),
        Err(SigningError::Headers)
    );

    let refused = |auth: String, want: SigningError, msg: &str| {
        assert_eq!(
            cfg.verify(auth.as_bytes(), &h, at(NOW), &http11),
            Err(want),
            "{msg}"
        );
    };
    refused(
        kong_auth("Date", &format!("Date: {date}")),
        SigningError::Headers,
        "request-line required for (request-target)",
    );
    refused(
        kong_auth(
            "Date (request-target)",
            &format!("Date: {date}\n(request-target):"),
        ),
        SigningError::Headers,
        "(request-target) is no request line for Kong",
    );
    refused(
        kong_auth(
            "Date request-line",
            &format!("date: {date}\nPOST /signed/x?a=1 HTTP/1.1"),
        ),
        SigningError::Signature,
        "case of a listed name changed",
    );
    refused(
        kong_auth(
            "Date request-line",
            &format!("Date: {date}\npost /signed/x?a=1 HTTP/1.1"),
        ),
        SigningError::Signature,
        "method case",
    );
    refused(
        kong_auth(
            "Date request-line",
            &format!("Date: {date}\nPOST /signed/y?a=1 HTTP/1.1"),
        ),
        SigningError::Signature,
        "another path",
    );
    refused(
        kong_auth("request-line", "POST /signed/x?a=1 HTTP/1.1"),
        SigningError::Headers,
        "date not signed",
    );
    let stale = request(NOW - 400, &[]);
    let stale_date = stale.get_str("date").unwrap();
    let auth = kong_auth(
        "Date request-line",
        &format!("Date: {stale_date}\nPOST /signed/x?a=1 HTTP/1.1"),
    );
    assert_eq!(
        cfg.verify(auth.as_bytes(), &stale, at(NOW), &http11),
        Err(SigningError::Date),
        "outside the skew"
    );
    let two = HeaderMap::from_pairs(h.pairs().chain([("x-custom", &b"w"[..])]));
    let auth = kong_auth(
        "Date request-line X-Custom",
        &format!("Date: {date}\nPOST /signed/x?a=1 HTTP/1.1\nX-Custom: v"),
    );
    assert_eq!(
        cfg.verify(auth.as_bytes(), &two, at(NOW), &http11),
        Err(SigningError::Headers),
        "a signed header twice"
    );
}

mod message;
