//! A small plugin that exercises every path of the generic adapter; built as a wasm module by the
//! adapter tests (`filters/core/tests/adapter.rs`) and usable as a template for a new filter.
//!
//! Configuration: `{"deny_path": "/deny", "body_path": "/body", "call_path": "/call",
//! "call_cluster": "upstream"}`, every field required. For each request it sets
//! `x-probe-bytes` to the byte length of the `x-data` header (which may be any bytes), answers
//! `deny_path` with a 403 problem, reads the whole body under `body_path` (a body of `deny` gets a 403 problem),
//! pauses on a callout for `call_path` (`x-probe-call` = its status, or `failed`), counts requests
//! in `probe_requests`, and adds `x-probe-response: 1` to responses.
//!
//! The module exports two roots: `probe`, and `probe_chain`, two probes run as one filter
//! (configuration `{"first": {...}, "second": {...}}`).

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::rc::Rc;
use std::time::Duration;

use filter_core::config::from_json;
use filter_core::{
    CallFailure, CallResponse, ConfigError, Decision, HeaderMap, Host, HttpCall, LocalReply,
    MetricId, MetricKind, Plugin, Problem, Stream,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    deny_path: String,
    body_path: String,
    call_path: String,
    call_cluster: String,
}

struct Probe {
    config: Config,
    requests: MetricId,
}

struct ProbeStream {
    plugin: Rc<Probe>,
    wants_body: bool,
}

impl Plugin for Probe {
    const NAME: &'static str = "probe";
    type Stream = ProbeStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        let config: Config = from_json(config)?;
        if !config.deny_path.starts_with('/') {
            return Err(ConfigError::new("deny_path", "must start with /"));
        }
        let requests = host
            .define_metric(MetricKind::Counter, "probe_requests")
            .map_err(|e| ConfigError::new(".", format!("cannot define metric: {e}")))?;
        Ok(Self { config, requests })
    }

    fn new_stream(plugin: &Rc<Self>) -> ProbeStream {
        ProbeStream {
            plugin: plugin.clone(),
            wants_body: false,
        }
    }
}

impl Stream for ProbeStream {
    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        _end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let config = &self.plugin.config;
        host.increment_metric(self.plugin.requests, 1);
        let len = headers.get("x-data").map_or(0, <[u8]>::len);
        headers.set("x-probe-bytes", len.to_string());
        let path = headers.path().unwrap_or_default();
        if path == config.deny_path.as_bytes() {
            return LocalReply::problem(
                &Problem::new(403, "probe-denied", "Denied by probe").detail("the path is denied"),
            )
            .into();
        }
        if path.starts_with(config.body_path.as_bytes()) {
            self.wants_body = true;
        }
        if path == config.call_path.as_bytes() {
            let call = HttpCall::get(&config.call_cluster, "/", Duration::from_secs(2));
            return match host.http_call(&call) {
                Ok(_) => Decision::Pause,
                Err(e) => LocalReply::problem(
                    &Problem::new(503, "probe-call-failed", "Callout failed").detail(e.to_string()),
                )
                .into(),
            };
        }
        Decision::Continue
    }

    fn wants_request_body(&self) -> bool {
        self.wants_body
    }

    fn on_request_body(
        &mut self,
        body: &[u8],
        headers: &HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        // The headers have gone upstream already; a body-dependent outcome is a reply.
        if body == b"deny" {
            let path = String::from_utf8_lossy(headers.path().unwrap_or_default()).into_owned();
            return LocalReply::problem(
                &Problem::new(403, "probe-body-denied", "Body denied")
                    .detail(format!("body of {path}")),
            )
            .into();
        }
        Decision::Continue
    }

    fn body_cap(&self) -> usize {
        1024
    }

    fn on_call_response(
        &mut self,
        _token: u32,
        response: Result<CallResponse, CallFailure>,
        headers: &mut HeaderMap,
        _host: &mut dyn Host,
    ) -> Decision {
        let value = match response {
            Ok(r) => r.status().map_or("none".to_string(), |s| s.to_string()),
            Err(_) => "failed".to_string(),
        };
        headers.set("x-probe-call", value);
        Decision::Continue
    }

    fn on_response_headers(
        &mut self,
        headers: &mut HeaderMap,
        _end_of_stream: bool,
        _host: &mut dyn Host,
    ) -> Decision {
        headers.set("x-probe-response", "1");
        Decision::Continue
    }
}

/// Two probes run as one filter, to exercise [`filter_core::chain`].
struct ProbeChain;

impl filter_core::chain::ChainSpec for ProbeChain {
    const NAME: &'static str = "probe_chain";
    const MEMBERS: &'static [(&'static str, filter_core::chain::Factory)] = &[
        ("first", filter_core::chain::factory::<Probe>),
        ("second", filter_core::chain::factory::<Probe>),
    ];
}

#[cfg(target_arch = "wasm32")]
filter_core::export_plugins! {
    "probe" => Probe,
    "probe_chain" => filter_core::chain::Chain<ProbeChain>,
}
