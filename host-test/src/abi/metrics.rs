//! Metrics: counters, gauges and histograms, stored gateway-wide by name (Envoy's
//! `wasmcustom.<name>`; every VM defining the same name shares the stat). Ids are per VM with
//! the type in the low two bits (counter 4, 8, ...; gauge 5, 9, ...; histogram 6, 10, ...).
//! Envoy semantics: counter increments must be > 0 (BAD_ARGUMENT), gauges take negatives,
//! `record_metric` adds to a counter, sets a gauge and records a histogram sample;
//! histograms cannot be incremented or read (BAD_ARGUMENT); unknown ids are NOT_FOUND.

use super::guest::{done, read_str, write_u32, write_u64, Cx};
use crate::state::HostState;
use crate::value::{status, HostProfile, Metric, MetricKind};
use wasmtime::Linker;

fn kind_of(id: u32) -> Option<MetricKind> {
    match id & 3 {
        0 => Some(MetricKind::Counter),
        1 => Some(MetricKind::Gauge),
        2 => Some(MetricKind::Histogram),
        _ => None,
    }
}

/// Applies `f` to the metric behind `id`, or NOT_FOUND.
fn with_metric(st: &HostState, id: u32, f: impl FnOnce(&mut Metric) -> i32) -> i32 {
    let Some(name) = st.metric_ids.get(&id) else {
        return status::NOT_FOUND;
    };
    let mut w = st.world();
    match w.metrics.get_mut(name) {
        Some(m) => f(m),
        None => status::NOT_FOUND,
    }
}

pub(crate) fn add(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    l.func_wrap(
        "env",
        "proxy_define_metric",
        |mut cx: Cx<'_>, t: i32, np: i32, nn: i32, idp: i32| {
            let kind = match t {
                0 => MetricKind::Counter,
                1 => MetricKind::Gauge,
                2 => MetricKind::Histogram,
                _ => return done(&mut cx, "proxy_define_metric", status::BAD_ARGUMENT),
            };
            let Some(mut name) = read_str(&mut cx, np, nn) else {
                return done(
                    &mut cx,
                    "proxy_define_metric",
                    status::INVALID_MEMORY_ACCESS,
                );
            };
            if cx.data().world().host == HostProfile::Nginx {
                name = format!("pw:{}:{name}", cx.data().plugin.name);
            }
            // Every define gets a new id; the stat behind a name is shared.
            let st = cx.data_mut();
            st.next_metric[t as usize] += 4;
            let id = st.next_metric[t as usize];
            st.metric_ids.insert(id, name.clone());
            st.world().metrics.entry(name).or_insert(Metric {
                kind,
                value: 0,
                samples: Vec::new(),
            });
            let s = if write_u32(&mut cx, idp, id) {
                status::OK
            } else {
                status::INVALID_MEMORY_ACCESS
            };
            done(&mut cx, "proxy_define_metric", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut cx: Cx<'_>, id: i32, offset: i64| {
            if !matches!(
                kind_of(id as u32),
                Some(MetricKind::Counter | MetricKind::Gauge)
            ) {
                return done(&mut cx, "proxy_increment_metric", status::BAD_ARGUMENT);
            }
            let s = with_metric(cx.data(), id as u32, |m| match m.kind {
                MetricKind::Counter if offset > 0 => {
                    m.value += offset;
                    status::OK
                }
                MetricKind::Gauge => {
                    m.value += offset;
                    status::OK
                }
                _ => status::BAD_ARGUMENT,
            });
            done(&mut cx, "proxy_increment_metric", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_record_metric",
        |mut cx: Cx<'_>, id: i32, value: i64| {
            let s = with_metric(cx.data(), id as u32, |m| {
                match m.kind {
                    MetricKind::Counter => m.value += value,
                    MetricKind::Gauge => m.value = value,
                    MetricKind::Histogram => m.samples.push(value as u64),
                }
                status::OK
            });
            done(&mut cx, "proxy_record_metric", s)
        },
    )?;
    l.func_wrap(
        "env",
        "proxy_get_metric",
        |mut cx: Cx<'_>, id: i32, vp: i32| {
            if !matches!(
                kind_of(id as u32),
                Some(MetricKind::Counter | MetricKind::Gauge)
            ) {
                return done(&mut cx, "proxy_get_metric", status::BAD_ARGUMENT);
            }
            let mut value = None;
            let s = with_metric(cx.data(), id as u32, |m| match m.kind {
                MetricKind::Histogram => status::BAD_ARGUMENT,
                _ => {
                    value = Some(m.value as u64);
                    status::OK
                }
            });
            let s = match value {
                Some(v) if !write_u64(&mut cx, vp, v) => status::INVALID_MEMORY_ACCESS,
                _ => s,
            };
            done(&mut cx, "proxy_get_metric", s)
        },
    )?;
    Ok(())
}
