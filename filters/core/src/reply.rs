//! Local replies with RFC 9457 problem details.
//!
//! A filter that refuses a request answers with a [`LocalReply`]; its body is an
//! `application/problem+json` document built from a [`Problem`]. Nothing secret belongs in a
//! problem: callers put only configuration-derived or client-visible facts in it.

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
    /// Extension members in the order added (for example `supported_versions` or `limit`).
    pub extensions: Vec<(String, Extension)>,
}

/// The value of a problem's extension member: what problems carry is text, counts, flags, and
/// lists or small objects of them. No floats: the body is written without float formatting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extension {
    /// A JSON string.
    Text(String),
    /// A non-negative JSON integer.
    Count(u64),
    /// `true` or `false`.
    Flag(bool),
    /// A JSON array.
    List(Vec<Extension>),
    /// A JSON object, members in order.
    Object(Vec<(String, Extension)>),
}

impl Extension {
    /// An object from its members.
    pub fn object<'k>(members: impl IntoIterator<Item = (&'k str, Extension)>) -> Self {
        Self::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// Appends the value as JSON.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Text(s) => write_str(out, s),
            Self::Count(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Self::Flag(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Self::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Self::Object(members) => {
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_member(out, k, v);
                }
                out.push(b'}');
            }
        }
    }
}

/// `"name":value`.
fn write_member(out: &mut Vec<u8>, name: &str, value: &Extension) {
    write_str(out, name);
    out.push(b':');
    value.write(out);
}

/// A JSON string through serde_json's escaping.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail; the fallback keeps the document valid anyway.
    let start = out.len();
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"null");
    }
}

impl From<&str> for Extension {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Extension {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

impl From<u64> for Extension {
    fn from(n: u64) -> Self {
        Self::Count(n)
    }
}

impl From<u32> for Extension {
    fn from(n: u32) -> Self {
        Self::Count(n.into())
    }
}

impl From<u16> for Extension {
    fn from(n: u16) -> Self {
        Self::Count(n.into())
    }
}

impl From<bool> for Extension {
    fn from(b: bool) -> Self {
        Self::Flag(b)
    }
}

impl<T: Into<Extension>> From<Vec<T>> for Extension {
    fn from(items: Vec<T>) -> Self {
        Self::List(items.into_iter().map(Into::into).collect())
    }
}

impl Problem {
    /// A problem of the given status, kind and title.
    pub fn new(status: u16, kind: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.into(),
            title: title.into(),
            detail: None,
            extensions: Vec::new(),
        }
    }

    /// Sets `detail`.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member, replacing one of the same name. The standard members cannot
    /// be overridden this way.
    pub fn with(mut self, key: &str, value: impl Into<Extension>) -> Self {
        if matches!(key, "type" | "title" | "status" | "detail" | "instance") {
            return self;
        }
        let value = value.into();
        match self.extensions.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.extensions.push((key.to_owned(), value)),
        }
        self
    }

    /// The `type` URI.
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_TYPE_PREFIX}{}", self.kind)
    }

    /// The JSON body: `type`, `title`, `status`, `detail`, then the extensions in order.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"type\":");
        write_str(&mut out, &self.type_uri());
        out.extend_from_slice(b",\"title\":");
        write_str(&mut out, &self.title);
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(itoa::Buffer::new().format(self.status).as_bytes());
        if let Some(detail) = &self.detail {
            out.extend_from_slice(b",\"detail\":");
            write_str(&mut out, detail);
        }
        for (k, v) in &self.extensions {
            out.push(b',');
            write_member(&mut out, k, v);
        }
        out.push(b'}');
        out
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
                .with("status", 999u32),
        )
        .header("Retry-After", "7");
        assert_eq!(reply.status, 429);
        assert_eq!(
            reply.get_header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(reply.get_header("retry-after"), Some("7"));
        assert_eq!(reply.details, "gateway_quota_exceeded");
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
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
    fn extensions_are_written_as_json_in_order() {
        let hostile = "q\"b\\s\n\u{0}\u{2028}é";
        let problem = Problem::new(400, "bad", hostile)
            .detail(hostile)
            .with("text", hostile)
            .with("count", u64::MAX)
            .with("flag", false)
            .with("list", vec!["a", hostile])
            .with(
                "object",
                Extension::object([("n", 1u32.into()), ("l", Vec::<String>::new().into())]),
            )
            .with("count", 7u16);
        let body = problem.to_json();
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "type": "urn:gateway:problem:bad",
                "title": hostile,
                "status": 400,
                "detail": hostile,
                "text": hostile,
                "count": 7,
                "flag": false,
                "list": ["a", hostile],
                "object": {"n": 1, "l": []},
            })
        );
        let keys: Vec<&str> = problem.extensions.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["text", "count", "flag", "list", "object"],
            "replaced in place"
        );
        assert!(!body.contains(&b'\n'), "control characters are escaped");
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
