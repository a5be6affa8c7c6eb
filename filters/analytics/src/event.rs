//! Usage events: one JSON object per request, one per line.
//!
//! The object (schema version `v` = 1) always has the same members in the same order; a member
//! with no value is `null`. Text from the request (path, consumer, version, ...) may be any
//! bytes: invalid UTF-8 is replaced with U+FFFD (lossy, never rejected), quotes, backslashes and
//! control characters (CR, LF, ...) are escaped by serde_json, and U+2028 / U+2029 are written as
//! `\u2028` / `\u2029` so a line is also safe inside JavaScript. An event never contains a raw
//! newline, so a batch is simply events joined with `\n`.
//!
//! ```json
//! {"v":1,"time":"2026-01-01T00:00:00.000Z","ts_ms":1767225600000,"request_id":"r-1",
//!  "consumer":"alice","plan":"gold","credential":"api-key","api":"orders","version":"v2",
//!  "route":"orders_v2","method":"GET","path":"/v2/orders/1","status":200,"status_class":"2xx",
//!  "local":false,"details":"via_upstream","reason":null,"auth":"ok","quota":"ok",
//!  "request_bytes":120,"response_bytes":3400,"duration_us":9500,"upstream_us":7000}
//! ```

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use filter_core::time::{format_rfc3339_ms, write_rfc3339_ms};
use serde::{Deserialize, Serialize};

use crate::labels::{reason, status_class};
use crate::measure::Measurement;

/// The wire form of one event (also what the KPI report reads back).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageEvent<'a> {
    /// Schema version (1).
    pub v: u32,
    /// End of the request, RFC 3339 UTC with milliseconds.
    pub time: Cow<'a, str>,
    /// The same instant in milliseconds since the Unix epoch.
    pub ts_ms: u64,
    /// `x-request-id`.
    pub request_id: Option<Cow<'a, str>>,
    /// Consumer id.
    pub consumer: Option<Cow<'a, str>>,
    /// Plan.
    pub plan: Option<Cow<'a, str>>,
    /// Credential type.
    pub credential: Option<Cow<'a, str>>,
    /// API name (`unknown` when no configured prefix matched).
    pub api: Cow<'a, str>,
    /// Version.
    pub version: Option<Cow<'a, str>>,
    /// Route.
    pub route: Option<Cow<'a, str>>,
    /// Method.
    pub method: Option<Cow<'a, str>>,
    /// Path without the query string (`null` when `include_path` is false).
    pub path: Option<Cow<'a, str>>,
    /// Status code.
    pub status: Option<u16>,
    /// Status class.
    pub status_class: Cow<'a, str>,
    /// Whether the reply was local.
    pub local: bool,
    /// Envoy response code details.
    pub details: Option<Cow<'a, str>>,
    /// Local-reply reason (the details without `gateway_`), `null` for upstream responses.
    pub reason: Option<Cow<'a, str>>,
    /// Auth outcome: `ok`, `denied`, `none`.
    pub auth: Cow<'a, str>,
    /// Quota outcome: `ok`, `exceeded`, `none`.
    pub quota: Cow<'a, str>,
    /// Request bytes.
    pub request_bytes: Option<u64>,
    /// Response bytes.
    pub response_bytes: Option<u64>,
    /// Total latency in microseconds.
    pub duration_us: Option<u64>,
    /// Upstream latency in microseconds.
    pub upstream_us: Option<u64>,
}

fn text(v: &Option<Vec<u8>>) -> Option<Cow<'_, str>> {
    v.as_deref().map(String::from_utf8_lossy)
}

fn micros(d: Option<Duration>) -> Option<u64> {
    d.map(filter_core::time::micros)
}

impl<'a> UsageEvent<'a> {
    /// The event for a measurement.
    pub fn from_measurement(m: &'a Measurement, include_path: bool) -> Self {
        let since = m.time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let ts_ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
        Self {
            v: 1,
            time: Cow::Owned(format_rfc3339_ms(ts_ms)),
            ts_ms,
            request_id: text(&m.request_id),
            consumer: text(&m.consumer),
            plan: text(&m.plan),
            credential: text(&m.credential),
            api: Cow::Borrowed(&m.api),
            version: text(&m.version),
            route: text(&m.route),
            method: text(&m.method),
            path: if include_path { text(&m.path) } else { None },
            status: m.status,
            status_class: Cow::Borrowed(status_class(m.status)),
            local: m.local,
            details: text(&m.details),
            reason: m
                .details
                .as_deref()
                .filter(|_| m.local)
                .map(|d| String::from_utf8_lossy(reason(d))),
            auth: Cow::Borrowed(m.auth.as_str()),
            quota: Cow::Borrowed(m.quota.as_str()),
            request_bytes: m.request_bytes,
            response_bytes: m.response_bytes,
            duration_us: micros(m.duration),
            upstream_us: micros(m.upstream),
        }
    }

    /// One JSON line (without the trailing newline), through serde: the reference form, with
    /// U+2028 and U+2029 escaped. The filter writes the same bytes with [`line()`].
    pub fn to_line(&self) -> String {
        // Serializing strings and integers cannot fail; an empty object is a safe fallback.
        let json = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        if json.as_bytes().contains(&0xE2) && json.contains(['\u{2028}', '\u{2029}']) {
            json.replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029")
        } else {
            json
        }
    }
}

/// The event line of a measurement (UTF-8), written straight from its bytes: equal to
/// `UsageEvent::from_measurement(m, include_path).to_line()` (tested for every hostile case),
/// without building the event or passing over each text twice. It runs for every request.
pub fn line(m: &Measurement, include_path: bool) -> Vec<u8> {
    let since = m.time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let ts_ms = filter_core::time::millis(since);
    let mut out = Line(Vec::with_capacity(512));
    out.0.extend_from_slice(b"{\"v\":1,\"time\":\"");
    write_rfc3339_ms(&mut out.0, ts_ms);
    out.0.push(b'"');
    // The members after `time`, in schema order, each with the bytes that lead to its value.
    let members = [
        (&b",\"ts_ms\":"[..], Member::Uint(Some(ts_ms))),
        (b",\"request_id\":", Member::text(&m.request_id)),
        (b",\"consumer\":", Member::text(&m.consumer)),
        (b",\"plan\":", Member::text(&m.plan)),
        (b",\"credential\":", Member::text(&m.credential)),
        (b",\"api\":", Member::Text(Some(m.api.as_bytes()))),
        (b",\"version\":", Member::text(&m.version)),
        (b",\"route\":", Member::text(&m.route)),
        (b",\"method\":", Member::text(&m.method)),
        (
            b",\"path\":",
            Member::Text(m.path.as_deref().filter(|_| include_path)),
        ),
        (b",\"status\":", Member::Uint(m.status.map(u64::from))),
        (
            b",\"status_class\":",
            Member::Text(Some(status_class(m.status).as_bytes())),
        ),
        (b",\"local\":", Member::Bool(m.local)),
        (b",\"details\":", Member::text(&m.details)),
        (
            b",\"reason\":",
            Member::Text(m.details.as_deref().filter(|_| m.local).map(reason)),
        ),
        (
            b",\"auth\":",
            Member::Text(Some(m.auth.as_str().as_bytes())),
        ),
        (
            b",\"quota\":",
            Member::Text(Some(m.quota.as_str().as_bytes())),
        ),
        (b",\"request_bytes\":", Member::Uint(m.request_bytes)),
        (b",\"response_bytes\":", Member::Uint(m.response_bytes)),
        (b",\"duration_us\":", Member::Uint(micros(m.duration))),
        (b",\"upstream_us\":", Member::Uint(micros(m.upstream))),
    ];
    for (lead, value) in members {
        out.0.extend_from_slice(lead);
        match value {
            Member::Text(v) => out.text(v),
            Member::Uint(v) => out.opt_uint(v),
            Member::Bool(v) => out.0.extend_from_slice(if v { b"true" } else { b"false" }),
        }
    }
    out.0.push(b'}');
    out.0
}

/// A member's value, as [`line`] writes it.
enum Member<'a> {
    /// A string from the request (`null` when absent).
    Text(Option<&'a [u8]>),
    /// A number (`null` when absent).
    Uint(Option<u64>),
    Bool(bool),
}

impl<'a> Member<'a> {
    fn text(v: &'a Option<Vec<u8>>) -> Self {
        Self::Text(v.as_deref())
    }
}

/// An event line being written.
struct Line(Vec<u8>);

impl Line {
    fn uint(&mut self, v: u64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn opt_uint(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.uint(v),
            None => self.0.extend_from_slice(b"null"),
        }
    }

    /// Text from the request as a JSON string (`null` when absent). Plain ASCII, the usual case,
    /// is copied in one pass; anything else is made valid UTF-8 (lossy) and escaped by serde_json,
    /// then U+2028 and U+2029 become `\u2028`/`\u2029`.
    fn text(&mut self, v: Option<&[u8]>) {
        let Some(v) = v else {
            self.0.extend_from_slice(b"null");
            return;
        };
        if filter_core::bytes::is_json_plain(v) {
            self.0.push(b'"');
            self.0.extend_from_slice(v);
            self.0.push(b'"');
            return;
        }
        let text = String::from_utf8_lossy(v);
        let start = self.0.len();
        if serde_json::to_writer(&mut self.0, &*text).is_err() {
            self.0.truncate(start);
            self.0.extend_from_slice(b"null");
            return;
        }
        if self.0[start..].contains(&0xE2) {
            let escaped = String::from_utf8_lossy(&self.0[start..])
                .replace('\u{2028}', "\\u2028")
                .replace('\u{2029}', "\\u2029");
            self.0.truncate(start);
            self.0.extend_from_slice(escaped.as_bytes());
        }
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
