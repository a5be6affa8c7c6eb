//! One request's measurements, gathered in `on_log` from headers and Envoy properties.
//!
//! Sources, in order of preference:
//! - status: property `response.code`, else the response `:status`;
//! - local reply or not: property `response.code_details` (`via_upstream` means the upstream
//!   answered; anything else is a local reply); without it, local when no
//!   `x-envoy-upstream-service-time` response header exists and a status does;
//! - bytes: `request.total_size` / `response.total_size`, else `request.size` /
//!   `response.size`, else `content-length`;
//! - total latency: now minus the time the filter saw the request headers, else (a local reply
//!   before this filter) `request.duration` (int64 ns), else now minus `request.time`;
//! - consumer, plan, credential, request id: the request headers as they reached the filter
//!   (captured then, so `on_log` reads nothing), else read in `on_log`;
//! - version: the request headers as a chain forwards them (routing, after analytics in the
//!   bundle, sets it), else read in `on_log` (separate filters: routing runs after analytics);
//!   never as the request reached the filter, since routing replaces whatever a client sent;
//! - upstream latency: the `x-envoy-upstream-service-time` response header (ms).
//!
//! Integer properties are decoded as Envoy encodes them (8 bytes little-endian); ASCII decimal
//! (hosts that return strings) is accepted too.

use std::time::{Duration, SystemTime};

use filter_core::{HeaderKind, HeaderMap, Host};

use crate::config::{Api, Config};

/// Longest path kept in an event, in bytes.
pub const MAX_PATH: usize = 512;
/// Longest header-derived text field kept (consumer, plan, version, request id...), in bytes.
pub const MAX_FIELD: usize = 256;

/// The auth filter's outcome as seen from the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// A consumer identity is present.
    Ok,
    /// A local 401 or 403 and no identity.
    Denied,
    /// No identity and no denial (public route, or a reply before auth decided).
    None,
}

/// The quota filter's outcome as seen from the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaOutcome {
    /// A local 429.
    Exceeded,
    /// An identified request that was not refused for quota.
    Ok,
    /// Not identified, so not metered.
    None,
}

impl AuthOutcome {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::None => "none",
        }
    }
}

impl QuotaOutcome {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exceeded => "exceeded",
            Self::Ok => "ok",
            Self::None => "none",
        }
    }
}

/// What the stream saw in its own callbacks before `on_log`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// `:path` as the client sent it (before later filters rewrite it).
    pub path: Option<Vec<u8>>,
    /// `:method`.
    pub method: Option<Vec<u8>>,
    /// When the request headers reached this filter.
    pub started: Option<SystemTime>,
    /// Request header fields as they reached this filter (after auth set the identity), so
    /// `on_log` need not read them from the host again.
    pub headers: Option<SeenHeaders>,
}

/// Request header fields captured in `on_request_headers`, each cut to [`MAX_FIELD`] bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenHeaders {
    /// `x-request-id`.
    pub request_id: Option<Vec<u8>>,
    /// The consumer header.
    pub consumer: Option<Vec<u8>>,
    /// The plan header.
    pub plan: Option<Vec<u8>>,
    /// The credential header.
    pub credential: Option<Vec<u8>>,
    /// The version header as a chain forwards the request (`Some(None)`: absent), `None` when not
    /// known. Not taken as the request reaches the filter: routing, which runs later, replaces
    /// whatever a client sent. Unknown, it is read in `on_log`.
    pub version: Option<Option<Vec<u8>>>,
}

impl SeenHeaders {
    /// Captures the fields `config` names from the request headers.
    pub fn capture(config: &Config, headers: &HeaderMap) -> Self {
        Self {
            request_id: field(headers, "x-request-id"),
            consumer: field(headers, &config.consumer_header),
            plan: field(headers, &config.plan_header),
            credential: field(headers, &config.credential_header),
            version: None,
        }
    }

    /// Takes the version from the request headers as a chain forwards them (after routing, a
    /// later member, set it).
    pub fn forwarded(&mut self, config: &Config, headers: &HeaderMap) {
        self.version = Some(field(headers, &config.version_header));
    }
}

/// A non-empty header value cut to [`MAX_FIELD`] bytes.
fn field(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    headers
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| v[..v.len().min(MAX_FIELD)].to_vec())
}

/// Everything measured for one request. Text fields are raw bytes (possibly invalid UTF-8),
/// already cut to their maximum length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measurement {
    /// When `on_log` ran.
    pub time: SystemTime,
    /// `x-request-id`.
    pub request_id: Option<Vec<u8>>,
    /// Consumer id (set by auth).
    pub consumer: Option<Vec<u8>>,
    /// Plan (set by auth).
    pub plan: Option<Vec<u8>>,
    /// Credential type (set by auth).
    pub credential: Option<Vec<u8>>,
    /// Configured API name, or `unknown`.
    pub api: String,
    /// Version (set by routing).
    pub version: Option<Vec<u8>>,
    /// Envoy route name (`xds.route_name`), else the matched API prefix.
    pub route: Option<Vec<u8>>,
    /// Request method.
    pub method: Option<Vec<u8>>,
    /// Request path without query or fragment.
    pub path: Option<Vec<u8>>,
    /// Response status; `None` when the stream ended without one.
    pub status: Option<u16>,
    /// Whether the response was produced locally (by a filter or Envoy).
    pub local: bool,
    /// `response.code_details`.
    pub details: Option<Vec<u8>>,
    /// Auth outcome.
    pub auth: AuthOutcome,
    /// Quota outcome.
    pub quota: QuotaOutcome,
    /// Request bytes.
    pub request_bytes: Option<u64>,
    /// Response bytes.
    pub response_bytes: Option<u64>,
    /// Total latency.
    pub duration: Option<Duration>,
    /// Upstream latency.
    pub upstream: Option<Duration>,
}

/// Decodes an integer property: 8 bytes little-endian, or ASCII decimal.
pub fn decode_int(bytes: &[u8]) -> Option<i64> {
    if !bytes.is_empty() && bytes.len() <= 20 && bytes.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(bytes).ok()?.parse().ok();
    }
    let arr: [u8; 8] = bytes.try_into().ok()?;
    Some(i64::from_le_bytes(arr))
}

/// The path without query string or fragment.
pub fn strip_query(path: &[u8]) -> &[u8] {
    let end = path
        .iter()
        .position(|b| *b == b'?' || *b == b'#')
        .unwrap_or(path.len());
    &path[..end]
}

/// The first API whose prefix matches `path`, with the prefix.
pub fn match_api<'a>(apis: &'a [Api], path: &[u8]) -> Option<(&'a Api, &'a str)> {
    let path = strip_query(path);
    apis.iter().find_map(|api| {
        api.path_prefixes.iter().find_map(|p| {
            let rest = path.strip_prefix(p.as_bytes())?;
            let boundary = p.ends_with('/') || rest.is_empty() || rest[0] == b'/';
            boundary.then_some((api, p.as_str()))
        })
    })
}

fn cut(mut v: Vec<u8>, max: usize) -> Vec<u8> {
    v.truncate(max);
    v
}

fn since(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or(Duration::ZERO)
}

fn int_prop(host: &dyn Host, path: &[&str]) -> Option<i64> {
    host.property(path).as_deref().and_then(decode_int)
}

fn size(host: &dyn Host, total: &[&str], body: &[&str], kind: HeaderKind) -> Option<u64> {
    let v = int_prop(host, total)
        .or_else(|| int_prop(host, body))
        .or_else(|| {
            let cl = host.header(kind, "content-length")?;
            std::str::from_utf8(&cl).ok()?.trim().parse().ok()
        })?;
    u64::try_from(v).ok()
}

impl Measurement {
    /// Gathers the measurements of the ending stream.
    pub fn collect(config: &Config, seen: Seen, host: &dyn Host) -> Self {
        let now = host.now();
        let req = |name: &str| {
            host.header(HeaderKind::Request, name)
                .filter(|v| !v.is_empty())
                .map(|v| cut(v, MAX_FIELD))
        };
        let path = seen
            .path
            .or_else(|| host.header(HeaderKind::Request, ":path"));
        let method = seen
            .method
            .or_else(|| host.header(HeaderKind::Request, ":method"));
        let status = int_prop(host, &["response", "code"])
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c > 0)
            .or_else(|| {
                let s = host.header(HeaderKind::Response, ":status")?;
                std::str::from_utf8(&s).ok()?.parse().ok()
            });
        let upstream = host
            .header(HeaderKind::Response, "x-envoy-upstream-service-time")
            .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        let details = host
            .property(&["response", "code_details"])
            .filter(|d| !d.is_empty())
            .map(|d| cut(d, MAX_FIELD));
        let local = match &details {
            Some(d) => d.as_slice() != b"via_upstream",
            None => upstream.is_none() && status.is_some(),
        };
        let duration = seen
            .started
            .map(|s| since(now, s))
            .or_else(|| {
                let ns = int_prop(host, &["request", "duration"])?;
                u64::try_from(ns).ok().map(Duration::from_nanos)
            })
            .or_else(|| {
                let ns = u64::try_from(int_prop(host, &["request", "time"])?).ok()?;
                Some(since(now, std::time::UNIX_EPOCH + Duration::from_nanos(ns)))
            });
        let matched = path.as_deref().and_then(|p| match_api(&config.apis, p));
        let route = host
            .property(&["xds", "route_name"])
            .filter(|r| !r.is_empty())
            .map(|r| cut(r, MAX_FIELD))
            .or_else(|| matched.map(|(_, prefix)| prefix.as_bytes().to_vec()));
        let mut seen_headers = seen.headers;
        let mut seen_or_read =
            |field: fn(&mut SeenHeaders) -> &mut Option<Vec<u8>>, name: &str| match seen_headers
                .as_mut()
            {
                Some(h) => field(h).take(),
                None => req(name),
            };
        let consumer = seen_or_read(|h| &mut h.consumer, &config.consumer_header);
        let auth = match (&consumer, status) {
            (Some(_), _) => AuthOutcome::Ok,
            (None, Some(401 | 403)) if local => AuthOutcome::Denied,
            _ => AuthOutcome::None,
        };
        let quota = match (&consumer, status) {
            (_, Some(429)) if local => QuotaOutcome::Exceeded,
            (Some(_), _) => QuotaOutcome::Ok,
            _ => QuotaOutcome::None,
        };
        Self {
            time: now,
            request_id: seen_or_read(|h| &mut h.request_id, "x-request-id"),
            plan: seen_or_read(|h| &mut h.plan, &config.plan_header),
            credential: seen_or_read(|h| &mut h.credential, &config.credential_header),
            version: match seen_headers.as_mut().and_then(|h| h.version.take()) {
                Some(forwarded) => forwarded,
                None => req(&config.version_header),
            },
            consumer,
            api: matched.map_or_else(|| "unknown".to_owned(), |(a, _)| a.name.clone()),
            route,
            method: method.map(|m| cut(m, 32)),
            path: path.map(|p| cut(strip_query(&p).to_vec(), MAX_PATH)),
            status,
            local,
            details,
            auth,
            quota,
            request_bytes: size(
                host,
                &["request", "total_size"],
                &["request", "size"],
                HeaderKind::Request,
            ),
            response_bytes: size(
                host,
                &["response", "total_size"],
                &["response", "size"],
                HeaderKind::Response,
            ),
            duration,
            upstream,
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
