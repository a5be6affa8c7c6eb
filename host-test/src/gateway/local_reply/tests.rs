use super::*;

fn reply(body: &str, headers: &[(&str, &str)]) -> LocalReply {
    LocalReply {
        filter: "f".into(),
        status: 403,
        body: body.as_bytes().to_vec(),
        headers: Headers::from_pairs(headers),
        details: String::new(),
        grpc_status: None,
    }
}

fn pairs(h: &Headers) -> Vec<(&str, &str)> {
    h.iter().collect()
}

#[test]
fn headers_follow_envoys_order() {
    let (h, body) = local_reply_headers(&reply("no", &[("x-a", "1")]), false, true);
    assert_eq!(
        pairs(&h),
        [
            (":status", "403"),
            ("x-a", "1"),
            ("content-length", "2"),
            ("content-type", "text/plain")
        ]
    );
    assert_eq!(body, b"no");
    // The filter's content-type stays where it is; without a body both are removed.
    let r = reply("{}", &[("content-type", "application/json"), ("x-a", "1")]);
    let (h, _) = local_reply_headers(&r, false, true);
    assert_eq!(
        pairs(&h),
        [
            (":status", "403"),
            ("content-type", "application/json"),
            ("x-a", "1"),
            ("content-length", "2")
        ]
    );
    let r = reply("", &[("content-type", "application/json"), ("x-a", "1")]);
    let (h, _) = local_reply_headers(&r, false, true);
    assert_eq!(pairs(&h), [(":status", "403"), ("x-a", "1")]);
    // gRPC: trailers-only, the filter's headers before Envoy's, its grpc-status kept.
    let r = reply("denied", &[("x-a", "1"), ("content-length", "6")]);
    let (h, body) = local_reply_headers(&r, true, true);
    assert_eq!(
        pairs(&h),
        [
            (":status", "200"),
            ("x-a", "1"),
            ("content-type", "application/grpc"),
            ("grpc-status", "7"),
            ("grpc-message", "denied")
        ]
    );
    assert!(body.is_empty());
    let (h, _) = local_reply_headers(&reply("", &[("grpc-status", "3")]), true, true);
    assert_eq!(h.get("grpc-status"), Some("3"));
}

#[test]
fn envoy_adds_the_filters_headers_with_add_copy() {
    let r = reply(
        "no",
        &[
            ("cache-control", "a"),
            ("set-cookie", "1"),
            ("cache-control", "b"),
            ("set-cookie", "2"),
        ],
    );
    let (h, _) = local_reply_headers(&r, false, true);
    assert_eq!(h.get_all("cache-control"), ["a,b"]);
    assert_eq!(h.get_all("set-cookie"), ["1", "2"]);
    let (h, _) = local_reply_headers(&r, false, false);
    assert_eq!(h.get_all("cache-control"), ["a", "b"]);
}
