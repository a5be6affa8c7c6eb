//! Events that reach root contexts: callout replies (HTTP, gRPC), failures and timeouts,
//! `on_queue_ready`, `on_tick` from virtual time, and `settle`, which runs queued work,
//! scripted responders, queue notifications and automatic responses until nothing changes.

use super::Gateway;
use crate::error::{Error, Result};
use crate::value::{CallId, CallKind, CallRecord, CallReply, Headers, HostProfile, MapKind};

enum Delivery {
    Reply(CallReply),
    Fail,
    Message(Vec<u8>),
}

impl Gateway {
    /// Answers a callout: HTTP calls get `proxy_on_http_call_response`; gRPC calls get
    /// `proxy_on_grpc_receive` (status 0) or `proxy_on_grpc_close`; gRPC streams get initial
    /// metadata, the message, trailing metadata (each if non-empty) and close.
    ///
    /// Errors: unknown or already answered call.
    pub fn reply_call(&mut self, id: CallId, reply: CallReply) -> Result<()> {
        self.deliver(id, Delivery::Reply(reply))?;
        self.settle()
    }

    /// Fails a callout: HTTP gets `(token, 0, 0, 0)` with `get_status` giving 11 / "reset";
    /// gRPC gets `proxy_on_grpc_close` with 14 (UNAVAILABLE).
    pub fn fail_call(&mut self, id: CallId) -> Result<()> {
        self.deliver(id, Delivery::Fail)?;
        self.settle()
    }

    /// Times a callout out now, as Envoy does when its upstream never answers: virtual time
    /// advances to the call's deadline (its dispatch time plus its timeout), firing everything
    /// due by then in time order, this timeout included (HTTP: a 504 `upstream request
    /// timeout` reply; gRPC: status 4).
    ///
    /// Errors: unknown or already answered call, or a call without a timeout.
    pub fn time_out_call(&mut self, id: CallId) -> Result<()> {
        let (deadline, now) = {
            let w = self.world();
            let c = w
                .calls
                .iter()
                .find(|c| c.id == id && c.pending)
                .ok_or_else(|| Error::Harness(format!("call {} is not pending", id.0)))?;
            if c.timeout_ms == 0 {
                return Err(Error::Harness(format!("call {} has no timeout", id.0)));
            }
            (c.at_ns + u64::from(c.timeout_ms) * 1_000_000, w.mono_ns)
        };
        self.advance_ns(deadline.saturating_sub(now))
    }

    /// Delivers one message on an open gRPC stream without closing it.
    pub fn grpc_message(&mut self, id: CallId, msg: &[u8]) -> Result<()> {
        self.deliver(id, Delivery::Message(msg.to_vec()))?;
        self.settle()
    }

    fn take_call(&mut self, id: CallId, keep_open: bool) -> Result<CallRecord> {
        let mut w = self.world();
        let c = w
            .calls
            .iter_mut()
            .find(|c| c.id == id && c.pending)
            .ok_or_else(|| Error::Harness(format!("call {} is not pending", id.0)))?;
        if !keep_open {
            c.pending = false;
        }
        Ok(c.clone())
    }

    fn deliver(&mut self, id: CallId, d: Delivery) -> Result<()> {
        let call = self.take_call(id, matches!(d, Delivery::Message(_)))?;
        // Envoy's async client parses the reply into its response maps: a repeated inline
        // header is one entry joined with `,`.
        let d = match d {
            Delivery::Reply(mut rep) if self.world().host == HostProfile::Envoy => {
                rep.headers = rep.headers.as_envoy(MapKind::ResponseHeaders);
                rep.trailers = rep.trailers.as_envoy(MapKind::ResponseTrailers);
                Delivery::Reply(rep)
            }
            d => d,
        };
        let (fi, w) = (call.filter_index, call.worker);
        let Some(vm) = self.filters.get_mut(fi).and_then(|f| f.vms.get_mut(w)) else {
            return Ok(());
        };
        if vm.failed.is_some() {
            return Ok(());
        }
        let root = vm.state().root_ctx;
        let (r, t) = (root as i64, call.token as i64);
        let set_status = |gw: &mut Gateway, code: u32, msg: &str| {
            gw.filters[fi].vms[w].state_mut().status = (code, msg.as_bytes().to_vec());
        };
        let mut calls: Vec<(&str, Vec<i64>)> = Vec::new();
        match (call.kind, d) {
            (CallKind::Http, Delivery::Reply(rep)) => {
                let sc = &mut self.filters[fi].vms[w].state_mut().scope;
                let args = vec![
                    r,
                    t,
                    rep.headers.len() as i64,
                    rep.body.len() as i64,
                    rep.trailers.len() as i64,
                ];
                sc.call_headers = Some(rep.headers);
                sc.call_body = Some(rep.body);
                sc.call_trailers = Some(rep.trailers);
                set_status(self, 0, "");
                calls.push(("proxy_on_http_call_response", args));
            }
            (CallKind::Http, _) if self.world().host == HostProfile::Nginx => {
                let mut h = Headers::new();
                h.add(":dispatch_status", "broken connection");
                self.filters[fi].vms[w].state_mut().scope.call_headers = Some(h);
                self.filters[fi].vms[w].state_mut().scope.call_body = Some(Vec::new());
                calls.push(("proxy_on_http_call_response", vec![r, t, 1, 0, 0]));
            }
            (CallKind::Http, _) => {
                set_status(self, 11, "reset");
                calls.push(("proxy_on_http_call_response", vec![r, t, 0, 0, 0]));
            }
            (CallKind::GrpcCall, Delivery::Reply(rep)) if rep.grpc_status == 0 => {
                let len = rep.body.len() as i64;
                self.filters[fi].vms[w].state_mut().scope.grpc_message = Some(rep.body);
                set_status(self, 0, "");
                calls.push(("proxy_on_grpc_receive", vec![r, t, len]));
            }
            (CallKind::GrpcCall, Delivery::Reply(rep)) => {
                set_status(self, rep.grpc_status, &rep.grpc_message);
                calls.push(("proxy_on_grpc_close", vec![r, t, rep.grpc_status as i64]));
            }
            (_, Delivery::Message(m)) => {
                let len = m.len() as i64;
                self.filters[fi].vms[w].state_mut().scope.grpc_message = Some(m);
                calls.push(("proxy_on_grpc_receive", vec![r, t, len]));
            }
            (CallKind::GrpcStream, Delivery::Reply(rep)) => {
                let sc = &mut self.filters[fi].vms[w].state_mut().scope;
                if !rep.headers.is_empty() {
                    let n = rep.headers.len() as i64;
                    calls.push(("proxy_on_grpc_receive_initial_metadata", vec![r, t, n]));
                }
                if !rep.body.is_empty() {
                    calls.push(("proxy_on_grpc_receive", vec![r, t, rep.body.len() as i64]));
                }
                if !rep.trailers.is_empty() {
                    let n = rep.trailers.len() as i64;
                    calls.push(("proxy_on_grpc_receive_trailing_metadata", vec![r, t, n]));
                }
                sc.grpc_initial = Some(rep.headers);
                sc.grpc_message = Some(rep.body);
                sc.grpc_trailing = Some(rep.trailers);
                set_status(self, rep.grpc_status, &rep.grpc_message);
                calls.push(("proxy_on_grpc_close", vec![r, t, rep.grpc_status as i64]));
            }
            (_, Delivery::Fail) => {
                set_status(self, 14, "unavailable");
                calls.push(("proxy_on_grpc_close", vec![r, t, 14]));
            }
        }
        // Envoy runs the callback in the root context (the SDK switches to the caller's);
        // ngx_wasm_module runs it in the caller's own context, and switching does nothing there.
        let nginx = self.world().host == HostProfile::Nginx;
        let ctx = match call.stream {
            Some(sid) if nginx => self.filters[fi].vms[w]
                .state()
                .stream_ctx
                .iter()
                .find(|(_, s)| **s == sid)
                .map_or(root, |(c, _)| *c),
            _ => root,
        };
        for (name, args) in calls {
            if self.call(fi, w, ctx, name, &args).is_err() {
                break;
            }
        }
        self.filters[fi].vms[w].state_mut().scope = Default::default();
        self.apply_effects();
        Ok(())
    }

    /// Runs queued work and automatic steps until nothing changes.
    pub(crate) fn settle(&mut self) -> Result<()> {
        // A guest that feeds itself forever (e.g. re-enqueueing in on_queue_ready) would
        // never settle; stop with an error instead of hanging the test.
        for _ in 0..1_000_000 {
            while let Some(wk) = self.work.pop_front() {
                self.process(wk);
            }
            self.apply_effects();
            if !self.work.is_empty() {
                continue;
            }
            if self.run_responders()? || self.run_queues() || self.run_auto()? {
                continue;
            }
            return Ok(());
        }
        Err(Error::Harness(
            "the gateway did not settle after 10^6 steps".into(),
        ))
    }

    fn run_responders(&mut self) -> Result<bool> {
        if self.responders.is_empty() {
            return Ok(false);
        }
        let pending: Vec<CallRecord> = self
            .world()
            .calls
            .iter()
            .filter(|c| c.pending && !self.offered.contains(&c.id.0))
            .cloned()
            .collect();
        let mut progressed = false;
        for c in pending {
            self.offered.insert(c.id.0);
            let specific = self.responders.iter().position(|(cl, _)| *cl == c.cluster);
            let any = self.responders.iter().position(|(cl, _)| cl.is_empty());
            let reply = match specific.or(any) {
                Some(i) => (self.responders[i].1)(&c),
                None => None,
            };
            if let Some(r) = reply {
                self.deliver(c.id, Delivery::Reply(r))?;
                progressed = true;
            }
        }
        Ok(progressed)
    }

    fn run_queues(&mut self) -> bool {
        // Only the notifications pending now; new ones wait for the next round.
        let n = {
            let mut w = self.world();
            if w.host == HostProfile::Nginx {
                // ngx_wasm_module has no on_queue_ready.
                w.ready_queues.clear();
            }
            w.ready_queues.len()
        };
        for _ in 0..n {
            let next = {
                let mut w = self.world();
                w.ready_queues
                    .pop_front()
                    .and_then(|q| w.queues.get(q as usize - 1).map(|x| (q, x.owner)))
            };
            let Some((qid, (fi, w))) = next else {
                break;
            };
            let Some(vm) = self.filters.get(fi).and_then(|f| f.vms.get(w)) else {
                continue;
            };
            if vm.failed.is_none() {
                let root = vm.state().root_ctx;
                let _ = self.call(
                    fi,
                    w,
                    root,
                    "proxy_on_queue_ready",
                    &[root as i64, qid as i64],
                );
                self.apply_effects();
            }
        }
        n > 0
    }

    fn run_auto(&mut self) -> Result<bool> {
        let ids: Vec<u64> = self.streams.keys().copied().collect();
        for sid in ids {
            let Some(run) = self.streams.get_mut(&sid) else {
                continue;
            };
            let idle = run.local_reply.is_none() && !run.reset && !run.response_started;
            if idle && run.upstream.end_of_stream && run.auto_response.is_some() {
                if let Some(resp) = run.auto_response.take() {
                    self.send_response(sid, resp)?;
                    return Ok(true);
                }
            }
            let run = &self.streams[&sid];
            if run.auto_finish && (run.client.end_of_stream || run.reset) {
                self.finish(sid);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Advances virtual time by `d` ns, firing ticks and callout timeouts in time order.
    pub(crate) fn advance_ns(&mut self, d: u64) -> Result<()> {
        let target = self.world().mono_ns.saturating_add(d);
        loop {
            let tick = self
                .filters
                .iter()
                .enumerate()
                .flat_map(|(fi, f)| {
                    f.vms
                        .iter()
                        .enumerate()
                        .filter_map(move |(w, v)| v.next_tick_ns.map(|t| (t, fi, w)))
                })
                .min();
            let timeout = self
                .world()
                .calls
                .iter()
                .filter(|c| c.pending && c.timeout_ms > 0)
                .map(|c| (c.at_ns + c.timeout_ms as u64 * 1_000_000, c.id))
                .min();
            let next_t = match (tick, timeout) {
                (Some((a, ..)), Some((b, _))) => a.min(b),
                (Some((a, ..)), None) => a,
                (None, Some((b, _))) => b,
                (None, None) => u64::MAX,
            };
            if next_t > target {
                break;
            }
            self.set_mono(next_t);
            match (tick, timeout) {
                (Some((t, fi, w)), _) if t == next_t => {
                    let vm = &mut self.filters[fi].vms[w];
                    let period = vm.state().tick_ms as u64 * 1_000_000;
                    vm.next_tick_ns = (period > 0).then_some(t + period);
                    let root = vm.state().root_ctx;
                    let _ = self.call(fi, w, root, "proxy_on_tick", &[root as i64]);
                    self.apply_effects();
                }
                (_, Some((_, id))) => {
                    let mut h = Headers::new();
                    h.add(":status", "504");
                    h.add("content-length", "24");
                    h.add("content-type", "text/plain");
                    let rep = CallReply {
                        headers: h,
                        body: b"upstream request timeout".to_vec(),
                        ..CallReply::default()
                    };
                    let kind = self
                        .world()
                        .calls
                        .iter()
                        .find(|c| c.id == id)
                        .map(|c| c.kind);
                    let nginx = self.world().host == HostProfile::Nginx;
                    match kind {
                        Some(CallKind::Http) if nginx => {
                            let mut h = Headers::new();
                            h.add(":dispatch_status", "timeout");
                            let rep = CallReply {
                                headers: h,
                                ..CallReply::default()
                            };
                            self.deliver(id, Delivery::Reply(rep))?
                        }
                        Some(CallKind::Http) => self.deliver(id, Delivery::Reply(rep))?,
                        _ => {
                            let rep = CallReply::grpc_error(4, "deadline exceeded");
                            self.deliver(id, Delivery::Reply(rep))?
                        }
                    }
                }
                _ => break,
            }
            self.settle()?;
        }
        self.set_mono(target);
        self.settle()
    }

    fn set_mono(&mut self, t: u64) {
        let mut w = self.world();
        let delta = t.saturating_sub(w.mono_ns);
        w.mono_ns = t;
        w.now_ns += delta;
    }
}
