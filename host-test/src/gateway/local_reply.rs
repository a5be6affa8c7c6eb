//! Envoy's `sendLocalReply`: the first local reply of a stream wins; from the request path it
//! stops the request and runs back through the filters whose contexts exist; once the response
//! is being encoded it replaces it; once the client has headers the stream is reset. Also the
//! reply FAIL_CLOSED sends for a failed VM, and the headers Envoy gives a local reply.

use super::iteration::Frame;
use super::Gateway;
use crate::value::{Headers, HostProfile, LocalReply, MapKind, Seen};

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

/// The response headers of a local reply, in Envoy's order (`prepareLocalReply`): `:status`,
/// the filter's headers (appended), then for a body `content-length` (set) and
/// `content-type: text/plain` unless the filter gave one; without a body Envoy removes both
/// (the filter's too). For a gRPC request Envoy answers trailers-only: `:status 200`, the filter's
/// headers, `content-type: application/grpc` (set), `grpc-status` unless the filter gave one,
/// `grpc-message` (the body, set), no `content-length`, no body. With `envoy`, the filter's
/// headers are added as Envoy's `addCopy` does (a repeated inline header joined with `,`).
pub(crate) fn local_reply_headers(
    r: &LocalReply,
    grpc_request: bool,
    envoy: bool,
) -> (Headers, Vec<u8>) {
    let mut h = Headers::new();
    h.add(":status", &r.status.to_string());
    for (k, v) in r.headers.iter() {
        if envoy {
            h.add_as_envoy(MapKind::ResponseHeaders, k, v);
        } else {
            h.add(k, v);
        }
    }
    if grpc_request {
        h.set(":status", "200");
        h.set("content-type", "application/grpc");
        if h.get("grpc-status").is_none_or(str::is_empty) {
            let g = r.grpc_status.unwrap_or_else(|| grpc_from_http(r.status));
            h.set("grpc-status", &g.to_string());
        }
        if !r.body.is_empty() {
            h.set("grpc-message", &r.body_str());
        }
        h.remove("content-length");
        return (h, Vec::new());
    }
    if r.body.is_empty() {
        h.remove("content-length");
        h.remove("content-type");
    } else {
        h.set("content-length", &r.body.len().to_string());
        if h.get("content-type").is_none() {
            h.add("content-type", "text/plain");
        }
    }
    (h, r.body.clone())
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

    /// Envoy's `sendLocalReply` for stream `sid`.
    pub(crate) fn local_reply(&mut self, sid: u64, reply: LocalReply) {
        let (grpc, envoy) = {
            let mut w = self.world();
            let envoy = w.host == HostProfile::Envoy;
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
            (grpc, envoy)
        };
        let (headers, body) = local_reply_headers(&reply, grpc, envoy);
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

#[cfg(test)]
mod tests;
