//! The request target (`:path`) as the router and the upstream will see it.
//!
//! The version is read from the raw `:path`, so anything a router, a normalizing proxy or an
//! upstream could read differently from this filter is refused: dot segments, encoded dots,
//! slashes, backslashes and percent signs, backslashes, empty segments, control and non-ASCII
//! bytes, fragments, and targets that are not in origin form. The query never influences the
//! path: it is split off at the first `?` and only parsed by name when asked.

use thiserror::Error;

/// Why a request target is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TargetError {
    /// No `:path` (for example CONNECT).
    #[error("the request has no path")]
    Missing,
    /// Longer than `max_path_bytes`.
    #[error("the path is too long")]
    TooLong,
    /// Not origin form (`*`, absolute form, or not starting with `/`).
    #[error("the request target is not in origin form")]
    NotOriginForm,
    /// A control byte, space, DEL, or a byte over 0x7F.
    #[error("the path contains control, space or non-ASCII bytes")]
    BadByte,
    /// `#`.
    #[error("the request target contains a fragment")]
    Fragment,
    /// `\` in the path.
    #[error("the path contains a backslash")]
    Backslash,
    /// `%` not followed by two hex digits.
    #[error("the path contains a malformed percent-encoding")]
    BadPercent,
    /// `%2e`, `%2f`, `%5c`, `%25` or an encoded control byte.
    #[error("the path contains an encoded dot, slash, backslash, percent or control byte")]
    EncodedSeparator,
    /// A `.` or `..` segment.
    #[error("the path contains a dot segment")]
    DotSegment,
    /// `//` inside the path.
    #[error("the path contains an empty segment")]
    EmptySegment,
    /// `;` or `%` in the first segment (matrix parameters or encoding on the version segment).
    #[error("the version segment contains parameters or encoding")]
    VersionSegment,
}

/// A request target that passed every check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The path, without the query.
    pub path: &'a str,
    /// The query, without the `?`, if any.
    pub query: Option<&'a str>,
}

/// Checks a raw `:path` (at most `max` bytes) and splits it.
pub fn parse(raw: Option<&[u8]>, max: usize) -> Result<Target<'_>, TargetError> {
    let raw = raw.ok_or(TargetError::Missing)?;
    if raw.len() > max {
        return Err(TargetError::TooLong);
    }
    if raw.first() != Some(&b'/') {
        return Err(TargetError::NotOriginForm);
    }
    // One pass for the byte checks (this runs on every request); errors keep this order.
    let (mut bad_byte, mut fragment, mut backslash, mut query_at) = (false, false, false, None);
    for (i, &b) in raw.iter().enumerate() {
        bad_byte |= b <= 0x20 || b >= 0x7f;
        fragment |= b == b'#';
        if b == b'?' && query_at.is_none() {
            query_at = Some(i);
        }
        backslash |= b == b'\\' && query_at.is_none();
    }
    if bad_byte {
        return Err(TargetError::BadByte);
    }
    if fragment {
        return Err(TargetError::Fragment);
    }
    // All ASCII from here on.
    let text = std::str::from_utf8(raw).map_err(|_| TargetError::BadByte)?;
    let (path, query) = match query_at.and_then(|at| Some((text.get(..at)?, text.get(at + 1..)?))) {
        Some((p, q)) => (p, Some(q)),
        None => (text, None),
    };
    if backslash {
        return Err(TargetError::Backslash);
    }
    check_percent(path.as_bytes())?;
    let body = path.get(1..).unwrap_or_default();
    let mut segments = body.split('/').peekable();
    let first = segments.peek().copied().unwrap_or_default();
    while let Some(seg) = segments.next() {
        if seg == "." || seg == ".." {
            return Err(TargetError::DotSegment);
        }
        // A trailing slash (`/v2/`) and the root (`/`) are fine; `//` anywhere else is not.
        if seg.is_empty() && segments.peek().is_some() {
            return Err(TargetError::EmptySegment);
        }
    }
    if first.contains([';', '%']) {
        return Err(TargetError::VersionSegment);
    }
    Ok(Target { path, query })
}

fn check_percent(path: &[u8]) -> Result<(), TargetError> {
    let mut i = 0;
    while let Some(&b) = path.get(i) {
        if b == b'%' {
            let (Some(h), Some(l)) = (path.get(i + 1), path.get(i + 2)) else {
                return Err(TargetError::BadPercent);
            };
            let (Some(h), Some(l)) = (hex(*h), hex(*l)) else {
                return Err(TargetError::BadPercent);
            };
            let decoded = h * 16 + l;
            if matches!(decoded, b'.' | b'/' | b'\\' | b'%' | b';' | b'?' | b'#')
                || !(0x20..0x7f).contains(&decoded)
            {
                return Err(TargetError::EncodedSeparator);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Target<'_> {
    /// The first path segment (`v2` in `/v2/users`); empty for `/`.
    pub fn first_segment(&self) -> &str {
        let body = &self.path[1..];
        body.split('/').next().unwrap_or("")
    }

    /// The target with the first segment removed (`/v2/x?q` -> `/x?q`, `/v2` -> `/`).
    pub fn without_first_segment(&self) -> String {
        let body = &self.path[1..];
        let rest = body.find('/').map_or("/", |i| &body[i..]);
        match self.query {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        }
    }

    /// Every value of query parameter `name` (compared byte for byte, not decoded).
    pub fn query_values<'b>(&'b self, name: &'b str) -> impl Iterator<Item = &'b str> + 'b {
        self.query.unwrap_or("").split('&').filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

#[cfg(test)]
mod tests;
