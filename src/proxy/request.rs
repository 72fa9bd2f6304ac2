//! The identify step's body read on request routes: the body is buffered (bounded, with a
//! per-read timeout) only when the route takes its identifier from it, or checks it for the
//! identifier's names (`body_ids`); otherwise it streams through.
//!
//! Owns when a request route's body is read, as which type and content coding, and what is
//! kept of it.
//! Must not: decide, answer or forward (the pipeline does), read a body its route does not
//! need, keep more than `limit` bytes of it, or hand the extractors compressed bytes.
//! Invariant: the body `take` returns for forwarding is exactly the bytes the client sent.

use super::body::{self, Bounded, Taken};
use crate::code::Code;
use crate::config::{Mode, RouteConfig};
use crate::extract::{self, media::Coding};
use bytes::Bytes;
use http::header;
use hyper::body::Incoming;
use std::time::Duration;

/// A request route's body after the gateway read what it needs.
pub struct Read {
    pub body: Taken,
    /// What the extractors read: the body as received, or decoded from its content coding.
    pub bytes: Option<Bytes>,
}

impl Read {
    /// The body is not read (it streams through, or is refused with `failed` unread).
    fn unread(incoming: Incoming, parts: &http::request::Parts, failed: Option<Code>) -> Read {
        let mut body = Taken::unread(incoming, &parts.headers);
        body.unread |= failed.is_some();
        body.failed = failed;
        Read { body, bytes: None }
    }
}

/// What `take` does with a request's body.
enum Plan {
    Stream,
    Refuse(Code),
    Read(Coding),
}

/// Read the body when the route takes its identifier from it (only as a type its sources
/// read), or when it checks it for the identifier's names (`body_ids`: only form, JSON and
/// multipart bodies); stream it otherwise.
fn plan(route: &RouteConfig, parts: &http::request::Parts, ended: bool) -> Plan {
    let reads = route.reads_body();
    // A route that only checks bodies buffers nothing when there is no body.
    let checks = !ended && route.mode != Mode::Off && extract::bodyids::applies(route);
    if !reads && !checks {
        return Plan::Stream;
    }
    if ended {
        return Plan::Read(Coding::Identity);
    }
    let readable = match extract::media::Media::of(&parts.headers) {
        Err(code) => Err(code),
        Ok(m) if reads => extract::accepts(route, m),
        Ok(m) if m.names_fields() => Ok(()),
        Ok(_) => return Plan::Stream,
    };
    match readable.and_then(|()| Coding::of(&parts.headers)) {
        Ok(c) => Plan::Read(c),
        Err(code) => Plan::Refuse(code),
    }
}

/// Reads the body as `plan` says: at most `limit` bytes, waiting at most `idle` for each read.
/// A gzip or deflate body is decoded for the extractors within `limit` decoded bytes; the
/// upstream still gets the bytes as sent.
pub async fn take(
    route: &RouteConfig,
    parts: &http::request::Parts,
    incoming: Incoming,
    limit: usize,
    idle: Duration,
) -> Read {
    use http_body::Body;
    let coding = match plan(route, parts, incoming.is_end_stream()) {
        Plan::Stream => return Read::unread(incoming, parts, None),
        Plan::Refuse(code) => return Read::unread(incoming, parts, Some(code)),
        Plan::Read(c) => c,
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Read::unread(incoming, parts, Some(Code::BodyTooLarge));
    }
    match body::read_bounded(incoming, limit, idle).await {
        Ok(Bounded::Complete(b)) => {
            let decoded = match coding {
                Coding::Identity => Ok(b.clone()),
                _ if b.is_empty() => Ok(b.clone()),
                c => c.decode(&b, limit).map(Bytes::from),
            };
            Read {
                body: Taken {
                    forward: Some(body::full(b)),
                    unread: false,
                    failed: decoded.as_ref().err().copied(),
                },
                bytes: decoded.ok(),
            }
        }
        Ok(Bounded::TooLarge { prefix, rest }) => Read {
            body: Taken {
                forward: Some(body::boxed(body::Prefixed::new(prefix, rest))),
                unread: true,
                failed: Some(Code::BodyTooLarge),
            },
            bytes: None,
        },
        Err(body::ReadError::Timeout) => Read {
            body: Taken::lost(Code::BodyTimeout),
            bytes: None,
        },
        Err(body::ReadError::Body(_)) => Read {
            body: Taken::lost(Code::BodyInvalid),
            bytes: None,
        },
    }
}
