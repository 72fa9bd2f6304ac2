//! What the identify step found, for either kind of route, and the one audit record a
//! decision on it gets.
//!
//! Owns `Subject` (a request's identity, or an upload's package and claims), which decision
//! function it goes to, which decisions are audited, and the audit record's shape.
//! Must not: read the request body, take an index revision of its own, or write the record
//! (the pipeline does, after dropping the revision).
//! Invariant: request and upload routes are decided, audited and described by the same code.

use super::upload::Found;
use crate::audit::{AuditRecord, PackageAudit, SignerAudit};
use crate::client::ClientAddr;
use crate::code::Code;
use crate::config::RouteConfig;
use crate::filing::Platform;
use crate::index::Revision;
use crate::policy::{self, Claim, Decision, Identified, PassReason};
use http::request::Parts;

/// What the identify step found.
pub enum Subject<'a> {
    /// A request route: the identity its extractors found (borrowing the request), or why
    /// there is none.
    Request(Result<Option<&'a Identified<'a>>, Code>),
    /// An upload route: the inspected package, and what the request itself claims about it.
    Package {
        found: Result<&'a Found, Code>,
        claim: Result<&'a Claim, Code>,
    },
}

impl Subject<'_> {
    pub fn decide(&self, route: &RouteConfig, rev: &Revision, stale: bool) -> Decision {
        match self {
            Subject::Request(Ok(None)) if route.extract.is_empty() => {
                policy::decide_list_route(route, rev, stale)
            }
            Subject::Request(who) => policy::decide(route, *who, rev, stale),
            Subject::Package { found, claim } => {
                let package = found.map(|f| &f.package);
                policy::decide_package(route, package, *claim, rev, stale)
            }
        }
    }

    /// Every upload decision is audited; on request routes blocks, monitors and fail-opens.
    pub fn audits(&self, d: &Decision) -> bool {
        match (self, d) {
            (Subject::Package { .. }, _) => true,
            (_, Decision::Refuse(c)) => {
                c.status() == http::StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS
            }
            (_, Decision::Monitor(_)) => true,
            (_, Decision::Pass(r)) => !matches!(r, PassReason::ModeOff | PassReason::ListOnly),
            (_, Decision::Allow(_)) => false,
        }
    }

    pub fn package(&self) -> Option<&Found> {
        match self {
            Subject::Package { found, .. } => found.ok(),
            Subject::Request(_) => None,
        }
    }

    pub fn platform(&self) -> Option<Platform> {
        match self {
            Subject::Request(who) => who.ok().flatten().map(|w| w.platform),
            Subject::Package { .. } => self.package().map(|f| f.package.platform),
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Subject::Request(who) => who.ok().flatten().map(|w| &*w.id),
            Subject::Package { .. } => self.package().map(|f| f.package.id.as_str()),
        }
    }
}

/// The audit record of a decision: the filings it attached (allow) or considered, and the
/// package of an upload.
pub fn audit_record(
    d: &Decision,
    route: &RouteConfig,
    parts: &Parts,
    subject: &Subject<'_>,
    rev: &Revision,
    listener: &str,
    client: ClientAddr,
) -> AuditRecord {
    let filings = match (d, subject.platform().zip(subject.id())) {
        (Decision::Allow(numbers), _) => numbers.iter().map(|n| format!("{n} (active)")).collect(),
        (_, Some((platform, id))) => rev
            .lookup(platform, id)
            .iter()
            .map(|h| format!("{} ({})", h.number, h.status.as_str()))
            .collect(),
        (_, None) => Vec::new(),
    };
    AuditRecord {
        decision_id: uuid::Uuid::now_v7().to_string(),
        // The pipeline's: it sets the request's id.
        request_id: String::new(),
        time: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
        last_time: None,
        listener: listener.to_string(),
        route: route.name.clone(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        platform: subject.platform().map(Platform::as_str),
        identifier: subject.id().map(str::to_string),
        filings,
        decision: d.label(),
        reason: d.reason(),
        index_revision: rev.revision,
        client,
        count: 1,
        package: subject.package().map(|f| PackageAudit {
            kind: f.identity.kind.as_str(),
            id: f.identity.id.clone(),
            version_code: f.identity.version_code.clone(),
            version_name: f.identity.version_name.clone(),
            signers: f.package.signers.iter().map(SignerAudit::of).collect(),
            bytes: f.bytes,
        }),
        list: None,
    }
}
