//! Every metric the routing filter defines. Names are declared here once.
//!
//! Per-version and per-reason names are the prefix followed by a configured version name or a
//! fixed reason, so the set is bounded by the configuration.

use filter_core::{Host, MetricId, MetricKind};

use crate::resolve::Reason;

/// Counter per version (`routing_requests.v2`): requests resolved to the version, whether
/// forwarded or refused with 410.
pub const REQUESTS: &str = "routing_requests.";
/// Counter per version (`routing_canary_diverted.v2`): requests a canary sent to the version.
pub const CANARY_DIVERTED: &str = "routing_canary_diverted.";
/// Counter per reason (`routing_rejected.invalid_path`, one per [`Reason`]): refused requests.
pub const REJECTED: &str = "routing_rejected.";
/// Counter: override headers honoured.
pub const OVERRIDES: &str = "routing_overrides";
/// Counter: override headers ignored (sender not in an allowed group).
pub const OVERRIDES_IGNORED: &str = "routing_overrides_ignored";
/// Counter: sticky cookies issued.
pub const COOKIES_ISSUED: &str = "routing_sticky_cookies_issued";

/// The defined metrics. A metric the host refused to define is `None` and never counted.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    requests: Vec<Option<MetricId>>,
    diverted: Vec<Option<MetricId>>,
    rejected: Vec<Option<MetricId>>,
    overrides: Option<MetricId>,
    overrides_ignored: Option<MetricId>,
    cookies: Option<MetricId>,
}

fn counter(host: &mut dyn Host, name: &str) -> Option<MetricId> {
    host.define_metric(MetricKind::Counter, name).ok()
}

impl Metrics {
    /// Defines every metric for the given version names.
    pub fn define<'a>(
        host: &mut dyn Host,
        versions: impl Iterator<Item = &'a str> + Clone,
    ) -> Self {
        Self {
            requests: versions
                .clone()
                .map(|v| counter(host, &format!("{REQUESTS}{v}")))
                .collect(),
            diverted: versions
                .map(|v| counter(host, &format!("{CANARY_DIVERTED}{v}")))
                .collect(),
            rejected: Reason::ALL
                .iter()
                .map(|r| counter(host, &format!("{REJECTED}{}", r.name())))
                .collect(),
            overrides: counter(host, OVERRIDES),
            overrides_ignored: counter(host, OVERRIDES_IGNORED),
            cookies: counter(host, COOKIES_ISSUED),
        }
    }

    fn bump(host: &mut dyn Host, id: Option<&Option<MetricId>>) {
        if let Some(Some(id)) = id {
            host.increment_metric(*id, 1);
        }
    }

    /// Counts a request resolved to version `i`.
    pub fn request(&self, host: &mut dyn Host, i: usize) {
        Self::bump(host, self.requests.get(i));
    }

    /// Counts a request a canary sent to version `i`.
    pub fn diverted(&self, host: &mut dyn Host, i: usize) {
        Self::bump(host, self.diverted.get(i));
    }

    /// Counts a refusal by reason.
    pub fn rejected(&self, host: &mut dyn Host, reason: Reason) {
        let i = Reason::ALL.iter().position(|r| *r == reason);
        Self::bump(host, i.and_then(|i| self.rejected.get(i)));
    }

    /// Counts an honoured override.
    pub fn override_used(&self, host: &mut dyn Host) {
        Self::bump(host, Some(&self.overrides));
    }

    /// Counts an ignored override.
    pub fn override_ignored(&self, host: &mut dyn Host) {
        Self::bump(host, Some(&self.overrides_ignored));
    }

    /// Counts an issued cookie.
    pub fn cookie_issued(&self, host: &mut dyn Host) {
        Self::bump(host, Some(&self.cookies));
    }
}
