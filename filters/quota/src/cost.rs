//! The cost of a request: the matched route's weight, else the cost header, else 1; and amounts
//! read from the response for post-charging.
//!
//! Routes are matched in configuration order on `:path` before `?`, by whole segments (`/v1`
//! matches `/v1` and `/v1/x`, not `/v10`), and on the method if the route lists methods.

use filter_core::HeaderMap;

use crate::config::{Config, Route};

/// The first route matching the request.
pub fn match_route<'c>(routes: &'c [Route], headers: &HeaderMap) -> Option<&'c Route> {
    let path = headers.path()?;
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    let method = headers.method().unwrap_or_default();
    routes.iter().find(|r| {
        let prefix = r.path_prefix.as_bytes();
        let on_path = path.starts_with(prefix)
            && (path.len() == prefix.len()
                || path.get(prefix.len()) == Some(&b'/')
                || prefix.is_empty());
        on_path && (r.methods.is_empty() || r.methods.iter().any(|m| m.as_bytes() == method))
    })
}

/// A decimal amount: 1 to 20 ASCII digits, nothing else, no overflow.
pub fn parse_amount(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 20 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

/// The request's cost, or a problem detail saying why the cost header is unacceptable.
pub fn request_cost(
    config: &Config,
    route: Option<&Route>,
    headers: &HeaderMap,
) -> Result<u64, String> {
    if let Some(weight) = route.and_then(|r| r.cost) {
        return Ok(weight);
    }
    let Some(name) = &config.cost.header else {
        return Ok(1);
    };
    match headers.count(name) {
        0 => Ok(1),
        1 => {
            let (min, max) = (config.cost.min, config.cost.max);
            match headers.get(name).and_then(parse_amount) {
                Some(cost) if (min..=max).contains(&cost) => Ok(cost),
                _ => Err(format!("{name} must be a whole number from {min} to {max}")),
            }
        }
        _ => Err(format!("{name} must appear once")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn config() -> Config {
        let json = r#"{"plans":[{"name":"p","limits":[{"name":"l","limit":5,"window":"minute"}]}],
            "cost":{"header":"x-cost","min":1,"max":10},
            "routes":[{"name":"search","path_prefix":"/v1/search/","methods":["POST"],"cost":4},
                      {"name":"free","path_prefix":"/v1/health","cost":0},
                      {"name":"v1","path_prefix":"/v1"}]}"#;
        parse(json.as_bytes()).unwrap()
    }

    fn req(method: &str, path: &[u8], cost: &[&str]) -> HeaderMap {
        let mut pairs: Vec<(&str, Vec<u8>)> =
            vec![(":method", method.into()), (":path", path.to_vec())];
        pairs.extend(cost.iter().map(|c| ("x-cost", c.as_bytes().to_vec())));
        HeaderMap::from_pairs(pairs)
    }

    #[test]
    fn routes_match_whole_segments_and_methods() {
        let c = config();
        let cases: &[(&str, &[u8], Option<&str>, &str)] = &[
            (
                "POST",
                b"/v1/search",
                Some("search"),
                "exact prefix, trailing slash ignored",
            ),
            (
                "POST",
                b"/v1/search/x?y=1",
                Some("search"),
                "below the prefix",
            ),
            (
                "GET",
                b"/v1/search",
                Some("v1"),
                "method not listed: next route",
            ),
            ("GET", b"/v1/searchx", Some("v1"), "not a whole segment"),
            ("GET", b"/v1?x=/v1/health", Some("v1"), "query ignored"),
            ("GET", b"/v10", None, "not a segment of /v1"),
            ("GET", b"*", None, "asterisk form"),
            ("GET", b"/v1/\xff", Some("v1"), "non-UTF-8 path"),
        ];
        for (method, path, want, why) in cases {
            let got = match_route(&c.routes, &req(method, path, &[])).map(|r| r.name.as_str());
            assert_eq!(got, *want, "{why}");
        }
        assert_eq!(
            match_route(&c.routes, &HeaderMap::default()).map(|r| &r.name),
            None,
            "no :path (CONNECT)"
        );
    }

    /// Method, path, cost headers, expected cost (or refusal), why.
    type Case<'a> = (&'a str, &'a [u8], &'a [&'a str], Result<u64, ()>, &'a str);

    #[test]
    fn costs() {
        let c = config();
        let cases: &[Case] = &[
            (
                "POST",
                b"/v1/search",
                &["9"],
                Ok(4),
                "route weight wins over the header",
            ),
            ("GET", b"/v1/health", &[], Ok(0), "a free route"),
            ("GET", b"/v1/x", &[], Ok(1), "default 1"),
            ("GET", b"/v1/x", &["7"], Ok(7), "from the header"),
            ("GET", b"/v1/x", &["0"], Err(()), "below min"),
            ("GET", b"/v1/x", &["11"], Err(()), "above max"),
            ("GET", b"/v1/x", &["-1"], Err(()), "negative"),
            ("GET", b"/v1/x", &[" 3"], Err(()), "whitespace"),
            (
                "GET",
                b"/v1/x",
                &["99999999999999999999999"],
                Err(()),
                "overflow",
            ),
            ("GET", b"/v1/x", &["1", "1"], Err(()), "repeated"),
        ];
        for (method, path, cost, want, why) in cases {
            let got = request_cost(
                &c,
                match_route(&c.routes, &req(method, path, cost)),
                &req(method, path, cost),
            );
            assert_eq!(got.map_err(|_| ()), *want, "{why}");
        }
        assert_eq!(parse_amount(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_amount(b"18446744073709551616"), None);
    }
}
