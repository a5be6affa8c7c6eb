//! The two ends of a stream: the client sends the request and receives the response, the
//! upstream receives the request and sends the response. Frames enter the chain here and,
//! having passed every filter, land in what each end has seen.

use super::iteration::{Frame, Held, StreamRun, Work};
use super::Gateway;
use crate::error::Result;
use crate::value::{
    wire_path, Headers, HostProfile, MapKind, Protocol, Request, Response, Seen, StreamId,
};
use crate::world::StreamData;

/// Header values as Envoy's HTTP/1 codec stores them: without leading or trailing SP/HTAB.
fn trim_values(mut h: Headers) -> Headers {
    for (_, v) in &mut h.0 {
        let t = v.trim_matches(|c| c == ' ' || c == '\t');
        if t.len() != v.len() {
            *v = t.to_string();
        }
    }
    h
}

impl Gateway {
    /// Creates a stream; nothing is delivered.
    pub(crate) fn open(&mut self, req: Request) -> StreamId {
        let sid = self.next_stream;
        self.next_stream += 1;
        // A connection stays on the worker that accepted it; a new one goes to the requested
        // worker, else round-robin.
        let known = req
            .connection
            .and_then(|c| self.connections.get(&c).copied());
        let (connection_id, worker) = match known {
            Some(c) => c,
            None => {
                let worker = match req.worker {
                    Some(w) => w.min(self.workers - 1),
                    None => {
                        self.rr += 1;
                        (self.rr - 1) % self.workers
                    }
                };
                let id = self.next_connection;
                self.next_connection += 1;
                if let Some(label) = req.connection {
                    self.connections.insert(label, (id, worker));
                }
                (id, worker)
            }
        };
        let n = self.filters.len();
        {
            let mut w = self.world();
            let started_ns = w.now_ns;
            let props = req
                .props
                .iter()
                .map(|(k, v)| (wire_path(k), v.clone()))
                .collect();
            w.streams.insert(
                sid,
                StreamData {
                    started_ns,
                    connection_id,
                    props,
                    ..StreamData::default()
                },
            );
        }
        let held = || (0..n).map(|_| Held::default()).collect::<Vec<_>>();
        self.streams.insert(
            sid,
            StreamRun {
                worker,
                request: req,
                ctx: vec![None; n],
                held: [held(), held()],
                upstream: Seen::default(),
                client: Seen::default(),
                local_reply: None,
                reset: false,
                response_started: false,
                auto_response: None,
                auto_finish: false,
                skipped: vec![false; n],
            },
        );
        StreamId(sid)
    }

    /// Queues a frame from the client (dir 0) or upstream (dir 1), updating the maps.
    pub(crate) fn inject(&mut self, sid: u64, dir: usize, frame: Frame, map: Option<Headers>) {
        {
            let mut w = self.world();
            if let Some(s) = w.streams.get_mut(&sid) {
                match (&frame, dir) {
                    (Frame::Headers(_), 0) => s.req_headers = map,
                    (Frame::Headers(_), _) => s.resp_headers = map,
                    (Frame::Trailers, 0) => s.req_trailers = map,
                    (Frame::Trailers, _) => s.resp_trailers = map,
                    (Frame::Data(b, _), 0) => s.req_body_bytes += b.len() as u64,
                    (Frame::Data(b, _), _) => s.resp_body_bytes += b.len() as u64,
                }
            }
        }
        if dir == 1 {
            if let Some(r) = self.streams.get_mut(&sid) {
                r.response_started = true;
            }
        }
        self.work.push_back(Work {
            sid,
            dir,
            pos: 0,
            frame,
        });
    }

    /// A frame from the client (dir 0) or the upstream (dir 1) as the codec hands it to the
    /// chain. Over HTTP/1.1 (Envoy's HTTP/1 codec): header and trailer values lose their leading
    /// and trailing SP/HTAB, and a body chunk that ends the message reaches the filters as data
    /// (end_of_stream false) followed by an empty end_of_stream frame, as the codec signals the
    /// message's end apart from its last bytes. Over HTTP/2 frames pass as given. With either
    /// codec Envoy's header map joins a repeated inline header (`authorization`, `accept`, ...)
    /// into one entry with `,` ([`Headers::as_envoy`]); other repeated headers stay separate.
    pub(crate) fn codec_inject(
        &mut self,
        sid: u64,
        dir: usize,
        frame: Frame,
        map: Option<Headers>,
    ) {
        let (protocol, host) = {
            let w = self.world();
            (w.protocol, w.host)
        };
        let kind = MapKind::of_stream(dir, matches!(frame, Frame::Trailers));
        let map = match protocol {
            Protocol::Http11 => map.map(trim_values),
            Protocol::Http2 => map,
        };
        let map = match host {
            HostProfile::Envoy => map.map(|m| m.as_envoy(kind)),
            HostProfile::Nginx => map,
        };
        if protocol != Protocol::Http11 {
            return self.inject(sid, dir, frame, map);
        }
        match frame {
            Frame::Data(chunk, true) if !chunk.is_empty() => {
                self.inject(sid, dir, Frame::Data(chunk, false), None);
                self.inject(sid, dir, Frame::Data(Vec::new(), true), None);
            }
            frame => self.inject(sid, dir, frame, map),
        }
    }

    /// Sends the whole request of stream `sid` (headers, chunks, trailers), settling between.
    pub(crate) fn send_request(&mut self, sid: u64) -> Result<()> {
        let Some(run) = self.streams.get(&sid) else {
            return Ok(());
        };
        let req = run.request.clone();
        let has_trailers = req.trailers.is_some();
        let headers_eos = req.chunks.is_empty() && !has_trailers;
        self.codec_inject(
            sid,
            0,
            Frame::Headers(headers_eos),
            Some(req.headers.clone()),
        );
        self.settle()?;
        let n = req.chunks.len();
        for (i, c) in req.chunks.iter().enumerate() {
            let eos = i + 1 == n && !has_trailers;
            self.codec_inject(sid, 0, Frame::Data(c.clone(), eos), None);
            self.settle()?;
        }
        if let Some(t) = req.trailers {
            self.codec_inject(sid, 0, Frame::Trailers, Some(t));
            self.settle()?;
        }
        Ok(())
    }

    /// Sends a whole upstream response on stream `sid`.
    pub(crate) fn send_response(&mut self, sid: u64, resp: Response) -> Result<()> {
        let has_trailers = resp.trailers.is_some();
        let headers_eos = resp.chunks.is_empty() && !has_trailers;
        self.codec_inject(
            sid,
            1,
            Frame::Headers(headers_eos),
            Some(resp.headers.clone()),
        );
        self.settle()?;
        let n = resp.chunks.len();
        for (i, c) in resp.chunks.into_iter().enumerate() {
            self.codec_inject(sid, 1, Frame::Data(c, i + 1 == n && !has_trailers), None);
            self.settle()?;
        }
        if let Some(t) = resp.trailers {
            self.codec_inject(sid, 1, Frame::Trailers, Some(t));
            self.settle()?;
        }
        Ok(())
    }

    /// A frame that passed every filter reaches the upstream (dir 0) or the client (dir 1).
    pub(crate) fn sink(&mut self, sid: u64, dir: usize, frame: Frame) {
        let (headers, trailers) = {
            let w = self.world();
            let s = w.streams.get(&sid);
            match dir {
                0 => (
                    s.and_then(|s| s.req_headers.clone()),
                    s.and_then(|s| s.req_trailers.clone()),
                ),
                _ => (
                    s.and_then(|s| s.resp_headers.clone()),
                    s.and_then(|s| s.resp_trailers.clone()),
                ),
            }
        };
        if dir == 0 {
            if let Some(s) = self.world().streams.get_mut(&sid) {
                s.upstream_started = true;
            }
        }
        let Some(run) = self.streams.get_mut(&sid) else {
            return;
        };
        let seen = if dir == 0 {
            &mut run.upstream
        } else {
            &mut run.client
        };
        match frame {
            Frame::Headers(eos) => {
                seen.headers = headers;
                seen.end_of_stream = eos;
            }
            Frame::Data(b, eos) => {
                seen.body.extend_from_slice(&b);
                seen.end_of_stream = eos;
            }
            Frame::Trailers => {
                seen.trailers = trailers;
                seen.end_of_stream = true;
            }
        }
    }
}
