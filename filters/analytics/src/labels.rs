//! Label values and the cardinality guard.
//!
//! [`Labels`] are the label values of one request; [`status_class`], [`method_label`] and
//! [`reason`] map a measurement's status, method and code details to fixed label values (events
//! carry the same).
//!
//! Metric labels travel inside metric names (`.consumer=alice`), so a value may only use
//! `A-Z a-z 0-9 _ -` (no `.` or `=`, which separate labels) and at most [`MAX_LABEL_LEN`] bytes;
//! [`sanitize`] maps anything else to `_`.
//!
//! [`LabelGuard`] bounds the distinct values of each guarded label. The admitted values live in
//! Envoy shared data (`analytics.labels.<label>`, values separated by `\n`), so every worker VM
//! of a process admits the same first `max` values, and the set only ever grows: once a VM has
//! seen the list full it answers every new value with the overflow value without asking again.
//! Each VM also caches the values it has admitted, so the shared data is read only on the first
//! sight of a value in that VM.

use std::borrow::Cow;
use std::cell::RefCell;

use filter_core::bytes::KeyTable;
use filter_core::{Host, HostError};

/// Longest label value.
pub const MAX_LABEL_LEN: usize = 64;

/// How many times a CAS conflict on the shared list is retried before the value overflows.
const CAS_RETRIES: usize = 4;

/// Whether `value` may be used as a label value unchanged.
pub fn is_label_safe(value: &str) -> bool {
    is_label_bytes(value.as_bytes())
}

fn is_label_bytes(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= MAX_LABEL_LEN && filter_core::bytes::is_ident(value)
}

/// A label-safe form of arbitrary bytes: unsafe bytes become `_` (a multi-byte UTF-8 character
/// becomes one `_`), cut to [`MAX_LABEL_LEN`]; empty input gives `fallback`.
pub fn sanitize<'a>(value: &'a [u8], fallback: &'a str) -> Cow<'a, str> {
    // Label-safe bytes are ASCII, so UTF-8.
    if is_label_bytes(value) {
        if let Ok(text) = std::str::from_utf8(value) {
            return Cow::Borrowed(text);
        }
    }
    let text = String::from_utf8_lossy(value);
    let out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_LABEL_LEN)
        .collect();
    if out.is_empty() {
        Cow::Borrowed(fallback)
    } else {
        Cow::Owned(out)
    }
}

/// `1xx`..`5xx`, or `none` for no or an out-of-range status.
pub fn status_class(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "none",
    }
}

/// The method as a label value: a standard method, or `other`.
pub fn method_label(method: Option<&[u8]>) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    method
        .and_then(|m| KNOWN.iter().find(|k| k.as_bytes() == m))
        .copied()
        .unwrap_or("other")
}

/// The reason of a local reply: the code details without the `gateway_` prefix (the suite's
/// problem kind).
pub fn reason(details: &[u8]) -> &[u8] {
    details.strip_prefix(b"gateway_").unwrap_or(details)
}

/// Label values of one request, after the cardinality guard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    /// Consumer (`anonymous` without identity).
    pub consumer: Cow<'a, str>,
    /// API (`unknown` when no prefix matched).
    pub api: Cow<'a, str>,
    /// Version (`none` when routing set none).
    pub version: Cow<'a, str>,
    /// Route (`unknown` without one).
    pub route: Cow<'a, str>,
    /// Method (a standard method or `other`).
    pub method: &'static str,
    /// Status code (`none` without one).
    pub status_code: String,
    /// Status class.
    pub status_class: &'static str,
}

/// Outcome of one admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The value is one of the admitted values.
    Admitted,
    /// The list is full: use the overflow value.
    Overflow,
}

/// Bounds the distinct values of one label across the VMs of a process.
#[derive(Debug)]
pub struct LabelGuard {
    label: &'static str,
    max: usize,
    state: RefCell<GuardState>,
}

#[derive(Debug, Default)]
struct GuardState {
    admitted: KeyTable<()>,
    full: bool,
}

impl LabelGuard {
    /// A guard for `label` admitting at most `max` distinct values.
    pub fn new(label: &'static str, max: usize) -> Self {
        Self {
            label,
            max,
            state: RefCell::new(GuardState::default()),
        }
    }

    /// The shared-data key holding the admitted values.
    pub fn key(&self) -> String {
        format!("analytics.labels.{}", self.label)
    }

    /// Values this VM has admitted so far.
    pub fn admitted_len(&self) -> usize {
        self.state.borrow().admitted.len()
    }

    /// Admits `value` (already label-safe) if it is known or the list has room.
    pub fn admit(&self, value: &str, host: &mut dyn Host) -> Admission {
        let mut state = self.state.borrow_mut();
        if state.admitted.get(value.as_bytes()).is_some() {
            return Admission::Admitted;
        }
        if state.full {
            return Admission::Overflow;
        }
        let key = self.key();
        for _ in 0..CAS_RETRIES {
            let current = match host.get_shared(&key) {
                Ok(v) => v,
                // The host cannot share data: fall back to this VM's own bound.
                Err(_) => return self.admit_locally(&mut state, value),
            };
            let (list, cas) = match &current {
                Some(v) => (parse_list(&v.data), Some(v.cas)),
                None => (Vec::new(), None),
            };
            if list.iter().any(|v| v == value) {
                self.remember(&mut state, list);
                return Admission::Admitted;
            }
            if list.len() >= self.max {
                self.remember(&mut state, list);
                state.full = true;
                return Admission::Overflow;
            }
            let mut next = list.clone();
            next.push(value.to_owned());
            match host.set_shared(&key, next.join("\n").as_bytes(), cas) {
                Ok(()) => {
                    state.full = next.len() >= self.max;
                    self.remember(&mut state, next);
                    return Admission::Admitted;
                }
                Err(HostError::CasMismatch) => continue,
                Err(_) => return self.admit_locally(&mut state, value),
            }
        }
        Admission::Overflow
    }

    fn remember(&self, state: &mut GuardState, list: Vec<String>) {
        for v in list.into_iter().take(self.max) {
            if state.admitted.len() >= self.max {
                break;
            }
            state.admitted.insert(v.as_bytes(), ());
        }
    }

    fn admit_locally(&self, state: &mut GuardState, value: &str) -> Admission {
        if state.admitted.len() < self.max {
            state.admitted.insert(value.as_bytes(), ());
            Admission::Admitted
        } else {
            state.full = true;
            Admission::Overflow
        }
    }
}

/// Parses the stored list, ignoring anything that is not label-safe (a corrupt value).
fn parse_list(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split('\n')
        .filter(|v| is_label_safe(v))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests;
