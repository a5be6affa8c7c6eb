//! What a version name is: the syntax every configured name and alias has, and every
//! client-supplied version value must have before it is compared with them.

/// Longest version name or alias.
pub const MAX_NAME_LEN: usize = 32;

/// Whether `s` is a version name: 1 to 32 of `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn is_version_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
