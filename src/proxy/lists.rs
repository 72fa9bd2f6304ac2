//! The pipeline's list steps (`crate::lists`): a batch route's body decided before it is
//! forwarded, and a filter route's response read, decided and rewritten after the upstream
//! answers; their metrics and their one audit record per list.
//!
//! Owns the HTTP side of lists: the request headers a filter route sends (identity coding, no
//! ranges or conditionals, so the upstream answers with a whole list), the bounded and timed
//! read of the upstream's body, the framing of what the client gets (exact `Content-Length`,
//! no stale coding, validators or digests) and the `x-icp-*` marks.
//! Must not: run for a route without a list (the pipeline checks the route's `filter` or
//! `batch` first), or hold an index revision across the upstream exchange (the response is
//! decided against the revision current when it arrives).
//! Invariant: on a filter route in enforce mode the client gets a body the gateway decided on,
//! a refusal, or (`on_oversize = "pass"`) the upstream's body marked `x-icp-unfiltered`.

use super::body::{self, Bounded, ProxyBody};
use super::respond::{self, About};
use crate::audit::{Audit, AuditRecord, ListAudit};
use crate::client::ClientAddr;
use crate::code::Code;
use crate::config::{FilterConfig, ItemPlatform, Mode, RouteConfig};
use crate::extract::media::Coding;
use crate::index::{Index, Revision};
use crate::lists::batch::{self, Batched};
use crate::lists::response::{self, Plan, Verdict};
use crate::lists::{Decided, Outcome, Side};
use crate::metrics::Metrics;
use crate::policy::Decision;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Response};
use std::time::Duration;

/// Items removed from the list the client gets (or, on a batch, the upstream gets).
pub const FILTERED: HeaderName = HeaderName::from_static("x-icp-filtered");
/// Monitor mode: items enforce mode would remove.
pub const WOULD_FILTER: HeaderName = HeaderName::from_static("x-icp-would-filter");
/// A response forwarded without its list decided, and why (`oversize`, `invalid`, `stale`).
pub const UNFILTERED: HeaderName = HeaderName::from_static("x-icp-unfiltered");

/// Validators and digests of the upstream's representation, wrong for a rewritten body.
static REPRESENTATION: [HeaderName; 5] = [
    header::ETAG,
    HeaderName::from_static("content-md5"),
    HeaderName::from_static("digest"),
    HeaderName::from_static("content-digest"),
    HeaderName::from_static("repr-digest"),
];

/// Request headers that would let the upstream answer with less than a whole list.
static PARTIAL: [HeaderName; 5] = [
    header::RANGE,
    header::IF_RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::IF_MATCH,
];

/// Creates, at 0, the list series of every list route (`metrics/lists.rs`).
pub fn declare(metrics: &Metrics, routes: &[RouteConfig]) {
    for r in routes.iter().filter(|r| r.mode != Mode::Off) {
        let mut sides = Vec::new();
        let mut platforms = Vec::new();
        for (side, spec) in [
            (Side::Response, r.filter.as_ref().map(|f| &f.list)),
            (Side::Batch, r.batch.as_ref().map(|b| &b.list)),
        ] {
            let Some(spec) = spec else { continue };
            sides.push(side.as_str());
            match &spec.platform {
                ItemPlatform::Fixed(p) => platforms.push(p.as_str()),
                ItemPlatform::From(_) => {
                    platforms.extend(crate::filing::Platform::ALL.map(|p| p.as_str()))
                }
            }
        }
        platforms.sort_unstable();
        platforms.dedup();
        metrics.lists.declare(&r.name, &sides, &platforms);
    }
}

/// Counts one list and its removed (or monitored) items.
fn count(metrics: &Metrics, route: &RouteConfig, side: Side, o: Outcome, d: Option<&Decided>) {
    let m = &metrics.lists;
    m.lists
        .with_label_values(&[&route.name, side.as_str(), o.as_str()])
        .inc();
    let Some(d) = d else { return };
    let family = if d.monitored {
        &m.monitored
    } else {
        &m.removed
    };
    for t in &d.tally {
        let platform = t.platform.map_or("none", |p| p.as_str());
        family
            .with_label_values(&[&route.name, platform, t.reason.as_str()])
            .inc_by(t.count);
    }
}

/// The `list` part of an audit record.
fn list_audit(side: Side, d: &Decided) -> ListAudit {
    ListAudit {
        side: side.as_str(),
        items: d.items,
        removed_total: d.total,
        removed: d.removed.clone(),
    }
}

/// The decision and reason labels of a record that exists for its list alone.
fn labels(d: Option<&Decided>) -> (&'static str, &'static str) {
    match d {
        Some(d) if d.monitored => ("monitor", "list_monitored"),
        Some(_) => ("filter", "list_filtered"),
        None => ("pass", "list_oversize_passed"),
    }
}

/// A batch route's step, inside the request's decision and against its revision: `None` when
/// the route has no batch, the decision does not forward, or the body is gone.
pub fn judge_batch(
    route: &RouteConfig,
    bytes: Option<&Bytes>,
    decision: &Decision,
    rev: &Revision,
    stale: bool,
    metrics: &Metrics,
) -> Option<Batched> {
    let b = route.batch.as_deref()?;
    if matches!(decision, Decision::Refuse(_)) || route.mode == Mode::Off {
        return None;
    }
    let batched = batch::judge(route, b, bytes?, rev, stale);
    count(
        metrics,
        route,
        Side::Batch,
        batched.outcome,
        batched.decided.as_ref(),
    );
    Some(batched)
}

/// Puts a batch's removed items into the request's audit record, or makes one for them.
/// `rec` is the request's own record, if its decision is audited.
pub fn audit_batch(
    b: Option<&Batched>,
    rec: &mut Option<AuditRecord>,
    make: impl FnOnce() -> AuditRecord,
) {
    let Some(d) = b.and_then(|b| b.decided.as_ref()).filter(|d| d.total > 0) else {
        return;
    };
    let r = rec.get_or_insert_with(|| {
        let (decision, reason) = labels(Some(d));
        AuditRecord {
            decision,
            reason,
            ..make()
        }
    });
    r.list = Some(list_audit(Side::Batch, d));
}

/// The list headers of a list route's upstream request are the gateway's alone: a client's
/// copies are removed. A batch whose body the gateway rewrote (`rewritten`: its new length and
/// the items removed) goes with its exact length, no content coding (the rewritten body is
/// the decoded one) and the count of removed items.
pub fn own_headers(headers: &mut HeaderMap, rewritten: Option<(usize, usize)>) {
    for name in [FILTERED, WOULD_FILTER, UNFILTERED] {
        headers.remove(name);
    }
    if let Some((len, removed)) = rewritten {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        headers.remove(header::CONTENT_ENCODING);
        headers.remove(header::TRANSFER_ENCODING);
        headers.insert(FILTERED, HeaderValue::from(removed));
    }
}

/// What a filter route's response step needs from the request, taken before it is forwarded.
pub struct Pending {
    head: bool,
    method: String,
    path: String,
    client: ClientAddr,
    request_id: String,
    listener: String,
}

impl Pending {
    /// Notes what the audit record needs, and asks the upstream for a whole, uncoded list.
    pub fn new(
        parts: &mut http::request::Parts,
        client: ClientAddr,
        request_id: &str,
        listener: &str,
    ) -> Pending {
        let h = &mut parts.headers;
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        for name in &PARTIAL {
            h.remove(name);
        }
        Pending {
            head: parts.method == http::Method::HEAD,
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            client,
            request_id: request_id.to_string(),
            listener: listener.to_string(),
        }
    }
}

/// What the response step reads besides the route.
pub struct Ctx<'a> {
    pub index: &'a Index,
    pub stale_after: Duration,
    pub idle: Duration,
    pub metrics: &'a Metrics,
    pub audit: &'a Audit,
}

/// A filtered answer, or the code and answer of a refusal.
pub type Filtered = Result<Response<ProxyBody>, (Code, Response<ProxyBody>)>;

impl Ctx<'_> {
    /// Reads, decides and rewrites the upstream's answer on a filter route.
    pub async fn filter(
        &self,
        route: &RouteConfig,
        f: &FilterConfig,
        p: Pending,
        resp: Response<ProxyBody>,
    ) -> Filtered {
        let coding = match response::plan(resp.status(), resp.headers(), p.head) {
            Plan::Skip => {
                count(self.metrics, route, Side::Response, Outcome::Skipped, None);
                return Ok(resp);
            }
            Plan::Unreadable => {
                let v = response::unreadable(route, Outcome::Invalid);
                return self.answer(route, f, &p, resp, Bytes::new(), v);
            }
            Plan::Read(c) => c,
        };
        let declared = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let (parts, incoming) = resp.into_parts();
        let read = if declared.is_some_and(|n| n > f.max_bytes as u64) {
            Ok(Bounded::TooLarge {
                prefix: Bytes::new(),
                rest: incoming,
            })
        } else {
            body::read_bounded(incoming, f.max_bytes, self.idle).await
        };
        let raw = match read {
            Ok(Bounded::Complete(raw)) => raw,
            Ok(Bounded::TooLarge { prefix, rest }) => {
                let v = response::oversize(route, f);
                let rest = body::boxed(body::Prefixed::new(prefix, rest));
                return self.answer(
                    route,
                    f,
                    &p,
                    Response::from_parts(parts, rest),
                    Bytes::new(),
                    v,
                );
            }
            Err(e) => {
                let code = match e {
                    body::ReadError::Timeout => Code::UpstreamTimeout,
                    body::ReadError::Body(_) => Code::UpstreamUnavailable,
                };
                count(self.metrics, route, Side::Response, Outcome::Invalid, None);
                return Err((code, self.refusal(code, &p)));
            }
        };
        let v = self.judge(route, f, coding, &raw);
        self.answer(
            route,
            f,
            &p,
            Response::from_parts(parts, body::empty()),
            raw,
            v,
        )
    }

    /// Decides the list against the revision current now.
    fn judge(&self, route: &RouteConfig, f: &FilterConfig, c: Coding, raw: &Bytes) -> Verdict {
        let stale = self.index.is_stale(self.stale_after);
        let rev = self.index.current();
        response::judge(route, f, c, raw, &rev, stale)
    }

    fn refusal(&self, code: Code, p: &Pending) -> Response<ProxyBody> {
        let about = About {
            request_id: Some(&p.request_id),
            ..About::default()
        };
        respond::refuse(code, &about)
    }

    /// Counts and audits the verdict and builds the client's answer. `resp` is the upstream's
    /// head with its body (unread) or an empty one; `raw` is the body read, if it was.
    // The pipeline's own shape for an answer or a refusal (`pipeline::Forwarded`), moved once.
    #[allow(clippy::result_large_err)]
    fn answer(
        &self,
        route: &RouteConfig,
        f: &FilterConfig,
        p: &Pending,
        resp: Response<ProxyBody>,
        raw: Bytes,
        v: Verdict,
    ) -> Filtered {
        let (outcome, decided) = match &v {
            Verdict::Send { decided, .. } => (decided.outcome(), Some(decided)),
            Verdict::Forward { outcome, decided } => (*outcome, decided.as_ref()),
            Verdict::Refuse { outcome, .. } => (*outcome, None),
        };
        count(self.metrics, route, Side::Response, outcome, decided);
        let audited = decided.is_some_and(|d| d.total > 0)
            || (outcome == Outcome::OversizePassed && route.mode == Mode::Enforce);
        if audited
            && self
                .audit
                .record(self.record(route, f, p, decided))
                .is_err()
        {
            let code = Code::AuditUnavailable;
            return Err((code, self.refusal(code, p)));
        }
        let (mut parts, upstream_body) = resp.into_parts();
        let h = &mut parts.headers;
        let body = match v {
            Verdict::Refuse { code, .. } => return Err((code, self.refusal(code, p))),
            Verdict::Send { body, decided } => {
                if decided.total > 0 || h.contains_key(header::CONTENT_ENCODING) {
                    for name in &REPRESENTATION {
                        h.remove(name);
                    }
                }
                h.remove(header::CONTENT_ENCODING);
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                h.insert(FILTERED, HeaderValue::from(decided.total));
                body::full(body)
            }
            Verdict::Forward {
                decided: Some(d), ..
            } => {
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(raw.len()));
                h.insert(FILTERED, HeaderValue::from(0));
                h.insert(WOULD_FILTER, HeaderValue::from(d.total));
                body::full(raw)
            }
            Verdict::Forward { outcome, .. } => {
                let why = match outcome {
                    Outcome::OversizePassed => "oversize",
                    Outcome::Stale => "stale",
                    _ => "invalid",
                };
                h.insert(UNFILTERED, HeaderValue::from_static(why));
                if raw.is_empty() {
                    upstream_body
                } else {
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(raw.len()));
                    body::full(raw)
                }
            }
        };
        h.remove(header::TRANSFER_ENCODING);
        Ok(Response::from_parts(parts, body))
    }

    /// The one audit record of a response list.
    fn record(
        &self,
        route: &RouteConfig,
        f: &FilterConfig,
        p: &Pending,
        d: Option<&Decided>,
    ) -> AuditRecord {
        let (decision, reason) = labels(d);
        let platform = match &f.list.platform {
            ItemPlatform::Fixed(pl) => Some(pl.as_str()),
            ItemPlatform::From(_) => None,
        };
        AuditRecord {
            decision_id: uuid::Uuid::now_v7().to_string(),
            request_id: p.request_id.clone(),
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            last_time: None,
            listener: p.listener.clone(),
            route: route.name.clone(),
            method: p.method.clone(),
            path: p.path.clone(),
            platform,
            identifier: None,
            filings: Vec::new(),
            decision,
            reason,
            index_revision: self.index.current().revision,
            client: p.client,
            count: 1,
            package: None,
            list: d.map(|d| list_audit(Side::Response, d)),
        }
    }
}
