//! The callouts of a VM's contexts: who made each (and the largest response body it takes), and
//! the streams that wait on a callout another context of the same VM made
//! ([`Host::join_call`]).
//!
//! When the answer arrives, the context that made the call handles it first. The streams that
//! joined it get the same answer through their own `on_call_response`, each in its own context
//! (`proxy_set_effective_context`), from a root-context callback: right away when the root made
//! the call, otherwise on a tick the adapter asks for at once (1 ms). The SDK files every callout
//! a guest makes under the context whose callback runs, and drops answers for contexts that are
//! gone; woken from a root callback, a stream's own callouts are filed under the root, which
//! lives as long as the VM and hands each answer to the stream that made it ([`maker`]).
//! Envoy defers `continue_stream` and local replies made this way until the VM call returns, as
//! it does for any callback. When the stream that made a call ends first (Envoy then cancels its
//! callout), the streams that joined it get a failure, so none waits for an answer that will
//! never come.
//!
//! ngx_wasm_module's `proxy_set_effective_context` does nothing (every hostcall acts on the
//! context whose callback runs), so there a join is refused and the caller decides without it.
//! [`probe`] tells the two apart once per VM: a host that switches contexts refuses an unknown
//! context id.
//!
//! [`Host::join_call`]: crate::host::Host::join_call

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Weak;

use super::raw;
use crate::host::{CallFailure, CallResponse, GrpcFailure};

/// Most joins a VM keeps at once; a join beyond it is refused.
const MAX_JOINS: usize = 4096;

/// Most unanswered callouts a VM tracks (hosts answer or cancel every one; bounded regardless).
const MAX_MADE: usize = 4096;

/// An answer to a callout.
pub(super) enum Answer {
    /// To an HTTP call.
    Http(Result<CallResponse, CallFailure>),
    /// To a gRPC call.
    Grpc(Result<Vec<u8>, GrpcFailure>),
}

/// An answer kept for the next tick: the callout's token, the streams that joined it, the answer.
type Ready = (u32, Vec<u32>, Result<CallResponse, CallFailure>);

/// A stream context that can be handed a callout answer from a root-context callback.
pub(super) trait Waiter {
    /// Hands the stream the answer to callout `token` (one it made or joined). The effective
    /// context is the stream's own when this runs.
    fn answer(&self, token: u32, answer: Answer);
}

thread_local! {
    /// Whether the host switches contexts (see [`probe`]).
    static SUPPORTED: Cell<bool> = const { Cell::new(false) };
    /// The stream context whose callback runs (0: the root context).
    static CURRENT: Cell<u32> = const { Cell::new(0) };
    /// Live stream contexts that may be woken.
    static WAITERS: RefCell<HashMap<u32, Weak<dyn Waiter>>> = RefCell::new(HashMap::new());
    /// (token, stream context) for each join.
    static JOINED: RefCell<Vec<(u32, u32)>> = const { RefCell::new(Vec::new()) };
    /// (token, context (0: root), largest body) for each unanswered callout.
    static MADE: RefCell<Vec<(u32, u32, usize)>> = const { RefCell::new(Vec::new()) };
    /// Answers waiting for the next tick.
    static READY: RefCell<Vec<Ready>> = const { RefCell::new(Vec::new()) };
    /// Whether the tick period is the 1 ms one of [`schedule`].
    static FAST: Cell<bool> = const { Cell::new(false) };
}

/// Finds out, once per VM from its root context `root`, whether the host switches contexts.
pub(super) fn probe(root: u32) {
    let switches = raw::set_effective_context(u32::MAX).is_err();
    let _ = raw::set_effective_context(root);
    SUPPORTED.with(|s| s.set(switches));
}

/// Marks stream context `id` (0 for the root) as the one whose callback runs.
pub(super) fn enter(id: u32) {
    CURRENT.with(|c| c.set(id));
}

/// Registers a live stream context.
pub(super) fn register(id: u32, waiter: Weak<dyn Waiter>) {
    WAITERS.with(|w| w.borrow_mut().insert(id, waiter));
}

/// Forgets stream context `id` (its stream ended).
pub(super) fn forget(id: u32) {
    WAITERS.with(|w| w.borrow_mut().remove(&id));
    JOINED.with(|j| j.borrow_mut().retain(|(_, ctx)| *ctx != id));
}

/// Records callout `token`, made by the running context, whose response body may be at most
/// `max_body` bytes.
pub(super) fn made(token: u32, max_body: usize) {
    let ctx = CURRENT.with(Cell::get);
    MADE.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_MADE {
            m.remove(0);
        }
        m.push((token, ctx, max_body));
    });
}

/// The largest response body callout `token` takes (unknown tokens: 1 MiB).
pub(super) fn max_body(token: u32) -> usize {
    MADE.with(|m| {
        m.borrow()
            .iter()
            .find(|(t, _, _)| *t == token)
            .map_or(crate::host::HttpCall::MAX_RESPONSE_BYTES, |(_, _, max)| {
                *max
            })
    })
}

/// The stream context that made callout `token`, when a stream made it.
pub(super) fn maker(token: u32) -> Option<u32> {
    MADE.with(|m| {
        m.borrow()
            .iter()
            .find(|(t, _, _)| *t == token)
            .map(|(_, ctx, _)| *ctx)
            .filter(|ctx| *ctx != 0)
    })
}

/// Joins the running stream to callout `token`; false when the host cannot wake it.
pub(super) fn join(token: u32) -> bool {
    let ctx = CURRENT.with(Cell::get);
    if ctx == 0 || !SUPPORTED.with(Cell::get) {
        return false;
    }
    JOINED.with(|j| {
        let mut j = j.borrow_mut();
        if j.len() >= MAX_JOINS {
            return false;
        }
        j.push((token, ctx));
        true
    })
}

/// The answer to callout `token` arrived: it is no longer tracked, and the streams that joined
/// it are returned (now forgotten).
pub(super) fn take_joined(token: u32) -> Vec<u32> {
    MADE.with(|m| m.borrow_mut().retain(|(t, _, _)| *t != token));
    JOINED.with(|j| {
        let mut j = j.borrow_mut();
        if !j.iter().any(|(t, _)| *t == token) {
            return Vec::new();
        }
        let (these, rest): (Vec<_>, Vec<_>) = j.drain(..).partition(|(t, _)| *t == token);
        *j = rest;
        these.into_iter().map(|(_, ctx)| ctx).collect()
    })
}

/// Hands `answer` (to callout `token`) to stream context `ctx` in its own context, then makes
/// root context `root` effective again. Runs in a root-context callback.
pub(super) fn deliver(ctx: u32, token: u32, answer: Answer, root: u32) {
    let Some(waiter) = WAITERS.with(|w| w.borrow().get(&ctx).and_then(Weak::upgrade)) else {
        return;
    };
    if raw::set_effective_context(ctx).is_ok() {
        enter(ctx);
        waiter.answer(token, answer);
    }
    let _ = raw::set_effective_context(root);
    enter(0);
}

/// Hands the answer to callout `token` to the stream contexts that `joined` it. Runs in a
/// root-context callback (`root`).
pub(super) fn answer(
    token: u32,
    joined: Vec<u32>,
    response: &Result<CallResponse, CallFailure>,
    root: u32,
) {
    for ctx in joined {
        deliver(ctx, token, Answer::Http(response.clone()), root);
    }
}

/// Keeps the answer to callout `token` for the streams that `joined` it until the next tick,
/// and asks for that tick now. Runs in a stream callback.
pub(super) fn schedule(token: u32, joined: Vec<u32>, response: Result<CallResponse, CallFailure>) {
    READY.with(|r| r.borrow_mut().push((token, joined, response)));
    if !FAST.with(Cell::get) && raw::set_tick_period_ms(1).is_ok() {
        FAST.with(|f| f.set(true));
    }
}

/// Wakes the streams whose answers wait (see [`schedule`]); whether the tick was the adapter's
/// own (the plugin's period is to be restored). Runs in the root context `root`'s tick.
pub(super) fn wake_ready(root: u32) -> bool {
    let ready = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
    for (token, joined, response) in ready {
        answer(token, joined, &response, root);
    }
    FAST.with(|f| f.replace(false))
}

/// Stream context `id` ended: the streams that joined a callout it made and that is still
/// unanswered get a failure on the next tick (the host cancels such a callout).
pub(super) fn ended(id: u32) {
    let orphaned: Vec<u32> = MADE.with(|m| {
        let mut m = m.borrow_mut();
        let (these, rest): (Vec<_>, Vec<_>) = m.drain(..).partition(|(_, ctx, _)| *ctx == id);
        *m = rest;
        these.into_iter().map(|(token, _, _)| token).collect()
    });
    forget(id);
    for token in orphaned {
        let joined = take_joined(token);
        if joined.is_empty() {
            continue;
        }
        let failure = Err(CallFailure {
            reason: "the request that made the call ended before its answer".into(),
        });
        schedule(token, joined, failure);
    }
}
