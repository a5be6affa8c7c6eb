//! Consumers (id, plan, groups) and the identity a request carries once authenticated, with the
//! headers and filter state through which the rest of the chain learns it.
//!
//! Client-sent copies of the identity headers are always removed before anything is set, so a
//! client can never forge an identity.

use std::rc::Rc;

use filter_core::{HeaderMap, Host};

/// `x-gateway-consumer`: the consumer id.
pub const CONSUMER_HEADER: &str = "x-gateway-consumer";
/// `x-gateway-plan`: the consumer's plan.
pub const PLAN_HEADER: &str = "x-gateway-plan";
/// `x-gateway-groups`: comma-separated groups.
pub const GROUPS_HEADER: &str = "x-gateway-groups";
/// `x-gateway-credential`: `api-key`, `jwt`, `basic`, `hmac` or `anonymous`.
pub const CREDENTIAL_HEADER: &str = "x-gateway-credential";
/// The identity headers, all removed from every incoming request.
pub const IDENTITY_HEADERS: [&str; 4] = [
    CONSUMER_HEADER,
    PLAN_HEADER,
    GROUPS_HEADER,
    CREDENTIAL_HEADER,
];
/// Envoy filter-state property set to the consumer id.
pub const CONSUMER_PROPERTY: &str = "gateway.consumer";

/// Whether `name` may be a consumer id, plan or group: 1–64 of `A-Z a-z 0-9 . _ ~ -`.
pub fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

/// A configured consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// Identifier.
    pub id: String,
    /// Plan, if any.
    pub plan: Option<String>,
    /// Groups.
    pub groups: Vec<String>,
}

/// Who a request is, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The consumer.
    pub consumer: Rc<Consumer>,
    /// How it authenticated (`x-gateway-credential`).
    pub credential: &'static str,
}

/// Removes every client-sent identity header.
pub fn clear(headers: &mut HeaderMap) {
    for name in IDENTITY_HEADERS {
        headers.remove(name);
    }
}

impl Identity {
    /// Sets the identity headers and the consumer filter state (best effort).
    pub fn apply(&self, headers: &mut HeaderMap, host: &mut dyn Host) {
        let c = &self.consumer;
        headers.set(CONSUMER_HEADER, c.id.as_bytes());
        if let Some(plan) = &c.plan {
            headers.set(PLAN_HEADER, plan.as_bytes());
        }
        match c.groups.as_slice() {
            [] => {}
            [one] => {
                headers.set(GROUPS_HEADER, one.as_bytes());
            }
            many => {
                headers.set(GROUPS_HEADER, many.join(",").into_bytes());
            }
        }
        headers.set(CREDENTIAL_HEADER, self.credential.as_bytes());
        // Best effort: hosts without filter state refuse it, and the headers carry the same.
        let _ = host.set_property(&[CONSUMER_PROPERTY], c.id.as_bytes());
    }
}

#[cfg(test)]
mod tests;
