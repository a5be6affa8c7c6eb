//! Sticky keys: what a client is bucketed by for canary splits, so it stays on one side. The
//! key is the consumer id, else a key the client presented (the sticky header, then the sticky
//! cookie), else a newly minted key that the response hands to the client as a cookie (when a
//! cookie is configured).

use std::cell::Cell;
use std::time::SystemTime;

use filter_core::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::{Config, Cookie};

/// Where a client's sticky key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickyKey {
    /// The authenticated consumer id.
    Consumer(Vec<u8>),
    /// A key the client presented (sticky header or cookie).
    Client(String),
    /// A key minted for this request; the response sets it as a cookie.
    Minted(String),
}

impl StickyKey {
    /// The bytes hashed, prefixed by the kind so a consumer id and a client key never collide.
    pub(crate) fn material(&self) -> Vec<u8> {
        let (tag, key): (&[u8], &[u8]) = match self {
            StickyKey::Consumer(id) => (b"consumer:", id),
            StickyKey::Client(k) | StickyKey::Minted(k) => (b"key:", k.as_bytes()),
        };
        [tag, key].concat()
    }
}

/// The sticky key of a request: the consumer id, else a presented key (header, then cookie),
/// else, when a cookie is configured, a key minted with the next value of the per-VM counter
/// `minted` (hand it to the client with [`set_cookie`]).
pub fn key(
    config: &Config,
    headers: &HeaderMap,
    now: SystemTime,
    minted: &Cell<u64>,
) -> Option<StickyKey> {
    let anonymous = headers.get(&config.credential_header) == Some(b"anonymous");
    if let Some(id) = headers.get(&config.consumer_header) {
        if !anonymous && !id.is_empty() && headers.count(&config.consumer_header) == 1 {
            return Some(StickyKey::Consumer(id.to_vec()));
        }
    }
    if let Some(h) = &config.sticky_header {
        if headers.count(h) == 1 {
            if let Some(k) = headers.get_str(h).filter(|k| is_valid_key(k)) {
                return Some(StickyKey::Client(k.to_owned()));
            }
        }
    }
    let cookie = config.cookie.as_ref()?;
    if let Some(k) = cookie_value(headers, &cookie.name) {
        return Some(StickyKey::Client(k));
    }
    let counter = minted.get().wrapping_add(1);
    minted.set(counter);
    let request_id = headers.get("x-request-id").unwrap_or_default();
    Some(StickyKey::Minted(mint(request_id, now, counter)))
}

/// The `Set-Cookie` value handing a minted `key` to the client.
pub fn set_cookie(cookie: &Cookie, key: &str) -> String {
    let mut value = format!(
        "{}={key}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax",
        cookie.name, cookie.max_age
    );
    if cookie.secure {
        value.push_str("; Secure");
    }
    value
}

/// The first valid value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| is_valid_key(v))
        .map(str::to_owned)
}

/// A new sticky key: 32 hex digits from SHA-256 over the request id, the time and a per-VM
/// counter. Not a secret; it only needs to spread clients evenly.
pub fn mint(request_id: &[u8], now: SystemTime, counter: u64) -> String {
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = Sha256::new();
    hasher.update(request_id);
    hasher.update(nanos.to_be_bytes());
    hasher.update(counter.to_be_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether a client-presented key is acceptable: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

#[cfg(test)]
mod tests;
