//! Scenario files: a JSON description of filters, requests, responses, callout replies, time
//! steps and expectations, replayed against real modules. Used by the CLI
//! (`host-test run`) and usable from Rust tests ([`Scenario::run`]).

mod model;

pub use model::*;

use crate::api::{FilterSpec, Gateway, Harness};
use crate::error::{Error, Result};
use crate::value::{
    base64, CallId, CallReply, LogRecord, Outcome, Prop, Request, Response, Seen, StreamId,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The result of one step.
#[derive(Debug, Serialize)]
pub struct StepReport {
    /// Step index (from 1).
    pub index: usize,
    /// Label.
    pub name: String,
    /// Failed expectations.
    pub failures: Vec<String>,
    /// The last outcome, for request steps.
    pub outcome: Option<Outcome>,
    /// The lines the filters logged during this step (at or above the scenario's log level),
    /// in order.
    pub logs: Vec<LogRecord>,
}

/// The result of a scenario.
#[derive(Debug, Serialize)]
pub struct Report {
    /// True when every expectation held.
    pub passed: bool,
    /// The lines the filters logged while the gateway started (`_initialize`, `on_vm_start`,
    /// `on_configure`, on every VM), before the first step.
    pub startup_logs: Vec<LogRecord>,
    /// Per step.
    pub steps: Vec<StepReport>,
    /// Metrics at the end.
    pub metrics: BTreeMap<String, i64>,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Harness(format!("{}: {e}", path.display())))?;
        let s: Self = serde_json::from_str(&text)
            .map_err(|e| Error::Harness(format!("{}: {e}", path.display())))?;
        s.validate()
            .map_err(|e| Error::Harness(format!("{}: {e}", path.display())))?;
        Ok(s)
    }

    /// Fields that exclude each other: one way to give each body, one fate per callout.
    fn validate(&self) -> std::result::Result<(), String> {
        for (i, st) in self.steps.iter().enumerate() {
            let at = format!("step {}", i + 1);
            if let Some(r) = &st.request {
                let ways = usize::from(r.body.is_some())
                    + usize::from(r.body_base64.is_some())
                    + usize::from(!r.chunks.is_empty())
                    + usize::from(!r.chunks_base64.is_empty());
                if ways > 1 {
                    return Err(format!(
                        "{at}: request: give one of body, body_base64, chunks, chunks_base64"
                    ));
                }
            }
            if let Some(r) = &st.response {
                if r.body.is_some() && r.body_base64.is_some() {
                    return Err(format!("{at}: response: body or body_base64, not both"));
                }
            }
            for (j, c) in st.calls.iter().enumerate() {
                if c.body.is_some() && c.body_base64.is_some() {
                    return Err(format!("{at}: call {}: body or body_base64", j + 1));
                }
                if usize::from(c.fail) + usize::from(c.unanswered) + usize::from(c.timeout) > 1 {
                    return Err(format!(
                        "{at}: call {}: one of fail, unanswered, timeout",
                        j + 1
                    ));
                }
            }
        }
        Ok(())
    }

    /// Builds the gateway: module paths are relative to `base`; `modules` replace the
    /// filters' modules in order.
    pub fn gateway(&self, base: &Path, modules: &[PathBuf]) -> Result<Gateway> {
        self.harness(base, modules, false)?.build()
    }

    /// The [`Harness`] the scenario describes (to add responders before building).
    pub fn harness(&self, base: &Path, modules: &[PathBuf], trace: bool) -> Result<Harness> {
        let mut h = Harness::new().workers(self.workers.unwrap_or(1));
        if trace {
            h = h.trace();
        }
        for c in &self.clusters {
            h = h.cluster(c);
        }
        if let Some(p) = self.profile {
            h = h.profile(p);
        }
        if let Some(m) = self.main_thread {
            h = h.main_thread(m);
        }
        if let Some(l) = self.log_level {
            h = h.log_level(l);
        }
        for (k, v) in &self.properties {
            h = h.property(k, Prop::str(v));
        }
        for (i, f) in self.filters.iter().enumerate() {
            let module = modules
                .get(i)
                .cloned()
                .or_else(|| f.module.as_ref().map(|m| base.join(m)))
                .ok_or_else(|| Error::Harness(format!("filter {}: no module", i + 1)))?;
            let mut spec = FilterSpec::wasm(module);
            if let Some(n) = &f.name {
                spec = spec.name(n);
            }
            match &f.config {
                Some(serde_json::Value::String(s)) => spec = spec.config(s.as_bytes()),
                Some(v) => spec = spec.config(v.to_string()),
                None => {}
            }
            if let Some(v) = &f.vm_config {
                spec = spec.vm_config(v.as_bytes());
            }
            if let Some(v) = &f.vm_id {
                spec = spec.vm_id(v);
            }
            if let Some(v) = &f.root_id {
                spec = spec.root_id(v);
            }
            if let Some(p) = f.failure_policy {
                spec = spec.failure_policy(p);
            }
            h = h.filter(spec);
        }
        Ok(h)
    }

    /// Runs every step on a fresh gateway.
    pub fn run(&self, base: &Path, modules: &[PathBuf]) -> Result<Report> {
        self.run_traced(base, modules, false).map(|(r, _)| r)
    }

    /// Like [`Scenario::run`]; with `trace`, also returns the hostcall trace as JSON.
    pub fn run_traced(
        &self,
        base: &Path,
        modules: &[PathBuf],
        trace: bool,
    ) -> Result<(Report, Option<String>)> {
        let mut gw = self.harness(base, modules, trace)?.build()?;
        let mut steps = Vec::new();
        let mut unanswered = HashSet::new();
        let startup_logs = gw.logs();
        let mut logged = startup_logs.len();
        for (i, step) in self.steps.iter().enumerate() {
            let mut report = run_step(&mut gw, i + 1, step, &mut unanswered)?;
            let logs = gw.logs();
            report.logs = logs.get(logged..).unwrap_or_default().to_vec();
            logged = logs.len();
            steps.push(report);
        }
        let report = Report {
            passed: steps.iter().all(|s| s.failures.is_empty()),
            startup_logs,
            steps,
            metrics: gw
                .metrics()
                .into_iter()
                .map(|(k, m)| (k, m.value))
                .collect(),
        };
        Ok((report, trace.then(|| gw.trace_json())))
    }
}

/// The request a [`RequestDef`] describes.
pub fn request(d: &RequestDef) -> Request {
    let mut r = Request::new(
        d.method.as_deref().unwrap_or("GET"),
        d.path.as_deref().unwrap_or("/"),
    );
    if let Some(a) = &d.authority {
        r = r.authority(a);
    }
    for (k, v) in d.headers.iter() {
        r = r.header(k, v);
    }
    if let Some(b) = &d.body {
        r = r.body(b.as_bytes());
    }
    if let Some(b) = &d.body_base64 {
        r = r.body(b.0.clone());
    }
    for c in &d.chunks {
        r = r.body(c.as_bytes());
    }
    for c in &d.chunks_base64 {
        r = r.body(c.0.clone());
    }
    for (k, v) in d.trailers.iter() {
        r = r.trailer(k, v);
    }
    if let Some(w) = d.worker {
        r = r.on_worker(w);
    }
    if let Some(c) = d.connection {
        r = r.connection(c);
    }
    for (k, v) in &d.properties {
        r = r.property(k, Prop::str(v));
    }
    r
}

fn response(d: Option<&ResponseDef>) -> Response {
    let Some(d) = d else { return Response::ok() };
    let mut r = Response::status(d.status.unwrap_or(200));
    for (k, v) in d.headers.iter() {
        r = r.header(k, v);
    }
    if let Some(b) = &d.body {
        r = r.body(b.as_bytes());
    }
    if let Some(b) = &d.body_base64 {
        r = r.body(b.0.clone());
    }
    for (k, v) in d.trailers.iter() {
        r = r.trailer(k, v);
    }
    r
}

fn reply(c: &CallDef) -> CallReply {
    let mut r = CallReply::status(c.status.unwrap_or(200));
    for (k, v) in c.headers.iter() {
        r = r.header(k, v);
    }
    for (k, v) in c.trailers.iter() {
        r = r.trailer(k, v);
    }
    r.body = match (&c.body, &c.body_base64) {
        (_, Some(b)) => b.0.clone(),
        (b, None) => b.clone().unwrap_or_default().into_bytes(),
    };
    r.grpc_status = c.grpc_status.unwrap_or(0);
    r.grpc_message = c.grpc_message.clone().unwrap_or_default();
    r
}

/// What the step's `calls` do, in order: each entry takes the oldest pending call (to its
/// `cluster`, if given) that no entry left unanswered, and replies, fails it, times it out, or
/// leaves it (remembered in `unanswered` for later steps).
fn handle_calls(
    gw: &mut Gateway,
    calls: &[CallDef],
    unanswered: &mut HashSet<CallId>,
) -> Result<()> {
    for c in calls {
        let pending = gw.pending_calls();
        let Some(call) = pending.iter().find(|p| {
            !unanswered.contains(&p.id) && c.cluster.as_ref().is_none_or(|cl| *cl == p.cluster)
        }) else {
            break;
        };
        if c.unanswered {
            unanswered.insert(call.id);
        } else if c.timeout {
            gw.time_out_call(call.id)?;
        } else if c.fail {
            gw.fail_call(call.id)?;
        } else {
            gw.reply_call(call.id, reply(c))?;
        }
    }
    Ok(())
}

fn run_step(
    gw: &mut Gateway,
    index: usize,
    step: &Step,
    unanswered: &mut HashSet<CallId>,
) -> Result<StepReport> {
    if let Some(ms) = step.advance_ms {
        gw.advance(Duration::from_millis(ms))?;
    }
    let mut outcome = None;
    if let Some(req) = &step.request {
        for _ in 0..step.repeat.unwrap_or(1).max(1) {
            let out = gw
                .request(request(req))
                .respond_with(response(step.response.as_ref()))?;
            let id = StreamId(out.stream);
            handle_calls(gw, &step.calls, unanswered)?;
            outcome = Some(gw.outcome(id)?);
        }
    }
    let name = step.name.clone().unwrap_or_else(|| match &step.request {
        Some(r) => format!(
            "{} {}",
            r.method.as_deref().unwrap_or("GET"),
            r.path.as_deref().unwrap_or("/")
        ),
        None => format!("advance {} ms", step.advance_ms.unwrap_or(0)),
    });
    let failures = step
        .expect
        .as_ref()
        .map(|e| check(gw, e, outcome.as_ref()))
        .unwrap_or_default();
    Ok(StepReport {
        index,
        name,
        failures,
        outcome,
        logs: Vec::new(),
    })
}

fn check_headers(
    what: &str,
    seen: &Seen,
    want: &BTreeMap<String, Option<String>>,
    fails: &mut Vec<String>,
) {
    for (k, v) in want {
        let got = seen.header(k);
        if got != v.as_deref() {
            fails.push(format!("{what} header {k}: expected {v:?}, got {got:?}"));
        }
    }
}

fn check(gw: &Gateway, e: &Expect, out: Option<&Outcome>) -> Vec<String> {
    let mut f = Vec::new();
    if let Some(o) = out {
        if let Some(s) = e.status {
            if o.status() != s {
                f.push(format!("status: expected {s}, got {}", o.status()));
            }
        }
        if let Some(l) = e.local_reply {
            if o.local_reply.is_some() != l {
                f.push(format!(
                    "local_reply: expected {l}, got {:?}",
                    o.local_reply
                ));
            }
        }
        if let Some(r) = e.reached_upstream {
            if o.reached_upstream() != r {
                f.push(format!("reached_upstream: expected {r}"));
            }
        }
        check_headers("upstream", &o.upstream, &e.upstream_headers, &mut f);
        check_headers("client", &o.client, &e.client_headers, &mut f);
        if let Some(b) = &e.upstream_body {
            if o.upstream.body_str() != *b {
                f.push(format!(
                    "upstream body: expected {b:?}, got {:?}",
                    o.upstream.body_str()
                ));
            }
        }
        if let Some(b) = &e.upstream_body_base64 {
            if o.upstream.body != b.0 {
                f.push(format!(
                    "upstream body: expected base64 {}, got {}",
                    base64::encode(&b.0),
                    base64::encode(&o.upstream.body)
                ));
            }
        }
        if let Some(b) = &e.client_body_base64 {
            if o.client.body != b.0 {
                f.push(format!(
                    "client body: expected base64 {}, got {}",
                    base64::encode(&b.0),
                    base64::encode(&o.client.body)
                ));
            }
        }
        if let Some(b) = &e.client_body_contains {
            if !o.client.body_str().contains(b.as_str()) {
                f.push(format!("client body {:?} lacks {b:?}", o.client.body_str()));
            }
        }
        if let Some(n) = e.calls {
            if o.calls.len() != n {
                f.push(format!("calls: expected {n}, got {}", o.calls.len()));
            }
        }
    }
    for (k, v) in &e.metrics {
        let got = gw.metric(k);
        if got != Some(*v) {
            f.push(format!("metric {k}: expected {v}, got {got:?}"));
        }
    }
    for s in &e.logs_contain {
        if !gw.logged(s) {
            f.push(format!("no log contains {s:?}"));
        }
    }
    for (k, v) in &e.shared_data {
        let got = gw
            .shared_data("", k)
            .map(|(b, _)| String::from_utf8_lossy(&b).into_owned());
        if got.as_deref() != Some(v.as_str()) {
            f.push(format!("shared data {k}: expected {v:?}, got {got:?}"));
        }
    }
    f
}
