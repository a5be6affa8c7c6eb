//! The metrics of one finished request: its label values, each guarded label through its
//! cardinality guard (an overflow is counted), then every labelled metric the request updates,
//! through the row of metric ids its label values key.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::Duration;

use filter_core::Host;

use super::{
    MetricSet, ACCESS_TOTAL, LABEL_OVERFLOWS_TOTAL, LOCAL_REPLIES_TOTAL, REQUESTS_TOTAL,
    REQUEST_BYTES_TOTAL, REQUEST_DURATION_MS, RESPONSES_TOTAL, RESPONSE_BYTES_TOTAL,
    UPSTREAM_DURATION_MS,
};
use crate::config::LabelLimits;
use crate::labels::{method_label, reason, sanitize, status_class, Admission, LabelGuard, Labels};
use crate::measure::Measurement;

/// Per-VM state of the request metrics: a cardinality guard per guarded label, and where a
/// request's row key is written.
#[derive(Debug)]
pub struct RequestMetrics {
    consumer: LabelGuard,
    api: LabelGuard,
    version: LabelGuard,
    route: LabelGuard,
    reason: LabelGuard,
    /// The value a guarded label takes once its guard is full.
    overflow: String,
    /// Where a request's row key is written, reused across requests.
    row_key: RefCell<Vec<u8>>,
}

impl RequestMetrics {
    /// The guards of `limits`, empty.
    pub fn new(limits: &LabelLimits) -> Self {
        Self {
            consumer: LabelGuard::new("consumer", limits.consumer),
            api: LabelGuard::new("api", limits.api),
            version: LabelGuard::new("version", limits.version),
            route: LabelGuard::new("route", limits.route),
            reason: LabelGuard::new("reason", limits.reason),
            overflow: limits.overflow.clone(),
            row_key: RefCell::new(Vec::new()),
        }
    }

    fn guarded<'a>(
        &'a self,
        guard: &LabelGuard,
        raw: Option<&'a [u8]>,
        absent: &'a str,
        metrics: &MetricSet,
        host: &mut dyn Host,
    ) -> Cow<'a, str> {
        let Some(raw) = raw else {
            return Cow::Borrowed(absent);
        };
        let value = sanitize(raw, absent);
        match guard.admit(&value, host) {
            Admission::Admitted => value,
            Admission::Overflow => {
                metrics.bump(host, LABEL_OVERFLOWS_TOTAL);
                Cow::Borrowed(&self.overflow)
            }
        }
    }

    /// The guarded label values of a measurement.
    pub fn labels<'a>(
        &'a self,
        m: &'a Measurement,
        metrics: &MetricSet,
        host: &mut dyn Host,
    ) -> Labels<'a> {
        let (consumer, version) = (m.consumer.as_deref(), m.version.as_deref());
        Labels {
            consumer: self.guarded(&self.consumer, consumer, "anonymous", metrics, host),
            api: self.guarded(&self.api, Some(m.api.as_bytes()), "unknown", metrics, host),
            version: self.guarded(&self.version, version, "none", metrics, host),
            route: self.guarded(&self.route, m.route.as_deref(), "unknown", metrics, host),
            method: method_label(m.method.as_deref()),
            status_code: m.status.filter(|s| (100..=599).contains(s)).map_or_else(
                || "none".to_owned(),
                |s| itoa::Buffer::new().format(s).to_owned(),
            ),
            status_class: status_class(m.status),
        }
    }

    /// Updates every labelled metric of one finished request.
    pub fn record(&self, ms: &MetricSet, m: &Measurement, host: &mut dyn Host) {
        let l = self.labels(m, ms, host);
        let why = m.local.then(|| {
            self.guarded(
                &self.reason,
                m.details.as_deref().map(reason),
                "unknown",
                ms,
                host,
            )
        });
        let (c, a, v) = (&*l.consumer, &*l.api, &*l.version);
        let (auth, quota) = (m.auth.as_str(), m.quota.as_str());
        // Every label value of the request: the key of its row of metric ids.
        let mut key = self.row_key.borrow_mut();
        key.clear();
        let values = [
            c,
            a,
            v,
            l.status_class,
            &l.route,
            l.method,
            &l.status_code,
            auth,
            quota,
        ];
        for value in values.into_iter().chain(why.as_deref()) {
            key.extend_from_slice(value.as_bytes());
            key.push(b'\n');
        }
        let before = ms.row(&key);
        let mut row = before;
        ms.add_in(
            host,
            &mut row,
            &REQUESTS_TOTAL,
            &[c, a, v, l.status_class],
            1,
        );
        let response = [a, &l.route, l.method, &l.status_code];
        ms.add_in(host, &mut row, &RESPONSES_TOTAL, &response, 1);
        if let Some(b) = m.request_bytes {
            ms.add_in(host, &mut row, &REQUEST_BYTES_TOTAL, &[c, a, v], b);
        }
        if let Some(b) = m.response_bytes {
            ms.add_in(host, &mut row, &RESPONSE_BYTES_TOTAL, &[c, a, v], b);
        }
        if let Some(d) = m.duration {
            let values = [a, v, l.status_class];
            ms.record_in(host, &mut row, &REQUEST_DURATION_MS, &values, millis(d));
        }
        if let Some(d) = m.upstream {
            ms.record_in(host, &mut row, &UPSTREAM_DURATION_MS, &[a, v], millis(d));
        }
        if let Some(why) = &why {
            let values = [a, why, &l.status_code];
            ms.add_in(host, &mut row, &LOCAL_REPLIES_TOTAL, &values, 1);
        }
        ms.add_in(host, &mut row, &ACCESS_TOTAL, &[c, a, auth, quota], 1);
        ms.keep_row(&key, row, before);
    }
}

fn millis(d: Duration) -> u64 {
    filter_core::time::millis(d)
}
