//! The `protect` section of the quota configuration: what protects which API. Read from the
//! parsed document and checked in one pass (each range is checked where the value is read, so
//! every error names the field); references to APIs are checked against the routes by
//! [`validate`].
//!
//! ```json
//! "protect": {
//!   "apis": [{
//!     "api": "catalog", "per": "version", "max_in_flight": 100,
//!     "breaker": {
//!       "consecutive_failures": 5,
//!       "failure_rate": {"percent": 50, "min_requests": 20, "window_seconds": 10},
//!       "failure_statuses": [502, 503, 504],
//!       "cool_down_seconds": 30, "half_open_probes": 1, "close_after": 2
//!     }
//!   }],
//!   "max_attempts": 32
//! }
//! ```

use filter_core::config::Field;
use filter_core::ConfigError;

use super::machine::{Breaker, Policy, Rate, BUCKETS};

type Result<T> = std::result::Result<T, ConfigError>;

/// Most entries of `apis` (as many as there can be routes, each naming one API).
pub const MAX_APIS: usize = 256;
/// Largest `max_in_flight`.
pub const MAX_IN_FLIGHT: u32 = 1_000_000;
/// Largest `consecutive_failures`, `min_requests`, `half_open_probes` and `close_after`.
pub const MAX_COUNT: u32 = 1_000_000;
/// Largest `window_seconds`.
pub const MAX_WINDOW_SECONDS: u32 = 3_600;
/// Largest `cool_down_seconds`.
pub const MAX_COOL_DOWN_SECONDS: u32 = 86_400;
/// Most `failure_statuses`.
pub const MAX_STATUSES: usize = 64;
/// Default failure statuses.
pub const DEFAULT_STATUSES: [u16; 3] = [502, 503, 504];

/// What a partition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Per {
    /// One state per API.
    #[default]
    Api,
    /// Per API and version (the route's `version`).
    Version,
    /// Per API and consumer: each configured consumer, all others together as `_other`.
    Consumer,
    /// Per API, version and consumer.
    VersionAndConsumer,
}

impl Per {
    /// Whether the version is part of the partition.
    pub fn version(self) -> bool {
        matches!(self, Self::Version | Self::VersionAndConsumer)
    }
    /// Whether the consumer is part of the partition.
    pub fn consumer(self) -> bool {
        matches!(self, Self::Consumer | Self::VersionAndConsumer)
    }
}

/// One protected API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiProtect {
    /// The `api` label of the routes it covers.
    pub api: String,
    /// Partitions.
    pub per: Per,
    /// The limits.
    pub policy: Policy,
    /// Upstream statuses that count as failures.
    pub failure_statuses: Vec<u16>,
}

/// The whole section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protect {
    /// Protected APIs.
    pub apis: Vec<ApiProtect>,
    /// Attempts per shared-data update.
    pub max_attempts: u32,
}

impl Protect {
    /// The protection of `api`.
    pub fn api(&self, api: &str) -> Option<(usize, &ApiProtect)> {
        self.apis.iter().enumerate().find(|(_, a)| a.api == api)
    }
}

/// A whole number from `lo` to `hi`.
fn ranged(lo: u32, hi: u32) -> impl Fn(Field<'_>) -> Result<u32> {
    move |f| {
        let n = f.clone().u64()?;
        match u32::try_from(n) {
            Ok(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => Err(f.error(format!(
                "invalid value: integer `{n}`, expected a whole number from {lo} to {hi}"
            ))),
        }
    }
}

/// Reads the section.
pub fn read(f: Field<'_>) -> Result<Protect> {
    let o = f.object(&["apis", "max_attempts"])?;
    let apis = o.req("apis", |f| f.list(read_api))?;
    if apis.is_empty() || apis.len() > MAX_APIS {
        return Err(ConfigError::new(
            format!("{}.apis", o.path()),
            format!("need 1 to {MAX_APIS} entries"),
        ));
    }
    Ok(Protect {
        apis,
        max_attempts: o.or("max_attempts", ranged(1, 1_000), 32)?,
    })
}

fn read_api(f: Field<'_>) -> Result<ApiProtect> {
    let at = f.clone();
    let o = f.object(&["api", "per", "max_in_flight", "breaker"])?;
    let api = o.req("api", Field::string)?;
    let per = o.or_default("per", |f| {
        f.choice(&[
            ("api", Per::Api),
            ("version", Per::Version),
            ("consumer", Per::Consumer),
            ("version_and_consumer", Per::VersionAndConsumer),
        ])
    })?;
    let max_in_flight = o.opt("max_in_flight", ranged(1, MAX_IN_FLIGHT))?;
    let breaker = o.opt("breaker", read_breaker)?;
    if max_in_flight.is_none() && breaker.is_none() {
        return Err(at.error("needs `max_in_flight`, `breaker` or both"));
    }
    let (breaker, failure_statuses) = match breaker {
        Some((b, s)) => (Some(b), s),
        None => (None, DEFAULT_STATUSES.to_vec()),
    };
    Ok(ApiProtect {
        api,
        per,
        policy: Policy {
            max_in_flight,
            breaker,
        },
        failure_statuses,
    })
}

fn read_breaker(f: Field<'_>) -> Result<(Breaker, Vec<u16>)> {
    let at = f.clone();
    let o = f.object(&[
        "consecutive_failures",
        "failure_rate",
        "failure_statuses",
        "cool_down_seconds",
        "half_open_probes",
        "close_after",
    ])?;
    let consecutive = o.opt("consecutive_failures", ranged(1, MAX_COUNT))?;
    let rate = o.opt("failure_rate", read_rate)?;
    if consecutive.is_none() && rate.is_none() {
        return Err(at.error("needs `consecutive_failures`, `failure_rate` or both"));
    }
    let statuses = match o.field("failure_statuses") {
        None => DEFAULT_STATUSES.to_vec(),
        Some(sf) => {
            let list = sf.clone().list(|f| ranged(100, 599)(f))?;
            if list.len() > MAX_STATUSES {
                return Err(sf.error(format!("at most {MAX_STATUSES} statuses")));
            }
            list.into_iter().map(|s| s as u16).collect()
        }
    };
    let cool_down = o.or("cool_down_seconds", ranged(1, MAX_COOL_DOWN_SECONDS), 30)?;
    Ok((
        Breaker {
            consecutive,
            rate,
            cool_down_us: u64::from(cool_down) * 1_000_000,
            probes: o.or("half_open_probes", ranged(1, MAX_COUNT), 1)?,
            close_after: o.or("close_after", ranged(1, MAX_COUNT), 1)?,
        },
        statuses,
    ))
}

fn read_rate(f: Field<'_>) -> Result<Rate> {
    let o = f.object(&["percent", "min_requests", "window_seconds"])?;
    let percent = o.req("percent", ranged(1, 100))?;
    let min_requests = o.or("min_requests", ranged(1, MAX_COUNT), 20)?;
    let window = o.or("window_seconds", ranged(1, MAX_WINDOW_SECONDS), 10)?;
    Ok(Rate {
        // In range by the check.
        percent: percent as u8,
        min_requests,
        window_us: u64::from(window) * 1_000_000 / BUCKETS as u64 * BUCKETS as u64,
    })
}

/// Checks the section against the routes: every protected API is the `api` of a route, and no
/// API is listed twice.
pub fn validate(p: &Protect, route_apis: &[&str]) -> Result<()> {
    for (i, a) in p.apis.iter().enumerate() {
        let at = format!("protect.apis[{i}].api");
        if !route_apis.contains(&a.api.as_str()) {
            return Err(ConfigError::new(
                at,
                format!("no route has api `{}`", a.api),
            ));
        }
        if p.apis[..i].iter().any(|b| b.api == a.api) {
            return Err(ConfigError::new(
                at,
                format!("api `{}` is listed twice", a.api),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
