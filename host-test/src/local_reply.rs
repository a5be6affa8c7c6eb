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

/// The response headers of a local reply, in Envoy's order (`prepareLocalReply`): `:status`,
/// the filter's headers (appended), then for a body `content-length` (set) and
/// `content-type: text/plain` unless the filter gave one; without a body Envoy removes both
/// (the filter's too). For a gRPC request Envoy answers trailers-only: `:status 200`, the filter's
/// headers, `content-type: application/grpc` (set), `grpc-status` unless the filter gave one,
/// `grpc-message` (the body, set), no `content-length`, no body.
pub(crate) fn local_reply_headers(r: &LocalReply, grpc_request: bool) -> (Headers, Vec<u8>) {
    let mut h = Headers::new();
    h.add(":status", &r.status.to_string());
    for (k, v) in r.headers.iter() {
        h.add(k, v);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &str, headers: &[(&str, &str)]) -> LocalReply {
        LocalReply {
            filter: "f".into(),
            status: 403,
            body: body.as_bytes().to_vec(),
            headers: Headers::from_pairs(headers),
            details: String::new(),
            grpc_status: None,
        }
    }

    fn pairs(h: &Headers) -> Vec<(&str, &str)> {
        h.iter().collect()
    }

    #[test]
    fn headers_follow_envoys_order() {
        let (h, body) = local_reply_headers(&reply("no", &[("x-a", "1")]), false);
        assert_eq!(
            pairs(&h),
            [
                (":status", "403"),
                ("x-a", "1"),
                ("content-length", "2"),
                ("content-type", "text/plain")
            ]
        );
        assert_eq!(body, b"no");
        // The filter's content-type stays where it is; without a body both are removed.
        let r = reply("{}", &[("content-type", "application/json"), ("x-a", "1")]);
        let (h, _) = local_reply_headers(&r, false);
        assert_eq!(
            pairs(&h),
            [
                (":status", "403"),
                ("content-type", "application/json"),
                ("x-a", "1"),
                ("content-length", "2")
            ]
        );
        let r = reply("", &[("content-type", "application/json"), ("x-a", "1")]);
        let (h, _) = local_reply_headers(&r, false);
        assert_eq!(pairs(&h), [(":status", "403"), ("x-a", "1")]);
        // gRPC: trailers-only, the filter's headers before Envoy's, its grpc-status kept.
        let r = reply("denied", &[("x-a", "1"), ("content-length", "6")]);
        let (h, body) = local_reply_headers(&r, true);
        assert_eq!(
            pairs(&h),
            [
                (":status", "200"),
                ("x-a", "1"),
                ("content-type", "application/grpc"),
                ("grpc-status", "7"),
                ("grpc-message", "denied")
            ]
        );
        assert!(body.is_empty());
        let (h, _) = local_reply_headers(&reply("", &[("grpc-status", "3")]), true);
        assert_eq!(h.get("grpc-status"), Some("3"));
    }
}
