//! What the gateway would decide for a package file, offline: the library side of
//! `icpgate inspect FILE --snapshot … | --admin …`.
//!
//! Owns the synthetic upload route the CLI decides with (enforce, block unknown ids) and the
//! explanation: which filings list the id, which of them list one of the package's signers,
//! and the code with its message.
//! Must not: decide differently from the gateway: it calls the same `policy::package_of`
//! and `policy::decide_package`.
//! Invariant: `Verdict::allowed` is true exactly when the gateway would forward the upload.

use crate::code::Code;
use crate::config::{
    Mode, OnMissing, OnStale, OnUnknown, PathMatcher, PlatformSpec, RouteConfig, UploadRoute,
    DEFAULT_RAW_TYPES,
};
use crate::filing::{FilingRecord, Platform};
use crate::index::Revision;
use crate::inspect::PackageIdentity;
use crate::policy::{decide_package, package_of, Claim, Decision};
use serde_json::{json, Value};

/// The route knobs `icpgate inspect` lets a user set.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// As `upload.require_signer` (default true).
    pub require_signer: bool,
    /// As `upload.verify_digests` (default true).
    pub verify_digests: bool,
    /// As a route's `platform = …` pin; `None` = from the package kind.
    pub platform: Option<Platform>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            require_signer: true,
            verify_digests: true,
            platform: None,
        }
    }
}

/// The decision for one package and why.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub allowed: bool,
    pub decision: Decision,
    pub json: Value,
}

/// An enforcing upload route with these options.
pub fn route(opts: Options) -> RouteConfig {
    RouteConfig {
        name: "inspect".into(),
        host: None,
        methods: vec![],
        matcher: PathMatcher::Prefix("/".into()),
        upstream: 0,
        platform: opts
            .platform
            .map_or(PlatformSpec::Package, PlatformSpec::Fixed),
        extract: vec![],
        mode: Mode::Enforce,
        on_missing: OnMissing::Reject,
        on_unknown: OnUnknown::Block,
        on_stale: OnStale::Enforce,
        body_ids: crate::config::BodyIds::Check,
        upload: Some(UploadRoute {
            field: "file".into(),
            max_bytes: u64::MAX,
            require_signer: opts.require_signer,
            verify_digests: opts.verify_digests,
            raw_types: DEFAULT_RAW_TYPES.iter().map(|s| s.to_string()).collect(),
        }),
        allow_url_headers: false,
        tokens: false,
        on_introspection_failure: crate::config::OnIntrospectionFailure::Closed,
        filter: None,
        batch: None,
    }
}

/// Decides `identity` against `rev` as an upload route with `opts` would.
pub fn decide(identity: &PackageIdentity, opts: Options, rev: &Revision) -> Verdict {
    let package = package_of(identity);
    let r = route(opts);
    let package = package.as_ref().map_err(|c| *c);
    let decision = decide_package(&r, package, Ok(&Claim::default()), rev, false);
    let filings: Vec<Value> = rev
        .lookup(identity.platform, &identity.id)
        .iter()
        .filter_map(|h| {
            let rec = rev.record(h)?;
            let listed = rec
                .platforms
                .iter()
                .filter(|p| p.platform == identity.platform)
                .flat_map(|p| &p.signers)
                .any(|f| {
                    identity
                        .accepted_signers
                        .iter()
                        .any(|c| c.signer.matches(f))
                });
            Some(json!({
                "number": rec.number.to_string(),
                "status": rec.status.as_str(),
                "entity": rec.entity,
                "lists_package_signer": listed,
            }))
        })
        .collect();
    let (allowed, code, attached): (bool, Option<Code>, Vec<String>) = match &decision {
        Decision::Allow(n) => (true, None, n.iter().map(|n| n.to_string()).collect()),
        Decision::Pass(_) => (true, None, Vec::new()),
        Decision::Monitor(c) | Decision::Refuse(c) => (false, Some(*c), Vec::new()),
    };
    let json = json!({
        "decision": if allowed { "allow" } else { "block" },
        "status": code.map_or(200, |c| c.status().as_u16()),
        "code": code.map(Code::as_str),
        "message_en": code.map(Code::message_en),
        "message_zh": code.map(Code::message_zh),
        "filing_attached": attached,
        "filings_for_id": filings,
        "require_signer": opts.require_signer,
        "verify_digests": opts.verify_digests,
        "index_revision": rev.revision,
    });
    Verdict {
        allowed,
        decision,
        json,
    }
}

/// The records a `/v1/lookup` answer lists (`filings`, in wire form).
pub fn records_of_lookup(answer: &Value) -> Result<Vec<FilingRecord>, String> {
    answer["filings"]
        .as_array()
        .ok_or("the lookup answer has no \"filings\" list")?
        .iter()
        .map(|f| crate::filing::record::parse_line(&f.to_string()).map_err(|e| e.to_string()))
        .collect()
}

/// Human-readable lines for a verdict.
pub fn render_text(v: &Verdict) -> String {
    let j = &v.json;
    let mut out = String::new();
    for f in j["filings_for_id"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "filing: {} ({}) {}{}\n",
            f["number"].as_str().unwrap_or(""),
            f["status"].as_str().unwrap_or(""),
            f["entity"].as_str().unwrap_or(""),
            if f["lists_package_signer"] == true {
                ", lists the package's signer"
            } else {
                ""
            }
        ));
    }
    if v.allowed {
        let attached: Vec<&str> = j["filing_attached"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        out.push_str(&format!(
            "decision: allow, filing number attached: {}\n",
            attached.join(", ")
        ));
    } else {
        out.push_str(&format!(
            "decision: would block: {} {}\n  {}\n  {}\n",
            j["status"],
            j["code"].as_str().unwrap_or(""),
            j["message_en"].as_str().unwrap_or(""),
            j["message_zh"].as_str().unwrap_or("")
        ));
    }
    out
}
