//! Effects applied after a callback returns (continue, close, local reply), and Envoy's
//! `sendLocalReply`: the first local reply of a stream wins; from the request path it stops the
//! request and runs back through the filters whose contexts exist; once the response is
//! being encoded it replaces it; once the client has headers the stream is reset.

use crate::api::Gateway;
use crate::chain::Frame;
use crate::message::{Headers, LocalReply, Seen};
use crate::state::Effect;

/// gRPC status Envoy derives from an HTTP status for a gRPC local reply.
fn grpc_from_http(code: u16) -> u32 {
    match code {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    }
}

/// The response headers of a local reply: `:status`, `content-length` and
/// `content-type: text/plain` for a body, then the filter's headers appended; a `content-type`
/// from the filter replaces the default one (a real Envoy sends only the filter's). For a gRPC
/// request Envoy answers trailers-only: `:status 200`, `content-type: application/grpc`,
/// `grpc-status`, `grpc-message` (the body), no body.
pub(crate) fn local_reply_headers(r: &LocalReply, grpc_request: bool) -> (Headers, Vec<u8>) {
    let mut h = Headers::new();
    if grpc_request {
        h.add(":status", "200");
        h.add("content-type", "application/grpc");
        let g = r.grpc_status.unwrap_or_else(|| grpc_from_http(r.status));
        h.add("grpc-status", &g.to_string());
        if !r.body.is_empty() {
            h.add("grpc-message", &r.body_str());
        }
    } else {
        h.add(":status", &r.status.to_string());
        if !r.body.is_empty() {
            h.add("content-length", &r.body.len().to_string());
            h.add("content-type", "text/plain");
        }
    }
    for (k, v) in r.headers.iter() {
        if !grpc_request && k.eq_ignore_ascii_case("content-type") {
            h.set(k, v);
        } else {
            h.add(k, v);
        }
    }
    let body = if grpc_request {
        Vec::new()
    } else {
        r.body.clone()
    };
    (h, body)
}

impl Gateway {
    /// FAIL_CLOSED: 503, empty body, details `wasm_fail_stream`, gRPC UNAVAILABLE.
    pub(crate) fn fail_stream(&mut self, sid: u64, fi: usize) {
        let reply = LocalReply {
            filter: self.filters[fi].info.name.clone(),
            status: 503,
            body: Vec::new(),
            headers: Headers::new(),
            details: "wasm_fail_stream".into(),
            grpc_status: Some(14),
        };
        self.local_reply(sid, reply);
    }

    /// Applies the effects collected from callbacks, in order.
    pub(crate) fn apply_effects(&mut self) {
        while !self.pending_effects.is_empty() {
            let effects = std::mem::take(&mut self.pending_effects);
            for (sid, fi, e) in effects {
                match e {
                    Effect::Continue { dir, .. } => {
                        let pos = if dir == 0 {
                            fi
                        } else {
                            self.filters.len() - 1 - fi
                        };
                        self.release_at(sid, dir, pos);
                    }
                    Effect::Close { .. } => {
                        if let Some(s) = self.world().streams.get_mut(&sid) {
                            if s.code_details.is_empty() {
                                s.code_details = "wasm_close_stream".into();
                            }
                        }
                        if let Some(r) = self.streams.get_mut(&sid) {
                            r.reset = true;
                        }
                        self.work.retain(|w| w.sid != sid);
                    }
                    Effect::LocalReply { reply, .. } => self.local_reply(sid, reply),
                }
            }
        }
    }

    /// Envoy's `sendLocalReply` for stream `sid`.
    pub(crate) fn local_reply(&mut self, sid: u64, reply: LocalReply) {
        let grpc = {
            let mut w = self.world();
            let Some(s) = w.streams.get_mut(&sid) else {
                return;
            };
            let grpc = s
                .req_headers
                .as_ref()
                .and_then(|h| h.get("content-type"))
                .is_some_and(|c| c.starts_with("application/grpc"));
            if s.code_details.is_empty() || !reply.details.is_empty() {
                s.code_details = reply.details.clone();
            }
            grpc
        };
        let (headers, body) = local_reply_headers(&reply, grpc);
        let Some(run) = self.streams.get_mut(&sid) else {
            return;
        };
        if run.local_reply.is_some() || run.reset {
            return;
        }
        run.local_reply = Some(reply);
        run.clear_held(0);
        self.work.retain(|w| !(w.sid == sid && w.dir == 0));
        let Some(run) = self.streams.get_mut(&sid) else {
            return;
        };
        if run.client.headers.is_some() {
            run.reset = true;
            return;
        }
        if run.response_started {
            // Encoding already started: the reply goes straight to the client.
            run.clear_held(1);
            run.client = Seen {
                headers: Some(headers.clone()),
                body,
                trailers: None,
                end_of_stream: true,
            };
            self.work.retain(|w| w.sid != sid);
            if let Some(s) = self.world().streams.get_mut(&sid) {
                s.resp_headers = Some(headers);
            }
            return;
        }
        self.inject(sid, 1, Frame::Headers(body.is_empty()), Some(headers));
        if !body.is_empty() {
            self.inject(sid, 1, Frame::Data(body, true), None);
        }
    }
}
