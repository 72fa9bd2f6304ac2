//! The upload pipeline: classify → spool (bounded, 413) → find the package (raw body or the
//! multipart part) → inspect → claim → decide (`policy::decide_package`) → replay the exact
//! bytes upstream with the signer-selected filing number, or refuse.
//!
//! Owns the order of those steps for routes with `upload = { … }`; `handler.rs` sends such
//! routes here and this module reuses its forwarding, metrics and refusal steps.
//! Must not: forward a byte before the decision, change a byte of the body (other multipart
//! fields included), hold an index revision while spooling or forwarding, or leave a spool
//! alive past the request (see `spool.rs`: spool files have no name to leave behind).
//! Invariant: every upload decision (but mode off) writes one audit record, with the package
//! when it could be identified.

use super::body::{self, ProxyBody};
use super::handler::{filing_value, has_body, Conn, Sent, Shared};
use super::respond::{self, About};
use super::spool::{Spool, SpoolGauges, Spooled};
use crate::audit::{AuditRecord, PackageAudit, SignerAudit};
use crate::code::Code;
use crate::config::{RouteConfig, Spans, UploadRoute};
use crate::extract::multipart::{Part, Scanner};
use crate::extract::upload::{claim, classify, wanted_fields, UploadBody};
use crate::filing::{validate, Platform};
use crate::index::Revision;
use crate::inspect::{self, InspectError, PackageIdentity};
use crate::policy::{self, Decision, Outcome, Package, Reason};
use http::{header, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::Instant;

/// The package found in an upload.
struct Found {
    identity: PackageIdentity,
    package: Package,
    bytes: u64,
}

/// What reading and inspecting an upload gave.
struct Taken {
    /// The body to forward; `None` when it is lost (client gone, spool failed).
    forward: Option<ProxyBody>,
    /// Some of the body was left unread (an HTTP/1 connection cannot be reused).
    unread: bool,
    found: Result<Found, Code>,
    fields: Vec<Part>,
}

/// The gateway code for an inspection error.
pub fn inspect_code(e: &InspectError) -> Code {
    match e {
        InspectError::PackageUnreadable(_) => Code::PackageUnreadable,
        InspectError::UnsupportedPackage(_) => Code::UnsupportedPackage,
        InspectError::ManifestMissing(_) => Code::ManifestMissing,
        InspectError::ManifestInvalid(_) => Code::ManifestInvalid,
        InspectError::PackageTooLarge(_) => Code::PackageTooLarge,
        InspectError::Unsigned => Code::Unsigned,
        InspectError::SignatureInvalid => Code::SignatureInvalid,
        InspectError::PackageAmbiguous(_) => Code::PackageAmbiguous,
        InspectError::Io(_) => Code::SpoolFailed,
    }
}

/// What the policy needs from an identity; `Err` when the id breaks its platform's grammar.
pub fn package_of(id: &PackageIdentity) -> Result<Package, Code> {
    validate(id.platform, &id.id).map_err(|_| Code::IdentifierInvalid)?;
    Ok(Package {
        platform: id.platform,
        id: id.id.clone(),
        signers: id
            .accepted_signers
            .iter()
            .map(|c| c.signer.clone())
            .collect(),
        unsigned: id.require_signed().err().as_ref().map(inspect_code),
    })
}

/// Where the package is in the spooled body.
fn locate(
    body: &UploadBody,
    scanned: Result<Vec<Part>, Code>,
    field: &str,
    len: u64,
) -> (Result<(u64, u64), Code>, Vec<Part>) {
    let parts = match (body, scanned) {
        (UploadBody::Raw, _) if len == 0 => return (Err(Code::PackageMissing), Vec::new()),
        (UploadBody::Raw, _) => return (Ok((0, len)), Vec::new()),
        (UploadBody::Multipart(_), Err(code)) => return (Err(code), Vec::new()),
        (UploadBody::Multipart(_), Ok(parts)) => parts,
    };
    let mut files = parts.iter().filter(|p| p.name.as_deref() == Some(field));
    let range = match (files.next(), files.next()) {
        (None, _) => Err(Code::PackageMissing),
        (Some(_), Some(_)) => Err(Code::AmbiguousRequest),
        (Some(p), None) if p.start == p.end => Err(Code::PackageMissing),
        (Some(p), None) => Ok((p.start, p.end)),
    };
    (range, parts)
}

impl Shared {
    fn spool_gauges(&self) -> SpoolGauges {
        SpoolGauges {
            files: self.metrics.upload_spool_files.clone(),
            bytes: self.metrics.upload_spool_bytes.clone(),
        }
    }

    /// Inspects `start..end` of the spool off the async threads.
    async fn inspect(
        &self,
        sp: &Spooled,
        (start, end): (u64, u64),
        up: &UploadRoute,
    ) -> Result<Found, Code> {
        let reader = sp.range(start, end);
        let limits = inspect::Limits {
            max_package_bytes: up.max_bytes,
            verify_digests: up.verify_digests,
            ..inspect::Limits::default()
        };
        let t = Instant::now();
        let res = tokio::task::spawn_blocking(move || {
            inspect::inspect_reader(std::io::BufReader::with_capacity(64 << 10, reader), &limits)
        })
        .await
        .unwrap_or_else(|e| Err(InspectError::Io(std::io::Error::other(e.to_string()))));
        let kind = res.as_ref().map_or("unknown", |id| id.kind.as_str());
        let result = res.as_ref().map_or_else(|e| e.code(), |_| "ok");
        self.metrics
            .package_inspection_duration
            .with_label_values(&[kind])
            .observe(t.elapsed().as_secs_f64());
        self.metrics
            .package_inspections
            .with_label_values(&[kind, result])
            .inc();
        let identity = res.map_err(|e| inspect_code(&e))?;
        let package = package_of(&identity)?;
        Ok(Found {
            identity,
            package,
            bytes: end - start,
        })
    }

    /// Reads the body into a spool (scanning multipart as it arrives) and inspects the package.
    async fn take(
        &self,
        route: &RouteConfig,
        up: &UploadRoute,
        parts: &http::request::Parts,
        incoming: Incoming,
    ) -> Taken {
        let refuse_unread = |incoming: Incoming, code: Code| Taken {
            unread: has_body(&parts.headers),
            forward: Some(body::incoming(incoming)),
            found: Err(code),
            fields: Vec::new(),
        };
        let kind = match classify(parts, up) {
            Ok(k) => k,
            Err(code) => return refuse_unread(incoming, code),
        };
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > up.max_bytes) {
            return refuse_unread(incoming, Code::BodyTooLarge);
        }
        let mut scanner = match &kind {
            UploadBody::Multipart(b) => Some(Scanner::new(b, &wanted_fields(route))),
            UploadBody::Raw => None,
        };
        let mut scan_error = None;
        let mut spool = Spool::new(
            self.upload.spool_dir.clone(),
            self.upload.memory_threshold,
            self.spool_gauges(),
        );
        let mut incoming = incoming;
        while let Some(frame) = incoming.frame().await {
            let Ok(frame) = frame else {
                // The client went away or broke the framing; the spool dies with this call.
                return Taken {
                    forward: None,
                    unread: false,
                    found: Err(Code::BodyInvalid),
                    fields: Vec::new(),
                };
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if spool.len() + data.len() as u64 > up.max_bytes {
                // Kept whole so that monitor mode can still forward every byte.
                if spool.push(&data).await.is_err() {
                    return spool_failed();
                }
                return match spool.finish().await {
                    Ok(sp) => Taken {
                        forward: Some(sp.body_then(incoming)),
                        unread: true,
                        found: Err(Code::BodyTooLarge),
                        fields: Vec::new(),
                    },
                    Err(_) => spool_failed(),
                };
            }
            if let Some(s) = scanner.as_mut().filter(|_| scan_error.is_none()) {
                scan_error = s.feed(&data).err();
            }
            if let Err(e) = spool.push(&data).await {
                tracing::error!(event = "spool_failed", error = %e, dir = %self.upload.spool_dir.display());
                return spool_failed();
            }
        }
        let sp = match spool.finish().await {
            Ok(sp) => sp,
            Err(e) => {
                tracing::error!(event = "spool_failed", error = %e, dir = %self.upload.spool_dir.display());
                return spool_failed();
            }
        };
        let scanned = match (scanner, scan_error) {
            (Some(_), Some(e)) => Err(e.code()),
            (Some(s), None) => s.finish().map_err(|e| e.code()),
            (None, _) => Ok(Vec::new()),
        };
        let (range, fields) = locate(&kind, scanned, &up.field, sp.len());
        let found = match range {
            Ok(range) => self.inspect(&sp, range, up).await,
            Err(code) => Err(code),
        };
        Taken {
            forward: Some(sp.body()),
            unread: false,
            found,
            fields,
        }
    }

    /// Handles a request on an upload route (mode enforce or monitor).
    pub(super) async fn upload(
        &self,
        route: &RouteConfig,
        up: &UploadRoute,
        caps: Spans<'_>,
        req: Request<Incoming>,
        conn: &Conn,
        start: Instant,
    ) -> Response<ProxyBody> {
        let (parts, incoming) = req.into_parts();
        let taken = self.take(route, up, &parts, incoming).await;
        let claimed = claim(route, &parts, &caps, &taken.fields);
        let rev = self.index.current();
        let stale = rev.as_of.elapsed().is_ok_and(|age| age > self.stale_after);
        let decision = policy::decide_package(
            route,
            taken.found.as_ref().map(|f| &f.package).map_err(|c| *c),
            claimed.as_ref().map_err(|c| *c),
            &rev,
            stale,
        );
        let found = taken.found.as_ref().ok();
        let rec = self.audit_upload(&decision, route, &parts, found, &rev, conn);
        drop(rev);
        self.audit.record(rec.clone()).await;
        let platform = found.map(|f| f.package.platform);
        let http1 = parts.version < http::Version::HTTP_2;
        let fwd = match (&decision, taken.forward) {
            (Decision::Refuse(code), _) => {
                let close = http1 && taken.unread;
                return self.refuse_upload(*code, &rec, found, close, route, start);
            }
            // Monitor or fail-open, but the body is gone: nothing to forward.
            (_, None) => {
                let code = taken.found.as_ref().err().copied();
                let code = code.unwrap_or(Code::BodyInvalid);
                let outcome = if code == Code::SpoolFailed {
                    Outcome::Error
                } else {
                    Outcome::Reject
                };
                self.observe(Some(route), platform, outcome, Reason::Code(code), start);
                let about = About {
                    close: http1,
                    ..About::default()
                };
                return respond::refuse(code, &about);
            }
            (_, Some(b)) => b,
        };
        let filing = match &decision {
            Decision::Allow(numbers) => filing_value(numbers),
            _ => None,
        };
        let sent = Sent {
            route,
            platform,
            decision: &decision,
            start,
        };
        self.forward_decided(sent, parts, fwd, conn, filing).await
    }

    fn refuse_upload(
        &self,
        code: Code,
        rec: &AuditRecord,
        found: Option<&Found>,
        close: bool,
        route: &RouteConfig,
        start: Instant,
    ) -> Response<ProxyBody> {
        let platform = found.map(|f| f.package.platform);
        let about = About {
            platform: platform.map(Platform::as_str),
            identifier: found.map(|f| f.package.id.as_str()),
            filings: &rec.filings,
            decision_id: Some(rec.decision_id.as_str()),
            close,
        };
        let outcome = Decision::Refuse(code).outcome();
        self.observe(Some(route), platform, outcome, Reason::Code(code), start);
        respond::refuse(code, &about)
    }

    /// The audit record of an upload decision: the filings the decision attached (allow) or
    /// considered, and the package.
    fn audit_upload(
        &self,
        d: &Decision,
        route: &RouteConfig,
        parts: &http::request::Parts,
        found: Option<&Found>,
        rev: &Revision,
        conn: &Conn,
    ) -> AuditRecord {
        let filings = match (d, found) {
            (Decision::Allow(numbers), _) => {
                numbers.iter().map(|n| format!("{n} (active)")).collect()
            }
            (_, Some(f)) => rev
                .lookup(f.package.platform, &f.package.id)
                .iter()
                .map(|h| format!("{} ({})", h.number, h.status.as_str()))
                .collect(),
            (_, None) => Vec::new(),
        };
        AuditRecord {
            decision_id: uuid::Uuid::now_v7().to_string(),
            time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            listener: conn.listener.to_string(),
            route: route.name.clone(),
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            platform: found.map(|f| f.package.platform.as_str()),
            identifier: found.map(|f| f.package.id.clone()),
            filings,
            decision: d.label(),
            reason: d.reason(),
            index_revision: rev.revision,
            client: conn.peer.to_string(),
            package: found.map(|f| PackageAudit {
                kind: f.identity.kind.as_str(),
                id: f.identity.id.clone(),
                version_code: f.identity.version_code.clone(),
                version_name: f.identity.version_name.clone(),
                signers: f.package.signers.iter().map(SignerAudit::of).collect(),
                bytes: f.bytes,
            }),
        }
    }
}

fn spool_failed() -> Taken {
    Taken {
        forward: None,
        unread: true,
        found: Err(Code::SpoolFailed),
        fields: Vec::new(),
    }
}
