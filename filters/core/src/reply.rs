//! Local replies with RFC 9457 problem details.
//!
//! A filter that refuses a request answers with a [`LocalReply`]; its body is an
//! `application/problem+json` document built from a [`Problem`]. Nothing secret belongs in a
//! problem: callers put only configuration-derived or client-visible facts in it.

use serde_json::{Map, Value};

/// Prefix of the `type` URI of every problem the suite emits; the filter appends its kind.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:gateway:problem:";

/// Content type of problem bodies.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status, repeated in the body as `status`.
    pub status: u16,
    /// Short kind such as `missing-credentials`; the body's `type` is
    /// [`PROBLEM_TYPE_PREFIX`] followed by it.
    pub kind: String,
    /// Short human-readable summary, the same for every occurrence of the kind.
    pub title: String,
    /// Explanation specific to this occurrence.
    pub detail: Option<String>,
    /// Extension members (for example `supported_versions` or `limit`).
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of the given status, kind and title.
    pub fn new(status: u16, kind: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.into(),
            title: title.into(),
            detail: None,
            extensions: Map::new(),
        }
    }

    /// Sets `detail`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member. The standard members cannot be overridden this way.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        if !matches!(key, "type" | "title" | "status" | "detail" | "instance") {
            self.extensions.insert(key.to_owned(), value.into());
        }
        self
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.kind)
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let mut body = Map::new();
        body.insert("type".into(), Value::String(self.type_uri()));
        body.insert("title".into(), Value::String(self.title.clone()));
        body.insert("status".into(), Value::from(self.status));
        if let Some(detail) = &self.detail {
            body.insert("detail".into(), Value::String(detail.clone()));
        }
        for (k, v) in &self.extensions {
            body.insert(k.clone(), v.clone());
        }
        // Serializing a Value to a Vec cannot fail; fall back to an empty object regardless.
        serde_json::to_vec(&Value::Object(body)).unwrap_or_else(|_| b"{}".to_vec())
    }
}

/// A response the filter sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalReply {
    /// HTTP status code.
    pub status: u16,
    /// Extra response headers (names lowercase). Values with CR, LF or NUL are dropped when sent.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
    /// Envoy's response code details (`%RESPONSE_CODE_DETAILS%`): one token, no spaces.
    pub details: String,
}

impl LocalReply {
    /// A reply carrying `problem` as `application/problem+json`.
    pub fn problem(problem: &Problem) -> Self {
        let details = format!(
            "gateway_{}",
            problem
                .kind
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        Self {
            status: problem.status,
            headers: vec![("content-type".into(), PROBLEM_CONTENT_TYPE.into())],
            body: problem.to_json(),
            details,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// The first value of a header of this reply.
    pub fn get_header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Headers that are safe to emit (valid name, no CR/LF/NUL in the value).
    pub fn safe_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().filter_map(|(n, v)| {
            (crate::headers::is_valid_name(n) && crate::headers::is_safe_value(v.as_bytes()))
                .then_some((n.as_str(), v.as_str()))
        })
    }
}

impl From<Problem> for LocalReply {
    fn from(problem: Problem) -> Self {
        LocalReply::problem(&problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_body_is_rfc9457() {
        let reply = LocalReply::problem(
            &Problem::new(429, "quota-exceeded", "Quota exceeded")
                .detail("limit \"per-minute\" of plan gold")
                .with("limit", "per-minute")
                .with("status", 999),
        )
        .header("Retry-After", "7");
        assert_eq!(reply.status, 429);
        assert_eq!(
            reply.get_header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(reply.get_header("retry-after"), Some("7"));
        assert_eq!(reply.details, "gateway_quota_exceeded");
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["type"], "urn:gateway:problem:quota-exceeded");
        assert_eq!(body["title"], "Quota exceeded");
        assert_eq!(
            body["status"], 429,
            "extensions cannot override standard members"
        );
        assert_eq!(body["detail"], "limit \"per-minute\" of plan gold");
        assert_eq!(body["limit"], "per-minute");
    }

    #[test]
    fn unsafe_reply_headers_are_not_emitted() {
        let reply = LocalReply::problem(&Problem::new(400, "bad", "Bad"))
            .header("x-ok", "1")
            .header("x-bad", "a\r\nSet-Cookie: x");
        let names: Vec<_> = reply.safe_headers().map(|(n, _)| n).collect();
        assert_eq!(names, ["content-type", "x-ok"]);
    }
}
