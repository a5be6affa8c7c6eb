use super::*;

#[test]
fn inline_lists_are_sorted_for_binary_search() {
    for list in [REQUEST_INLINE, RESPONSE_INLINE, RESPONSE_TRAILER_INLINE] {
        assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
    }
}

#[test]
fn envoy_joins_a_repeated_inline_header_with_a_comma() {
    let mut h = Headers::new();
    let k = MapKind::RequestHeaders;
    h.add_as_envoy(k, "Authorization", "Bearer a");
    h.add_as_envoy(k, "x-api-key", "1");
    h.add_as_envoy(k, "authorization", "Bearer b");
    h.add_as_envoy(k, "x-api-key", "2");
    h.add_as_envoy(k, "authorization", "");
    assert_eq!(h.get("authorization"), Some("Bearer a,Bearer b"));
    assert_eq!(h.get_all("x-api-key"), ["1", "2"]);
    assert_eq!(h.len(), 3);
    // Inline for requests only: a response keeps two entries.
    let r = Headers::from_pairs(&[("authorization", "a"), ("authorization", "b")]);
    assert_eq!(r.as_envoy(MapKind::ResponseHeaders).len(), 2);
    assert_eq!(
        r.as_envoy(MapKind::RequestHeaders).get_all("authorization"),
        ["a,b"]
    );
    // An empty first value takes the second without a comma.
    let e = Headers::from_pairs(&[("accept", ""), ("accept", "x")]);
    assert_eq!(e.as_envoy(k).get("accept"), Some("x"));
}

#[test]
fn envoy_replace_moves_the_header_to_the_end_and_pseudo_headers_stay_first() {
    let k = MapKind::RequestHeaders;
    let mut h = Headers::from_pairs(&[(":path", "/"), ("a", "1"), ("b", "2"), ("a", "3")]);
    h.set_as_envoy(k, "a", "9");
    assert_eq!(
        h.0,
        [(":path", "/"), ("b", "2"), ("a", "9")].map(|(k, v)| (k.to_string(), v.to_string()))
    );
    h.add_as_envoy(k, ":method", "GET");
    h.set_as_envoy(k, ":path", "/x");
    let keys: Vec<&str> = h.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [":method", ":path", "b", "a"]);
}
