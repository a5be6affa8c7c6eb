//! Where a credential is read from (a header, a query parameter, a cookie, or
//! `Authorization: Bearer`), and how it is removed before the request goes upstream.
//!
//! A credential given twice in one place (two headers, two query parameters, two cookies of the
//! same name) is ambiguous and refused, never resolved by picking one.

use filter_core::HeaderMap;

/// A configured credential location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// A request header (lowercase name).
    Header(String),
    /// A query parameter.
    Query(String),
    /// A cookie.
    Cookie(String),
}

/// What a source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing there.
    Absent,
    /// One value.
    One(Vec<u8>),
    /// More than one value: refused.
    Ambiguous,
}

/// The value of `Authorization` if it uses `scheme` (case-blind), after one or more spaces.
/// Two `Authorization` headers are ambiguous.
pub fn authorization(headers: &HeaderMap, scheme: &str) -> Found {
    let value = match headers.single("authorization") {
        Ok(Some(value)) => value,
        Ok(None) => return Found::Absent,
        Err(_) => return Found::Ambiguous,
    };
    match split_scheme(value) {
        Some((s, rest)) if s.eq_ignore_ascii_case(scheme.as_bytes()) => Found::One(rest.to_vec()),
        _ => Found::Absent,
    }
}

/// Splits `Scheme credentials` at the first run of spaces.
pub fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|b| *b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let rest = &rest[rest.iter().take_while(|b| **b == b' ').count()..];
    Some((scheme, rest))
}

impl Source {
    /// Reads the credential from `headers`.
    pub fn find(&self, headers: &HeaderMap) -> Found {
        match self {
            Self::Bearer => authorization(headers, "bearer"),
            Self::Header(name) => match headers.single(name) {
                Ok(None) => Found::Absent,
                Ok(Some(v)) => Found::One(v.to_vec()),
                Err(_) => Found::Ambiguous,
            },
            Self::Query(name) => {
                let query = headers.path().and_then(|p| split_query(p).1);
                let Some(query) = query else {
                    return Found::Absent;
                };
                let mut found = Found::Absent;
                for (n, v) in query_pairs(query) {
                    if n == name.as_bytes() {
                        if found != Found::Absent {
                            return Found::Ambiguous;
                        }
                        match percent_decode(v) {
                            Some(v) => found = Found::One(v),
                            None => return Found::Ambiguous,
                        }
                    }
                }
                found
            }
            Self::Cookie(name) => {
                let mut found = Found::Absent;
                for header in headers.get_all("cookie") {
                    for (n, v) in cookie_pairs(header) {
                        if n == name.as_bytes() {
                            if found != Found::Absent {
                                return Found::Ambiguous;
                            }
                            found = Found::One(v.to_vec());
                        }
                    }
                }
                found
            }
        }
    }

    /// Removes the credential from `headers` (the whole `Authorization` or named header, the
    /// query parameter from `:path`, the cookie from `cookie`).
    pub fn strip(&self, headers: &mut HeaderMap) {
        match self {
            Self::Bearer => headers.remove("authorization"),
            Self::Header(name) => headers.remove(name),
            Self::Query(name) => {
                let Some(path) = headers.path().map(<[u8]>::to_vec) else {
                    return;
                };
                let (base, Some(query)) = split_query(&path) else {
                    return;
                };
                let kept: Vec<&[u8]> = query
                    .split(|b| *b == b'&')
                    .filter(|pair| pair_name(pair) != name.as_bytes())
                    .collect();
                let mut rebuilt = base.to_vec();
                if !kept.is_empty() {
                    rebuilt.push(b'?');
                    rebuilt.extend_from_slice(&kept.join(&b'&'));
                }
                headers.set(":path", rebuilt);
            }
            Self::Cookie(name) => {
                let mut kept: Vec<Vec<u8>> = Vec::new();
                let mut changed = false;
                for header in headers.get_all("cookie") {
                    for (n, v) in cookie_pairs(header) {
                        if n == name.as_bytes() {
                            changed = true;
                        } else {
                            kept.push([n, b"=", v].concat());
                        }
                    }
                }
                if !changed {
                    return;
                }
                if kept.is_empty() {
                    headers.remove("cookie");
                } else {
                    headers.set("cookie", kept.join(&b"; "[..]));
                }
            }
        }
    }
}

/// `(path, query)` split at the first `?`.
pub fn split_query(path: &[u8]) -> (&[u8], Option<&[u8]>) {
    match path.iter().position(|b| *b == b'?') {
        Some(i) => (&path[..i], Some(&path[i + 1..])),
        None => (path, None),
    }
}

fn pair_name(pair: &[u8]) -> &[u8] {
    pair.split(|b| *b == b'=').next().unwrap_or(pair)
}

fn query_pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let name = pair_name(pair);
            let value = pair.get(name.len() + 1..).unwrap_or(&[]);
            (name, value)
        })
}

fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|b| *b == b';').filter_map(|item| {
        let item = item.trim_ascii();
        let eq = item.iter().position(|b| *b == b'=')?;
        Some((item[..eq].trim_ascii(), item[eq + 1..].trim_ascii()))
    })
}

/// Decodes `%XX` escapes and `+` (as space); `None` for a broken escape.
pub fn percent_decode(value: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
