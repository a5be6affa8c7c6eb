//! The one generic proxy-wasm adapter every filter uses.
//!
//! [`start`] (through [`crate::export_plugin!`]) registers a root context that parses the plugin
//! configuration once in `on_configure` into an immutable [`Plugin`] shared by every stream; a bad
//! configuration makes `on_configure` log one line naming the field and return false. Stream
//! contexts read what the logic needs, call it, apply its header edits and carry out its
//! [`Decision`]. The SDK's logger is installed with the host's log level, and its panic hook logs
//! any panic message at CRITICAL before the VM traps.

mod host;
mod joins;
mod raw;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::headers::{EditKind, HeaderMap};
use crate::host::{CallFailure, CallResponse, GrpcFailure, Host};
use crate::pairs;
use crate::plugin::{Decision, Plugin, Stream};
use crate::reply::{LocalReply, Problem};
pub use host::WasmHost;

/// Exports `$plugin` as the module's proxy-wasm filter.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        $crate::proxy_wasm::main! {{
            $crate::adapter::start::<$plugin>();
        }}
    };
}

/// Exports several plugins from one module; the plugin's `root_id` selects one of them.
///
/// ```ignore
/// filter_core::export_plugins! { "auth" => Auth, "gateway" => Chain<Gateway> }
/// ```
#[macro_export]
macro_rules! export_plugins {
    ($($root_id:literal => $plugin:ty),+ $(,)?) => {
        $crate::proxy_wasm::main! {{
            const ROOTS: &[(&str, $crate::adapter::RootFactory)] =
                &[$(($root_id, $crate::adapter::root_factory::<$plugin>)),+];
            $crate::adapter::start_selected(ROOTS);
        }}
    };
}

/// Makes the root context (of the given context id) of one plugin.
pub type RootFactory = fn(u32) -> Box<dyn RootContext>;

/// The root context of plugin `P`.
pub fn root_factory<P: Plugin>(id: u32) -> Box<dyn RootContext> {
    Box::new(Root::<P> {
        id,
        plugin: None,
        last_tick: 0,
    })
}

/// Like [`start`], for a module exporting several plugins selected by `root_id`.
pub fn start_selected(roots: &'static [(&'static str, RootFactory)]) {
    ROOTS.with(|r| r.set(roots));
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|id| -> Box<dyn RootContext> {
        Box::new(Selector {
            id,
            roots: ROOTS.with(std::cell::Cell::get),
            inner: None,
        })
    });
}

thread_local! {
    /// The plugins a module exports, for [`start_selected`]'s root contexts.
    static ROOTS: std::cell::Cell<&'static [(&'static str, RootFactory)]> =
        const { std::cell::Cell::new(&[]) };
}

/// Installs the logger, the panic hook and the root context for `P`. Called from `_initialize`,
/// where hosts allow no hostcall but logging: the host's log level is adopted in `on_configure`.
pub fn start<P: Plugin>() {
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(root_factory::<P>);
}

/// Reads the response to callout `token` (`num_headers == 0` means the call failed). A body
/// over the call's limit is not read: the call fails.
fn read_call_response(
    token: u32,
    num_headers: usize,
    body_size: usize,
) -> Result<CallResponse, CallFailure> {
    if num_headers == 0 {
        return Err(CallFailure {
            reason: "no response (reset, timeout or connection failure)".into(),
        });
    }
    let max = joins::max_body(token);
    if body_size > max {
        return Err(CallFailure {
            reason: format!("response body of {body_size} bytes over the limit of {max}"),
        });
    }
    let headers = host::read_headers(raw::CALL_RESPONSE_HEADERS);
    let body = raw::buffer(raw::CALL_RESPONSE_BODY, 0, body_size).unwrap_or_default();
    Ok(CallResponse { headers, body })
}

/// Reads the answer to a gRPC call (`status_code` 0: the response message).
fn read_grpc_response(status_code: u32, size: usize) -> Result<Vec<u8>, GrpcFailure> {
    if status_code == 0 {
        raw::buffer(raw::GRPC_RECEIVE_BUFFER, 0, size).map_err(|e| GrpcFailure {
            status: 13,
            message: format!("the response message could not be read: {e}"),
        })
    } else {
        Err(GrpcFailure {
            status: status_code,
            message: raw::grpc_status_message(),
        })
    }
}

/// Applies the map's edits to host map `map`, then forgets them.
fn apply_edits(map: u32, headers: &mut HeaderMap) {
    for (kind, name, value) in headers.raw_edits() {
        let result = match kind {
            EditKind::Set => raw::replace_header(map, name, value),
            EditKind::Add => raw::add_header(map, name, value),
            EditKind::Remove => raw::remove_header(map, name),
        };
        if let Err(e) = result {
            log::warn!("header edit on map {map} failed: {e}");
        }
    }
    headers.clear_edits();
}

fn send_reply(reply: &LocalReply) {
    let headers: Vec<(&str, &str)> = reply.safe_headers().collect();
    let details: String = reply
        .details
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .collect();
    if let Err(e) = raw::send_local_response(
        reply.status,
        &details,
        &reply.body,
        &pairs::encode(&headers),
    ) {
        log::error!("sending local reply {} failed: {e}", reply.status);
    }
}

// === impl Root ===

struct Root<P: Plugin> {
    id: u32,
    plugin: Option<Rc<P>>,
    /// When the plugin's `on_tick` last ran (ns since the epoch).
    last_tick: u64,
}

impl<P: Plugin> Context for Root<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        joins::enter(0);
        let response = read_call_response(token, num_headers, body_size);
        // A stream woken from a root callback files its callouts under the root (see `joins`).
        let maker = joins::maker(token);
        let joined = joins::take_joined(token);
        let copy = (!joined.is_empty()).then(|| response.clone());
        match (maker, &self.plugin) {
            (Some(ctx), _) => joins::deliver(ctx, token, joins::Answer::Http(response), self.id),
            (None, Some(plugin)) => {
                plugin.on_call_response(token, response, &mut WasmHost::default());
            }
            (None, None) => {}
        }
        if let Some(copy) = copy {
            joins::answer(token, joined, &copy, self.id);
        }
    }

    fn on_grpc_call_response(&mut self, token: u32, status_code: u32, response_size: usize) {
        joins::enter(0);
        let maker = joins::maker(token);
        let _ = joins::take_joined(token);
        if let Some(ctx) = maker {
            let response = read_grpc_response(status_code, response_size);
            joins::deliver(ctx, token, joins::Answer::Grpc(response), self.id);
        }
    }
}

impl<P: Plugin> RootContext for Root<P> {
    fn on_configure(&mut self, size: usize) -> bool {
        joins::enter(0);
        joins::probe(self.id);
        let config = match raw::buffer(raw::PLUGIN_CONFIGURATION, 0, size) {
            Ok(config) => config,
            Err(e) => {
                log::error!("{}: cannot read the plugin configuration: {e}", P::NAME);
                return false;
            }
        };
        match P::configure(&config, &mut WasmHost::default()) {
            Ok(plugin) => {
                let period = plugin.tick_period().unwrap_or(Duration::ZERO);
                if let Err(e) = proxy_wasm::hostcalls::set_tick_period(period) {
                    log::warn!("{}: cannot set the tick period: {e:?}", P::NAME);
                }
                self.plugin = Some(Rc::new(plugin));
                true
            }
            Err(e) => {
                log::error!("{}: {e}", P::NAME);
                false
            }
        }
    }

    fn on_tick(&mut self) {
        joins::enter(0);
        let period = self.plugin.as_ref().and_then(|p| p.tick_period());
        if joins::wake_ready(self.id) {
            // The adapter's own tick: back to the plugin's period, and the plugin's tick only
            // when due.
            let ms = period.map_or(0, |p| u32::try_from(p.as_millis()).unwrap_or(u32::MAX));
            let _ = raw::set_tick_period_ms(ms);
            let now = raw::now_nanos().unwrap_or(0);
            let due = period.is_some_and(|p| {
                now >= self
                    .last_tick
                    .saturating_add(u64::try_from(p.as_nanos()).unwrap_or(0))
            });
            if !due {
                return;
            }
        }
        self.last_tick = raw::now_nanos().unwrap_or(0);
        if let Some(plugin) = &self.plugin {
            plugin.on_tick(&mut WasmHost::default());
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::<P>::new(
            context_id,
            self.plugin.as_ref().map(P::new_stream),
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

// === impl Selector ===

/// A root context that becomes the plugin named by the `plugin_root_id` property.
struct Selector {
    id: u32,
    roots: &'static [(&'static str, RootFactory)],
    inner: Option<Box<dyn RootContext>>,
}

impl Context for Selector {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body: usize, trailers: usize) {
        if let Some(inner) = self.inner.as_mut() {
            inner.on_http_call_response(token, headers, body, trailers);
        }
    }

    fn on_grpc_call_response(&mut self, token: u32, status_code: u32, response_size: usize) {
        if let Some(inner) = self.inner.as_mut() {
            inner.on_grpc_call_response(token, status_code, response_size);
        }
    }
}

impl RootContext for Selector {
    fn on_configure(&mut self, size: usize) -> bool {
        let root_id = raw::get_property(b"plugin_root_id")
            .ok()
            .flatten()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        // Hosts without root ids (ngx_wasm_module answers "0") run the module's first root, the
        // whole chain; a root id that names none of the roots is an error.
        let hostless = root_id.is_empty() || root_id.bytes().all(|b| b.is_ascii_digit());
        let known = self.roots.iter().any(|(id, _)| *id == root_id);
        let root_id = match self.roots.first() {
            Some((first, _)) if hostless && !known => {
                log::info!("the host names no root id ({root_id:?}): running the {first:?} root");
                (*first).to_owned()
            }
            _ => root_id,
        };
        let Some((_, factory)) = self.roots.iter().find(|(id, _)| *id == root_id) else {
            let known: Vec<_> = self.roots.iter().map(|(id, _)| *id).collect();
            log::error!("invalid configuration at `root_id`: {root_id:?} is not one of {known:?}");
            return false;
        };
        let id = self.id;
        let inner = self.inner.get_or_insert_with(|| factory(id));
        inner.on_configure(size)
    }

    fn on_tick(&mut self) {
        if let Some(inner) = self.inner.as_mut() {
            inner.on_tick();
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        match self.inner.as_ref() {
            Some(inner) => inner.create_http_context(context_id),
            None => root_factory::<Unconfigured>(self.id).create_http_context(context_id),
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Stands in when no plugin was selected: every request gets the "not configured" reply.
struct Unconfigured;

impl Plugin for Unconfigured {
    const NAME: &'static str = "unconfigured";
    type Stream = UnconfiguredStream;
    fn configure(
        _: &[u8],
        _: &mut dyn crate::host::Host,
    ) -> Result<Self, crate::config::ConfigError> {
        Err(crate::config::ConfigError::new(
            "root_id",
            "no plugin selected",
        ))
    }
    fn new_stream(_: &Rc<Self>) -> UnconfiguredStream {
        UnconfiguredStream
    }
}

struct UnconfiguredStream;
impl Stream for UnconfiguredStream {}

// === impl Http ===

/// Where a request stream stands.
#[derive(Debug, Default)]
struct Phase {
    /// Paused on a callout made by the stream.
    waiting_call: bool,
    /// The stream asked for the whole request body.
    body_wanted: bool,
    /// `on_request_body` has run.
    body_done: bool,
    /// A local reply was sent.
    replied: bool,
    /// Bytes of request body buffered so far.
    body_len: usize,
    /// The request headers as forwarded, kept for `on_request_body`: Envoy no longer exposes
    /// them once the headers callback has continued.
    forwarded: Option<HeaderMap>,
}

/// A stream context: its state is shared with [`joins`], which may hand it the answer to a
/// callout it joined from another context's callback.
struct Http<P: Plugin> {
    id: u32,
    inner: Rc<RefCell<HttpState<P>>>,
}

struct HttpState<P: Plugin> {
    stream: Option<P::Stream>,
    state: Phase,
}

impl<P: Plugin> Http<P> {
    fn new(id: u32, stream: Option<P::Stream>) -> Self {
        let inner = Rc::new(RefCell::new(HttpState {
            stream,
            state: Phase::default(),
        }));
        let weak: std::rc::Weak<dyn joins::Waiter> = Rc::downgrade(&inner) as _;
        joins::register(id, weak);
        Self { id, inner }
    }

    /// The stream's state, for a callback of this context.
    fn enter(&self) -> std::cell::RefMut<'_, HttpState<P>> {
        joins::enter(self.id);
        self.inner.borrow_mut()
    }
}

impl<P: Plugin> Drop for Http<P> {
    fn drop(&mut self) {
        joins::forget(self.id);
    }
}

impl<P: Plugin> joins::Waiter for RefCell<HttpState<P>> {
    fn answer(&self, token: u32, answer: joins::Answer) {
        let Ok(mut state) = self.try_borrow_mut() else {
            return;
        };
        if !state.state.waiting_call || state.state.replied {
            return;
        }
        match answer {
            joins::Answer::Http(response) => state.resume(|stream, headers, host| {
                stream.on_call_response(token, response, headers, host)
            }),
            joins::Answer::Grpc(response) => state.resume(|stream, headers, host| {
                stream.on_grpc_response(token, response, headers, host)
            }),
        }
    }
}

impl<P: Plugin> HttpState<P> {
    /// Carries out a decision taken in a request callback.
    fn act(&mut self, decision: Decision) -> Action {
        match decision {
            Decision::Continue => Action::Continue,
            Decision::Pause => {
                self.state.waiting_call = true;
                Action::Pause
            }
            Decision::Respond(reply) => {
                self.state.replied = true;
                send_reply(&reply);
                Action::Pause
            }
        }
    }

    /// Runs `on_request_body` once the whole body is buffered.
    fn run_body(&mut self) -> Decision {
        self.state.body_done = true;
        let Some(stream) = self.stream.as_mut() else {
            return Decision::Continue;
        };
        let body = raw::buffer(raw::REQUEST_BODY, 0, self.state.body_len).unwrap_or_default();
        let headers = self.state.forwarded.take().unwrap_or_default();
        stream.on_request_body(&body, &headers, &mut WasmHost::default())
    }

    /// The whole request body is in (end of stream or trailers): run the body logic. Envoy
    /// withholds the body from a filter paused on a callout, so a pending callout here means a
    /// host that delivers it anyway: the stream then stays held.
    fn body_complete(&mut self) -> Action {
        if self.state.replied || !self.state.body_wanted || self.state.body_done {
            return Action::Continue;
        }
        if self.state.waiting_call {
            return Action::Pause;
        }
        let decision = self.run_body();
        self.act(decision)
    }

    fn not_configured() -> LocalReply {
        LocalReply::problem(
            &Problem::new(500, "filter-not-configured", "Filter not configured")
                .detail(format!("the {} filter has no valid configuration", P::NAME)),
        )
    }
}

impl<P: Plugin> HttpState<P> {
    /// Resumes a stream paused on a callout: `answer` runs the stream's callback with the request
    /// headers, then its decision is carried out.
    fn resume(
        &mut self,
        answer: impl FnOnce(&mut P::Stream, &mut HeaderMap, &mut dyn Host) -> Decision,
    ) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        self.state.waiting_call = false;
        let mut headers = host::read_headers(raw::REQUEST_HEADERS);
        let decision = answer(stream, &mut headers, &mut WasmHost::default());
        apply_edits(raw::REQUEST_HEADERS, &mut headers);
        if self.state.body_wanted {
            self.state.body_wanted = stream.wants_request_body();
            if self.state.body_wanted {
                self.state.forwarded = Some(headers);
            }
        }
        // Envoy withholds the body from a filter paused in its headers callback, so a wanted body
        // arrives through the body callbacks after the stream resumes.
        match decision {
            Decision::Continue => {
                if let Err(e) = raw::continue_request() {
                    log::error!("{}: cannot resume the request: {e}", P::NAME);
                }
            }
            Decision::Pause => self.state.waiting_call = true,
            Decision::Respond(reply) => {
                self.state.replied = true;
                send_reply(&reply);
            }
        }
    }
}

impl<P: Plugin> Context for Http<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        let mut state = self.enter();
        let response = read_call_response(token, num_headers, body_size);
        let joined = joins::take_joined(token);
        let copy = (!joined.is_empty()).then(|| response.clone());
        state.resume(|stream, headers, host| {
            stream.on_call_response(token, response, headers, host)
        });
        drop(state);
        if let Some(copy) = copy {
            joins::schedule(token, joined, copy);
        }
    }

    fn on_grpc_call_response(&mut self, token: u32, status_code: u32, response_size: usize) {
        let mut state = self.enter();
        let _ = joins::take_joined(token);
        let response = read_grpc_response(status_code, response_size);
        state.resume(|stream, headers, host| {
            stream.on_grpc_response(token, response, headers, host)
        });
    }
}

impl<P: Plugin> HttpContext for Http<P> {
    fn on_http_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.enter()
            .on_http_request_headers(num_headers, end_of_stream)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.enter().on_http_request_body(body_size, end_of_stream)
    }

    fn on_http_request_trailers(&mut self, num_trailers: usize) -> Action {
        self.enter().on_http_request_trailers(num_trailers)
    }

    fn on_http_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        self.enter()
            .on_http_response_headers(num_headers, end_of_stream)
    }

    fn on_log(&mut self) {
        self.enter().on_log();
        joins::ended(self.id);
    }
}

impl<P: Plugin> HttpState<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(stream) = self.stream.as_mut() else {
            return self.act(Decision::Respond(Self::not_configured()));
        };
        let mut headers = host::read_headers(raw::REQUEST_HEADERS);
        let decision =
            stream.on_request_headers(&mut headers, end_of_stream, &mut WasmHost::default());
        self.state.body_wanted = !end_of_stream && stream.wants_request_body();
        apply_edits(raw::REQUEST_HEADERS, &mut headers);
        if self.state.body_wanted {
            self.state.forwarded = Some(headers);
        }
        self.act(decision)
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.state.replied {
            return Action::Pause;
        }
        self.state.body_len = body_size;
        if !self.state.body_wanted {
            return if self.state.waiting_call {
                Action::Pause
            } else {
                Action::Continue
            };
        }
        let cap = self.stream.as_ref().map_or(0, Stream::body_cap);
        if body_size > cap {
            return self.act(Decision::Respond(LocalReply::problem(
                &Problem::new(413, "body-too-large", "Request body too large")
                    .detail(format!("the request body exceeds {cap} bytes")),
            )));
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.body_complete()
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if self.state.replied {
            return Action::Pause;
        }
        self.body_complete()
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(stream) = self.stream.as_mut() else {
            return Action::Continue;
        };
        let mut headers = if stream.reads_response_headers() {
            host::read_headers(raw::RESPONSE_HEADERS)
        } else {
            HeaderMap::default()
        };
        let decision =
            stream.on_response_headers(&mut headers, end_of_stream, &mut WasmHost::default());
        apply_edits(raw::RESPONSE_HEADERS, &mut headers);
        match decision {
            Decision::Respond(reply) if !self.state.replied => {
                self.state.replied = true;
                send_reply(&reply);
                Action::Pause
            }
            _ => Action::Continue,
        }
    }

    fn on_log(&mut self) {
        if let Some(stream) = self.stream.as_mut() {
            stream.on_log(&mut WasmHost::default());
        }
    }
}
