//! Envoy's filter iteration for one HTTP stream through the chain: request frames go through
//! filters 1..n, response frames n..1. A filter returning PAUSE (StopIteration) holds the
//! frame; later body chunks still reach it (Envoy's rule), a CONTINUE from a body or trailers
//! callback or a `continue_stream` releases everything held. A local reply stops the request
//! path; its response passes back through the filters whose contexts exist (as Envoy's
//! encoder filters see a local reply). Traps follow the failure policy.

use crate::api::{FailurePolicy, Gateway};
use crate::message::{Headers, LocalReply, Outcome, Request, Response, Seen};
use crate::state::Effect;
use crate::vm::Trapped;
use crate::world::StreamData;

/// A frame travelling through the chain.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Headers(bool),
    Data(Vec<u8>, bool),
    Trailers,
}

/// A unit of work: a frame arriving at position `pos` of direction `dir` (0 request,
/// 1 response).
#[derive(Debug)]
pub(crate) struct Work {
    pub sid: u64,
    pub dir: usize,
    pub pos: usize,
    pub frame: Frame,
}

/// What a filter holds in one direction.
#[derive(Debug, Default)]
pub(crate) struct Held {
    headers: Option<bool>,
    data: bool,
    body: Vec<u8>,
    eos: bool,
    trailers: bool,
}

impl Held {
    fn any(&self) -> bool {
        self.headers.is_some() || self.data || self.trailers
    }
}

/// The harness's view of one stream.
pub(crate) struct StreamRun {
    pub worker: usize,
    pub request: Request,
    pub ctx: Vec<Option<u32>>,
    held: [Vec<Held>; 2],
    pub upstream: Seen,
    pub client: Seen,
    pub local_reply: Option<LocalReply>,
    pub reset: bool,
    pub response_started: bool,
    pub auto_response: Option<Response>,
    pub auto_finish: bool,
    skipped: Vec<bool>,
}

const CALLBACKS: [[&str; 3]; 2] = [
    [
        "proxy_on_request_headers",
        "proxy_on_request_body",
        "proxy_on_request_trailers",
    ],
    [
        "proxy_on_response_headers",
        "proxy_on_response_body",
        "proxy_on_response_trailers",
    ],
];

fn local_reply_headers(r: &LocalReply) -> Headers {
    let mut h = Headers::new();
    h.add(":status", &r.status.to_string());
    if !r.body.is_empty() {
        h.add("content-length", &r.body.len().to_string());
        h.add("content-type", "text/plain");
    }
    for (k, v) in r.headers.iter() {
        h.set(k, v);
    }
    if let Some(g) = r.grpc_status {
        h.set("grpc-status", &g.to_string());
    }
    h
}

impl Gateway {
    fn pos_to_filter(&self, dir: usize, pos: usize) -> usize {
        if dir == 0 {
            pos
        } else {
            self.filters.len() - 1 - pos
        }
    }

    /// Creates a stream; nothing is delivered.
    pub(crate) fn open(&mut self, req: Request) -> crate::stream::StreamId {
        let sid = self.next_stream;
        self.next_stream += 1;
        let worker = match req.worker {
            Some(w) => w.min(self.workers - 1),
            None => {
                self.rr += 1;
                (self.rr - 1) % self.workers
            }
        };
        let n = self.filters.len();
        {
            let mut w = self.world();
            let started_ns = w.now_ns;
            let props = req
                .props
                .iter()
                .map(|(k, v)| (crate::abi::properties::wire_path(k), v.clone()))
                .collect();
            w.streams.insert(
                sid,
                StreamData {
                    started_ns,
                    worker,
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
        crate::stream::StreamId(sid)
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

    /// Sends the whole request of stream `sid` (headers, chunks, trailers), settling between.
    pub(crate) fn send_request(&mut self, sid: u64) -> crate::Result<()> {
        let Some(run) = self.streams.get(&sid) else {
            return Ok(());
        };
        let req = run.request.clone();
        let has_trailers = req.trailers.is_some();
        let headers_eos = req.chunks.is_empty() && !has_trailers;
        self.inject(
            sid,
            0,
            Frame::Headers(headers_eos),
            Some(req.headers.clone()),
        );
        self.settle()?;
        let n = req.chunks.len();
        for (i, c) in req.chunks.iter().enumerate() {
            let eos = i + 1 == n && !has_trailers;
            self.inject(sid, 0, Frame::Data(c.clone(), eos), None);
            self.settle()?;
        }
        if let Some(t) = req.trailers {
            self.inject(sid, 0, Frame::Trailers, Some(t));
            self.settle()?;
        }
        Ok(())
    }

    /// Sends a whole upstream response on stream `sid`.
    pub(crate) fn send_response(&mut self, sid: u64, resp: Response) -> crate::Result<()> {
        let has_trailers = resp.trailers.is_some();
        let headers_eos = resp.chunks.is_empty() && !has_trailers;
        self.inject(
            sid,
            1,
            Frame::Headers(headers_eos),
            Some(resp.headers.clone()),
        );
        self.settle()?;
        let n = resp.chunks.len();
        for (i, c) in resp.chunks.into_iter().enumerate() {
            self.inject(sid, 1, Frame::Data(c, i + 1 == n && !has_trailers), None);
            self.settle()?;
        }
        if let Some(t) = resp.trailers {
            self.inject(sid, 1, Frame::Trailers, Some(t));
            self.settle()?;
        }
        Ok(())
    }

    /// Calls a guest export of filter `fi` on worker `w`; effects are collected.
    pub(crate) fn call(
        &mut self,
        fi: usize,
        w: usize,
        ctx: u32,
        name: &str,
        args: &[i64],
    ) -> Result<i64, Trapped> {
        let r = self.filters[fi].vms[w].call(ctx, name, args);
        self.after_call(fi, w);
        match r {
            Ok(v) => Ok(v.unwrap_or(0)),
            Err(t) => {
                let mono = self.world().mono_ns;
                let vm = &mut self.filters[fi].vms[w];
                vm.failed = Some(t.message.clone());
                vm.failed_at_ns = mono;
                vm.next_tick_ns = None;
                Err(t)
            }
        }
    }

    /// Applies tick-period changes and collects effects of the last call.
    pub(crate) fn after_call(&mut self, fi: usize, w: usize) {
        let mono = self.world().mono_ns;
        let vm = &mut self.filters[fi].vms[w];
        if std::mem::take(&mut vm.state_mut().tick_changed) {
            let ms = vm.state().tick_ms as u64;
            vm.next_tick_ns = (ms > 0).then(|| mono + ms * 1_000_000);
        }
        let effects = vm.take_effects();
        for e in effects {
            let ctx = match &e {
                Effect::Continue { ctx, .. } | Effect::Close { ctx } => *ctx,
                Effect::LocalReply { ctx, .. } => *ctx,
            };
            if let Some(sid) = vm.state().stream_ctx.get(&ctx).copied() {
                self.pending_effects.push((sid, fi, e));
            }
        }
    }

    /// Returns false if the VM is failed (after trying FAIL_RELOAD's recreation).
    fn usable(&mut self, fi: usize, w: usize) -> bool {
        if self.filters[fi].vms[w].failed.is_none() {
            return true;
        }
        if self.filters[fi].info.policy != FailurePolicy::FailReload {
            return false;
        }
        let mono = self.world().mono_ns;
        if mono < self.filters[fi].vms[w].failed_at_ns + 1_000_000_000 {
            return false;
        }
        match self.new_vm(fi, w) {
            Ok(vm) => {
                self.filters[fi].vms[w] = vm;
                self.after_call(fi, w);
                true
            }
            Err(_) => {
                self.filters[fi].vms[w].failed_at_ns = mono;
                false
            }
        }
    }

    fn fail_stream(&mut self, sid: u64, fi: usize) {
        let reply = LocalReply {
            filter: self.filters[fi].info.name.clone(),
            status: 503,
            body: Vec::new(),
            headers: Headers::new(),
            details: "wasm_fail_stream".into(),
            grpc_status: None,
        };
        self.local_reply(sid, reply);
    }

    /// Processes one unit of work.
    pub(crate) fn process(&mut self, wk: Work) {
        let Work {
            sid,
            dir,
            pos,
            frame,
        } = wk;
        let n = self.filters.len();
        let Some(run) = self.streams.get(&sid) else {
            return;
        };
        if run.reset || (dir == 0 && run.local_reply.is_some()) {
            return;
        }
        if pos >= n {
            self.sink(sid, dir, frame);
            return;
        }
        let fi = self.pos_to_filter(dir, pos);
        let w = run.worker;
        let forward = |gw: &mut Gateway, frame: Frame| {
            gw.work.push_back(Work {
                sid,
                dir,
                pos: pos + 1,
                frame,
            })
        };
        if run.skipped[fi] {
            return forward(self, frame);
        }
        if dir == 0 && run.ctx[fi].is_none() && matches!(frame, Frame::Headers(_)) {
            if !self.usable(fi, w) {
                return self.policy(sid, fi, frame, forward);
            }
            let vm = &mut self.filters[fi].vms[w];
            let ctx = vm.state().next_ctx;
            vm.state_mut().next_ctx += 1;
            vm.state_mut().stream_ctx.insert(ctx, sid);
            let root = vm.state().root_ctx as i64;
            if let Some(r) = self.streams.get_mut(&sid) {
                r.ctx[fi] = Some(ctx);
            }
            let created = self.call(fi, w, ctx, "proxy_on_context_create", &[ctx as i64, root]);
            if created.is_err() {
                return self.policy(sid, fi, frame, forward);
            }
        }
        let Some(ctx) = self.streams.get(&sid).and_then(|r| r.ctx[fi]) else {
            return forward(self, frame);
        };
        if self.filters[fi].vms[w].failed.is_some() {
            return self.policy(sid, fi, frame, forward);
        }
        let kind = match frame {
            Frame::Headers(_) => 0,
            Frame::Data(..) => 1,
            Frame::Trailers => 2,
        };
        let args: [i64; 3] = match &frame {
            Frame::Headers(eos) => [ctx as i64, self.map_len(sid, dir, false), *eos as i64],
            Frame::Trailers => [ctx as i64, self.map_len(sid, dir, true), 0],
            Frame::Data(chunk, eos) => {
                let Some(h) = self.held_mut(sid, dir, pos) else {
                    return;
                };
                h.body.extend_from_slice(chunk);
                h.data = true;
                h.eos = *eos;
                let body = std::mem::take(&mut h.body);
                let len = body.len() as i64;
                if let Some(s) = self.world().streams.get_mut(&sid) {
                    s.body[dir] = Some(body);
                }
                [ctx as i64, len, *eos as i64]
            }
        };
        let r = self.call(fi, w, ctx, CALLBACKS[dir][kind], &args);
        if kind == 1 {
            let body = self
                .world()
                .streams
                .get_mut(&sid)
                .and_then(|s| s.body[dir].take())
                .unwrap_or_default();
            if let Some(h) = self.held_mut(sid, dir, pos) {
                h.body = body;
            }
        }
        let action = match r {
            Ok(a) => a,
            Err(_) => {
                if self.filters[fi].info.policy == FailurePolicy::FailOpen {
                    if let Some(r) = self.streams.get_mut(&sid) {
                        r.skipped[fi] = true;
                    }
                    self.release(sid, dir, pos);
                    if kind == 0 {
                        forward(self, frame);
                    }
                    if kind == 2 {
                        forward(self, Frame::Trailers);
                    }
                } else {
                    self.fail_stream(sid, fi);
                }
                return;
            }
        };
        let stopped = self
            .pending_effects
            .iter()
            .any(|(s, _, e)| *s == sid && !matches!(e, Effect::Continue { .. }));
        if !stopped {
            match (&frame, action) {
                (Frame::Headers(eos), 0) => forward(self, Frame::Headers(*eos)),
                (Frame::Headers(eos), _) => {
                    if let Some(h) = self.held_mut(sid, dir, pos) {
                        h.headers = Some(*eos);
                    }
                }
                (Frame::Data(..), 0) => self.release(sid, dir, pos),
                (Frame::Data(..), _) => {}
                (Frame::Trailers, a) => {
                    if let Some(h) = self.held_mut(sid, dir, pos) {
                        h.trailers = true;
                    }
                    if a == 0 {
                        self.release(sid, dir, pos);
                    }
                }
            }
        }
        self.apply_effects();
    }

    /// The failure policy for a frame reaching a failed filter.
    fn policy(&mut self, sid: u64, fi: usize, frame: Frame, forward: impl Fn(&mut Gateway, Frame)) {
        if self.filters[fi].info.policy == FailurePolicy::FailOpen {
            if let Some(r) = self.streams.get_mut(&sid) {
                r.skipped[fi] = true;
            }
            forward(self, frame);
        } else {
            self.fail_stream(sid, fi);
        }
    }

    fn map_len(&self, sid: u64, dir: usize, trailers: bool) -> i64 {
        let w = self.world();
        let Some(s) = w.streams.get(&sid) else {
            return 0;
        };
        let m = match (dir, trailers) {
            (0, false) => &s.req_headers,
            (0, true) => &s.req_trailers,
            (_, false) => &s.resp_headers,
            (_, true) => &s.resp_trailers,
        };
        m.as_ref().map_or(0, |m| m.len() as i64)
    }

    fn held_mut(&mut self, sid: u64, dir: usize, pos: usize) -> Option<&mut Held> {
        self.streams
            .get_mut(&sid)
            .and_then(|r| r.held[dir].get_mut(pos))
    }

    /// True when filter position `pos` of `dir` holds anything.
    pub(crate) fn holds(&self, sid: u64, dir: usize) -> Option<usize> {
        let r = self.streams.get(&sid)?;
        r.held[dir]
            .iter()
            .position(Held::any)
            .map(|p| self.pos_to_filter(dir, p))
    }

    /// Forwards everything held at `pos`.
    fn release(&mut self, sid: u64, dir: usize, pos: usize) {
        let Some(h) = self.held_mut(sid, dir, pos) else {
            return;
        };
        let h = std::mem::take(h);
        let mut push = |frame| {
            self.work.push_back(Work {
                sid,
                dir,
                pos: pos + 1,
                frame,
            })
        };
        if let Some(eos) = h.headers {
            push(Frame::Headers(eos));
        }
        if h.data {
            push(Frame::Data(h.body, h.eos));
        }
        if h.trailers {
            push(Frame::Trailers);
        }
    }

    /// A frame that passed every filter reaches the upstream (dir 0) or the client (dir 1).
    fn sink(&mut self, sid: u64, dir: usize, frame: Frame) {
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
                        self.release(sid, dir, pos);
                    }
                    Effect::Close { .. } => {
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

    /// Envoy's `sendLocalReply`.
    pub(crate) fn local_reply(&mut self, sid: u64, reply: LocalReply) {
        let headers = local_reply_headers(&reply);
        if let Some(s) = self.world().streams.get_mut(&sid) {
            s.code_details = reply.details.clone();
        }
        let Some(run) = self.streams.get_mut(&sid) else {
            return;
        };
        if run.local_reply.is_some() && run.client.headers.is_some() {
            return;
        }
        run.local_reply = Some(reply.clone());
        for h in run.held[0].iter_mut() {
            *h = Held::default();
        }
        self.work.retain(|w| !(w.sid == sid && w.dir == 0));
        let run = match self.streams.get_mut(&sid) {
            Some(r) => r,
            None => return,
        };
        if run.client.headers.is_some() {
            run.reset = true;
            return;
        }
        if run.response_started {
            // Encoding already started: the reply goes straight to the client.
            for h in run.held[1].iter_mut() {
                *h = Held::default();
            }
            run.client = Seen {
                headers: Some(headers.clone()),
                body: reply.body.clone(),
                trailers: None,
                end_of_stream: true,
            };
            self.work.retain(|w| w.sid != sid);
            if let Some(s) = self.world().streams.get_mut(&sid) {
                s.resp_headers = Some(headers);
            }
            return;
        }
        let body = reply.body;
        self.inject(sid, 1, Frame::Headers(body.is_empty()), Some(headers));
        if !body.is_empty() {
            self.inject(sid, 1, Frame::Data(body, true), None);
        }
    }

    /// Runs `on_log`, `on_done`, `on_delete` for every context of the stream and records
    /// its outcome.
    pub(crate) fn finish(&mut self, sid: u64) -> Option<Outcome> {
        let mut out = self.snapshot(sid)?;
        let run = self.streams.get(&sid)?;
        let (w, ctxs) = (run.worker, run.ctx.clone());
        for name in ["proxy_on_log", "proxy_on_done", "proxy_on_delete"] {
            for (fi, ctx) in ctxs.iter().enumerate() {
                if let Some(ctx) = ctx {
                    if self.filters[fi].vms[w].failed.is_none() {
                        let _ = self.call(fi, w, *ctx, name, &[*ctx as i64]);
                    }
                }
            }
        }
        self.pending_effects.retain(|(s, _, _)| *s != sid);
        for (fi, ctx) in ctxs.iter().enumerate() {
            if let Some(ctx) = ctx {
                let st = self.filters[fi].vms[w].state_mut();
                st.stream_ctx.remove(ctx);
                st.local_reply_sent.remove(ctx);
            }
        }
        self.streams.remove(&sid);
        self.world().streams.remove(&sid);
        out.finished = true;
        self.finished.insert(sid, out.clone());
        Some(out)
    }

    /// The current outcome of an open stream.
    pub(crate) fn snapshot(&self, sid: u64) -> Option<Outcome> {
        let run = self.streams.get(&sid)?;
        let calls = self
            .world()
            .calls
            .iter()
            .filter(|c| c.stream == Some(sid))
            .cloned()
            .collect();
        Some(Outcome {
            stream: sid,
            upstream: run.upstream.clone(),
            client: run.client.clone(),
            local_reply: run.local_reply.clone(),
            reset: run.reset,
            finished: false,
            calls,
        })
    }
}
