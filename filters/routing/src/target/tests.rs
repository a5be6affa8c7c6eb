//! Tests of request-target checks.

use super::*;
use TargetError::*;

#[test]
fn refuses_every_ambiguous_target() {
    let long = format!("/v1/{}", "a".repeat(8192));
    type Case<'a> = (
        &'a [u8],
        Result<(&'a str, Option<&'a str>), TargetError>,
        &'a str,
    );
    let cases: &[Case] = &[
        (b"/v1/users", Ok(("/v1/users", None)), "plain"),
        (
            b"/v1/users?x=/v2",
            Ok(("/v1/users", Some("x=/v2"))),
            "query is split off",
        ),
        (b"/", Ok(("/", None)), "root"),
        (b"/v2/", Ok(("/v2/", None)), "trailing slash"),
        (
            b"/v1/a%20b",
            Ok(("/v1/a%20b", None)),
            "harmless encoding after the version",
        ),
        (
            b"/v1/x?a=%2e%2e",
            Ok(("/v1/x", Some("a=%2e%2e"))),
            "query is not path",
        ),
        (b"/v1/../v2", Err(DotSegment), "dot-dot segment"),
        (b"/v1/./x", Err(DotSegment), "dot segment"),
        (b"/..", Err(DotSegment), "leading dot-dot"),
        (b"/v1/%2e%2e/v2", Err(EncodedSeparator), "encoded dots"),
        (
            b"/v1/%2E%2E/v2",
            Err(EncodedSeparator),
            "encoded dots, upper case",
        ),
        (b"/v1%2Fv2", Err(EncodedSeparator), "encoded slash"),
        (
            b"/v1/x%2f",
            Err(EncodedSeparator),
            "encoded slash, lower case",
        ),
        (b"/v1%5Cx", Err(EncodedSeparator), "encoded backslash"),
        (
            b"/v1/%5c",
            Err(EncodedSeparator),
            "encoded backslash, lower case",
        ),
        (b"/v1/%252e", Err(EncodedSeparator), "double encoding"),
        (b"/v1/%00", Err(EncodedSeparator), "encoded NUL"),
        (b"/v1/%zz", Err(BadPercent), "bad hex"),
        (b"/v1/%2", Err(BadPercent), "truncated escape"),
        (b"/v1\\..\\v2", Err(Backslash), "backslash"),
        (
            b"/v1/x?a=\\b",
            Ok(("/v1/x", Some("a=\\b"))),
            "a backslash in the query is not the path's",
        ),
        (
            b"/v1/x#a?b",
            Err(Fragment),
            "fragment before a question mark",
        ),
        (b"//v1//x", Err(EmptySegment), "double slashes"),
        (b"/v1//x", Err(EmptySegment), "inner empty segment"),
        (
            b"/v1;p=1/x",
            Err(VersionSegment),
            "matrix parameter on the version",
        ),
        (b"/%76%31/x", Err(VersionSegment), "encoded version segment"),
        (b"/v1/x\0", Err(BadByte), "NUL byte"),
        (b"/v1/\x7f", Err(BadByte), "DEL"),
        (b"/v1/a b", Err(BadByte), "space"),
        (b"/v1/\xc3\xa9", Err(BadByte), "non-ASCII"),
        (b"/v1/x#frag", Err(Fragment), "fragment"),
        (b"*", Err(NotOriginForm), "asterisk form"),
        (b"http://h/v2/x", Err(NotOriginForm), "absolute form"),
        (b"", Err(NotOriginForm), "empty"),
        (long.as_bytes(), Err(TooLong), "8 KiB path"),
    ];
    for (raw, want, msg) in cases {
        let got = parse(Some(raw), 8192).map(|t| (t.path, t.query));
        assert_eq!(&got, want, "{msg}: {:?}", String::from_utf8_lossy(raw));
    }
    assert_eq!(parse(None, 8192), Err(Missing), "CONNECT has no path");
}

#[test]
fn segments_and_rewrites() {
    let cases: &[(&str, &str, &str)] = &[
        ("/v2/users?x=1", "v2", "/users?x=1"),
        ("/v2", "v2", "/"),
        ("/v2/", "v2", "/"),
        ("/v2?x=/v1", "v2", "/?x=/v1"),
        ("/", "", "/"),
        ("/users/v2", "users", "/v2"),
    ];
    for (raw, first, stripped) in cases {
        let t = parse(Some(raw.as_bytes()), 8192).unwrap();
        assert_eq!(t.first_segment(), *first, "first segment of {raw}");
        assert_eq!(t.without_first_segment(), *stripped, "stripped {raw}");
    }
}

#[test]
fn query_values_by_exact_name() {
    let t = parse(
        Some(b"/x?api-version=v2&a=1&API-VERSION=v3&api-version"),
        100,
    )
    .unwrap();
    let got: Vec<_> = t.query_values("api-version").collect();
    assert_eq!(
        got,
        ["v2", ""],
        "names are exact, a bare name has an empty value"
    );
}
