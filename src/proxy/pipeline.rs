//! The request pipeline, one path for every route: route → identify (the request's id, with
//! the identifiers inside its access tokens resolved first on routes that read tokens, or the
//! uploaded package: `request.rs`, `tokens/`, `upload.rs`) → one freshness check and one index revision →
//! policy → one tail that writes the audit record, the metrics sample and the answer (refusal,
//! or the request forwarded with its filing number).
//! The request pipeline, one path for every route: route → identify (the request's id, or the
//! uploaded package: `request.rs`, `upload.rs`) → one freshness check and one index revision →
//! policy (and a batch route's body list, `lists.rs`) → one tail that writes the audit record,
//! the metrics sample and the answer (refusal, or the request forwarded with its filing
//! number; a filter route's response list is decided when it arrives, `lists.rs`).
//!
//! Owns the order of those steps and the tail; each step lives in its own module, and none of
//! them calls back into this one.
//! Must not: touch the upstream for a refused request, buffer a body on a route that does not
//! extract from it, take the index revision before the body is in, or hold a revision across
//! the audit write or the upstream exchange.
//! Invariant: each request is decided against exactly one index revision and one freshness
//! reading (a response list against the revision current when the response arrives), and gets
//! exactly one metrics sample.

use super::body::{ProxyBody, Taken};
use super::conn::Conn;
use super::filing::filing_value;
use super::forward::{strip_url_headers, ClientSide, Upstream};
use super::observe::{Observer, Sample};
use super::respond::{self, About};
use super::subject::{audit_record, Subject};
use super::target;
use super::upload;
use super::{authority, body, lists, request, route};
use crate::accesslog::{AccessLog, Draft};
use crate::audit::{Audit, AuditRecord};
use crate::code::Code;
use crate::config::{DefaultAction, Mode, RouteConfig, UploadGlobal};
use crate::console::recent::Recent;
use crate::extract;
use crate::extract::upload::claim;
use crate::filing::Platform;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::policy::{Decision, Outcome, PassReason, Reason};
use http::request::Parts;
use http::{HeaderName, HeaderValue, Request, Response};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the metrics record of a forwarded request needs.
struct Sent<'a> {
    route: &'a RouteConfig,
    platform: Option<Platform>,
    decision: Decision,
    /// The filing header's value, for an allowed request.
    filing: Option<HeaderValue>,
    /// A batch body the gateway rewrote: its length and the items removed.
    rewritten: Option<(usize, usize)>,
}

/// A forwarded request's answer, or the upstream failure's code and the 502/504 answer.
type Forwarded = Result<Response<ProxyBody>, (Code, Response<ProxyBody>)>;

/// How `judge` ended: answered, or to be forwarded.
enum Judged<'a> {
    Answered(Response<ProxyBody>),
    Forward(Sent<'a>, ProxyBody),
}

/// The answer to a request whose body is gone (`failed` says why) or could not be spooled,
/// and its metrics outcome: an error of the gateway's own for a spool it could not write, in
/// every mode.
fn lost_body(failed: Option<Code>) -> (Code, Outcome) {
    match failed.unwrap_or(Code::BodyInvalid) {
        Code::SpoolFailed => (Code::SpoolFailed, Outcome::Error),
        code => (code, Outcome::Reject),
    }
}

/// Everything the pipeline reads; shared by all connections.
pub struct Shared {
    /// The connection limits new connections get (`[limits]`).
    pub limits: crate::config::Limits,
    pub routes: Vec<RouteConfig>,
    pub default: DefaultAction,
    pub upstreams: Vec<Upstream>,
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    pub audit: Audit,
    pub filing_header: HeaderName,
    pub filing_on_response: bool,
    pub max_body_bytes: usize,
    /// Longest wait for the next bytes of a body the gateway reads (408 `body_timeout`).
    pub body_read_timeout: Duration,
    pub stale_after: Duration,
    /// Spooling of upload-route bodies (`proxy/upload.rs`).
    pub upload: UploadGlobal,
    /// The per-request metric handles (`proxy/observe.rs`).
    pub observer: Observer,
    /// The request id and the access log record (`accesslog/`).
    pub access: AccessLog,
    /// The introspection endpoints of routes that read tokens (`tokens/`).
    pub tokens: Arc<crate::tokens::Tokens>,
    /// The console's ring of recent block and monitor decisions (`console/recent.rs`).
    pub recent: Recent,
}

impl Shared {
    pub async fn handle(
        self: Arc<Self>,
        conn: Arc<Conn>,
        req: Request<Incoming>,
    ) -> Response<ProxyBody> {
        let _in_flight = self.observer.in_flight();
        let (mut parts, incoming) = req.into_parts();
        let mut t = self
            .access
            .begin(&conn.listener, conn.peer, &mut parts, &incoming);
        let resp = self.answer(&conn, parts, incoming, &mut t).await;
        t.answered(resp)
    }

    /// Routes, identifies, decides and answers; `t` collects the access log record.
    async fn answer(
        &self,
        conn: &Conn,
        mut parts: Parts,
        incoming: Incoming,
        t: &mut Draft<'_>,
    ) -> Response<ProxyBody> {
        // One host and one path for routing, captures, forwarding and audit: the canonical.
        let target = authority::check(&parts)
            .map_err(|e| (Code::HostInvalid, e.to_string()))
            .and_then(|()| {
                target::canonicalize(&mut parts.uri, conn.path)
                    .map_err(|e| (Code::PathInvalid, e.to_string()))
            });
        if let Err((code, reason)) = target {
            tracing::debug!(event = code.as_str(), peer = %conn.peer, reason);
            let close = parts.version < http::Version::HTTP_2 && body::has_body(&parts.headers);
            let about = About {
                close,
                request_id: Some(t.id()),
                ..About::default()
            };
            let resp = respond::refuse(code, &about);
            return self.answered(None, (None, Outcome::Reject, Reason::Code(code)), resp, t);
        }
        let Some((route, caps)) = route::find(&self.routes, &parts) else {
            strip_url_headers(&mut parts.headers);
            return self.unrouted(parts, incoming, conn, t).await;
        };
        if !route.allow_url_headers {
            strip_url_headers(&mut parts.headers);
        }
        let idle = self.body_read_timeout;
        let judged = match route.upload.as_ref().filter(|_| route.mode != Mode::Off) {
            Some(up) => {
                let ctx = upload::Ctx {
                    global: &self.upload,
                    metrics: &self.metrics,
                    idle,
                };
                let taken = ctx.take(route, up, &parts, incoming).await;
                let claim = claim(route, &parts, &caps, &taken.fields);
                let subject = Subject::Package {
                    found: taken.found.as_ref().map_err(|c| *c),
                    claim: claim.as_ref().map_err(|c| *c),
                };
                self.judge(route, &parts, subject, (taken.body, None), conn, t)
                    .await
            }
            None => {
                let read = request::take(route, &parts, incoming, self.max_body_bytes, idle).await;
                // Only routes with credential extractors resolve tokens (boxed: the step's
                // state does not grow every request's future).
                let creds = match read.body.failed {
                    None if route.tokens && route.mode != Mode::Off => {
                        let step = self.tokens.resolve(route, &parts, &self.metrics);
                        Some(Box::pin(step).await)
                    }
                    _ => None,
                };
                let body = read.bytes.as_deref();
                let who = match (read.body.failed, &creds) {
                    (Some(code), _) => Err(code),
                    (None, _) if route.mode == Mode::Off => Ok(None),
                    (None, Some(Err(code))) => Err(*code),
                    (None, Some(Ok(c))) => extract::identify_with(route, &parts, &caps, body, c),
                    (None, None) => extract::identify(route, &parts, &caps, body),
                };
                let subject = Subject::Request(who.as_ref().map(Option::as_ref).map_err(|c| *c));
                let body = (read.body, read.bytes.as_ref());
                self.judge(route, &parts, subject, body, conn, t).await
            }
        };
        match judged {
            Judged::Answered(resp) => resp,
            Judged::Forward(sent, body) => self.forward_decided(sent, parts, body, conn, t).await,
        }
    }

    /// Decides on what the identify step found (and a batch route's list in `bytes`, the body
    /// as read), writes the audit record, and answers a refusal; what is to be forwarded comes
    /// back for `handle` to send.
    async fn judge<'r>(
        &self,
        route: &'r RouteConfig,
        parts: &Parts,
        subject: Subject<'_>,
        (taken, bytes): (Taken, Option<&bytes::Bytes>),
        conn: &Conn,
        t: &mut Draft<'_>,
    ) -> Judged<'r> {
        let stale = self.index.is_stale(self.stale_after);
        // Taken once the body is in: a slow client cannot hold an old revision alive.
        let rev = self.index.current();
        let mut decision = subject.decide(route, &rev, stale);
        let mut batched = lists::judge_batch(route, bytes, &decision, &rev, stale, &self.metrics);
        if let Some(code) = batched.as_ref().and_then(|b| b.refuse) {
            decision = Decision::Refuse(code);
        }
        let make = || {
            let client = conn.client_of(&parts.headers);
            AuditRecord {
                request_id: t.id().to_string(),
                ..audit_record(
                    &decision,
                    route,
                    parts,
                    &subject,
                    &rev,
                    &conn.listener,
                    client,
                )
            }
        };
        let mut rec = subject.audits(&decision).then(make);
        lists::audit_batch(batched.as_ref(), &mut rec, make);
        drop(rev);
        // A decision that is audited is not served without its record under
        // `audit.on_failure = "refuse"`.
        if let Some(Err(_)) = rec.as_ref().map(|r| self.audit.record(r.clone())) {
            decision = Decision::Refuse(Code::AuditUnavailable);
            rec = None;
        }
        let platform = subject.platform();
        // An unread body leaves an HTTP/1 connection unusable, so it is closed; HTTP/2 resets
        // the stream.
        let close =
            parts.version < http::Version::HTTP_2 && (taken.unread || taken.forward.is_none());
        let (code, outcome) = match (&decision, taken.forward) {
            (Decision::Refuse(Code::SpoolFailed), _) => lost_body(Some(Code::SpoolFailed)),
            (Decision::Refuse(Code::AuditUnavailable), _) => {
                (Code::AuditUnavailable, Outcome::Error)
            }
            (Decision::Refuse(code), _) => (*code, decision.outcome()),
            // Monitor or fail-open, but the body is gone: nothing to forward.
            (_, None) => lost_body(taken.failed),
            (_, Some(body)) => {
                let filing = match &decision {
                    Decision::Allow(numbers) => filing_value(numbers),
                    _ => None,
                };
                let (body, rewritten) = match batched.as_mut().and_then(|b| b.body.take()) {
                    Some(new) => {
                        let removed = batched.as_ref().and_then(|b| b.decided.as_ref());
                        let shape = (new.len(), removed.map_or(0, |d| d.total));
                        (body::full(new), Some(shape))
                    }
                    None => (body, None),
                };
                let sent = Sent {
                    route,
                    platform,
                    decision,
                    filing,
                    rewritten,
                };
                self.recent.keep(rec);
                return Judged::Forward(sent, body);
            }
        };
        let unfiled = batched.as_ref().and_then(|b| b.decided.as_ref());
        let about = About {
            platform: platform.map(Platform::as_str),
            identifier: subject.id(),
            filings: rec.as_ref().map_or(&[], |r| &r.filings[..]),
            decision_id: rec.as_ref().map(|r| r.decision_id.as_str()),
            request_id: Some(t.id()),
            close,
            removed_total: unfiled.map(|d| d.total),
            removed: unfiled.map_or(&[], |d| &d.removed[..]),
        };
        let resp = respond::refuse(code, &about);
        // The record moves into the console's ring after the answer, which borrows it, is built.
        self.recent.keep(rec);
        let who = (platform, outcome, Reason::Code(code));
        Judged::Answered(self.answered(Some(route), who, resp, t))
    }

    /// Forwards a request the policy let through and records its one metrics sample: the
    /// decision's, or the upstream failure's.
    async fn forward_decided(
        &self,
        sent: Sent<'_>,
        mut parts: http::request::Parts,
        body: ProxyBody,
        conn: &Conn,
        t: &mut Draft<'_>,
    ) -> Response<ProxyBody> {
        let Sent {
            route,
            platform,
            decision,
            filing,
            rewritten,
        } = sent;
        if route.batch.is_some() || route.filter.is_some() {
            lists::own_headers(&mut parts.headers, rewritten);
        }
        let filter = route.filter.as_deref().filter(|_| route.mode != Mode::Off);
        let pending = filter.map(|_| {
            let client = conn.client_of(&parts.headers);
            lists::Pending::new(&mut parts, client, t.id(), &conn.listener)
        });
        let (result, upstream) = self
            .forward(route.upstream, parts, body, conn, filing.clone(), t)
            .await;
        let result = match (result, filter.zip(pending)) {
            (Ok(resp), Some((f, p))) => self.lists().filter(route, f, p, resp).await,
            (result, _) => result,
        };
        let (outcome, reason, resp) = match result {
            Ok(mut resp) => {
                if let (true, Some(v)) = (self.filing_on_response, filing) {
                    resp.headers_mut().insert(self.filing_header.clone(), v);
                }
                (decision.outcome(), decision.why(), resp)
            }
            Err((code, resp)) => (Outcome::Error, Reason::Code(code), resp),
        };
        let status = resp.status();
        let s = Sample {
            platform,
            outcome,
            reason,
            status,
            upstream,
        };
        self.observe(Some(route), s, t);
        resp
    }

    /// Forwards; on failure returns the metric labels and the 502/504 answer. Also returns
    /// how long the upstream took to answer or fail.
    async fn forward(
        &self,
        upstream: usize,
        parts: http::request::Parts,
        body: ProxyBody,
        conn: &Conn,
        filing: Option<HeaderValue>,
        t: &mut Draft<'_>,
    ) -> (Forwarded, Duration) {
        let up = &self.upstreams[upstream];
        let side = ClientSide {
            forwarded_for: &conn.forwarded_for,
            tls: conn.tls,
            filing_header: &self.filing_header,
            filing,
        };
        let sent = Instant::now();
        let (result, server) = up.send(parts, body, &side).await;
        let waited = sent.elapsed();
        t.upstream(upstream, server, waited);
        let forwarded = match result {
            Ok(resp) => {
                self.observer.upstream(upstream, waited.as_secs_f64());
                Ok(resp.map(body::incoming))
            }
            Err(e) => {
                // Rare, unlike the samples above: resolved through the labels each time.
                self.metrics
                    .upstream_errors
                    .with_label_values(&[&up.cfg.name, e.cause()])
                    .inc();
                let code = e.code();
                let about = About {
                    request_id: Some(t.id()),
                    ..About::default()
                };
                Err((code, respond::refuse(code, &about)))
            }
        };
        (forwarded, waited)
    }

    async fn unrouted(
        &self,
        parts: http::request::Parts,
        incoming: Incoming,
        conn: &Conn,
        t: &mut Draft<'_>,
    ) -> Response<ProxyBody> {
        match self.default {
            DefaultAction::NotFound => {
                let close = parts.version < http::Version::HTTP_2 && body::has_body(&parts.headers);
                let reason = Reason::Code(Code::NoRoute);
                let about = About {
                    close,
                    request_id: Some(t.id()),
                    ..About::default()
                };
                let resp = respond::refuse(Code::NoRoute, &about);
                self.answered(None, (None, Outcome::Reject, reason), resp, t)
            }
            DefaultAction::Forward(up) => {
                let (result, upstream) = self
                    .forward(up, parts, body::incoming(incoming), conn, None, t)
                    .await;
                let (outcome, reason, resp) = match result {
                    Ok(r) => (Outcome::Pass, Reason::Pass(PassReason::ModeOff), r),
                    Err((code, r)) => (Outcome::Error, Reason::Code(code), r),
                };
                let s = Sample {
                    platform: None,
                    outcome,
                    reason,
                    status: resp.status(),
                    upstream,
                };
                self.observe(None, s, t);
                resp
            }
        }
    }

    /// What a filter route's response step reads (`lists.rs`).
    fn lists(&self) -> lists::Ctx<'_> {
        lists::Ctx {
            index: &self.index,
            stale_after: self.stale_after,
            idle: self.body_read_timeout,
            metrics: &self.metrics,
            audit: &self.audit,
        }
    }

    /// Records the sample of an answer the gateway wrote itself, and returns the answer.
    fn answered(
        &self,
        route: Option<&RouteConfig>,
        (platform, outcome, reason): (Option<Platform>, Outcome, Reason),
        resp: Response<ProxyBody>,
        t: &mut Draft<'_>,
    ) -> Response<ProxyBody> {
        let s = Sample {
            platform,
            outcome,
            reason,
            status: resp.status(),
            upstream: Duration::ZERO,
        };
        self.observe(route, s, t);
        resp
    }

    /// Records the request's one metrics sample and its access log outcome; `route` is `None`
    /// for the default action.
    fn observe(&self, route: Option<&RouteConfig>, s: Sample, t: &mut Draft<'_>) {
        // The route's index: a pointer comparison per configured route, no string hashing.
        let at = route.and_then(|r| self.routes.iter().position(|x| std::ptr::eq(x, r)));
        t.decided(at, s.outcome, s.reason);
        self.observer.request(at, s, t.start);
    }
}
