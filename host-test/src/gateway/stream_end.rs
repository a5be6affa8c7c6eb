//! The end of a stream as Envoy runs it: every filter's access log first (`on_log`; a filter
//! the request never reached gets its context created for it, as Envoy's `Context::log`
//! does), then each context's `on_done` and `on_delete`; and a stream's outcome (recorded when
//! it finished, or a snapshot while it is open).

use super::Gateway;
use crate::error::{Error, Result};
use crate::value::{Outcome, StreamId};

impl Gateway {
    /// Runs `on_log`, then `on_done` and `on_delete`, and records the stream's outcome.
    pub(crate) fn finish(&mut self, sid: u64) -> Option<Outcome> {
        let mut out = self.snapshot(sid)?;
        let w = self.streams.get(&sid)?.worker;
        for fi in 0..self.filters.len() {
            let has_ctx = self.streams.get(&sid).and_then(|r| r.ctx[fi]).is_some();
            if !has_ctx && self.filters[fi].vms[w].failed.is_none() {
                let _ = self.create_context(sid, fi, w);
            }
        }
        let ctxs = self.streams.get(&sid)?.ctx.clone();
        for (fi, ctx) in ctxs.iter().enumerate() {
            let Some(ctx) = *ctx else { continue };
            if self.filters[fi].vms[w].failed.is_none() {
                self.vis(fi, w, ctx, |v| v.log = true);
                let _ = self.call(fi, w, ctx, "proxy_on_log", &[ctx as i64]);
                self.vis(fi, w, ctx, |v| v.log = false);
            }
        }
        for name in ["proxy_on_done", "proxy_on_delete"] {
            for (fi, ctx) in ctxs.iter().enumerate() {
                let Some(ctx) = *ctx else { continue };
                if self.filters[fi].vms[w].failed.is_none() {
                    let _ = self.call(fi, w, ctx, name, &[ctx as i64]);
                }
            }
        }
        self.pending_effects.retain(|(s, _, _)| *s != sid);
        for (fi, ctx) in ctxs.iter().enumerate() {
            if let Some(ctx) = ctx {
                let st = self.filters[fi].vms[w].state_mut();
                st.stream_ctx.remove(ctx);
                st.vis.remove(ctx);
            }
        }
        self.streams.remove(&sid);
        self.world().streams.remove(&sid);
        out.finished = true;
        self.finished.insert(sid, out.clone());
        Some(out)
    }

    /// The outcome of a stream (open or finished).
    pub fn outcome(&self, id: StreamId) -> Result<Outcome> {
        if let Some(o) = self.finished.get(&id.0) {
            return Ok(o.clone());
        }
        self.snapshot(id.0)
            .ok_or_else(|| Error::Harness(format!("unknown stream {}", id.0)))
    }

    /// The current outcome of an open stream.
    pub(crate) fn snapshot(&self, sid: u64) -> Option<Outcome> {
        let run = self.streams.get(&sid)?;
        let w = self.world();
        let calls = w
            .calls
            .iter()
            .filter(|c| c.stream == Some(sid))
            .cloned()
            .collect();
        let route_cache_cleared = w.streams.get(&sid).map_or(0, |s| s.route_cache_cleared);
        drop(w);
        Some(Outcome {
            stream: sid,
            upstream: run.upstream.clone(),
            client: run.client.clone(),
            local_reply: run.local_reply.clone(),
            reset: run.reset,
            finished: false,
            calls,
            route_cache_cleared,
        })
    }
}
