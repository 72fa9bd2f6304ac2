//! Policy: (route, identified app, index revision, freshness) → `Decision` (design.md §4).
//!
//! Owns the decision table; blocking is a value here, never an error.
//! Must not: do I/O, read the request, or consult anything but its arguments, so every row of
//! the table is a unit test.
//! Invariant: `Allow` carries at least one active filing for exactly the (platform, id) asked;
//! for an uploaded package on a signer route, only filings listing one of its signers
//! (`package.rs`).

use crate::code::Code;
use crate::config::{Mode, OnIntrospectionFailure, OnMissing, OnStale, OnUnknown, RouteConfig};
use crate::filing::{FilingNumber, Platform, Status};
use crate::index::{Hit, Revision};

mod inspected;
mod package;
pub use inspected::{inspect_code, package_of};
pub use package::{decide_package, Claim, Package};

/// The identity a request claims, after extraction and grammar validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified<'a> {
    pub platform: Platform,
    /// Borrowed from the request where it needed no decoding.
    pub id: std::borrow::Cow<'a, str>,
}

/// Why a request is forwarded without a filing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassReason {
    /// Route mode is off: no lookup at all.
    ModeOff,
    /// No identifier and the route forwards such requests.
    MissingForwarded,
    /// Unknown identifier and the route fails open.
    UnknownForwarded,
    /// Index stale and the route fails open.
    StaleOpen,
    /// The introspection endpoint could not answer and the route fails open.
    IntrospectionOpen,
    /// A route with no extractor: its response or body list is decided item by item.
    ListOnly,
}

impl PassReason {
    pub const ALL: [PassReason; 6] = [
        PassReason::ModeOff,
        PassReason::MissingForwarded,
        PassReason::UnknownForwarded,
        PassReason::StaleOpen,
        PassReason::IntrospectionOpen,
        PassReason::ListOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::ModeOff => "mode_off",
            PassReason::MissingForwarded => "identifier_missing_forwarded",
            PassReason::UnknownForwarded => "not_filed_forwarded",
            PassReason::StaleOpen => "index_stale_fail_open",
            PassReason::IntrospectionOpen => "introspection_fail_open",
            PassReason::ListOnly => "list_only",
        }
    }
}

/// The active filing numbers an allowed request carries; inline for the usual one or two.
pub type Numbers = smallvec::SmallVec<[FilingNumber; 2]>;

/// What an `Allow` keeps of the active filings it found: a request's decision their numbers
/// (`Numbers`, the filing header), a list item's only that there is one (`AnyActive`). The
/// decision table is the same for both (`decide_with`); only what it gathers differs.
pub trait Actives: Default {
    /// Notes one active filing.
    fn add(&mut self, number: FilingNumber);
    /// True when no active filing was noted.
    fn is_empty(&self) -> bool;
}

impl Actives for Numbers {
    #[inline]
    fn add(&mut self, number: FilingNumber) {
        self.push(number);
    }
    #[inline]
    fn is_empty(&self) -> bool {
        smallvec::SmallVec::is_empty(self)
    }
}

/// At least one active filing, without its number: what a list item's decision keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnyActive(bool);

impl Actives for AnyActive {
    #[inline]
    fn add(&mut self, _: FilingNumber) {
        self.0 = true;
    }
    #[inline]
    fn is_empty(&self) -> bool {
        !self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision<N = Numbers> {
    /// Forward with these active filing numbers attached (`N = AnyActive`: with one or more).
    Allow(N),
    /// Forward with no filing attached.
    Pass(PassReason),
    /// Monitor mode: forward, but this is what enforce mode would have answered.
    Monitor(Code),
    /// Answer with this code (451 block, 400/413 reject, 503 stale) and never touch the upstream.
    Refuse(Code),
}

impl<N> Decision<N> {
    /// Bounded label for metrics.
    pub fn label(&self) -> &'static str {
        self.outcome().as_str()
    }

    /// What happened, as the metrics' `decision` label.
    pub fn outcome(&self) -> Outcome {
        match self {
            Decision::Allow(_) => Outcome::Allow,
            Decision::Pass(_) => Outcome::Pass,
            Decision::Monitor(_) => Outcome::Monitor,
            Decision::Refuse(c)
                if c.status() == http::StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS =>
            {
                Outcome::Block
            }
            Decision::Refuse(_) => Outcome::Reject,
        }
    }

    /// Bounded reason label for metrics and audit.
    pub fn reason(&self) -> &'static str {
        self.why().as_str()
    }

    /// Why, as the metrics' `reason` label.
    pub fn why(&self) -> Reason {
        match self {
            Decision::Allow(_) => Reason::Filed,
            Decision::Pass(r) => Reason::Pass(*r),
            Decision::Monitor(c) | Decision::Refuse(c) => Reason::Code(*c),
        }
    }
}

/// The `decision` label of a request sample: the policy's decisions, and `error` for a request
/// the policy let through that the upstream then failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Pass,
    Monitor,
    Block,
    Reject,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Allow,
        Outcome::Pass,
        Outcome::Monitor,
        Outcome::Block,
        Outcome::Reject,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Pass => "pass",
            Outcome::Monitor => "monitor",
            Outcome::Block => "block",
            Outcome::Reject => "reject",
            Outcome::Error => "error",
        }
    }
}

/// The `reason` label of a request sample: `filed`, a pass reason or an outcome code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Filed,
    Pass(PassReason),
    Code(Code),
}

impl Reason {
    /// How many distinct reasons there are (`index` is below it).
    pub const COUNT: usize = 1 + PassReason::ALL.len() + Code::ALL.len();

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Filed => "filed",
            Reason::Pass(r) => r.as_str(),
            Reason::Code(c) => c.as_str(),
        }
    }

    /// A dense index: distinct for distinct reasons, below `COUNT`.
    pub fn index(self) -> usize {
        match self {
            Reason::Filed => 0,
            Reason::Pass(r) => 1 + r as usize,
            Reason::Code(c) => 1 + PassReason::ALL.len() + c as usize,
        }
    }
}

/// How severe a status is when no filing is active: the most severe one names the refusal.
fn severity(s: Status) -> u8 {
    match s {
        Status::Revoked => 3,
        Status::Restricted => 2,
        Status::Cancelled => 1,
        Status::Active => 0,
    }
}

/// The refusal for the most severe status of filings none of which is active (`None`: no
/// filing at all).
fn worst_code(worst: Option<Status>) -> Code {
    match worst {
        Some(Status::Revoked) => Code::Revoked,
        Some(Status::Restricted) => Code::Restricted,
        Some(Status::Cancelled) => Code::Cancelled,
        Some(Status::Active) | None => Code::NotFiled,
    }
}

/// The code for filings that exist but none of which is active: the most severe status wins.
fn inactive_code(hits: &[Hit]) -> Code {
    worst_code(hits.iter().map(|h| h.status).max_by_key(|&s| severity(s)))
}

/// The filing decision for an identified (or unidentified) request, before monitor mode.
fn enforce<N: Actives>(
    route: &RouteConfig,
    who: Result<Option<&Identified>, Code>,
    rev: &Revision,
    stale: bool,
) -> Decision<N> {
    if let Some(d) = stale_gate(route, rev, stale) {
        return d;
    }
    let who = match who {
        Err(Code::IntrospectionUnavailable)
            if route.on_introspection_failure == OnIntrospectionFailure::Open =>
        {
            return Decision::Pass(PassReason::IntrospectionOpen)
        }
        Err(code) => return Decision::Refuse(code),
        Ok(Some(w)) => w,
        Ok(None) => {
            return match route.on_missing {
                OnMissing::Reject => Decision::Refuse(Code::IdentifierMissing),
                OnMissing::Block => Decision::Refuse(Code::NotIdentified),
                OnMissing::Forward => Decision::Pass(PassReason::MissingForwarded),
            }
        }
    };
    // Every hit, in lookup order: the active ones' numbers gathered, and of the others the
    // most severe status (as `inactive_code` takes it).
    let mut active = N::default();
    let mut worst: Option<Status> = None;
    rev.each_hit(who.platform, &who.id, |h| {
        if h.status == Status::Active {
            active.add(h.number);
        } else if worst.is_none_or(|w| severity(h.status) > severity(w)) {
            worst = Some(h.status);
        }
    });
    if !active.is_empty() {
        return Decision::Allow(active);
    }
    if worst.is_some() {
        return Decision::Refuse(worst_code(worst));
    }
    unfiled(route, rev, who.platform, &who.id)
}

/// What a stale index means for this route, when it is stale and the route does not keep
/// enforcing.
fn stale_gate<N>(route: &RouteConfig, rev: &Revision, stale: bool) -> Option<Decision<N>> {
    if rev.revision == 0 {
        // No index has ever loaded: "not filed" would be a false statement, so even an
        // enforcing route can only fail closed.
        return Some(match route.on_stale {
            OnStale::Open => Decision::Pass(PassReason::StaleOpen),
            OnStale::Enforce | OnStale::Closed => Decision::Refuse(Code::IndexStale),
        });
    }
    match (stale, route.on_stale) {
        (false, _) | (true, OnStale::Enforce) => None,
        (true, OnStale::Open) => Some(Decision::Pass(PassReason::StaleOpen)),
        (true, OnStale::Closed) => Some(Decision::Refuse(Code::IndexStale)),
    }
}

/// Applies the route's mode to what enforcement would decide.
fn by_mode<N>(route: &RouteConfig, enforce: impl FnOnce() -> Decision<N>) -> Decision<N> {
    match route.mode {
        Mode::Off => Decision::Pass(PassReason::ModeOff),
        Mode::Enforce => enforce(),
        Mode::Monitor => match enforce() {
            Decision::Refuse(code) => Decision::Monitor(code),
            other => other,
        },
    }
}

/// The answer for an identifier filed nowhere under its platform.
fn unfiled<N>(route: &RouteConfig, rev: &Revision, platform: Platform, id: &str) -> Decision<N> {
    if rev.filed_elsewhere(platform, id).is_some() {
        return Decision::Refuse(Code::PlatformNotFiled);
    }
    match route.on_unknown {
        OnUnknown::Block => Decision::Refuse(Code::NotFiled),
        OnUnknown::Forward => Decision::Pass(PassReason::UnknownForwarded),
    }
}

/// Decides a request on a route with no extractor, whose response or body list is decided
/// item by item instead: only the freshness rule applies to the request itself.
pub fn decide_list_route(route: &RouteConfig, rev: &Revision, stale: bool) -> Decision {
    by_mode(route, || {
        stale_gate(route, rev, stale).unwrap_or(Decision::Pass(PassReason::ListOnly))
    })
}

/// Decides a request. `who` is the extraction result: an identity, none found, or a 400 code.
pub fn decide(
    route: &RouteConfig,
    who: Result<Option<&Identified>, Code>,
    rev: &Revision,
    stale: bool,
) -> Decision {
    decide_with(route, who, rev, stale)
}

/// `decide`, with `Allow` keeping of the active filings what `N` gathers: a list item's
/// decision (`AnyActive`) is a request's without the numbers it would never use.
pub fn decide_with<N: Actives>(
    route: &RouteConfig,
    who: Result<Option<&Identified>, Code>,
    rev: &Revision,
    stale: bool,
) -> Decision<N> {
    by_mode(route, || enforce(route, who, rev, stale))
}

#[cfg(test)]
mod tests;
