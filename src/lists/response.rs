//! Response filtering: which upstream answers a filter route reads, and what the client gets
//! after the list in them is decided.
//!
//! Owns the response-side rules. A 2xx answer with a body (not 204/205, not to a HEAD request)
//! is read; any other answer passes untouched. A read answer must declare JSON
//! (`application/json` or `*/*+json`, UTF-8) and an identity, gzip or deflate coding; a 206
//! (a part of a list cannot be filtered), another type or another coding is refused (502
//! `list_invalid`), as is a body that is not a list this reading accepts. gzip and deflate are
//! decoded within `max_bytes`; the client gets the filtered list uncoded.
//! Must not: forward a list the gateway did not decide on in enforce mode, except the
//! configured `on_oversize = "pass"`, which is counted and marked.
//! Invariant: `Verdict::Send` carries exactly the bytes the client must get; `Forward` means
//! the upstream's bytes as received.

use super::{decide, Decided, Outcome, Undecided};
use crate::code::Code;
use crate::config::{FilterConfig, Mode, OnOversize, RouteConfig};
use crate::extract::media::{Coding, Media};
use crate::index::Revision;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};

/// What to do with an upstream answer on a filter route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No list to read: pass it untouched.
    Skip,
    /// A 2xx answer the gateway cannot read as a list: refuse (enforce) or pass (monitor).
    Unreadable,
    /// Read the body, decoding this coding.
    Read(Coding),
}

/// Which answers are read: 2xx with a body, declared JSON, in a coding the gateway decodes.
pub fn plan(status: StatusCode, headers: &HeaderMap, head: bool) -> Plan {
    let no_body = head || status == StatusCode::NO_CONTENT || status == StatusCode::RESET_CONTENT;
    if !status.is_success() || no_body {
        return Plan::Skip;
    }
    if status == StatusCode::PARTIAL_CONTENT || Media::of(headers) != Ok(Media::Json) {
        return Plan::Unreadable;
    }
    match Coding::of(headers) {
        Ok(c) => Plan::Read(c),
        Err(_) => Plan::Unreadable,
    }
}

/// What the client gets.
#[derive(Debug)]
pub enum Verdict {
    /// This body, uncoded, in place of the upstream's.
    Send { body: Bytes, decided: Decided },
    /// The upstream's bytes as received, unfiltered: monitor mode, or `on_oversize = "pass"`.
    Forward {
        outcome: Outcome,
        decided: Option<Decided>,
    },
    /// A 502 (or 503 `index_stale`) of the gateway's own.
    Refuse { outcome: Outcome, code: Code },
}

/// The verdict on an answer too large to read (raw or decoded).
pub fn oversize(route: &RouteConfig, f: &FilterConfig) -> Verdict {
    if route.mode == Mode::Monitor || f.on_oversize == OnOversize::Pass {
        Verdict::Forward {
            outcome: Outcome::OversizePassed,
            decided: None,
        }
    } else {
        Verdict::Refuse {
            outcome: Outcome::OversizeRefused,
            code: Code::ListTooLarge,
        }
    }
}

/// The verdict on a 2xx answer that is not a readable list (or, `Stale`, that the route
/// cannot decide on).
pub fn unreadable(route: &RouteConfig, outcome: Outcome) -> Verdict {
    if route.mode == Mode::Monitor {
        return Verdict::Forward {
            outcome,
            decided: None,
        };
    }
    let code = match outcome {
        Outcome::Stale => Code::IndexStale,
        _ => Code::ListInvalid,
    };
    Verdict::Refuse { outcome, code }
}

/// Decodes `raw` (within `max_bytes`) and decides its list.
pub fn judge(
    route: &RouteConfig,
    f: &FilterConfig,
    coding: Coding,
    raw: &Bytes,
    rev: &Revision,
    stale: bool,
) -> Verdict {
    let decoded = match coding {
        Coding::Identity => Ok(raw.clone()),
        c => c.decode(raw, f.max_bytes).map(Bytes::from),
    };
    let decoded = match decoded {
        Ok(b) => b,
        Err(Code::BodyTooLarge) => return oversize(route, f),
        Err(_) => return unreadable(route, Outcome::Invalid),
    };
    match decide(route, &f.list, &decoded, rev, stale) {
        Err(Undecided::Stale) => unreadable(route, Outcome::Stale),
        Err(Undecided::Unreadable(_)) => unreadable(route, Outcome::Invalid),
        Ok(d) if d.monitored => Verdict::Forward {
            outcome: d.outcome(),
            decided: Some(d),
        },
        Ok(mut d) => {
            let body = d.body.take().map_or(decoded, Bytes::from);
            Verdict::Send { body, decided: d }
        }
    }
}
