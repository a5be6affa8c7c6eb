//! Envoy's filter iteration for one HTTP stream through the chain: request frames go through
//! filters 1..n, response frames n..1. A filter returning PAUSE (StopIteration) holds the
//! frame; later body chunks still reach it (Envoy's rule), a CONTINUE from a body or trailers
//! callback or a `continue_stream` releases everything held. A local reply stops the request
//! path; its response passes back through the filters whose contexts exist (as Envoy's
//! encoder filters see a local reply). Traps follow the failure policy. The effects a callback
//! asks for (continue, close, local reply) are collected when it returns and applied in order.

use super::Gateway;
use crate::state::{Effect, Vis};
use crate::value::{FailurePolicy, HostProfile, LocalReply, Request, Response, Seen};
use crate::vm::Trapped;

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
    /// Headers held (with their end_of_stream).
    headers: Option<bool>,
    /// The headers PAUSE stops all iteration: later frames wait in `queued_*`.
    stop_all: bool,
    /// A data frame is held (body buffered by a body PAUSE).
    data: bool,
    body: Vec<u8>,
    eos: bool,
    trailers: bool,
    /// Frames that arrived while stopped-all, delivered to this filter on continue.
    queued_body: Option<(Vec<u8>, bool)>,
    queued_trailers: bool,
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
    pub(crate) held: [Vec<Held>; 2],
    pub upstream: Seen,
    pub client: Seen,
    pub local_reply: Option<LocalReply>,
    pub reset: bool,
    pub response_started: bool,
    pub auto_response: Option<Response>,
    pub auto_finish: bool,
    pub(crate) skipped: Vec<bool>,
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

impl StreamRun {
    pub(crate) fn clear_held(&mut self, dir: usize) {
        for h in self.held[dir].iter_mut() {
            *h = Held::default();
        }
    }
}

impl Gateway {
    fn pos_to_filter(&self, dir: usize, pos: usize) -> usize {
        if dir == 0 {
            pos
        } else {
            self.filters.len() - 1 - pos
        }
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
            if self.create_context(sid, fi, w).is_err() {
                return self.policy(sid, fi, frame, forward);
            }
        }
        let Some(ctx) = self.streams.get(&sid).and_then(|r| r.ctx[fi]) else {
            return forward(self, frame);
        };
        // ngx_wasm_module has no request trailers callback.
        if dir == 0 && matches!(frame, Frame::Trailers) && self.world().host == HostProfile::Nginx {
            return forward(self, frame);
        }
        if self.filters[fi].vms[w].failed.is_some() {
            // After its failure reply the failed filter no longer runs (Envoy's
            // `failure_local_reply_sent_`).
            if dir == 1
                && self
                    .streams
                    .get(&sid)
                    .is_some_and(|r| r.local_reply.is_some())
            {
                return forward(self, frame);
            }
            return self.policy(sid, fi, frame, forward);
        }
        let kind = match frame {
            Frame::Headers(_) => 0,
            Frame::Data(..) => 1,
            Frame::Trailers => 2,
        };
        // Stopped-all on headers: Envoy buffers later frames without calling the filter.
        if let Some(h) = self.held_mut(sid, dir, pos) {
            if h.headers.is_some() && h.stop_all {
                match frame {
                    Frame::Data(chunk, eos) => {
                        let q = h.queued_body.get_or_insert_with(|| (Vec::new(), false));
                        q.0.extend_from_slice(&chunk);
                        q.1 = eos;
                    }
                    Frame::Trailers => h.queued_trailers = true,
                    Frame::Headers(_) => {}
                }
                return;
            }
        }
        let mi = dir * 2;
        let args: [i64; 3] = match &frame {
            Frame::Headers(eos) => {
                self.vis(fi, w, ctx, |v| v.map[mi] = true);
                [ctx as i64, self.map_len(sid, dir, false), *eos as i64]
            }
            Frame::Trailers => {
                self.vis(fi, w, ctx, |v| v.map[mi + 1] = true);
                [ctx as i64, self.map_len(sid, dir, true), 0]
            }
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
                let eos = *eos;
                self.vis(fi, w, ctx, |v| v.body_eos[dir] = eos);
                [ctx as i64, len, eos as i64]
            }
        };
        let r = self.call(fi, w, ctx, CALLBACKS[dir][kind], &args);
        let mut added_trailers = false;
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
            self.vis(fi, w, ctx, |v| {
                v.body_eos[dir] = false;
                added_trailers = std::mem::take(&mut v.added_trailers[dir]);
            });
        }
        let action = match r {
            Ok(a) => a,
            Err(_) => {
                if self.filters[fi].info.policy == FailurePolicy::FailOpen {
                    if let Some(r) = self.streams.get_mut(&sid) {
                        r.skipped[fi] = true;
                    }
                    self.release(sid, dir, pos);
                    if kind != 1 {
                        forward(self, frame);
                    }
                } else {
                    self.fail_stream(sid, fi);
                }
                return;
            }
        };
        if action == 0 && kind != 1 {
            self.vis(fi, w, ctx, |v| v.map[mi + kind / 2] = false);
        }
        if added_trailers {
            if let Some(h) = self.held_mut(sid, dir, pos) {
                h.eos = false;
                h.trailers = true;
            }
        }
        let stopped = self
            .pending_effects
            .iter()
            .any(|(s, _, e)| *s == sid && !matches!(e, Effect::Continue { .. }));
        if !stopped {
            let stop_all = !self.filters[fi].info.allow_stop_iteration;
            match (&frame, action) {
                (Frame::Headers(eos), 0) => forward(self, Frame::Headers(*eos)),
                (Frame::Headers(eos), _) => {
                    if let Some(h) = self.held_mut(sid, dir, pos) {
                        h.headers = Some(*eos);
                        h.stop_all = stop_all;
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

    /// Updates what context `ctx` of filter `fi` on worker `w` can reach.
    pub(crate) fn vis(&mut self, fi: usize, w: usize, ctx: u32, f: impl FnOnce(&mut Vis)) {
        f(self.filters[fi].vms[w]
            .state_mut()
            .vis
            .entry(ctx)
            .or_default());
    }

    /// Creates filter `fi`'s context for stream `sid` (`proxy_on_context_create`).
    pub(crate) fn create_context(&mut self, sid: u64, fi: usize, w: usize) -> Result<u32, Trapped> {
        let vm = &mut self.filters[fi].vms[w];
        let ctx = vm.state().next_ctx;
        vm.state_mut().next_ctx += 1;
        vm.state_mut().stream_ctx.insert(ctx, sid);
        let root = vm.state().root_ctx as i64;
        if let Some(r) = self.streams.get_mut(&sid) {
            r.ctx[fi] = Some(ctx);
        }
        self.call(fi, w, ctx, "proxy_on_context_create", &[ctx as i64, root])?;
        Ok(ctx)
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

    /// Forwards everything held at `pos`; frames queued while stopped-all are delivered to
    /// this filter itself, after its headers went on.
    fn release(&mut self, sid: u64, dir: usize, pos: usize) {
        let Some(h) = self.held_mut(sid, dir, pos) else {
            return;
        };
        let h = std::mem::take(h);
        let mut push = |at: usize, frame| {
            self.work.push_back(Work {
                sid,
                dir,
                pos: at,
                frame,
            })
        };
        if let Some(eos) = h.headers {
            push(pos + 1, Frame::Headers(eos));
        }
        if h.data {
            push(pos + 1, Frame::Data(h.body, h.eos));
        }
        if h.trailers {
            push(pos + 1, Frame::Trailers);
        }
        if let Some((body, eos)) = h.queued_body {
            push(pos, Frame::Data(body, eos));
        }
        if h.queued_trailers {
            push(pos, Frame::Trailers);
        }
    }
}
