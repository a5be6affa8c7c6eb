//! Credential source tests: finding credentials in headers, queries and cookies, and stripping
//! them.

use super::*;

fn req(pairs: &[(&str, &str)]) -> HeaderMap {
    HeaderMap::from_pairs(pairs.iter().map(|(n, v)| (*n, v.as_bytes().to_vec())))
}

#[test]
fn finds_credentials() {
    let q = Source::Query("api_key".into());
    let c = Source::Cookie("sid".into());
    let h = Source::Header("x-api-key".into());
    let cases: Vec<(&Source, HeaderMap, Found, &str)> = vec![
        (
            &Source::Bearer,
            req(&[("authorization", "Bearer abc")]),
            Found::One(b"abc".to_vec()),
            "bearer",
        ),
        (
            &Source::Bearer,
            req(&[("authorization", "bEaReR   abc")]),
            Found::One(b"abc".to_vec()),
            "scheme is case-blind",
        ),
        (
            &Source::Bearer,
            req(&[("authorization", "Basic abc")]),
            Found::Absent,
            "other scheme",
        ),
        (
            &Source::Bearer,
            req(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]),
            Found::Ambiguous,
            "two Authorization headers",
        ),
        (
            &h,
            req(&[("x-api-key", "k1")]),
            Found::One(b"k1".to_vec()),
            "header",
        ),
        (
            &h,
            req(&[("x-api-key", "k1"), ("x-api-key", "k2")]),
            Found::Ambiguous,
            "header twice",
        ),
        (
            &q,
            req(&[(":path", "/x?a=1&api_key=k%201&b")]),
            Found::One(b"k 1".to_vec()),
            "query, decoded",
        ),
        (
            &q,
            req(&[(":path", "/x?api_key=a&api_key=b")]),
            Found::Ambiguous,
            "query twice",
        ),
        (
            &q,
            req(&[(":path", "/x?api_key=%zz")]),
            Found::Ambiguous,
            "broken escape",
        ),
        (
            &q,
            req(&[(":path", "/x?xapi_key=a")]),
            Found::Absent,
            "other parameter",
        ),
        (&q, req(&[]), Found::Absent, "no path"),
        (
            &c,
            req(&[("cookie", "a=1; sid=s1"), ("cookie", "b=2")]),
            Found::One(b"s1".to_vec()),
            "cookie",
        ),
        (
            &c,
            req(&[("cookie", "sid=1"), ("cookie", "sid=2")]),
            Found::Ambiguous,
            "cookie twice",
        ),
    ];
    for (source, headers, want, msg) in cases {
        assert_eq!(source.find(&headers), want, "{msg}");
    }
}

#[test]
fn strips_credentials() {
    let mut h = req(&[
        (":path", "/x?a=1&api_key=k&b=2"),
        ("cookie", "a=1; sid=s; b=2"),
    ]);
    Source::Query("api_key".into()).strip(&mut h);
    Source::Cookie("sid".into()).strip(&mut h);
    assert_eq!(h.get_str(":path"), Some("/x?a=1&b=2"));
    assert_eq!(h.get_str("cookie"), Some("a=1; b=2"));
    let mut h = req(&[(":path", "/x?api_key=k"), ("cookie", "sid=s")]);
    Source::Query("api_key".into()).strip(&mut h);
    Source::Cookie("sid".into()).strip(&mut h);
    assert_eq!(h.get_str(":path"), Some("/x"), "empty query loses its ?");
    assert!(!h.contains("cookie"), "empty cookie header is removed");
}
