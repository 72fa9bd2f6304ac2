//! Request batches: the list in a JSON request body (an update check naming the installed
//! packages), decided item by item before the request is forwarded.
//!
//! Owns what a batch route does with its body: the upstream gets only the filed items
//! (`on_unfiled = "drop"`), or the whole request is refused when any item is not filed
//! (`"refuse"`: 451 `batch_unfiled`). The body arrives bounded and decoded from its content
//! coding (`proxy::request::take`); a body that is not such a list is refused, in enforce mode,
//! with the request codes: `body_invalid` (no JSON, no list at the pointer, not an array, too
//! deep), `ambiguous_request` (a key repeated on the pointer path).
//! Must not: forward an item the gateway did not decide on, or forward bytes the gateway did
//! not read (a body it rewrites goes out whole, with its exact length, without a coding).
//! Invariant: `Batched::body` is `Some` exactly when the upstream must get a rewritten body.

use super::scan::Fault;
use super::{decide, Decided, Outcome, Undecided};
use crate::code::Code;
use crate::config::{BatchConfig, Mode, OnUnfiled, RouteConfig};
use crate::index::Revision;

/// What the gateway does with a batch request.
#[derive(Debug)]
pub struct Batched {
    pub outcome: Outcome,
    /// Refuse the request with this code.
    pub refuse: Option<Code>,
    /// Forward this body instead of the client's (identity coding, exact length).
    pub body: Option<Vec<u8>>,
    /// The decision on the items, when the list could be read.
    pub decided: Option<Decided>,
}

/// The request code for a body that cannot be read as a list.
pub fn fault_code(f: Fault) -> Code {
    match f {
        Fault::Duplicate => Code::AmbiguousRequest,
        Fault::Syntax | Fault::Encoding | Fault::Depth | Fault::Missing | Fault::NotArray => {
            Code::BodyInvalid
        }
    }
}

/// Decides the batch in `body` (the decoded request body) on `route`.
pub fn judge(
    route: &RouteConfig,
    b: &BatchConfig,
    body: &[u8],
    rev: &Revision,
    stale: bool,
) -> Batched {
    let monitor = route.mode == Mode::Monitor;
    let refused = |outcome, code| Batched {
        outcome,
        refuse: (!monitor).then_some(code),
        body: None,
        decided: None,
    };
    let mut d = match decide(route, &b.list, body, rev, stale) {
        Ok(d) => d,
        Err(Undecided::Stale) => return refused(Outcome::Stale, Code::IndexStale),
        Err(Undecided::Unreadable(f)) => return refused(Outcome::Invalid, fault_code(f)),
    };
    let (outcome, refuse, body) = match (d.outcome(), b.on_unfiled) {
        (Outcome::Filtered, OnUnfiled::Refuse) => {
            (Outcome::Refused, Some(Code::BatchUnfiled), None)
        }
        (o, _) => (o, None, d.body.take()),
    };
    Batched {
        outcome,
        refuse,
        body,
        decided: Some(d),
    }
}
