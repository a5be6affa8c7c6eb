//! [`TraceEvent`]: one hostcall or callback of the optional trace, for golden tests.

use serde::Serialize;

/// One trace event (hostcall or callback), for golden tests.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TraceEvent {
    /// Plugin name.
    pub plugin: String,
    /// Worker.
    pub worker: usize,
    /// Context id the call ran in (effective context for hostcalls).
    pub context: u32,
    /// `hostcall` or `callback`.
    pub kind: &'static str,
    /// Function name.
    pub name: String,
    /// Arguments (callbacks only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<i64>,
    /// Status (hostcalls) or return value (callbacks, -1 when none or trapped).
    pub result: i64,
    /// The line `proxy_log` logged, as `level: message` (also when the gateway's log level
    /// drops it); absent for every other event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}
