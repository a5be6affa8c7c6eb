//! The quota filter's plans as Limitador limits.
//!
//! Each plan is a Limitador namespace `<domain>/<plan>`; each limit of a plan is one Limitador
//! limit with the id `<domain>/<plan>/<limit>/<window>` (the id names the Redis counters, so two
//! domains sharing a Redis never share counters and changing a limit's window starts fresh ones),
//! `max_value` = the quota and three variables: the subject ([`KEY_VAR`]), the scope
//! ([`SCOPE_VAR`]) and the limit's own window variable (`w0`, `w1`, ... by position in the plan,
//! see [`window_var`]). The filter sends the id of the window it counts in, so every filter window
//! gets a fresh counter and Limitador's `seconds` is only how long a counter is kept: the longest
//! length of the window plus a margin for clock skew between gateways ([`ttl_secs`]).

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::rate_limit::Unit as RlsUnit;
use filter_quota::config::Config;
use filter_quota::limit::Algorithm;
use filter_quota::window::{Unit, Window, SECOND_US};
use limitador::limit::{Expression, Limit as LimitadorLimit};

/// Context variable holding the subject (`quota_key`).
pub const KEY_VAR: &str = "quota_key";
/// Context variable holding the scope (`quota_scope`).
pub const SCOPE_VAR: &str = "quota_scope";

const DAY_SECS: u64 = 86_400;
/// Longest margin kept after a window for gateways whose clocks run behind.
const MAX_SKEW_SECS: u64 = 60;

/// The context variable of the window id of the limit at `index` in its plan.
pub fn window_var(index: usize) -> String {
    format!("w{index}")
}

/// All plans, as the service counts them.
#[derive(Debug, Clone)]
pub struct Plans {
    /// The rate limit domain requests must carry.
    pub domain: String,
    /// Plans in configuration order.
    pub plans: Vec<PlanSpec>,
}

/// One plan.
#[derive(Debug, Clone)]
pub struct PlanSpec {
    /// Plan name.
    pub name: String,
    /// Limitador namespace: `<domain>/<plan>`.
    pub namespace: String,
    /// Limits in configuration order.
    pub limits: Vec<LimitSpec>,
}

/// One limit of a plan.
#[derive(Debug, Clone)]
pub struct LimitSpec {
    /// Limit name.
    pub name: String,
    /// Limitador limit id (names its Redis counters).
    pub id: String,
    /// Units per window.
    pub quota: u64,
    /// The filter's window.
    pub window: Window,
    /// How long Limitador keeps a counter, in seconds.
    pub ttl_secs: u64,
    /// The filter's algorithm (the service counts fixed windows whatever it is).
    pub algorithm: Algorithm,
}

impl Plans {
    /// The plans of a quota filter configuration, for `domain`.
    pub fn new(config: &Config, domain: &str) -> Self {
        let plans = config
            .plans
            .iter()
            .map(|plan| {
                let namespace = format!("{domain}/{}", plan.name);
                let limits = plan
                    .limits
                    .iter()
                    .map(|pl| {
                        let limit = &pl.limit;
                        LimitSpec {
                            name: limit.name.clone(),
                            id: format!(
                                "{namespace}/{}/{}",
                                limit.name,
                                window_spec(&limit.window)
                            ),
                            quota: limit.quota,
                            window: limit.window,
                            ttl_secs: ttl_secs(&limit.window),
                            algorithm: limit.algorithm,
                        }
                    })
                    .collect();
                PlanSpec {
                    name: plan.name.clone(),
                    namespace,
                    limits,
                }
            })
            .collect();
        Self {
            domain: domain.to_owned(),
            plans,
        }
    }

    /// The plan named `name`.
    pub fn plan(&self, name: &str) -> Option<(usize, &PlanSpec)> {
        self.plans.iter().enumerate().find(|(_, p)| p.name == name)
    }

    /// Limits the service does not count the way the filter would locally (not fixed windows),
    /// as `plan/limit (algorithm)`, for a startup warning.
    pub fn not_fixed_window(&self) -> Vec<String> {
        let mut out = Vec::new();
        for plan in &self.plans {
            for limit in &plan.limits {
                if limit.algorithm != Algorithm::FixedWindow {
                    out.push(format!(
                        "{}/{} ({})",
                        plan.name,
                        limit.name,
                        limit.algorithm.name()
                    ));
                }
            }
        }
        out
    }

    /// Every limit as a Limitador limit.
    pub fn limitador_limits(&self) -> Result<Vec<LimitadorLimit>, String> {
        let mut out = Vec::new();
        for plan in &self.plans {
            for (index, spec) in plan.limits.iter().enumerate() {
                let variables = [KEY_VAR.to_owned(), SCOPE_VAR.to_owned(), window_var(index)]
                    .into_iter()
                    .map(|v| Expression::parse(&v).map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut limit = LimitadorLimit::with_id(
                    spec.id.clone(),
                    plan.namespace.clone(),
                    spec.quota,
                    spec.ttl_secs,
                    Vec::new(),
                    variables,
                );
                limit.set_name(spec.name.clone());
                out.push(limit);
            }
        }
        Ok(out)
    }
}

impl PlanSpec {
    /// The limit named `name` and its position in the plan.
    pub fn limit(&self, name: &str) -> Option<(usize, &LimitSpec)> {
        self.limits.iter().enumerate().find(|(_, l)| l.name == name)
    }
}

/// `<size><unit>` and `-cal` for calendar windows (`1minute`, `3month-cal`).
pub fn window_spec(window: &Window) -> String {
    let cal = if window.calendar { "-cal" } else { "" };
    format!("{}{}{cal}", window.size, window.unit.name())
}

/// The longest a window can last, in seconds (a calendar month counts 31 days).
pub fn longest_secs(window: &Window) -> u64 {
    if window.calendar && window.unit == Unit::Month {
        return (31 * DAY_SECS).saturating_mul(u64::from(window.size));
    }
    window.nominal_us().div_ceil(SECOND_US)
}

/// How long a counter is kept: the longest length of its window plus a margin (the window's
/// length, at most a minute) for gateways whose clocks run behind the first one to count in it.
pub fn ttl_secs(window: &Window) -> u64 {
    let len = longest_secs(window).max(1);
    len.saturating_add(len.min(MAX_SKEW_SECS))
}

/// Envoy's `RateLimit.Unit` closest to a window: the unit the window lasts exactly, else the
/// largest unit not longer than the window.
pub fn closest_unit(window: &Window) -> RlsUnit {
    let size = u64::from(window.size);
    if window.calendar && window.unit == Unit::Month {
        return if size % 12 == 0 {
            RlsUnit::Year
        } else {
            RlsUnit::Month
        };
    }
    let secs = longest_secs(window);
    // (unit, its length); months of 30 days and years of 365 like the filter's plain months.
    const UNITS: [(RlsUnit, u64); 7] = [
        (RlsUnit::Year, 365 * DAY_SECS),
        (RlsUnit::Month, 30 * DAY_SECS),
        (RlsUnit::Week, 7 * DAY_SECS),
        (RlsUnit::Day, DAY_SECS),
        (RlsUnit::Hour, 3_600),
        (RlsUnit::Minute, 60),
        (RlsUnit::Second, 1),
    ];
    if let Some((unit, _)) = UNITS.iter().find(|(_, len)| *len == secs) {
        return *unit;
    }
    UNITS
        .iter()
        .find(|(_, len)| *len <= secs)
        .map_or(RlsUnit::Second, |(unit, _)| *unit)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cal(unit: Unit, size: u32) -> Window {
        Window {
            unit,
            size,
            calendar: true,
        }
    }

    pub(crate) const CONFIG: &str = r#"{
        "plans": [
            {"name": "gold", "limits": [
                {"name": "per-minute", "limit": 10, "window": "minute"},
                {"name": "per-month", "limit": 100000, "window": "month", "calendar": true}
            ]},
            {"name": "free", "limits": [
                {"name": "per-second", "limit": 2, "window": "second"}
            ]}
        ]
    }"#;

    pub(crate) fn plans() -> Plans {
        let config = filter_quota::config::parse(CONFIG.as_bytes()).expect("valid config");
        Plans::new(&config, "gateway")
    }

    #[test]
    fn plans_become_namespaces_and_limits_get_ids() {
        let plans = plans();
        let (index, gold) = plans.plan("gold").expect("gold");
        assert_eq!(index, 0);
        assert_eq!(gold.namespace, "gateway/gold");
        let (li, month) = gold.limit("per-month").expect("per-month");
        assert_eq!(li, 1);
        assert_eq!(month.id, "gateway/gold/per-month/1month-cal");
        assert_eq!(month.quota, 100_000);
        assert!(plans.plan("silver").is_none());
        assert!(gold.limit("per-second").is_none(), "limits are per plan");
    }

    #[test]
    fn limitador_limits_carry_quota_ttl_and_variables() {
        let limits = plans().limitador_limits().expect("limits");
        assert_eq!(limits.len(), 3);
        let minute = limits
            .iter()
            .find(|l| l.name() == Some("per-minute"))
            .expect("per-minute");
        assert_eq!(minute.namespace().as_ref(), "gateway/gold");
        assert_eq!(minute.id(), Some("gateway/gold/per-minute/1minute"));
        assert_eq!(minute.max_value(), 10);
        assert_eq!(minute.seconds(), 120);
        assert!(minute.conditions().is_empty());
        let vars = minute.variables();
        for v in ["quota_key", "quota_scope", "w0"] {
            assert!(vars.contains(v), "{v} in {vars:?}");
        }
        let month = limits
            .iter()
            .find(|l| l.name() == Some("per-month"))
            .expect("per-month");
        assert!(month.variables().contains("w1"));
        assert_eq!(month.seconds(), 31 * 86_400 + 60);
    }

    #[test]
    fn a_limit_applies_only_when_its_window_is_given() {
        let limits = plans().limitador_limits().expect("limits");
        let values = HashMap::from([
            ("quota_key".to_owned(), "c:alice".to_owned()),
            ("quota_scope".to_owned(), "-".to_owned()),
            ("w0".to_owned(), "7".to_owned()),
        ]);
        let ctx = values.into();
        let applying: Vec<_> = limits
            .iter()
            .filter(|l| l.namespace().as_ref() == "gateway/gold" && l.applies(&ctx))
            .filter_map(|l| l.name())
            .collect();
        assert_eq!(applying, ["per-minute"]);
    }

    #[test]
    fn counters_outlive_their_window() {
        for (window, len, ttl) in [
            (Window::new(Unit::Second, 1), 1, 2),
            (Window::new(Unit::Second, 30), 30, 60),
            (Window::new(Unit::Minute, 1), 60, 120),
            (Window::new(Unit::Hour, 2), 7_200, 7_260),
            (Window::new(Unit::Month, 1), 30 * 86_400, 30 * 86_400 + 60),
            (cal(Unit::Month, 3), 93 * 86_400, 93 * 86_400 + 60),
            (cal(Unit::Week, 1), 7 * 86_400, 7 * 86_400 + 60),
        ] {
            assert_eq!(longest_secs(&window), len, "{window:?}");
            assert_eq!(ttl_secs(&window), ttl, "{window:?}");
        }
    }

    #[test]
    fn closest_units() {
        for (window, unit) in [
            (Window::new(Unit::Second, 1), RlsUnit::Second),
            (Window::new(Unit::Second, 60), RlsUnit::Minute),
            (Window::new(Unit::Second, 59), RlsUnit::Second),
            (Window::new(Unit::Minute, 5), RlsUnit::Minute),
            (Window::new(Unit::Minute, 90), RlsUnit::Hour),
            (Window::new(Unit::Hour, 24), RlsUnit::Day),
            (Window::new(Unit::Day, 7), RlsUnit::Week),
            (cal(Unit::Week, 1), RlsUnit::Week),
            (Window::new(Unit::Month, 1), RlsUnit::Month),
            (cal(Unit::Month, 1), RlsUnit::Month),
            (cal(Unit::Month, 3), RlsUnit::Month),
            (cal(Unit::Month, 12), RlsUnit::Year),
            (Window::new(Unit::Day, 365), RlsUnit::Year),
        ] {
            assert_eq!(closest_unit(&window), unit, "{window:?}");
        }
    }

    #[test]
    fn window_specs() {
        assert_eq!(window_spec(&Window::new(Unit::Minute, 5)), "5minute");
        assert_eq!(window_spec(&cal(Unit::Month, 3)), "3month-cal");
    }
}
