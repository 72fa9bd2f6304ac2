//! The request pipeline, top to bottom: route → (bounded body read) → extract → decide →
//! forward or refuse → one metrics record and, for blocks, monitors and fail-opens, one audit
//! record. Routes with `upload = { … }` continue in `upload.rs` (spool → inspect → decide).
//!
//! Owns the order of those steps and nothing else: each step lives in its own module.
//! Must not: touch the upstream for a refused request, buffer a body on a route that does not
//! extract from it, or hold an index revision across the upstream exchange.
//! Invariant: each request is decided against exactly one index revision.

use super::body::{self, Bounded, ProxyBody};
use super::forward::{ClientSide, Upstream};
use super::observe::Observer;
use super::respond::{self, About};
use super::route;
use crate::audit::{Audit, AuditRecord};
use crate::code::Code;
use crate::config::{DefaultAction, Mode, RouteConfig, UploadGlobal};
use crate::extract::{self, media::Coding};
use crate::filing::{FilingNumber, Platform};
use crate::index::{Index, Revision};
use crate::metrics::Metrics;
use crate::policy::{self, Decision, Identified, Outcome, PassReason, Reason};
use http::{header, HeaderName, HeaderValue, Request, Response};
use hyper::body::Incoming;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the metrics record of a forwarded request needs.
pub(super) struct Sent<'a> {
    pub route: &'a RouteConfig,
    pub platform: Option<Platform>,
    pub decision: &'a Decision,
    pub start: Instant,
}

/// Everything the pipeline reads; shared by all connections.
pub struct Shared {
    pub routes: Vec<RouteConfig>,
    pub default: DefaultAction,
    pub upstreams: Vec<Upstream>,
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    pub audit: Audit,
    pub filing_header: HeaderName,
    pub filing_on_response: bool,
    pub max_body_bytes: usize,
    pub stale_after: Duration,
    /// Spooling of upload-route bodies (`proxy/upload.rs`).
    pub upload: UploadGlobal,
    /// The per-request metric handles (`proxy/observe.rs`).
    pub observer: Observer,
}

/// The client connection a request came in on.
pub struct Conn {
    pub listener: Arc<str>,
    pub peer: SocketAddr,
    pub tls: bool,
    /// `peer`'s address as the X-Forwarded-For entry its requests add.
    pub forwarded_for: HeaderValue,
}

impl Conn {
    pub fn new(listener: Arc<str>, peer: SocketAddr, tls: bool) -> Conn {
        let forwarded_for = HeaderValue::from_str(&peer.ip().to_string())
            .unwrap_or(HeaderValue::from_static("unknown"));
        Conn {
            listener,
            peer,
            tls,
            forwarded_for,
        }
    }
}

/// Filing numbers travel as percent-encoded UTF-8 so any HTTP stack can carry them.
const FILING_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%').add(b',');

/// Percent-encodes what is written into it, onto a stack buffer.
struct Encoded(smallvec::SmallVec<[u8; 256]>);

impl std::fmt::Write for Encoded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for piece in utf8_percent_encode(s, FILING_ENCODE) {
            self.0.extend_from_slice(piece.as_bytes());
        }
        Ok(())
    }
}

/// The filing header's value: the numbers, percent-encoded, comma-separated. Encoded on the
/// stack, so the header value is the one allocation.
pub(super) fn filing_value(numbers: &[FilingNumber]) -> Option<HeaderValue> {
    use std::fmt::Write;
    let mut out = Encoded(smallvec::SmallVec::new());
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.0.push(b',');
        }
        write!(out, "{n}").ok()?;
    }
    HeaderValue::from_bytes(&out.0).ok()
}

/// True when the request has a body the gateway did not read.
pub(super) fn has_body(req_headers: &http::HeaderMap) -> bool {
    req_headers.contains_key(header::TRANSFER_ENCODING)
        || req_headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

/// The request body after the gateway had what it needs from it.
struct ReadBody {
    /// What the upstream receives: the client's bytes, unchanged.
    forward: ProxyBody,
    /// What the extractors read: the body as received, or decoded from its content coding.
    bytes: Option<bytes::Bytes>,
    /// Why the body cannot be decided on: too large, or a type or coding the route cannot read.
    refused: Option<Code>,
    unread: bool,
}

impl ReadBody {
    /// The body streams to the upstream unread.
    fn streamed(parts: &http::request::Parts, incoming: Incoming) -> ReadBody {
        ReadBody {
            unread: has_body(&parts.headers),
            forward: body::incoming(incoming),
            bytes: None,
            refused: None,
        }
    }

    /// The body is refused without reading it.
    fn refused(incoming: Incoming, code: Code) -> ReadBody {
        ReadBody {
            forward: body::incoming(incoming),
            bytes: None,
            refused: Some(code),
            unread: true,
        }
    }
}

/// What `read_body` does with a request's body.
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

/// Reads the body as `plan` says, bounded by `limit`. A gzip or deflate body is decoded for
/// the extractors within `limit` decoded bytes; the upstream still gets the bytes as sent.
async fn read_body(
    route: &RouteConfig,
    parts: &http::request::Parts,
    incoming: Incoming,
    limit: usize,
) -> Result<ReadBody, Code> {
    use http_body::Body;
    let coding = match plan(route, parts, incoming.is_end_stream()) {
        Plan::Stream => return Ok(ReadBody::streamed(parts, incoming)),
        Plan::Refuse(code) => return Ok(ReadBody::refused(incoming, code)),
        Plan::Read(c) => c,
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Ok(ReadBody::refused(incoming, Code::BodyTooLarge));
    }
    match body::read_bounded(incoming, limit).await {
        Ok(Bounded::Complete(b)) => {
            let decoded = match coding {
                Coding::Identity => Ok(b.clone()),
                _ if b.is_empty() => Ok(b.clone()),
                c => c.decode(&b, limit).map(bytes::Bytes::from),
            };
            Ok(ReadBody {
                forward: body::full(b),
                refused: decoded.as_ref().err().copied(),
                bytes: decoded.ok(),
                unread: false,
            })
        }
        Ok(Bounded::TooLarge { prefix, rest }) => Ok(ReadBody {
            forward: body::boxed(body::Prefixed::new(prefix, rest)),
            bytes: None,
            refused: Some(Code::BodyTooLarge),
            unread: true,
        }),
        Err(_) => Err(Code::BodyInvalid),
    }
}

impl Shared {
    pub async fn handle(
        self: Arc<Self>,
        conn: Arc<Conn>,
        req: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let start = Instant::now();
        let (parts, incoming) = req.into_parts();
        let Some((route, caps)) = route::find(&self.routes, &parts) else {
            return self.unrouted(parts, incoming, &conn, start).await;
        };
        if let (Some(up), false) = (&route.upload, route.mode == Mode::Off) {
            let req = Request::from_parts(parts, incoming);
            return self.upload(route, up, caps, req, &conn, start).await;
        }
        let rev = self.index.current();
        let read = read_body(route, &parts, incoming, self.max_body_bytes).await;
        // A second handle on the buffered body (a reference count, not a copy) that the
        // identity may borrow from while `read` moves on.
        let bytes = read.as_ref().ok().and_then(|r| r.bytes.clone());
        let who = match &read {
            Err(code) => Err(*code),
            Ok(_) if route.mode == Mode::Off => Ok(None),
            Ok(ReadBody {
                refused: Some(code),
                ..
            }) => Err(*code),
            Ok(_) => extract::identify(route, &parts, &caps, bytes.as_deref()),
        };
        let read = read.ok();
        let stale = self.index.is_stale(self.stale_after);
        let decision = policy::decide(
            route,
            who.as_ref().map(Option::as_ref).map_err(|c| *c),
            &rev,
            stale,
        );
        let who = who.ok().flatten();
        let audited = self
            .audit_if_needed(&decision, route, &parts, who.as_ref(), &rev, &conn)
            .await;
        let platform = who.as_ref().map(|w| w.platform);
        // A refusal, or a monitored request whose body could not be read: answer here. An unread
        // body leaves an HTTP/1 connection unusable, so it is closed; HTTP/2 resets the stream.
        let http1 = parts.version < http::Version::HTTP_2;
        let forward = match (&decision, read) {
            (Decision::Refuse(code), r) => Err((*code, http1 && r.is_none_or(|r| r.unread))),
            (_, None) => Err((Code::BodyInvalid, http1)),
            (Decision::Allow(numbers), Some(r)) => Ok((filing_value(numbers), r.forward)),
            (_, Some(r)) => Ok((None, r.forward)),
        };
        drop(rev);
        let (filing, fwd_body) = match forward {
            Ok(f) => f,
            Err((code, close)) => {
                let filings = audited
                    .as_ref()
                    .map(|a| a.filings.clone())
                    .unwrap_or_default();
                let about = About {
                    platform: who.as_ref().map(|w| w.platform.as_str()),
                    identifier: who.as_ref().map(|w| &*w.id),
                    filings: &filings,
                    decision_id: audited.as_ref().map(|a| a.decision_id.as_str()),
                    close,
                };
                let outcome =
                    if code == Code::BodyInvalid && !matches!(decision, Decision::Refuse(_)) {
                        Outcome::Reject
                    } else {
                        decision.outcome()
                    };
                self.observe(Some(route), platform, outcome, Reason::Code(code), start);
                return respond::refuse(code, &about);
            }
        };
        let sent = Sent {
            route,
            platform,
            decision: &decision,
            start,
        };
        drop(who);
        self.forward_decided(sent, parts, fwd_body, &conn, filing)
            .await
    }

    /// Forwards a request the policy let through and records its one metrics sample: the
    /// decision's, or the upstream failure's.
    pub(super) async fn forward_decided(
        &self,
        sent: Sent<'_>,
        parts: http::request::Parts,
        body: ProxyBody,
        conn: &Conn,
        filing: Option<HeaderValue>,
    ) -> Response<ProxyBody> {
        let Sent {
            route,
            platform,
            decision,
            start,
        } = sent;
        match self
            .forward(route.upstream, parts, body, conn, filing.clone())
            .await
        {
            Ok(mut resp) => {
                if let (true, Some(v)) = (self.filing_on_response, filing) {
                    resp.headers_mut().insert(self.filing_header.clone(), v);
                }
                self.observe(
                    Some(route),
                    platform,
                    decision.outcome(),
                    decision.why(),
                    start,
                );
                resp
            }
            Err((code, resp)) => {
                let reason = Reason::Code(code);
                self.observe(Some(route), platform, Outcome::Error, reason, start);
                resp
            }
        }
    }

    /// Forwards; on failure returns the metric labels and the 502/504 answer.
    pub(super) async fn forward(
        &self,
        upstream: usize,
        parts: http::request::Parts,
        body: ProxyBody,
        conn: &Conn,
        filing: Option<HeaderValue>,
    ) -> Result<Response<ProxyBody>, (Code, Response<ProxyBody>)> {
        let up = &self.upstreams[upstream];
        let side = ClientSide {
            forwarded_for: &conn.forwarded_for,
            tls: conn.tls,
            filing_header: &self.filing_header,
            filing,
        };
        let t = Instant::now();
        match up.send(parts, body, &side).await {
            Ok(resp) => {
                self.observer.upstream(upstream, t.elapsed().as_secs_f64());
                Ok(resp.map(body::incoming))
            }
            Err(e) => {
                // Rare, unlike the samples above: resolved through the labels each time.
                self.metrics
                    .upstream_errors
                    .with_label_values(&[&up.cfg.name, e.cause()])
                    .inc();
                let code = e.code();
                Err((code, respond::refuse(code, &About::default())))
            }
        }
    }

    async fn unrouted(
        &self,
        parts: http::request::Parts,
        incoming: Incoming,
        conn: &Conn,
        start: Instant,
    ) -> Response<ProxyBody> {
        match self.default {
            DefaultAction::NotFound => {
                let close = parts.version < http::Version::HTTP_2 && has_body(&parts.headers);
                let reason = Reason::Code(Code::NoRoute);
                self.observe(None, None, Outcome::Reject, reason, start);
                respond::refuse(
                    Code::NoRoute,
                    &About {
                        close,
                        ..About::default()
                    },
                )
            }
            DefaultAction::Forward(up) => match self
                .forward(up, parts, body::incoming(incoming), conn, None)
                .await
            {
                Ok(r) => {
                    let reason = Reason::Pass(PassReason::ModeOff);
                    self.observe(None, None, Outcome::Pass, reason, start);
                    r
                }
                Err((code, r)) => {
                    let reason = Reason::Code(code);
                    self.observe(None, None, Outcome::Error, reason, start);
                    r
                }
            },
        }
    }

    /// Records the request's one metrics sample; `route` is `None` for the default action.
    pub(super) fn observe(
        &self,
        route: Option<&RouteConfig>,
        platform: Option<Platform>,
        outcome: Outcome,
        reason: Reason,
        start: Instant,
    ) {
        // The route's index: a pointer comparison per configured route, no string hashing.
        let at = route.and_then(|r| self.routes.iter().position(|x| std::ptr::eq(x, r)));
        self.observer.request(at, platform, outcome, reason, start);
    }

    /// Writes the audit record for blocks, monitors and fail-opens; returns it for the answer.
    async fn audit_if_needed(
        &self,
        d: &Decision,
        route: &RouteConfig,
        parts: &http::request::Parts,
        who: Option<&Identified<'_>>,
        rev: &Revision,
        conn: &Conn,
    ) -> Option<AuditRecord> {
        let audited = match d {
            Decision::Refuse(c) => c.status() == http::StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            Decision::Monitor(_) => true,
            Decision::Pass(r) => *r != PassReason::ModeOff,
            Decision::Allow(_) => false,
        };
        if !audited {
            return None;
        }
        let filings = who
            .map(|w| {
                rev.lookup(w.platform, &w.id)
                    .iter()
                    .map(|h| format!("{} ({})", h.number, h.status.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let rec = AuditRecord {
            decision_id: uuid::Uuid::now_v7().to_string(),
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            listener: conn.listener.to_string(),
            route: route.name.clone(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            platform: who.map(|w| w.platform.as_str()),
            identifier: who.map(|w| w.id.to_string()),
            filings,
            decision: d.label(),
            reason: d.reason(),
            index_revision: rev.revision,
            client: conn.peer.to_string(),
            package: None,
        };
        self.audit.record(rec.clone()).await;
        Some(rec)
    }
}
