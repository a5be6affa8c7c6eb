//! Driving streams: [`Exchange`] for a whole request/response in one call, and [`Stream`] for
//! step-by-step control (headers, then body chunks, pause and resume observable).

use crate::error::{Error, Result};
use crate::gateway::{Frame, Gateway};
use crate::value::{Headers, LocalReply, Outcome, Request, Response, Seen, StreamId};

/// A full exchange, from [`Gateway::request`].
pub struct Exchange<'g> {
    gw: &'g mut Gateway,
    req: Request,
}

impl<'g> Exchange<'g> {
    pub(crate) fn new(gw: &'g mut Gateway, req: Request) -> Self {
        Self { gw, req }
    }

    /// Sends the request (headers, every body chunk, trailers); once the upstream has the
    /// whole request it answers with `resp`, the response runs back through the chain and the
    /// stream finishes (`on_log`, `on_done`, `on_delete`). A local reply or reset finishes it
    /// too. If the request stalls (a filter paused and waits for a callout with no scripted
    /// responder), the outcome is not `finished`: answer the call with
    /// [`Gateway::reply_call`] and the response is sent then; read it with
    /// [`Gateway::outcome`].
    pub fn respond_with(self, resp: Response) -> Result<Outcome> {
        self.run(Some(resp))
    }

    /// Sends the request only; the stream finishes if a local reply or reset ends it,
    /// otherwise it stays open (continue with [`Gateway::stream`]).
    pub fn send(self) -> Result<Outcome> {
        self.run(None)
    }

    fn run(self, resp: Option<Response>) -> Result<Outcome> {
        let id = self.gw.open(self.req);
        if let Some(r) = self.gw.streams.get_mut(&id.0) {
            r.auto_response = resp;
            r.auto_finish = true;
        }
        self.gw.send_request(id.0)?;
        self.gw.outcome(id)
    }
}

/// Step-by-step control of one stream, from [`Gateway::stream`].
pub struct Stream<'g> {
    gw: &'g mut Gateway,
    id: StreamId,
}

impl<'g> Stream<'g> {
    pub(crate) fn new(gw: &'g mut Gateway, id: StreamId) -> Self {
        Self { gw, id }
    }

    fn open(&mut self) -> Result<()> {
        if self.gw.streams.contains_key(&self.id.0) {
            Ok(())
        } else {
            Err(Error::Harness(format!("stream {} is not open", self.id.0)))
        }
    }

    fn push(&mut self, dir: usize, frame: Frame, map: Option<Headers>) -> Result<&mut Self> {
        self.open()?;
        self.gw.codec_inject(self.id.0, dir, frame, map);
        self.gw.settle()?;
        Ok(self)
    }

    /// The stream id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Sends the request headers given to [`Gateway::begin`].
    pub fn send_headers(&mut self, end_of_stream: bool) -> Result<&mut Self> {
        self.open()?;
        let h = self.gw.streams[&self.id.0].request.headers.clone();
        self.push(0, Frame::Headers(end_of_stream), Some(h))
    }

    /// Sends a request body chunk. Over HTTP/1.1 (the default [`crate::Protocol`]) a non-empty
    /// chunk with `end_of_stream` reaches the filters as the chunk, then an empty end_of_stream
    /// callback, as Envoy's HTTP/1 codec delivers a message's end.
    pub fn send_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<&mut Self> {
        self.push(0, Frame::Data(chunk.to_vec(), end_of_stream), None)
    }

    /// Sends request trailers (ends the request).
    pub fn send_trailers(&mut self, trailers: Headers) -> Result<&mut Self> {
        self.push(0, Frame::Trailers, Some(trailers))
    }

    /// Sends the upstream's response headers (`resp.headers`; body and trailers ignored).
    pub fn respond_headers(&mut self, resp: &Response, end_of_stream: bool) -> Result<&mut Self> {
        self.push(1, Frame::Headers(end_of_stream), Some(resp.headers.clone()))
    }

    /// Sends a response body chunk (split like [`Stream::send_body`] over HTTP/1.1).
    pub fn respond_body(&mut self, chunk: &[u8], end_of_stream: bool) -> Result<&mut Self> {
        self.push(1, Frame::Data(chunk.to_vec(), end_of_stream), None)
    }

    /// Sends response trailers.
    pub fn respond_trailers(&mut self, trailers: Headers) -> Result<&mut Self> {
        self.push(1, Frame::Trailers, Some(trailers))
    }

    /// Sends a whole response.
    pub fn respond_with(&mut self, resp: Response) -> Result<&mut Self> {
        self.open()?;
        self.gw.send_response(self.id.0, resp)?;
        Ok(self)
    }

    /// Index of the first filter holding request frames (paused), if any.
    pub fn request_paused_at(&self) -> Option<usize> {
        self.gw.holds(self.id.0, 0)
    }

    /// Index of the first filter holding response frames (paused), if any.
    pub fn response_paused_at(&self) -> Option<usize> {
        self.gw.holds(self.id.0, 1)
    }

    /// What the upstream has received so far.
    pub fn upstream(&self) -> Seen {
        self.gw
            .streams
            .get(&self.id.0)
            .map(|r| r.upstream.clone())
            .unwrap_or_default()
    }

    /// What the client has received so far.
    pub fn client(&self) -> Seen {
        self.gw
            .streams
            .get(&self.id.0)
            .map(|r| r.client.clone())
            .unwrap_or_default()
    }

    /// The local reply, if one was sent.
    pub fn local_reply(&self) -> Option<LocalReply> {
        self.gw
            .streams
            .get(&self.id.0)
            .and_then(|r| r.local_reply.clone())
    }

    /// The outcome so far.
    pub fn outcome(&self) -> Result<Outcome> {
        self.gw.outcome(self.id)
    }

    /// Ends the stream: `on_log`, then `on_done`, then `on_delete` on every context.
    pub fn finish(&mut self) -> Result<Outcome> {
        self.open()?;
        let out = self.gw.finish(self.id.0);
        self.gw.settle()?;
        out.ok_or_else(|| Error::Harness("stream vanished".into()))
    }

    /// The gateway (to reply to calls, advance time, read metrics) while the stream is open.
    pub fn gateway(&mut self) -> &mut Gateway {
        self.gw
    }
}
