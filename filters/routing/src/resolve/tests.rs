//! Tests of version resolution.

use super::*;
use crate::config::tests::EXAMPLE;
use crate::target;
use serde_json::{json, Value};

fn example() -> Config {
    crate::config::parse(EXAMPLE.as_bytes()).unwrap()
}

fn patched(patch: Value) -> Config {
    let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
    for (k, val) in patch.as_object().unwrap() {
        v[k] = val.clone();
    }
    crate::config::parse(v.to_string().as_bytes()).unwrap()
}

/// `Ok((version name, explicit, in_path))` or the refusal.
type Want = Result<(&'static str, bool, bool), Refusal>;

/// (path, request headers, expected, message).
type Case<'a> = (&'a str, &'a [(&'a str, &'a [u8])], Want, &'a str);

fn run(
    config: &Config,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Result<(String, bool, bool), Refusal> {
    let headers = HeaderMap::from_pairs(headers.iter().map(|(n, v)| (*n, v.to_vec())));
    let t = target::parse(Some(path.as_bytes()), config.max_path_bytes)?;
    resolve(config, &t, &headers).map(|r| {
        (
            config.versions[r.version].name.clone(),
            r.explicit,
            r.in_path,
        )
    })
}

fn check(config: &Config, cases: &[Case]) {
    for (path, headers, want, msg) in cases {
        let got = run(config, path, headers);
        let want = want.map(|(n, e, p)| (n.to_owned(), e, p));
        assert_eq!(got, want, "{msg}: {path} {headers:?}");
    }
}

#[test]
fn resolution_table() {
    use Refusal::*;
    let huge = vec![b'v'; 10 * 1024];
    let cases: &[Case] = &[
        ("/users", &[], Ok(("v1", false, false)), "default version"),
        ("/", &[], Ok(("v1", false, false)), "root gets the default"),
        ("/v2/users", &[], Ok(("v2", true, true)), "path prefix"),
        ("/v2", &[], Ok(("v2", true, true)), "bare prefix"),
        (
            "/v1beta/x",
            &[],
            Ok(("v1beta", true, true)),
            "deprecated version",
        ),
        (
            "/v0/x",
            &[],
            Ok(("v0", true, true)),
            "retired resolves; the filter answers 410",
        ),
        ("/1/x", &[], Ok(("v1", true, true)), "alias in the path"),
        (
            "/v9/x",
            &[],
            Err(UnknownVersion(Source::Path)),
            "unknown version segment",
        ),
        (
            "/V2/x",
            &[],
            Err(UnknownVersion(Source::Path)),
            "case-sensitive segment",
        ),
        (
            "/V1BETA",
            &[],
            Err(UnknownVersion(Source::Path)),
            "case differs from a name",
        ),
        (
            "/users/v2",
            &[],
            Ok(("v1", false, false)),
            "only the first segment counts",
        ),
        (
            "/x?x=/v2",
            &[],
            Ok(("v1", false, false)),
            "query does not touch the path",
        ),
        (
            "/x?api-version=v2",
            &[],
            Ok(("v2", true, false)),
            "query parameter",
        ),
        (
            "/x?api-version=2&a=b",
            &[],
            Ok(("v2", true, false)),
            "query alias",
        ),
        (
            "/x?api-version=v2&api-version=v2",
            &[],
            Err(AmbiguousVersion(Source::Query)),
            "repeated parameter",
        ),
        (
            "/x?api-version=%76%32",
            &[],
            Err(InvalidVersion(Source::Query)),
            "encoded parameter",
        ),
        (
            "/x?api-version=",
            &[],
            Err(InvalidVersion(Source::Query)),
            "empty parameter",
        ),
        (
            "/x?API-VERSION=v9",
            &[],
            Ok(("v1", false, false)),
            "parameter names are exact",
        ),
        (
            "/x",
            &[("api-version", b"v2")],
            Ok(("v2", true, false)),
            "header",
        ),
        (
            "/x",
            &[("api-version", b"2")],
            Ok(("v2", true, false)),
            "numeric alias header",
        ),
        (
            "/x",
            &[("api-version", b" v2\t")],
            Ok(("v2", true, false)),
            "optional whitespace",
        ),
        (
            "/x",
            &[("api-version", b"V2")],
            Err(UnknownVersion(Source::Header)),
            "case-sensitive header",
        ),
        (
            "/x",
            &[("api-version", b"two")],
            Err(UnknownVersion(Source::Header)),
            "non-numeric header",
        ),
        (
            "/x",
            &[("api-version", b"3")],
            Err(UnknownVersion(Source::Header)),
            "unknown number",
        ),
        (
            "/x",
            &[("api-version", b"99999999999999999999999999999999999")],
            Err(InvalidVersion(Source::Header)),
            "huge number",
        ),
        (
            "/x",
            &[("api-version", b"v2, v1")],
            Err(InvalidVersion(Source::Header)),
            "list in one header",
        ),
        (
            "/x",
            &[("api-version", b"v2"), ("api-version", b"v2")],
            Err(AmbiguousVersion(Source::Header)),
            "duplicated header",
        ),
        (
            "/x",
            &[("api-version", b"v1"), ("api-version", b"v2")],
            Err(AmbiguousVersion(Source::Header)),
            "two different headers",
        ),
        (
            "/x",
            &[("api-version", "v\u{00b2}".as_bytes())],
            Err(InvalidVersion(Source::Header)),
            "Unicode",
        ),
        (
            "/x",
            &[("api-version", b"\xff\xfe")],
            Err(InvalidVersion(Source::Header)),
            "not UTF-8",
        ),
        (
            "/x",
            &[("api-version", &huge)],
            Err(InvalidVersion(Source::Header)),
            "10 KB header",
        ),
        (
            "/x",
            &[("api-version", b"")],
            Err(InvalidVersion(Source::Header)),
            "empty header",
        ),
        (
            "/x",
            &[("api-version", b"..")],
            Err(InvalidVersion(Source::Header)),
            "dot-dot header",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.shop.v2+json")],
            Ok(("v2", true, false)),
            "vendor media type",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.shop.v2")],
            Ok(("v2", true, false)),
            "no suffix",
        ),
        (
            "/x",
            &[("accept", b"APPLICATION/VND.SHOP.v2+JSON")],
            Ok(("v2", true, false)),
            "media types ignore case",
        ),
        (
            "/x",
            &[("accept", b"text/html, application/vnd.shop.v2+json;q=0.9")],
            Ok(("v2", true, false)),
            "among others",
        ),
        (
            "/x",
            &[("accept", b"application/json")],
            Ok(("v1", false, false)),
            "plain json",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.other.v2+json")],
            Ok(("v1", false, false)),
            "another API",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.shop.v9+json")],
            Err(UnknownVersion(Source::Accept)),
            "unknown in Accept",
        ),
        (
            "/x",
            &[("accept", b"application/vnd.shop.+json")],
            Err(InvalidVersion(Source::Accept)),
            "empty in Accept",
        ),
        (
            "/x",
            &[(
                "accept",
                b"application/vnd.shop.v1+json, application/vnd.shop.v2+json",
            )],
            Err(AmbiguousVersion(Source::Accept)),
            "two versions in Accept",
        ),
        (
            "/x",
            &[
                ("accept", b"application/vnd.shop.v2+json"),
                ("accept", b"application/vnd.shop.v2+xml"),
            ],
            Ok(("v2", true, false)),
            "same version twice",
        ),
        (
            "/x",
            &[("accept", b"\xff")],
            Ok(("v1", false, false)),
            "non-UTF-8 Accept names nothing",
        ),
        (
            "/v2/x",
            &[("api-version", b"v2")],
            Ok(("v2", true, true)),
            "agreeing sources",
        ),
        (
            "/v1/x",
            &[("api-version", b"v2")],
            Err(ConflictingVersions),
            "path and header disagree",
        ),
        (
            "/x?api-version=v1",
            &[("api-version", b"v2")],
            Err(ConflictingVersions),
            "header and query disagree",
        ),
        (
            "/v2/x",
            &[("accept", b"application/vnd.shop.v1+json")],
            Err(ConflictingVersions),
            "path and Accept disagree",
        ),
        (
            "/v2/x",
            &[("api-version", b"v9")],
            Err(UnknownVersion(Source::Header)),
            "a bad later source still refuses",
        ),
    ];
    check(&example(), cases);
}

#[test]
fn first_source_wins_but_never_against_the_path() {
    use Refusal::*;
    let config = patched(json!({"conflicts": "first", "sources": ["header", "query", "path"]}));
    let cases: &[Case] = &[
        (
            "/x?api-version=v1",
            &[("api-version", b"v2")],
            Ok(("v2", true, false)),
            "header first",
        ),
        (
            "/x?api-version=v9",
            &[("api-version", b"v2")],
            Ok(("v2", true, false)),
            "later sources skipped",
        ),
        (
            "/x?api-version=v1",
            &[],
            Ok(("v1", true, false)),
            "query when no header",
        ),
        (
            "/v1/x",
            &[("api-version", b"v2")],
            Err(ConflictingVersions),
            "path still must agree",
        ),
        (
            "/v9/x",
            &[("api-version", b"v2")],
            Err(UnknownVersion(Source::Path)),
            "path still checked",
        ),
        (
            "/v2/x",
            &[("api-version", b"v2")],
            Ok(("v2", true, true)),
            "path agrees",
        ),
    ];
    check(&config, cases);
}

#[test]
fn options_change_resolution() {
    let insensitive = patched(json!({"case_sensitive": false}));
    let cases: &[Case] = &[
        (
            "/V2/x",
            &[],
            Ok(("v2", true, true)),
            "case-insensitive segment",
        ),
        (
            "/x",
            &[("api-version", b"V1BETA")],
            Ok(("v1beta", true, false)),
            "case-insensitive header",
        ),
    ];
    check(&insensitive, cases);

    let no_default = patched(json!({"default_version": null}));
    let cases: &[Case] = &[
        ("/x", &[], Err(Refusal::MissingVersion), "no default"),
        ("/v1/x", &[], Ok(("v1", true, true)), "explicit still works"),
    ];
    check(&no_default, cases);

    let header_only = patched(json!({"sources": ["header"]}));
    let cases: &[Case] = &[
        (
            "/v9/x",
            &[],
            Ok(("v1", false, false)),
            "path is not a source",
        ),
        (
            "/x?api-version=v2",
            &[],
            Ok(("v1", false, false)),
            "query is not a source",
        ),
        (
            "/v2/x",
            &[("api-version", b"v2")],
            Ok(("v2", true, false)),
            "header only",
        ),
    ];
    check(&header_only, cases);
}

#[test]
fn version_like_segments() {
    for (s, want) in [
        ("v1", true),
        ("V12", true),
        ("v2beta1", true),
        ("v", false),
        ("users", false),
        ("vx1", false),
        ("", false),
    ] {
        assert_eq!(looks_like_version(s), want, "{s:?}");
    }
}
