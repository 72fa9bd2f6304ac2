//! The identify step's body read on request routes: the body is buffered (bounded, with a
//! per-read timeout) only when the route's extractors need it; otherwise it streams through.
//!
//! Owns when a request route's body is read and what is kept of it.
//! Must not: decide, answer or forward (the pipeline does), read a body its route does not
//! need, or keep more than `limit` bytes of it.
//! Invariant: the body `take` returns for forwarding is exactly the bytes the client sent.

use super::body::{self, Bounded, Taken};
use crate::code::Code;
use crate::config::RouteConfig;
use bytes::Bytes;
use http::header;
use hyper::body::Incoming;
use std::time::Duration;

/// A request route's body after the gateway read what it needs.
pub struct Read {
    pub body: Taken,
    /// The whole body, when the route reads it and it came within the limit.
    pub bytes: Option<Bytes>,
}

/// Reads the body if `route` extracts from it: at most `limit` bytes, waiting at most `idle`
/// for each read.
pub async fn take(
    route: &RouteConfig,
    parts: &http::request::Parts,
    incoming: Incoming,
    limit: usize,
    idle: Duration,
) -> Read {
    if !route.reads_body() {
        return Read {
            body: Taken::unread(incoming, &parts.headers),
            bytes: None,
        };
    }
    let too_large = |forward| Read {
        body: Taken {
            forward: Some(forward),
            unread: true,
            failed: Some(Code::BodyTooLarge),
        },
        bytes: None,
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(body::incoming(incoming));
    }
    match body::read_bounded(incoming, limit, idle).await {
        Ok(Bounded::Complete(b)) => Read {
            body: Taken {
                forward: Some(body::full(b.clone())),
                unread: false,
                failed: None,
            },
            bytes: Some(b),
        },
        Ok(Bounded::TooLarge { prefix, rest }) => {
            too_large(body::boxed(body::Prefixed::new(prefix, rest)))
        }
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
