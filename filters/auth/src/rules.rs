//! Rules: which requirement applies to a request, chosen by path prefix and method (first match
//! wins, no match is denied), and the per-rule ACL by group.
//!
//! Paths a backend could read differently from the matcher (dot segments, encoded slashes or
//! dots, backslashes, doubled slashes, control bytes) are refused before matching, so a public
//! prefix can never be used to reach a protected one.

use crate::credential::CredentialType;

/// What a rule requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing.
    Public,
    /// One credential of one of these types.
    AnyOf(Vec<CredentialType>),
    /// A credential of each of these types, all naming the same consumer.
    AllOf(Vec<CredentialType>),
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Path prefix, matched on whole segments.
    pub prefix: String,
    /// Methods; empty means all.
    pub methods: Vec<String>,
    /// The requirement.
    pub requirement: Requirement,
    /// Consumer index used when no credential is presented.
    pub anonymous: Option<usize>,
    /// Allowed groups; empty means any.
    pub allow_groups: Vec<String>,
    /// Denied groups (deny wins).
    pub deny_groups: Vec<String>,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("ambiguous request path: {0}")]
pub struct PathError(pub &'static str);

/// The path part of `:path` (before `?`), if it is unambiguous.
pub fn clean_path(target: Option<&[u8]>) -> Result<&[u8], PathError> {
    let target = target.ok_or(PathError("no :path"))?;
    let path = crate::source::split_query(target).0;
    if path.first() != Some(&b'/') {
        return Err(PathError("not origin-form"));
    }
    // One pass over the path (it runs on every request); the checks report in this order.
    let (mut control, mut empty, mut encoded, mut dot) = (false, false, false, false);
    let mut segment_start = 0;
    for (i, &b) in path.iter().enumerate() {
        control |= b < 0x20 || b == 0x7f || b == b'\\';
        if b == b'%' {
            let hex = [
                path.get(i + 1).map_or(0, u8::to_ascii_lowercase),
                path.get(i + 2).map_or(0, u8::to_ascii_lowercase),
            ];
            encoded |= matches!(&hex, b"2e" | b"2f" | b"5c" | b"00");
        }
        if b == b'/' {
            empty |= i > 0 && i == segment_start;
            dot |= is_dot_segment(&path[segment_start..i]);
            segment_start = i + 1;
        }
    }
    dot |= is_dot_segment(&path[segment_start..]);
    if control {
        return Err(PathError("control byte or backslash"));
    }
    if empty {
        return Err(PathError("empty segment"));
    }
    if encoded {
        return Err(PathError("encoded dot, slash, backslash or NUL"));
    }
    if dot {
        return Err(PathError("dot segment"));
    }
    Ok(path)
}

/// `.` or `..`, ignoring `;` parameters.
fn is_dot_segment(segment: &[u8]) -> bool {
    let name = segment.split(|b| *b == b';').next().unwrap_or(segment);
    name == b"." || name == b".."
}

impl Rule {
    /// Whether the rule applies to `method` and the clean `path`.
    pub fn matches(&self, method: &[u8], path: &[u8]) -> bool {
        let prefix = self.prefix.as_bytes();
        let path_ok = path.starts_with(prefix)
            && (prefix.ends_with(b"/")
                || path.len() == prefix.len()
                || path.get(prefix.len()) == Some(&b'/'));
        path_ok && (self.methods.is_empty() || self.methods.iter().any(|m| m.as_bytes() == method))
    }

    /// Whether a consumer in `groups` passes the ACL: in no denied group, and in an allowed one
    /// when the rule lists any.
    pub fn allows(&self, groups: &[String]) -> bool {
        let denied = groups.iter().any(|g| self.deny_groups.contains(g));
        let allowed =
            self.allow_groups.is_empty() || groups.iter().any(|g| self.allow_groups.contains(g));
        allowed && !denied
    }
}

/// The first rule matching the request.
pub fn find<'a>(rules: &'a [Rule], method: &[u8], path: &[u8]) -> Option<&'a Rule> {
    rules.iter().find(|r| r.matches(method, path))
}

#[cfg(test)]
mod tests;
