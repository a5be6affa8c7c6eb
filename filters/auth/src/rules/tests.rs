//! Rule tests: prefixes on whole segments, ambiguous paths refused, the ACL.

use super::*;

fn rule(prefix: &str, methods: &[&str]) -> Rule {
    Rule {
        prefix: prefix.into(),
        methods: methods.iter().map(|m| m.to_string()).collect(),
        requirement: Requirement::Public,
        anonymous: None,
        allow_groups: vec![],
        deny_groups: vec![],
    }
}

#[test]
fn prefixes_match_whole_segments() {
    let cases = [
        ("/api", &[][..], "GET", "/api", true, "exact"),
        ("/api", &[], "GET", "/api/x", true, "below"),
        ("/api", &[], "GET", "/apix", false, "not a segment boundary"),
        ("/api/", &[], "GET", "/api/x", true, "prefix with slash"),
        ("/", &[], "DELETE", "/anything", true, "root"),
        ("/api", &["GET"], "POST", "/api", false, "method filtered"),
        (
            "/api",
            &["GET", "POST"],
            "POST",
            "/api",
            true,
            "method listed",
        ),
    ];
    for (prefix, methods, method, path, want, msg) in cases {
        let r = rule(prefix, methods);
        assert_eq!(r.matches(method.as_bytes(), path.as_bytes()), want, "{msg}");
    }
}

#[test]
fn ambiguous_paths_are_refused() {
    let bad: &[&[u8]] = &[
        b"/public/../admin",
        b"/public/./x",
        b"/public/%2e%2e/admin",
        b"/public/%2E./admin",
        b"/public%2fadmin",
        b"/public%5Cadmin",
        b"/public\\admin",
        b"//admin",
        b"/public/..;/admin",
        b"/a\0b",
        b"*",
        b"http://host/admin",
        b"",
    ];
    for path in bad {
        assert!(
            clean_path(Some(path)).is_err(),
            "{:?}",
            String::from_utf8_lossy(path)
        );
    }
    assert!(clean_path(None).is_err(), "CONNECT has no :path");
    assert_eq!(
        clean_path(Some(b"/a/b.c?x=/../y")),
        Ok(&b"/a/b.c"[..]),
        "query is not the path"
    );
    let long = format!("/{}", "a".repeat(8192));
    assert!(clean_path(Some(long.as_bytes())).is_ok(), "8 KiB path");
    let reasons: &[(&[u8], &str)] = &[
        (b"/a/../b", "dot segment"),
        (b"/a/..", "dot segment"),
        (b"/a/.;x/b", "dot segment"),
        (b"/a//b", "empty segment"),
        (b"/a/", "ok"),
        (b"/a%2F", "encoded dot, slash, backslash or NUL"),
        (b"/a%00", "encoded dot, slash, backslash or NUL"),
        (b"/a%2", "ok"),
        (b"/a%", "ok"),
        (b"/a%41", "ok"),
        (b"/a/.../b", "ok"),
        (b"/a/..b/.c", "ok"),
        (b"/a\x7f//../%2e", "control byte or backslash"),
        (b"//..%2e", "empty segment"),
    ];
    for (path, want) in reasons {
        let got = clean_path(Some(path)).map_or_else(|e| e.0, |_| "ok");
        assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(path));
    }
}

#[test]
fn acl_deny_wins() {
    let mut r = rule("/", &[]);
    r.allow_groups = vec!["staff".into()];
    r.deny_groups = vec!["banned".into()];
    let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(r.allows(&g(&["staff"])), "allowed group");
    assert!(!r.allows(&g(&["partners"])), "not in an allowed group");
    assert!(!r.allows(&g(&["staff", "banned"])), "deny wins");
    assert!(!r.allows(&[]), "no groups");
    r.allow_groups.clear();
    assert!(r.allows(&[]), "no allow list");
}
