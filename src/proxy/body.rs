//! Body plumbing: the one body type the proxy passes around, bounded reading for extractors,
//! and replay of a partly read body.
//!
//! Owns `ProxyBody`, `Taken` (a body after the identify step), `read_bounded` (with its
//! per-read timeout, `next_frame`) and `Prefixed`.
//! Must not: buffer more than the configured limit, or alter a single byte of what it replays.
//! Invariant: `Prefixed { prefix, rest }` yields exactly `prefix` followed by `rest`.

use crate::code::Code;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one body type requests and responses travel in. The bodies every proxied exchange
/// carries (a connection's `Incoming`, a buffered or empty body) are held as they are; only
/// the rarer composed bodies (a replayed spool, a body with a read prefix) are boxed, so a
/// request that streams through costs no allocation for its bodies.
pub struct ProxyBody(Inner);

enum Inner {
    Incoming(Incoming),
    Full(Option<Bytes>),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

pub fn full(b: impl Into<Bytes>) -> ProxyBody {
    let b: Bytes = b.into();
    ProxyBody(Inner::Full(Some(b).filter(|b| !b.is_empty())))
}

pub fn empty() -> ProxyBody {
    ProxyBody(Inner::Full(None))
}

/// A connection's body, streamed as it arrives.
pub fn incoming(b: Incoming) -> ProxyBody {
    ProxyBody(Inner::Incoming(b))
}

pub fn boxed<B>(b: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    ProxyBody(Inner::Boxed(b.map_err(Into::into).boxed_unsync()))
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Inner::Incoming(b) => Pin::new(b).poll_frame(cx).map_err(Into::into),
            Inner::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Inner::Boxed(b) => Pin::new(b).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Incoming(b) => b.is_end_stream(),
            Inner::Full(b) => b.is_none(),
            Inner::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Incoming(b) => b.size_hint(),
            Inner::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Inner::Boxed(b) => b.size_hint(),
        }
    }
}

/// A request body after the gateway had what it needs from it, for either kind of route.
pub struct Taken {
    /// The body to forward; `None` when it is lost (client gone, stalled, spool failed).
    pub forward: Option<ProxyBody>,
    /// Some of the body was left unread (an HTTP/1 connection cannot be reused).
    pub unread: bool,
    /// Why the body cannot be decided on (too large, broken, stalled), if it cannot.
    pub failed: Option<Code>,
}

impl Taken {
    /// The client's body, not read: forwarded as it streams in.
    pub fn unread(b: Incoming, headers: &http::HeaderMap) -> Taken {
        Taken {
            forward: Some(incoming(b)),
            unread: has_body(headers),
            failed: None,
        }
    }

    /// The body is gone (what is left of it unread); `code` says why.
    pub fn lost(code: Code) -> Taken {
        Taken {
            forward: None,
            unread: true,
            failed: Some(code),
        }
    }
}

/// True when the request has a body (a non-zero length, or chunked).
pub fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// What reading a body up to a limit gave.
pub enum Bounded<B> {
    /// The whole body, within the limit.
    Complete(Bytes),
    /// The limit was passed: what was read so far and the unread rest.
    TooLarge { prefix: Bytes, rest: B },
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The body's own error (the client broke the framing or went away).
    Body(E),
    /// No frame arrived within the read timeout.
    Timeout,
}

/// The next frame of `body`, waiting at most `idle` for it (the gap between two reads, like
/// nginx's `client_body_timeout`, so a large upload at a steady pace never times out while a
/// stalled one cannot hold its connection and buffers forever).
pub async fn next_frame<B>(
    body: &mut B,
    idle: Duration,
) -> Result<Option<Frame<Bytes>>, ReadError<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    match tokio::time::timeout(idle, body.frame()).await {
        Err(_) => Err(ReadError::Timeout),
        Ok(None) => Ok(None),
        Ok(Some(f)) => f.map(Some).map_err(ReadError::Body),
    }
}

/// Reads `body` until it ends or passes `limit` bytes, waiting at most `idle` for each frame.
pub async fn read_bounded<B>(
    mut body: B,
    limit: usize,
    idle: Duration,
) -> Result<Bounded<B>, ReadError<B::Error>>
where
    B: Body<Data = Bytes> + Unpin,
{
    let mut buf = BytesMut::new();
    while let Some(frame) = next_frame(&mut body, idle).await? {
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                return Ok(Bounded::TooLarge {
                    prefix: buf.freeze(),
                    rest: body,
                });
            }
        }
    }
    Ok(Bounded::Complete(buf.freeze()))
}

pin_project_lite::pin_project! {
    /// Already-read bytes followed by the rest of the original body.
    pub struct Prefixed<B> {
        prefix: Option<Bytes>,
        #[pin]
        rest: B,
    }
}

impl<B> Prefixed<B> {
    pub fn new(prefix: Bytes, rest: B) -> Self {
        Prefixed {
            prefix: Some(prefix).filter(|p| !p.is_empty()),
            rest,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Prefixed<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        this.rest.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let mut h = self.rest.size_hint();
        let n = self.prefix.as_ref().map_or(0, |p| p.len() as u64);
        h.set_lower(h.lower() + n);
        if let Some(u) = h.upper() {
            h.set_upper(u + n);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use http_body_util::StreamBody;

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = parts
            .iter()
            .map(|p| Ok(Frame::data(Bytes::from_static(p))))
            .collect();
        StreamBody::new(futures_util::stream::iter(frames))
    }

    #[tokio::test]
    async fn bounded_read_and_replay_are_byte_exact() {
        let t = Duration::from_secs(5);
        match read_bounded(chunks(&[b"abc", b"def"]), 6, t).await.unwrap() {
            Bounded::Complete(b) => assert_eq!(&b[..], b"abcdef"),
            Bounded::TooLarge { .. } => panic!("within limit"),
        }
        let Bounded::TooLarge { prefix, rest } =
            read_bounded(chunks(&[b"abc", b"def", b"ghi"]), 4, t)
                .await
                .unwrap()
        else {
            panic!("over limit")
        };
        assert_eq!(&prefix[..], b"abcdef");
        let all = Prefixed::new(prefix, rest)
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&all[..], b"abcdefghi");
    }

    #[tokio::test]
    async fn a_body_that_stops_sending_times_out() {
        // Sends one chunk, then nothing, without ending: a stalled client.
        let stalled = StreamBody::new(
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(
                Bytes::from_static(b"abc"),
            ))])
            .chain(futures_util::stream::pending()),
        );
        let got = read_bounded(stalled, 1 << 20, Duration::from_millis(20)).await;
        assert!(matches!(got, Err(ReadError::Timeout)));
    }
}
