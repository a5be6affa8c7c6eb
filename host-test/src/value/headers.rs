//! [`Headers`]: an ordered header map with lowercase keys, as Envoy keeps one (request and
//! response headers and trailers, callout headers, gRPC metadata, local-reply headers), and
//! [`MapKind`]: which of Envoy's four maps a map is, for Envoy's insertion rules
//! ([`Headers::add_as_envoy`]): its "inline" headers hold one entry, a repeated one is joined
//! to it with `,`.

use serde::{Deserialize, Serialize};

/// An ordered header map with lowercase keys, as Envoy keeps it (repeated keys allowed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }
    /// Builds a map from pairs; keys are lowercased.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Self {
        let mut h = Self::new();
        for (k, v) in pairs {
            h.add(k.as_ref(), v.as_ref());
        }
        h
    }
    /// The first value of `key` (case-insensitive), as Envoy's `get_header_map_value` gives.
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_ascii_lowercase();
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        let key = key.to_ascii_lowercase();
        self.0
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Appends a value (Envoy's `addCopy`).
    pub fn add(&mut self, key: &str, value: &str) {
        self.0.push((key.to_ascii_lowercase(), value.to_string()));
    }
    /// Replaces the first value in place and drops the others, or appends (Envoy's `setCopy`).
    pub fn set(&mut self, key: &str, value: &str) {
        let key = key.to_ascii_lowercase();
        match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                self.0[i].1 = value.to_string();
                let mut n = 0;
                self.0.retain(|(k, _)| {
                    let keep = *k != key || n == i;
                    n += 1;
                    keep
                });
            }
            None => self.0.push((key, value.to_string())),
        }
    }
    /// Removes every value of `key`.
    pub fn remove(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.0.retain(|(k, _)| *k != key);
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
    /// Envoy's `byteSize()`: the sum of key and value lengths.
    pub fn byte_size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Envoy's `HeaderMapImpl::addCopy` (and `addViaMove`, which its codecs use for every
    /// header they receive) on a map of `kind`: an inline header (see [`MapKind::is_inline`])
    /// that is already present gets `,` and the new value appended to its one entry (nothing
    /// when the new value is empty, no `,` when the old one is); any other header is a new
    /// entry, a pseudo-header after the last pseudo-header, anything else at the end.
    pub fn add_as_envoy(&mut self, kind: MapKind, key: &str, value: &str) {
        let key = key.to_ascii_lowercase();
        if kind.is_inline(&key) {
            if let Some((_, v)) = self.0.iter_mut().find(|(k, _)| *k == key) {
                if !value.is_empty() {
                    if !v.is_empty() {
                        v.push(',');
                    }
                    v.push_str(value);
                }
                return;
            }
        }
        let at = if key.starts_with(':') {
            self.0
                .iter()
                .position(|(k, _)| !k.starts_with(':'))
                .unwrap_or(self.0.len())
        } else {
            self.0.len()
        };
        self.0.insert(at, (key, value.to_string()));
    }

    /// Envoy's `HeaderMapImpl::setCopy`: every entry of `key` removed, then
    /// [`add_as_envoy`](Self::add_as_envoy), so the header moves to the end (of the
    /// pseudo-headers for a pseudo-header).
    pub fn set_as_envoy(&mut self, kind: MapKind, key: &str, value: &str) {
        self.remove(key);
        self.add_as_envoy(kind, key, value);
    }

    /// The map Envoy builds from these entries, in order, with
    /// [`add_as_envoy`](Self::add_as_envoy): what its codec hands the filters for a message
    /// carrying them, and what `proxy_set_header_map_pairs` leaves.
    pub fn as_envoy(&self, kind: MapKind) -> Headers {
        let mut h = Headers::new();
        for (k, v) in &self.0 {
            h.add_as_envoy(kind, k, v);
        }
        h
    }
}

/// Which of Envoy's header maps: each has its own inline ("O(1)") headers, which hold one entry
/// so that a repeated one is joined to it with `,` (`HeaderMapImpl::insertByKey`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `RequestHeaderMap` (also callout request headers and gRPC initial metadata sent).
    RequestHeaders,
    /// `RequestTrailerMap`.
    RequestTrailers,
    /// `ResponseHeaderMap` (also callout response headers and gRPC initial metadata received).
    ResponseHeaders,
    /// `ResponseTrailerMap` (also callout trailers and gRPC trailing metadata).
    ResponseTrailers,
}

/// Envoy 1.40's inline request headers: its core list (`INLINE_REQ_HEADERS`,
/// `INLINE_REQ_RESP_HEADERS` in `envoy/http/header_map.h`) and the custom inline headers its
/// extensions register (`authorization`, `accept`, `origin`, ...). Checked against the real
/// Envoy 1.40 binary: each name sent twice arrives upstream as one `a,b` line (sorted; names
/// Envoy strips from external requests, such as `x-envoy-retry-on`, from the source list).
const REQUEST_INLINE: &[&str] = &[
    ":authority",
    ":method",
    ":path",
    ":protocol",
    ":scheme",
    "accept",
    "accept-encoding",
    "access-control-request-headers",
    "access-control-request-method",
    "access-control-request-private-network",
    "authentication",
    "authorization",
    "cache-control",
    "cdn-loop",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "expect",
    "grpc-accept-encoding",
    "grpc-timeout",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "keep-alive",
    "origin",
    "pragma",
    "proxy-connection",
    "proxy-status",
    "referer",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "via",
    "x-client-trace-id",
    "x-envoy-attempt-count",
    "x-envoy-decorator-operation",
    "x-envoy-downstream-service-cluster",
    "x-envoy-downstream-service-node",
    "x-envoy-expected-rq-timeout-ms",
    "x-envoy-external-address",
    "x-envoy-force-trace",
    "x-envoy-hedge-on-per-try-timeout",
    "x-envoy-internal",
    "x-envoy-ip-tags",
    "x-envoy-is-timeout-retry",
    "x-envoy-max-retries",
    "x-envoy-original-host",
    "x-envoy-original-path",
    "x-envoy-original-url",
    "x-envoy-retriable-header-names",
    "x-envoy-retriable-status-codes",
    "x-envoy-retry-grpc-on",
    "x-envoy-retry-on",
    "x-envoy-upstream-alt-stat-name",
    "x-envoy-upstream-rq-per-try-timeout-ms",
    "x-envoy-upstream-rq-timeout-alt-response",
    "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-stream-duration-ms",
    "x-forwarded-client-cert",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-request-id",
];

/// Envoy 1.40's inline response headers (`INLINE_RESP_HEADERS`, `INLINE_REQ_RESP_HEADERS`,
/// `INLINE_RESP_HEADERS_TRAILERS` and the extensions' registrations: CORS, cache), checked
/// against the real binary as [`REQUEST_INLINE`] is (`set-cookie`, `www-authenticate`, `link`
/// stay separate entries).
const RESPONSE_INLINE: &[&str] = &[
    ":status",
    "access-control-allow-credentials",
    "access-control-allow-headers",
    "access-control-allow-methods",
    "access-control-allow-origin",
    "access-control-allow-private-network",
    "access-control-expose-headers",
    "access-control-max-age",
    "age",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "etag",
    "expires",
    "grpc-message",
    "grpc-status",
    "keep-alive",
    "last-modified",
    "location",
    "proxy-connection",
    "proxy-status",
    "server",
    "transfer-encoding",
    "upgrade",
    "vary",
    "via",
    "x-envoy-attempt-count",
    "x-envoy-decorator-operation",
    "x-envoy-degraded",
    "x-envoy-immediate-health-check-fail",
    "x-envoy-ratelimited",
    "x-envoy-upstream-canary",
    "x-envoy-upstream-healthchecked-cluster",
    "x-envoy-upstream-service-time",
    "x-request-id",
];

/// Envoy's inline response trailers (`INLINE_RESP_HEADERS_TRAILERS`).
const RESPONSE_TRAILER_INLINE: &[&str] = &["grpc-message", "grpc-status"];

impl MapKind {
    /// True when `key` (lowercase) is one of this map's inline headers in Envoy 1.40.
    pub fn is_inline(self, key: &str) -> bool {
        let list = match self {
            Self::RequestHeaders => REQUEST_INLINE,
            Self::RequestTrailers => &[],
            Self::ResponseHeaders => RESPONSE_INLINE,
            Self::ResponseTrailers => RESPONSE_TRAILER_INLINE,
        };
        list.binary_search(&key).is_ok()
    }

    /// The map of a stream's direction (0 request, 1 response), headers or trailers; the
    /// hostcalls' map types 0 to 3 in that order.
    pub fn of_stream(dir: usize, trailers: bool) -> Self {
        match (dir, trailers) {
            (0, false) => Self::RequestHeaders,
            (0, true) => Self::RequestTrailers,
            (_, false) => Self::ResponseHeaders,
            (_, true) => Self::ResponseTrailers,
        }
    }
}

#[cfg(test)]
mod tests;
