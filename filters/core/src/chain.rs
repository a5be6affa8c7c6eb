//! Several filters run as one: the bundle's `gateway` root.
//!
//! A [`Chain`] runs its members' streams inside one filter context, in the order Envoy would run
//! separate filters: request callbacks first to last, response callbacks last to first, `on_log`
//! for all. A member that pauses (a callout) resumes the chain from the next member when its
//! response arrives; a member that replies locally ends the request phase. Once every member has
//! continued, each sees the headers as forwarded (`Stream::on_request_forwarded`). Compared with
//! separate modules, the request crosses the host boundary once per callback instead of once per
//! filter, and all members share one VM per worker.
//!
//! The chain's configuration is a JSON object with one optional member per key,
//! `{"auth": {...}, "quota": {...}}`; each value is given to that member's `configure`. Members
//! run in the order of [`ChainSpec::MEMBERS`], whatever the key order.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use crate::config::{from_json, ConfigError};
use crate::headers::HeaderMap;
use crate::host::{
    CallFailure, CallResponse, GrpcCall, GrpcFailure, HeaderKind, Host, HostError, HttpCall,
    MetricId, MetricKind, SharedValue,
};
use crate::plugin::{Decision, Plugin, Stream};
use std::cell::RefCell;

/// A member plugin behind a trait object.
pub trait DynPlugin {
    /// A new stream of this member.
    fn stream(self: Rc<Self>) -> Box<dyn Stream>;
    /// See [`Plugin::tick_period`].
    fn tick_period(&self) -> Option<Duration>;
    /// See [`Plugin::on_tick`].
    fn on_tick(&self, host: &mut dyn Host);
    /// See [`Plugin::on_call_response`].
    fn on_call_response(
        &self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    );
}

/// A [`Plugin`] erased to a [`DynPlugin`].
struct Erased<P>(Rc<P>);

impl<P: Plugin> DynPlugin for Erased<P> {
    fn stream(self: Rc<Self>) -> Box<dyn Stream> {
        Box::new(P::new_stream(&self.0))
    }
    fn tick_period(&self) -> Option<Duration> {
        self.0.tick_period()
    }
    fn on_tick(&self, host: &mut dyn Host) {
        self.0.on_tick(host)
    }
    fn on_call_response(
        &self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    ) {
        self.0.on_call_response(token, response, host)
    }
}

/// Builds one member from its configuration.
pub type Factory = fn(&[u8], &mut dyn Host) -> Result<Rc<dyn DynPlugin>, ConfigError>;

/// The factory of plugin `P`.
pub fn factory<P: Plugin>(
    config: &[u8],
    host: &mut dyn Host,
) -> Result<Rc<dyn DynPlugin>, ConfigError> {
    Ok(Rc::new(Erased(Rc::new(P::configure(config, host)?))))
}

/// The members a chain may have, in run order.
pub trait ChainSpec: 'static {
    /// Name used in log lines.
    const NAME: &'static str;
    /// `(configuration key, factory)` in run order.
    const MEMBERS: &'static [(&'static str, Factory)];
}

struct Member {
    name: &'static str,
    plugin: Rc<dyn DynPlugin>,
    next_tick: RefCell<Option<SystemTime>>,
}

/// A plugin running the configured members of `S` as one filter.
pub struct Chain<S: ChainSpec> {
    members: Vec<Member>,
    /// Root-context callout tokens and the member that made each.
    calls: RefCell<HashMap<u32, usize>>,
    _spec: std::marker::PhantomData<S>,
}

/// Records the tokens of the callouts a member makes, to route their responses back to it.
struct Tracking<'a> {
    inner: &'a mut dyn Host,
    tokens: Vec<u32>,
}

impl Host for Tracking<'_> {
    fn now(&self) -> SystemTime {
        self.inner.now()
    }
    fn get_shared(&self, key: &str) -> Result<Option<SharedValue>, HostError> {
        self.inner.get_shared(key)
    }
    fn set_shared(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.inner.set_shared(key, value, cas)
    }
    fn define_metric(&mut self, kind: MetricKind, name: &str) -> Result<MetricId, HostError> {
        self.inner.define_metric(kind, name)
    }
    fn increment_metric(&mut self, id: MetricId, delta: i64) {
        self.inner.increment_metric(id, delta)
    }
    fn record_metric(&mut self, id: MetricId, value: u64) {
        self.inner.record_metric(id, value)
    }
    fn http_call(&mut self, call: &HttpCall) -> Result<u32, HostError> {
        let token = self.inner.http_call(call)?;
        self.tokens.push(token);
        Ok(token)
    }
    fn grpc_call(&mut self, call: &GrpcCall) -> Result<u32, HostError> {
        let token = self.inner.grpc_call(call)?;
        self.tokens.push(token);
        Ok(token)
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.inner.property(path)
    }
    fn set_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.inner.set_property(path, value)
    }
    fn header(&self, kind: HeaderKind, name: &str) -> Option<Vec<u8>> {
        self.inner.header(kind, name)
    }
    fn verify_signature(&self, check: &crate::signature::SignatureCheck<'_>) -> Option<bool> {
        self.inner.verify_signature(check)
    }
    fn native_signatures(&self) -> crate::signature::NativeSignatures {
        self.inner.native_signatures()
    }
    fn join_call(&mut self, token: u32) -> bool {
        self.inner.join_call(token)
    }
}

impl<S: ChainSpec> Chain<S> {
    /// Names of the configured members, in run order.
    pub fn member_names(&self) -> Vec<&'static str> {
        self.members.iter().map(|m| m.name).collect()
    }

    /// Runs `f` for member `i` and remembers the callouts it made.
    fn tracked(
        &self,
        i: usize,
        host: &mut dyn Host,
        f: impl FnOnce(&dyn DynPlugin, &mut dyn Host),
    ) {
        let Some(member) = self.members.get(i) else {
            return;
        };
        let mut tracking = Tracking {
            inner: host,
            tokens: Vec::new(),
        };
        f(member.plugin.as_ref(), &mut tracking);
        let mut calls = self.calls.borrow_mut();
        for token in tracking.tokens {
            calls.insert(token, i);
        }
    }
}

impl<S: ChainSpec> Plugin for Chain<S> {
    const NAME: &'static str = S::NAME;
    type Stream = ChainStream;

    fn configure(config: &[u8], host: &mut dyn Host) -> Result<Self, ConfigError> {
        let raw: serde_json::Map<String, serde_json::Value> = from_json(config)?;
        if let Some(unknown) = raw.keys().find(|k| !S::MEMBERS.iter().any(|(n, _)| n == k)) {
            let known: Vec<_> = S::MEMBERS.iter().map(|(n, _)| *n).collect();
            return Err(ConfigError::new(
                unknown.as_str(),
                format!("unknown member, expected one of {known:?}"),
            ));
        }
        let mut members = Vec::new();
        for (name, factory) in S::MEMBERS {
            let Some(value) = raw.get(*name) else {
                continue;
            };
            let bytes =
                serde_json::to_vec(value).map_err(|e| ConfigError::new(*name, e.to_string()))?;
            let plugin = factory(&bytes, host).map_err(|e| {
                let field = if e.field == "." {
                    name.to_string()
                } else {
                    format!("{name}.{}", e.field)
                };
                ConfigError::new(field, e.message)
            })?;
            members.push(Member {
                name,
                plugin,
                next_tick: RefCell::new(None),
            });
        }
        if members.is_empty() {
            return Err(ConfigError::new(".", "no member configured"));
        }
        Ok(Self {
            members,
            calls: RefCell::new(HashMap::new()),
            _spec: std::marker::PhantomData,
        })
    }

    fn new_stream(plugin: &Rc<Self>) -> ChainStream {
        ChainStream {
            streams: plugin
                .members
                .iter()
                .map(|m| m.plugin.clone().stream())
                .collect(),
            cursor: 0,
            ran: 0,
            end_of_stream: false,
            replied: false,
        }
    }

    /// The shortest of the members' periods; each member still ticks at its own period.
    fn tick_period(&self) -> Option<Duration> {
        self.members
            .iter()
            .filter_map(|m| m.plugin.tick_period())
            .min()
    }

    fn on_tick(&self, host: &mut dyn Host) {
        let now = host.now();
        for (i, member) in self.members.iter().enumerate() {
            let Some(period) = member.plugin.tick_period() else {
                continue;
            };
            let due = member.next_tick.borrow().is_none_or(|t| now >= t);
            if due {
                *member.next_tick.borrow_mut() = now.checked_add(period);
                self.tracked(i, host, |p, h| p.on_tick(h));
            }
        }
    }

    fn on_call_response(
        &self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        host: &mut dyn Host,
    ) {
        let Some(i) = self.calls.borrow_mut().remove(&token) else {
            log::warn!("{}: response to an unknown callout {token}", S::NAME);
            return;
        };
        self.tracked(i, host, |p, h| p.on_call_response(token, response, h));
    }
}

/// The streams of one request, one per member.
pub struct ChainStream {
    streams: Vec<Box<dyn Stream>>,
    /// The member that paused (or the next to run).
    cursor: usize,
    /// How many members have seen the request headers.
    ran: usize,
    end_of_stream: bool,
    replied: bool,
}

impl ChainStream {
    /// Hands a callout's answer to the member paused on it, and runs the rest of the chain if it
    /// continues.
    fn resume(
        &mut self,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
        answer: impl FnOnce(&mut Box<dyn Stream>, &mut HeaderMap, &mut dyn Host) -> Decision,
    ) -> Decision {
        let Some(stream) = self.streams.get_mut(self.cursor) else {
            return Decision::Continue;
        };
        match answer(stream, headers, host) {
            Decision::Continue => {
                self.cursor += 1;
                self.run_request(headers, host)
            }
            Decision::Respond(reply) => {
                self.replied = true;
                Decision::Respond(reply)
            }
            Decision::Pause => Decision::Pause,
        }
    }

    /// Runs request headers through the members from `self.cursor` on.
    fn run_request(&mut self, headers: &mut HeaderMap, host: &mut dyn Host) -> Decision {
        while let Some(stream) = self.streams.get_mut(self.cursor) {
            self.ran = self.ran.max(self.cursor + 1);
            match stream.on_request_headers(headers, self.end_of_stream, host) {
                Decision::Continue => self.cursor += 1,
                Decision::Pause => return Decision::Pause,
                Decision::Respond(reply) => {
                    self.replied = true;
                    return Decision::Respond(reply);
                }
            }
        }
        for stream in &mut self.streams {
            stream.on_request_forwarded(headers);
        }
        Decision::Continue
    }
}

impl Stream for ChainStream {
    fn on_request_headers(
        &mut self,
        headers: &mut HeaderMap,
        end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        self.end_of_stream = end_of_stream;
        self.run_request(headers, host)
    }

    fn wants_request_body(&self) -> bool {
        self.streams
            .iter()
            .take(self.ran)
            .any(|s| s.wants_request_body())
    }

    fn on_request_body(
        &mut self,
        body: &[u8],
        headers: &HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        for stream in self.streams.iter_mut().take(self.ran) {
            if !stream.wants_request_body() {
                continue;
            }
            if let reply @ Decision::Respond(_) = stream.on_request_body(body, headers, host) {
                self.replied = true;
                return reply;
            }
        }
        Decision::Continue
    }

    fn body_cap(&self) -> usize {
        self.streams
            .iter()
            .take(self.ran)
            .filter(|s| s.wants_request_body())
            .map(|s| s.body_cap())
            .min()
            .unwrap_or(usize::MAX)
    }

    fn on_call_response(
        &mut self,
        token: u32,
        response: Result<CallResponse, CallFailure>,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        self.resume(headers, host, |stream, headers, host| {
            stream.on_call_response(token, response, headers, host)
        })
    }

    fn on_grpc_response(
        &mut self,
        token: u32,
        response: Result<Vec<u8>, GrpcFailure>,
        headers: &mut HeaderMap,
        host: &mut dyn Host,
    ) -> Decision {
        self.resume(headers, host, |stream, headers, host| {
            stream.on_grpc_response(token, response, headers, host)
        })
    }

    fn reads_response_headers(&self) -> bool {
        self.streams.iter().any(|s| s.reads_response_headers())
    }

    fn on_response_headers(
        &mut self,
        headers: &mut HeaderMap,
        end_of_stream: bool,
        host: &mut dyn Host,
    ) -> Decision {
        let mut decision = Decision::Continue;
        for stream in self.streams.iter_mut().rev() {
            let d = stream.on_response_headers(headers, end_of_stream, host);
            if matches!(decision, Decision::Continue)
                && matches!(d, Decision::Respond(_))
                && !self.replied
            {
                decision = d;
            }
        }
        decision
    }

    fn on_log(&mut self, host: &mut dyn Host) {
        for stream in &mut self.streams {
            stream.on_log(host);
        }
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
