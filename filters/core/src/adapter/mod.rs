//! The one generic proxy-wasm adapter every filter uses.
//!
//! [`start`] (through [`crate::export_plugin!`]) registers a root context that parses the plugin
//! configuration once in `on_configure` into an immutable [`Plugin`] shared by every stream; a bad
//! configuration makes `on_configure` log one line naming the field and return false. Stream
//! contexts read what the logic needs, call it, apply its header edits and carry out its
//! [`Decision`]. The SDK's logger is installed with the host's log level, and its panic hook logs
//! any panic message at CRITICAL before the VM traps.

mod host;
mod raw;

use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

use crate::headers::HeaderEdit;
use crate::host::{CallFailure, CallResponse};
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

/// Installs the logger, the panic hook and the root context for `P`. Called from `_initialize`.
pub fn start<P: Plugin>() {
    let level = match raw::log_level() {
        Some(0) => LogLevel::Trace,
        Some(1) => LogLevel::Debug,
        Some(3) => LogLevel::Warn,
        Some(4) => LogLevel::Error,
        Some(5) => LogLevel::Critical,
        _ => LogLevel::Info,
    };
    proxy_wasm::set_log_level(level);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(Root::<P> { plugin: None })
    });
}

/// Reads a callout response (`num_headers == 0` means the call failed).
fn read_call_response(num_headers: usize, body_size: usize) -> Result<CallResponse, CallFailure> {
    if num_headers == 0 {
        return Err(CallFailure {
            reason: "no response (reset, timeout or connection failure)".into(),
        });
    }
    let headers = host::read_headers(raw::CALL_RESPONSE_HEADERS);
    let body = raw::buffer(raw::CALL_RESPONSE_BODY, 0, body_size).unwrap_or_default();
    Ok(CallResponse { headers, body })
}

fn apply_edits(map: u32, edits: Vec<HeaderEdit>) {
    for edit in edits {
        let result = match &edit {
            HeaderEdit::Set(name, value) => raw::replace_header(map, name, value),
            HeaderEdit::Add(name, value) => raw::add_header(map, name, value),
            HeaderEdit::Remove(name) => raw::remove_header(map, name),
        };
        if let Err(e) = result {
            log::warn!("header edit on map {map} failed: {e}");
        }
    }
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
    plugin: Option<Rc<P>>,
}

impl<P: Plugin> Context for Root<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        if let Some(plugin) = &self.plugin {
            plugin.on_call_response(
                token,
                read_call_response(num_headers, body_size),
                &mut WasmHost,
            );
        }
    }
}

impl<P: Plugin> RootContext for Root<P> {
    fn on_configure(&mut self, size: usize) -> bool {
        let config = match raw::buffer(raw::PLUGIN_CONFIGURATION, 0, size) {
            Ok(config) => config,
            Err(e) => {
                log::error!("{}: cannot read the plugin configuration: {e}", P::NAME);
                return false;
            }
        };
        match P::configure(&config, &mut WasmHost) {
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
        if let Some(plugin) = &self.plugin {
            plugin.on_tick(&mut WasmHost);
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Http::<P> {
            stream: self.plugin.as_ref().map(P::new_stream),
            state: Phase::default(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

// === impl Http ===

/// Where a request stream stands.
#[derive(Debug, Default)]
struct Phase {
    /// Paused on a callout made by the stream.
    waiting_call: bool,
    /// The stream asked for the whole request body.
    body_wanted: bool,
    /// The whole request body has arrived (end of stream or trailers).
    body_complete: bool,
    /// `on_request_body` has run.
    body_done: bool,
    /// A local reply was sent.
    replied: bool,
    /// Bytes of request body buffered so far.
    body_len: usize,
}

struct Http<P: Plugin> {
    stream: Option<P::Stream>,
    state: Phase,
}

impl<P: Plugin> Http<P> {
    /// Carries out a decision taken in a request callback.
    fn act(&mut self, decision: Decision) -> Action {
        match decision {
            Decision::Continue => {
                if self.state.body_wanted && !self.state.body_done {
                    // Hold the headers until the body is complete.
                    Action::Pause
                } else {
                    Action::Continue
                }
            }
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
        let mut headers = host::read_headers(raw::REQUEST_HEADERS);
        let decision = stream.on_request_body(&body, &mut headers, &mut WasmHost);
        apply_edits(raw::REQUEST_HEADERS, headers.take_edits());
        decision
    }

    /// The whole request body is in (end of stream or trailers): run the body logic unless a
    /// callout is still pending, in which case its response runs it.
    fn body_complete(&mut self) -> Action {
        self.state.body_complete = true;
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

impl<P: Plugin> Context for Http<P> {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        let response = read_call_response(num_headers, body_size);
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        self.state.waiting_call = false;
        let mut headers = host::read_headers(raw::REQUEST_HEADERS);
        let decision = stream.on_call_response(token, response, &mut headers, &mut WasmHost);
        apply_edits(raw::REQUEST_HEADERS, headers.take_edits());
        let decision = match decision {
            Decision::Continue if self.state.body_wanted && !self.state.body_done => {
                if !self.state.body_complete {
                    // The body callback resumes the stream when the body is complete.
                    return;
                }
                self.run_body()
            }
            other => other,
        };
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

impl<P: Plugin> HttpContext for Http<P> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(stream) = self.stream.as_mut() else {
            return self.act(Decision::Respond(Self::not_configured()));
        };
        let mut headers = host::read_headers(raw::REQUEST_HEADERS);
        let decision = stream.on_request_headers(&mut headers, end_of_stream, &mut WasmHost);
        self.state.body_wanted = !end_of_stream && stream.wants_request_body();
        apply_edits(raw::REQUEST_HEADERS, headers.take_edits());
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
        if let Ok(len) = raw::buffer_len(raw::REQUEST_BODY) {
            self.state.body_len = len;
        }
        self.body_complete()
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(stream) = self.stream.as_mut() else {
            return Action::Continue;
        };
        let mut headers = host::read_headers(raw::RESPONSE_HEADERS);
        let decision = stream.on_response_headers(&mut headers, end_of_stream, &mut WasmHost);
        apply_edits(raw::RESPONSE_HEADERS, headers.take_edits());
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
            stream.on_log(&mut WasmHost);
        }
    }
}
