//! HMAC request-signing tests on the fake clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use filter_core::HeaderMap;

use super::*;

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
    }
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
    assert_eq!(
        cfg.verify(good.as_bytes(), &h, at(NOW)),
        Ok(ok.clone()),
        "valid"
    );
    assert_eq!(
        cfg.verify(good.as_bytes(), &h, at(NOW + 300)),
        Ok(ok.clone()),
        "at the skew limit"
    );
    assert_eq!(
        cfg.verify(good.as_bytes(), &h, at(NOW + 301)),
        Err(SigningError::Date),
        "past the skew"
    );
    assert_eq!(
        cfg.verify(good.as_bytes(), &h, at(NOW - 301)),
        Err(SigningError::Date),
        "date in the future"
    );
    assert_eq!(
        cfg.verify(good.as_bytes(), &h, UNIX_EPOCH),
        Err(SigningError::Date),
        "clock at the epoch"
    );
    let hmac_scheme = good.replace("keyId=", "username=");
    assert_eq!(
        cfg.verify(hmac_scheme.as_bytes(), &h, at(NOW)),
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
        assert_eq!(
            cfg.verify(creds.as_bytes(), &headers, at(NOW)),
            Err(want),
            "{msg}"
        );
    }
    let twice = HeaderMap::from_pairs(h.pairs().chain([("date", &b"x"[..])]));
    assert_eq!(
        cfg.verify(good.as_bytes(), &twice, at(NOW)),
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
    let v = config(BodyDigest::IfSigned)
        .verify(signed.as_bytes(), &h, at(NOW))
        .unwrap();
    let expected = v.body_digest.unwrap();
    assert!(body_matches(&expected, body), "matching body");
    assert!(
        !body_matches(&expected, b"{\"amount\":1000}"),
        "tampered body"
    );
    assert_eq!(
        config(BodyDigest::IfSigned)
            .verify(unsigned.as_bytes(), &h, at(NOW))
            .unwrap()
            .body_digest,
        None,
        "not signed: not checked"
    );
    assert_eq!(
        config(BodyDigest::Required).verify(unsigned.as_bytes(), &h, at(NOW)),
        Err(SigningError::Headers),
        "required"
    );
    assert_eq!(
        config(BodyDigest::Off)
            .verify(signed.as_bytes(), &h, at(NOW))
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
        config(BodyDigest::IfSigned).verify(s.as_bytes(), &md5, at(NOW)),
        Err(SigningError::Digest),
        "no SHA-256 digest"
    );
}
