//! Who a request is metered as (the subject), and the store key of each of its counters.
//!
//! Keys only come from bounded sets, never from raw client input (shared data has no delete):
//! consumer ids are set by auth from its configuration; API-key digests are used only for
//! requests auth accepted with an API key; client addresses and header values are hashed into a
//! configured number of buckets. Plan, limit and scope parts come from the configuration.
//!
//! Key layout: `quota/1/<plan>/<limit>/<algorithm>-<size><unit>[-cal]/<scope>/<subject>`; the
//! window and algorithm are part of the key so that changing them starts fresh counters instead
//! of reading old ones with another meaning.

use sha2::{Digest, Sha256};

use filter_core::{HeaderMap, Host};

use crate::config::{Config, Route, Scope, Source};
use crate::limit::Limit;

/// Longest consumer id accepted from the identity header.
pub const MAX_CONSUMER_ID: usize = 128;
/// Longest API key hashed.
pub const MAX_API_KEY: usize = 4_096;

/// Who a request is metered as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A consumer id set by auth.
    Consumer(String),
    /// The first 128 bits of the SHA-256 of an API key, in hex.
    ApiKey(String),
    /// A bucket of hashed client addresses or header values.
    Bucket(u32),
}

impl Subject {
    /// Appends the subject's part of a store key to `key`.
    pub fn push_key_part(&self, key: &mut String) {
        match self {
            Subject::Consumer(id) => {
                key.push_str("c:");
                key.push_str(id);
            }
            Subject::ApiKey(digest) => {
                key.push_str("k:");
                key.push_str(digest);
            }
            Subject::Bucket(n) => {
                key.push_str("b:");
                key.push_str(itoa::Buffer::new().format(*n));
            }
        }
    }
}

/// The consumer id auth set, if it is present once and made of token characters.
pub fn consumer_id<'h>(config: &Config, headers: &'h HeaderMap) -> Option<&'h str> {
    let id = headers
        .single(&config.identity.consumer_header)
        .ok()
        .flatten()?;
    let id = std::str::from_utf8(id).ok()?;
    let ok = !id.is_empty()
        && id.len() <= MAX_CONSUMER_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then_some(id)
}

/// The subject of a request under the configured key source; `None` if the request lacks it.
pub fn subject(config: &Config, headers: &HeaderMap, host: &dyn Host) -> Option<Subject> {
    match &config.key.source {
        Source::Consumer => consumer_id(config, headers).map(|id| Subject::Consumer(id.into())),
        Source::ApiKey(header) => {
            // Only keys auth accepted: otherwise any string would create a counter.
            consumer_id(config, headers)?;
            let credential = headers.get(&config.identity.credential_header)?;
            if credential != b"api-key" {
                return None;
            }
            let key = headers
                .single(header)
                .ok()
                .flatten()
                .filter(|k| !k.is_empty() && k.len() <= MAX_API_KEY)?;
            let digest = Sha256::digest(key);
            Some(Subject::ApiKey(hex(&digest[..16])))
        }
        Source::ClientAddress(buckets) => {
            let address = host.property(&["source", "address"])?;
            let ip = strip_port(&address);
            (!ip.is_empty()).then(|| Subject::Bucket(bucket(ip, *buckets)))
        }
        Source::Header(name, buckets) => {
            let value = headers.get(name).filter(|v| !v.is_empty())?;
            Some(Subject::Bucket(bucket(value, *buckets)))
        }
    }
}

/// The store key of one counter.
///
/// `quota/1/{plan}/{limit}/{algorithm}-{size}{unit}[-cal]/{scope}/{subject}`, built without the
/// formatting machinery: it runs for every limit of every request.
pub fn counter_key(plan: &str, limit: &Limit, scope: &str, subject: &Subject) -> String {
    let w = &limit.window;
    let mut size = itoa::Buffer::new();
    let parts = [
        "quota/1/",
        plan,
        "/",
        &limit.name,
        "/",
        limit.algorithm.name(),
        "-",
        size.format(w.size),
        w.unit.name(),
        if w.calendar { "-cal" } else { "" },
        "/",
        scope,
        "/",
    ];
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 80);
    for part in parts {
        key.push_str(part);
    }
    subject.push_key_part(&mut key);
    key
}

/// The host part of `ip:port`, `[ipv6]:port` or a bare address.
pub fn strip_port(address: &[u8]) -> &[u8] {
    if let Some(rest) = address.strip_prefix(b"[") {
        return match rest.iter().position(|&b| b == b']') {
            Some(end) => &rest[..end],
            None => rest,
        };
    }
    let colons = address.iter().filter(|&&b| b == b':').count();
    match (colons, address.iter().rposition(|&b| b == b':')) {
        (1, Some(i)) => &address[..i],
        _ => address,
    }
}

/// Hashes a value into one of `buckets` counters.
pub fn bucket(value: &[u8], buckets: u32) -> u32 {
    let digest = Sha256::digest(value);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_le_bytes(first) % u64::from(buckets.max(1))) as u32
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The scope part of a counter key for the matched route.
pub fn scope_part(per: Scope, route: Option<&Route>) -> String {
    match (per, route) {
        (Scope::None, _) | (_, None) => "-".into(),
        (Scope::Api, Some(r)) => format!("api:{}", r.api),
        (Scope::Route, Some(r)) => format!("route:{}", r.name),
        (Scope::Version, Some(r)) => match &r.version {
            Some(v) => format!("version:{v}"),
            None => "-".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use filter_core::FakeHost;

    fn config(key: &str) -> Config {
        parse(
            format!(
                r#"{{"plans":[{{"name":"p","limits":[{{"name":"l","limit":5,"window":"minute"}}]}}],"key":{key}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn subjects_by_source() {
        let consumer = config(r#"{"source":"consumer"}"#);
        let api_key = config(r#"{"source":"api_key","header":"x-api-key"}"#);
        let address = config(r#"{"source":"client_address","buckets":16}"#);
        let header = config(r#"{"source":"header","header":"x-tenant","buckets":4}"#);
        let mut host = FakeHost::new();
        host.set_prop("source.address", "10.0.0.7:5555");
        let authed = |extra: &[(&str, &[u8])]| {
            let mut pairs: Vec<(&str, Vec<u8>)> = vec![
                ("x-gateway-consumer", b"alice".to_vec()),
                ("x-gateway-credential", b"api-key".to_vec()),
            ];
            pairs.extend(extra.iter().map(|(n, v)| (*n, v.to_vec())));
            HeaderMap::from_pairs(pairs)
        };
        let none = HeaderMap::default();
        let key_digest = hex(&Sha256::digest(b"alice-key-123")[..16]);
        let cases: Vec<(&Config, HeaderMap, Option<Subject>, &str)> = vec![
            (
                &consumer,
                authed(&[]),
                Some(Subject::Consumer("alice".into())),
                "consumer",
            ),
            (&consumer, none.clone(), None, "no consumer header"),
            (
                &consumer,
                HeaderMap::from_pairs([("x-gateway-consumer", "a b")]),
                None,
                "not a token",
            ),
            (
                &consumer,
                HeaderMap::from_pairs([("x-gateway-consumer", b"\xC0\xA7".to_vec())]),
                None,
                "not UTF-8",
            ),
            (
                &consumer,
                HeaderMap::from_pairs([("x-gateway-consumer", "a"), ("x-gateway-consumer", "b")]),
                None,
                "two consumer headers",
            ),
            (
                &consumer,
                HeaderMap::from_pairs([("x-gateway-consumer", "x".repeat(129))]),
                None,
                "too long",
            ),
            (
                &api_key,
                authed(&[("x-api-key", b"alice-key-123")]),
                Some(Subject::ApiKey(key_digest)),
                "accepted API key",
            ),
            (
                &api_key,
                HeaderMap::from_pairs([("x-api-key", "alice-key-123")]),
                None,
                "a key auth did not accept",
            ),
            (
                &api_key,
                HeaderMap::from_pairs([
                    ("x-gateway-consumer", "alice"),
                    ("x-gateway-credential", "jwt"),
                    ("x-api-key", "k"),
                ]),
                None,
                "authenticated otherwise",
            ),
            (
                &address,
                none.clone(),
                Some(Subject::Bucket(bucket(b"10.0.0.7", 16))),
                "client address without port",
            ),
            (
                &header,
                HeaderMap::from_pairs([("x-tenant", b"\xffacme".to_vec())]),
                Some(Subject::Bucket(bucket(b"\xffacme", 4))),
                "any bytes hash",
            ),
            (
                &header,
                HeaderMap::from_pairs([("x-tenant", "")]),
                None,
                "empty header",
            ),
        ];
        for (config, headers, want, why) in cases {
            assert_eq!(subject(config, &headers, &host), want, "{why}");
        }
        assert_eq!(
            subject(&address, &none, &FakeHost::new()),
            None,
            "no address property"
        );
    }

    #[test]
    fn ports_are_stripped() {
        for (input, want) in [
            (&b"1.2.3.4:80"[..], &b"1.2.3.4"[..]),
            (b"[::1]:443", b"::1"),
            (b"::1", b"::1"),
            (b"1.2.3.4", b"1.2.3.4"),
            (b"[broken", b"broken"),
            (b"", b""),
        ] {
            assert_eq!(strip_port(input), want, "{input:?}");
        }
        assert!((0..1000).all(|i| bucket(format!("{i}").as_bytes(), 7) < 7));
    }

    #[test]
    fn keys_carry_plan_limit_window_scope_and_subject() {
        let c = config(r#"{"source":"consumer"}"#);
        let l = &c.plans[0].limits[0].limit;
        assert_eq!(
            counter_key("free", l, "-", &Subject::Consumer("bob".into())),
            "quota/1/free/l/fixed_window-1minute/-/c:bob"
        );
    }
}
