//! The auth filter of the gateway suite: the front door.
//!
//! It authenticates requests with API keys, JWTs (inline or remote JWKS), basic credentials or
//! HMAC request signatures, per rule (path prefix and method: public, any-of or all-of credential
//! types, an optional anonymous consumer, and an ACL by group), and passes the consumer's
//! identity to the rest of the chain in headers a client cannot forge. Refusals are RFC 9457
//! problems: 400, 401 with `WWW-Authenticate`, 403, or 503 when JWT keys cannot be had.
//!
//! Modules, each with one job:
//! - [`config`]: the runtime configuration and its entry point from bytes ([`config::wire`]: the
//!   JSON wire format; `config::validate`: wire to runtime, errors naming the field);
//! - [`credential`]: the credential types a rule can ask for, and their names;
//! - [`rules`]: which rule applies to a request, and its ACL;
//! - [`source`]: where credentials are read from in a request, and how they are stripped;
//! - [`apikey`], [`basic`], [`signing`] (HMAC), [`jwt`] (tokens, keys and their checks) and
//!   [`jwks`] (remote JWT keys shared by the workers): each credential's verification;
//! - [`consumer`]: consumers and the identity passed to the rest of the chain;
//! - [`digest_cache`]: the bounded per-worker memory, by digest, every cache of work a client
//!   can cause is made of (signatures verified or refused, passwords, unknown `kid`s);
//! - [`authenticate`]: one request evaluated over the configuration and the key caches;
//! - [`reply`]: the answers the filter sends (refusals and their problem replies);
//! - [`metrics`]: every counter of the filter;
//! - [`filter`]: the plugin and stream that drive the authenticator.

pub mod apikey;
pub mod authenticate;
pub mod basic;
pub mod config;
pub mod consumer;
pub mod credential;
pub mod digest_cache;
pub mod filter;
pub mod jwks;
pub mod jwt;
pub mod metrics;
pub mod reply;
pub mod rules;
pub mod signing;
pub mod source;

#[cfg(test)]
pub mod testkit;

// The unit tests check signatures in the module as well as through the host; the build that
// leaves RS*, ES256 and ES384 to Envoy is tested natively by tests/algorithms.rs (run with its
// features), as a module (tests/wasm.rs) and end to end.
#[cfg(all(test, not(feature = "portable")))]
compile_error!("filter-auth's unit tests need the `portable` feature (on by default)");

pub use filter::{AuthPlugin, AuthStream};

// Off (`default-features = false`) when the crate is linked into the bundle module.
#[cfg(all(target_arch = "wasm32", feature = "export"))]
filter_core::export_plugin!(AuthPlugin);
