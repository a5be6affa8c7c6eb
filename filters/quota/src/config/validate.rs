//! The checks that build the runtime [`Config`] from the wire [`RawConfig`]; every error names
//! the field's path.

use filter_core::config::ensure_unique;
use filter_core::headers::is_valid_name;
use filter_core::ConfigError;

use super::wire::*;
use super::*;
use crate::admission::OnError;
use crate::limit::Algorithm;
use crate::window::{Unit, Window};

fn header_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if name.starts_with(':') || !is_valid_name(name) {
        return Err(ConfigError::new(field, "must be a lowercase header name"));
    }
    Ok(())
}

fn plan_ref(config_plans: &[Plan], field: &str, name: &str) -> Result<usize, ConfigError> {
    config_plans
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| ConfigError::new(field, format!("no plan named {name:?}")))
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        if raw.plans.is_empty() || raw.plans.len() > MAX_PLANS {
            return Err(ConfigError::new(
                "plans",
                format!("need 1 to {MAX_PLANS} plans"),
            ));
        }
        let mut plans = Vec::with_capacity(raw.plans.len());
        for (i, plan) in raw.plans.iter().enumerate() {
            let at = format!("plans[{i}]");
            check_name(&format!("{at}.name"), &plan.name)?;
            if plan.limits.is_empty() || plan.limits.len() > MAX_LIMITS {
                return Err(ConfigError::new(
                    format!("{at}.limits"),
                    format!("need 1 to {MAX_LIMITS} limits"),
                ));
            }
            let mut limits = Vec::with_capacity(plan.limits.len());
            for (j, l) in plan.limits.iter().enumerate() {
                let lat = format!("{at}.limits[{j}]");
                if l.charge == ChargeAt::Response && raw.cost.response_header.is_none() {
                    return Err(ConfigError::new(
                        format!("{lat}.charge"),
                        "charge `response` needs cost.response_header",
                    ));
                }
                limits.push(PlanLimit {
                    limit: limit(l, &lat)?,
                    charge: l.charge,
                });
            }
            unique(
                &format!("{at}.limits"),
                "limit",
                plan.limits.iter().map(|l| l.name.as_str()),
            )?;
            plans.push(Plan {
                name: plan.name.clone(),
                limits,
            });
        }
        unique("plans", "plan", raw.plans.iter().map(|p| p.name.as_str()))?;

        let default_plan = match &raw.default_plan {
            Some(name) => Some(plan_ref(&plans, "default_plan", name)?),
            None => None,
        };

        if raw.consumers.len() > MAX_CONSUMERS {
            return Err(ConfigError::new(
                "consumers",
                format!("at most {MAX_CONSUMERS} consumers"),
            ));
        }
        let mut consumers = Vec::with_capacity(raw.consumers.len());
        for (i, c) in raw.consumers.iter().enumerate() {
            check_name(&format!("consumers[{i}].id"), &c.id)?;
            let plan = match &c.plan {
                Some(name) => Some(plan_ref(&plans, &format!("consumers[{i}].plan"), name)?),
                None => default_plan,
            };
            consumers.push(Consumer {
                id: c.id.clone(),
                plan,
            });
        }
        unique(
            "consumers",
            "consumer",
            raw.consumers.iter().map(|c| c.id.as_str()),
        )?;

        let buckets = raw.key.buckets.unwrap_or(65_536);
        // Envoy never frees shared data: every bucket a client reaches keeps its counters (about
        // 185 bytes each) for the life of the process. The cap bounds that to ~46 MiB per limit.
        if !(1..=MAX_BUCKETS).contains(&buckets) {
            return Err(ConfigError::new("key.buckets", "must be 1 to 262144"));
        }
        let needs_header = || -> Result<String, ConfigError> {
            let h =
                raw.key.header.clone().ok_or_else(|| {
                    ConfigError::new("key.header", "required for this key source")
                })?;
            header_name("key.header", &h)?;
            Ok(h)
        };
        let source = match raw.key.source {
            KeySource::Consumer => Source::Consumer,
            KeySource::ApiKey => Source::ApiKey(needs_header()?),
            KeySource::ClientAddress => Source::ClientAddress(buckets),
            KeySource::Header => Source::Header(needs_header()?, buckets),
        };
        if matches!(source, Source::Consumer | Source::ClientAddress(_)) && raw.key.header.is_some()
        {
            return Err(ConfigError::new(
                "key.header",
                "only for sources api_key and header",
            ));
        }

        let id = &raw.identity;
        header_name("identity.consumer_header", &id.consumer_header)?;
        header_name("identity.plan_header", &id.plan_header)?;
        header_name("identity.groups_header", &id.groups_header)?;
        header_name("identity.credential_header", &id.credential_header)?;

        let c = &raw.cost;
        if let Some(h) = &c.header {
            header_name("cost.header", h)?;
        }
        if let Some(h) = &c.response_header {
            header_name("cost.response_header", h)?;
        }
        if c.max > 1_000_000_000 {
            return Err(ConfigError::new("cost.max", "at most 10^9"));
        }
        if c.min > c.max {
            return Err(ConfigError::new("cost.min", "must not exceed cost.max"));
        }
        if c.response_max > 1_000_000_000_000 {
            return Err(ConfigError::new("cost.response_max", "at most 10^12"));
        }

        if raw.routes.len() > MAX_ROUTES {
            return Err(ConfigError::new(
                "routes",
                format!("at most {MAX_ROUTES} routes"),
            ));
        }
        let mut routes = Vec::with_capacity(raw.routes.len());
        for (i, r) in raw.routes.iter().enumerate() {
            let at = format!("routes[{i}]");
            check_name(&format!("{at}.name"), &r.name)?;
            if !r.path_prefix.starts_with('/')
                || r.path_prefix.len() > 1024
                || r.path_prefix
                    .bytes()
                    .any(|b| b == b'?' || b == b'#' || !b.is_ascii_graphic())
            {
                return Err(ConfigError::new(
                    format!("{at}.path_prefix"),
                    "must start with '/' and hold no '?', '#', spaces or control characters",
                ));
            }
            for (j, m) in r.methods.iter().enumerate() {
                if m.is_empty() || m.len() > 16 || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(ConfigError::new(
                        format!("{at}.methods[{j}]"),
                        "must be an uppercase method name",
                    ));
                }
            }
            if let Some(api) = &r.api {
                check_name(&format!("{at}.api"), api)?;
            }
            if let Some(v) = &r.version {
                check_name(&format!("{at}.version"), v)?;
            }
            if r.cost.is_some_and(|w| w > c.max) {
                return Err(ConfigError::new(
                    format!("{at}.cost"),
                    "must not exceed cost.max",
                ));
            }
            routes.push(Route {
                name: r.name.clone(),
                path_prefix: r.path_prefix.trim_end_matches('/').to_owned(),
                methods: r.methods.clone(),
                api: r.api.clone().unwrap_or_else(|| r.name.clone()),
                version: r.version.clone(),
                cost: r.cost,
            });
        }
        unique(
            "routes",
            "route",
            raw.routes.iter().map(|r| r.name.as_str()),
        )?;

        if !(1..=64).contains(&raw.store.max_attempts) {
            return Err(ConfigError::new("store.max_attempts", "must be 1 to 64"));
        }
        if let Some(report) = &raw.report {
            if !report.path.starts_with('/')
                || report.path.len() > 256
                || report
                    .path
                    .bytes()
                    .any(|b| b == b'?' || !b.is_ascii_graphic())
            {
                return Err(ConfigError::new(
                    "report.path",
                    "must start with '/' and hold no '?', spaces or control characters",
                ));
            }
            check_name("report.group", &report.group)?;
        }

        let global = match raw.store.global {
            Some(g) => Some(global(
                g,
                &raw.plans,
                &plans,
                raw.report.is_some(),
                raw.cost.max,
            )?),
            None => None,
        };
        if let Some(p) = &raw.protect {
            let apis: Vec<&str> = routes.iter().map(|r| r.api.as_str()).collect();
            crate::protect::config::validate(p, &apis)?;
        }
        Ok(Config {
            plans,
            default_plan,
            consumers,
            key: Key {
                source,
                per: raw.key.per,
            },
            identity: raw.identity,
            routes,
            cost: raw.cost,
            headers: raw.headers,
            shadow: raw.shadow,
            max_attempts: raw.store.max_attempts,
            on_error: match raw.store.on_error {
                OnErrorName::Admit => OnError::Admit,
                OnErrorName::Refuse => OnError::Refuse,
            },
            global,
            report: raw.report,
            unidentified: raw.unidentified,
            protect: raw.protect,
        })
    }
}

/// Validates the global store against the plans it must count.
fn global(
    g: RawGlobal,
    raw_plans: &[RawPlan],
    plans: &[Plan],
    report: bool,
    cost_max: u64,
) -> Result<Global, ConfigError> {
    if g.cluster.is_empty()
        || g.cluster.len() > 256
        || g.cluster.bytes().any(|b| !b.is_ascii_graphic())
    {
        return Err(ConfigError::new(
            "store.global.cluster",
            "must be 1 to 256 printable characters without spaces",
        ));
    }
    let path = match (g.protocol, g.path) {
        (Protocol::Grpc, Some(_)) => {
            return Err(ConfigError::new(
                "store.global.path",
                "only with protocol http",
            ))
        }
        (_, Some(p)) => {
            if !p.starts_with('/') || p.len() > 256 || p.bytes().any(|b| !b.is_ascii_graphic()) {
                return Err(ConfigError::new(
                    "store.global.path",
                    "must start with '/' and hold no spaces or control characters",
                ));
            }
            p
        }
        (_, None) => "/v1/check".to_owned(),
    };
    check_name("store.global.domain", &g.domain)?;
    let block = match (g.mode, g.block) {
        (Mode::Exact, Some(_)) => {
            return Err(ConfigError::new(
                "store.global.block",
                "only with mode leased",
            ))
        }
        (Mode::Exact, None) => 0,
        (Mode::Leased, b) => {
            let b = b.unwrap_or(10);
            if !(1..=100_000).contains(&b) {
                return Err(ConfigError::new(
                    "store.global.block",
                    "must be 1 to 100000",
                ));
            }
            u64::from(b)
        }
    };
    if !(1..=10_000).contains(&g.timeout_ms) {
        return Err(ConfigError::new(
            "store.global.timeout_ms",
            "must be 1 to 10000",
        ));
    }
    if !(1..=10_000).contains(&g.instances) {
        return Err(ConfigError::new(
            "store.global.instances",
            "must be 1 to 10000",
        ));
    }
    if !(1..=100_000).contains(&g.max_pending) {
        return Err(ConfigError::new(
            "store.global.max_pending",
            "must be 1 to 100000",
        ));
    }
    if report {
        return Err(ConfigError::new(
            "report",
            "not available with store.global: the counts live in the rate limit service",
        ));
    }
    if cost_max > MAX_GLOBAL_COUNT {
        return Err(ConfigError::new(
            "cost.max",
            "must be at most 4294967295 with store.global (the protocol's counts are 32-bit)",
        ));
    }
    for (i, (rp, plan)) in raw_plans.iter().zip(plans).enumerate() {
        for (j, (rl, pl)) in rp.limits.iter().zip(&plan.limits).enumerate() {
            let at = format!("plans[{i}].limits[{j}]");
            if rl.algorithm != AlgorithmName::FixedWindow {
                return Err(ConfigError::new(
                    format!("{at}.algorithm"),
                    "store.global counts fixed_window limits only",
                ));
            }
            if rl.charge != ChargeAt::Request {
                return Err(ConfigError::new(
                    format!("{at}.charge"),
                    "store.global charges on the request only",
                ));
            }
            if pl.limit.quota > MAX_GLOBAL_COUNT {
                return Err(ConfigError::new(
                    format!("{at}.limit"),
                    "must be at most 4294967295 with store.global (the protocol's counts are 32-bit)",
                ));
            }
        }
    }
    let instances = u64::from(g.instances);
    let local_limits = plans
        .iter()
        .map(|p| {
            p.limits
                .iter()
                .map(|pl| Limit {
                    quota: (pl.limit.quota / instances).max(1),
                    ..pl.limit.clone()
                })
                .collect()
        })
        .collect();
    Ok(Global {
        cluster: g.cluster,
        protocol: g.protocol,
        path,
        domain: g.domain,
        mode: g.mode,
        block,
        timeout: std::time::Duration::from_millis(u64::from(g.timeout_ms)),
        on_error: g.on_error,
        max_pending: g.max_pending,
        local_limits,
    })
}

/// Builds a runtime limit from its wire form; `at` is its field path.
fn limit(raw: &RawLimit, at: &str) -> Result<Limit, ConfigError> {
    check_name(&format!("{at}.name"), &raw.name)?;
    if !(1..=1_000_000_000_000_000).contains(&raw.limit) {
        return Err(ConfigError::new(
            format!("{at}.limit"),
            "must be 1 to 10^15",
        ));
    }
    let max_size = if raw.window == Unit::Month {
        120
    } else {
        1_000
    };
    if !(1..=max_size).contains(&raw.window_size) {
        return Err(ConfigError::new(
            format!("{at}.window_size"),
            format!("must be 1 to {max_size}"),
        ));
    }
    let algorithm = match raw.algorithm {
        AlgorithmName::FixedWindow => Algorithm::FixedWindow,
        AlgorithmName::SlidingWindow => Algorithm::SlidingWindow,
        AlgorithmName::Gcra => {
            if raw.calendar {
                return Err(ConfigError::new(
                    format!("{at}.calendar"),
                    "calendar windows need fixed_window or sliding_window",
                ));
            }
            let burst = raw.burst.unwrap_or(raw.limit);
            if !(1..=1_000_000_000_000_000).contains(&burst) {
                return Err(ConfigError::new(
                    format!("{at}.burst"),
                    "must be 1 to 10^15",
                ));
            }
            Algorithm::Gcra { burst }
        }
    };
    if raw.burst.is_some() && raw.algorithm != AlgorithmName::Gcra {
        return Err(ConfigError::new(
            format!("{at}.burst"),
            "only for algorithm gcra",
        ));
    }
    Ok(Limit {
        name: raw.name.clone(),
        quota: raw.limit,
        window: Window {
            unit: raw.window,
            size: raw.window_size,
            calendar: raw.calendar,
        },
        algorithm,
    })
}

/// Checks a name used in keys, metric names and headers.
fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            format!("must be 1 to {MAX_NAME} letters, digits, '-' or '_', not starting with '_'"),
        ))
    }
}

/// Checks that names in a list are unique.
fn unique<'a>(
    field: &str,
    what: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    ensure_unique(field, what, names)
}
