//! Configuration: the runtime [`Config`] the filter works from, and [`parse`], which reads the
//! wire format ([`wire`]) and validates it (`validate`) into it. Every error names the field's
//! path.
//!
//! The README has the complete reference with an example; each field's doc below states its
//! default.

use filter_core::config::Field;
use filter_core::ConfigError;

use crate::admission::OnError;
use crate::limit::Limit;

mod validate;
pub mod wire;

pub use wire::{
    AlgorithmName, ChargeAt, GlobalOnError, KeySource, Mode, OnErrorName, Protocol, RawConfig,
    RawCost, RawHeaders, RawIdentity, RawReport, Scope, Unidentified,
};

/// Most plans accepted.
pub const MAX_PLANS: usize = 64;
/// Most limits per plan.
pub const MAX_LIMITS: usize = 16;
/// Most configured consumers.
pub const MAX_CONSUMERS: usize = 10_000;
/// Most routes.
pub const MAX_ROUTES: usize = 256;
/// Most hash buckets of `key.buckets` (each keeps one counter per limit and scope for good).
pub const MAX_BUCKETS: u32 = 1 << 18;
/// Largest name (plan, limit, route, consumer, group) in bytes.
pub const MAX_NAME: usize = 64;

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Plans in configuration order.
    pub plans: Vec<Plan>,
    /// Index of the default plan.
    pub default_plan: Option<usize>,
    /// Known consumers.
    pub consumers: Vec<Consumer>,
    /// Counter key.
    pub key: Key,
    /// Identity header names.
    pub identity: RawIdentity,
    /// Routes in configuration order (first match wins).
    pub routes: Vec<Route>,
    /// Request cost.
    pub cost: RawCost,
    /// Rate-limit header fields.
    pub headers: RawHeaders,
    /// Shadow mode.
    pub shadow: bool,
    /// Attempts per counter update.
    pub max_attempts: u32,
    /// Failure mode.
    pub on_error: OnError,
    /// Usage report endpoint.
    pub report: Option<RawReport>,
    /// Requests without identity.
    pub unidentified: Unidentified,
    /// The global store, when counting is shared by several gateway instances.
    pub global: Option<Global>,
    /// Upstream protection ([`crate::protect`]).
    pub protect: Option<crate::protect::config::Protect>,
}

/// The validated global store (see [`wire::RawGlobal`]).
#[derive(Debug)]
pub struct Global {
    /// Cluster of the rate limit service.
    pub cluster: String,
    /// gRPC or HTTP.
    pub protocol: Protocol,
    /// Path of the HTTP check.
    pub path: String,
    /// Rate limit domain.
    pub domain: String,
    /// Exact or leased.
    pub mode: Mode,
    /// Units per lease block (leased mode).
    pub block: u64,
    /// Per-call timeout.
    pub timeout: std::time::Duration,
    /// What a failed check does.
    pub on_error: GlobalOnError,
    /// Calls in flight per worker.
    pub max_pending: u32,
    /// For `on_error: local`: each plan's limits divided by the number of instances.
    pub local_limits: Vec<Vec<Limit>>,
}

/// Largest count the rate limit protocol carries (`uint32` fields).
pub const MAX_GLOBAL_COUNT: u64 = u32::MAX as u64;

/// A plan.
#[derive(Debug)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// Limits, all enforced.
    pub limits: Vec<PlanLimit>,
}

/// A limit of a plan and when it is charged.
#[derive(Debug)]
pub struct PlanLimit {
    /// The limit.
    pub limit: Limit,
    /// When it is charged.
    pub charge: ChargeAt,
}

/// A known consumer.
#[derive(Debug)]
pub struct Consumer {
    /// Id.
    pub id: String,
    /// Plan index used when the request carries none.
    pub plan: Option<usize>,
}

/// Where the counter key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Consumer id.
    Consumer,
    /// Digest of the API key in this header.
    ApiKey(String),
    /// Downstream address, hashed into `buckets`.
    ClientAddress(u32),
    /// This header's value, hashed into `buckets`.
    Header(String, u32),
}

/// The counter key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Source.
    pub source: Source,
    /// Extra partition.
    pub per: Scope,
}

/// A route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Name.
    pub name: String,
    /// Path prefix.
    pub path_prefix: String,
    /// Methods; empty means any.
    pub methods: Vec<String>,
    /// API label.
    pub api: String,
    /// Version label.
    pub version: Option<String>,
    /// Weight.
    pub cost: Option<u64>,
}

impl Config {
    /// Index of the plan named `name`.
    pub fn plan_index(&self, name: &str) -> Option<usize> {
        self.plans.iter().position(|p| p.name == name)
    }

    /// The known consumer `id`.
    pub fn consumer(&self, id: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.id == id)
    }
}

/// Parses and validates configuration bytes.
pub fn parse(bytes: &[u8]) -> Result<Config, ConfigError> {
    let json = filter_core::config::parse(bytes)?;
    Config::try_from(RawConfig::read(Field::root(&json))?)
}

#[cfg(test)]
mod tests;
