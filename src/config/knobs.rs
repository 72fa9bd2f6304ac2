//! The per-route policy knobs: `mode`, `on_missing`, `on_unknown`, `on_stale`, `body_ids` and
//! `on_introspection_failure`, their values and how the configuration names them.
//!
//! Owns each knob's set of accepted words and its default.
//! Must not: look at a route's extractors or lists (`route.rs` checks what depends on them).
//! Invariant: every word a knob accepts maps to exactly one value, and an unknown word is a
//! problem naming the key and the accepted words.

use super::raw::RawRoute;
use super::Problems;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Monitor,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnMissing {
    /// 400 `identifier_missing`.
    Reject,
    /// 451 `identifier_missing`.
    Block,
    /// Forward without a filing header (counted).
    Forward,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnUnknown {
    /// 451 `not_filed`.
    Block,
    /// Forward without a filing header (counted as fail-open).
    Forward,
}

/// What a route does when its introspection endpoint cannot answer (down, slow, garbage,
/// or every call slot busy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnIntrospectionFailure {
    /// 503 `introspection_unavailable`.
    Closed,
    /// Forward without a filing (counted and audited as `introspection_fail_open`).
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStale {
    /// Keep deciding from the last good index.
    Enforce,
    /// Forward everything (counted and marked).
    Open,
    /// 503 `index_stale`.
    Closed,
}

/// What a route whose identifier does not come from the body does with a form, JSON or
/// multipart body (docs/configuration.md, "How identifiers are read").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyIds {
    /// Read it (bounded) and refuse it when it names the identifier with another value.
    Check,
    /// Refuse it when it names the identifier at all.
    Refuse,
    /// Forward it unread: unsafe behind stacks that merge body and query parameters.
    Ignore,
}

/// The knobs of one route; `None` where a problem was reported.
pub(super) struct Knobs {
    pub mode: Option<Mode>,
    pub on_missing: Option<OnMissing>,
    pub on_unknown: Option<OnUnknown>,
    pub on_stale: Option<OnStale>,
    pub body_ids: Option<BodyIds>,
}

pub(super) fn choice<T: Copy>(
    p: &mut Problems<'_>,
    key: &str,
    v: &str,
    options: &[(&str, T)],
) -> Option<T> {
    let found = options.iter().find(|(n, _)| *n == v).map(|(_, t)| *t);
    if found.is_none() {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        p.add(key, format!("{v:?} is not one of {names:?}"));
    }
    found
}

/// `mode`'s values.
const MODES: &[(&str, Mode)] = &[
    ("enforce", Mode::Enforce),
    ("monitor", Mode::Monitor),
    ("off", Mode::Off),
];

/// `on_missing`'s values.
const ON_MISSING: &[(&str, OnMissing)] = &[
    ("reject", OnMissing::Reject),
    ("block", OnMissing::Block),
    ("forward", OnMissing::Forward),
];

/// `on_unknown`'s values.
const ON_UNKNOWN: &[(&str, OnUnknown)] =
    &[("block", OnUnknown::Block), ("forward", OnUnknown::Forward)];

/// `on_stale`'s values.
const ON_STALE: &[(&str, OnStale)] = &[
    ("enforce", OnStale::Enforce),
    ("open", OnStale::Open),
    ("closed", OnStale::Closed),
];

/// `body_ids`'s values.
const BODY_IDS: &[(&str, BodyIds)] = &[
    ("check", BodyIds::Check),
    ("refuse", BodyIds::Refuse),
    ("ignore", BodyIds::Ignore),
];

/// Reads the route's knobs (`on_introspection_failure` needs the extractors: `route.rs`).
pub(super) fn parse(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Knobs {
    Knobs {
        mode: choice(p, &format!("{key}.mode"), &r.mode, MODES),
        on_missing: choice(p, &format!("{key}.on_missing"), &r.on_missing, ON_MISSING),
        on_unknown: choice(p, &format!("{key}.on_unknown"), &r.on_unknown, ON_UNKNOWN),
        on_stale: choice(p, &format!("{key}.on_stale"), &r.on_stale, ON_STALE),
        body_ids: body_ids(p, key, r),
    }
}

/// `body_ids` (default `check`); upload routes have no such body to read.
fn body_ids(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Option<BodyIds> {
    match (&r.body_ids, &r.upload) {
        (Some(_), Some(_)) => {
            p.add(
                &format!("{key}.body_ids"),
                "does not apply to upload routes (the body is the package)",
            );
            None
        }
        (v, _) => choice(
            p,
            &format!("{key}.body_ids"),
            v.as_deref().unwrap_or("check"),
            BODY_IDS,
        ),
    }
}
