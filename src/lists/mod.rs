//! Lists: the JSON array in an upstream's response (`filter`) or in a request body (`batch`),
//! each item decided on its own by the same policy as a request, and the unfiled ones removed.
//!
//! Owns reading a list (`scan.rs`, the strict scanner), the per-item decision (`decide`: the
//! item's identity goes to `policy::decide` with the route, exactly as a request's would), and
//! splicing the kept items' original bytes back into the body. `response.rs` and `batch.rs`
//! add each side's rules (status, media type, content coding, size; drop or refuse).
//! Must not: re-serialise an item (a kept item's bytes are the upstream's or client's own),
//! take an index revision (the caller passes one), or do I/O.
//! Invariant: the body `decide` returns holds exactly the items whose decision forwards them,
//! in their order and byte for byte, with everything outside the array unchanged.

pub mod batch;
pub mod response;
pub mod scan;

use crate::code::Code;
use crate::config::{ItemPlatform, ListSpec, Mode, RouteConfig};
use crate::filing::{validate, Platform};
use crate::index::Revision;
use crate::policy::{self, AnyActive, Decision, Identified};
use scan::{Fault, Field, Item, Located, Pointers};
use std::borrow::Cow;

/// Most removed ids an audit record or a refusal lists (the total is always given).
pub const MAX_LISTED: usize = 100;
/// Longest id text an audit record or a refusal quotes, in characters.
const MAX_ID_CHARS: usize = 128;

/// Which list a decision is about: the response's or the request's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Response,
    Batch,
}

impl Side {
    pub const ALL: [Side; 2] = [Side::Response, Side::Batch];
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Response => "response",
            Side::Batch => "batch",
        }
    }
}

/// What happened to one list (the `outcome` label of `icpgate_lists_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Read and decided; nothing removed.
    Kept,
    /// Unfiled items removed.
    Filtered,
    /// Monitor mode: unfiled items counted and kept.
    Monitored,
    /// A batch with an unfiled item, refused whole (`on_unfiled = "refuse"`).
    Refused,
    /// Not a list the gateway can read (refused; forwarded in monitor mode).
    Invalid,
    /// Larger than `max_bytes`, refused.
    OversizeRefused,
    /// Larger than `max_bytes`, forwarded unfiltered (`on_oversize = "pass"` or monitor mode).
    OversizePassed,
    /// A response with no list to read: not 2xx, no body, or a HEAD request.
    Skipped,
    /// The index is stale and the route fails closed (503), or it has never loaded.
    Stale,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Kept,
        Outcome::Filtered,
        Outcome::Monitored,
        Outcome::Refused,
        Outcome::Invalid,
        Outcome::OversizeRefused,
        Outcome::OversizePassed,
        Outcome::Skipped,
        Outcome::Stale,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Kept => "kept",
            Outcome::Filtered => "filtered",
            Outcome::Monitored => "monitored",
            Outcome::Refused => "refused",
            Outcome::Invalid => "invalid",
            Outcome::OversizeRefused => "oversize_refused",
            Outcome::OversizePassed => "oversize_passed",
            Outcome::Skipped => "skipped",
            Outcome::Stale => "stale",
        }
    }
}

/// One removed item, as audit records and refusals list it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Removed {
    /// The id as decoded (cut at 128 characters); absent when the item has no string id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<&'static str>,
    pub reason: &'static str,
}

/// Removed items of one (platform, reason), for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub platform: Option<Platform>,
    pub reason: Code,
    pub count: u64,
}

/// The gateway's decision on one list.
#[derive(Debug, Default)]
pub struct Decided {
    /// The body with the removed items taken out; `None` when nothing is removed.
    pub body: Option<Vec<u8>>,
    /// Items in the list.
    pub items: usize,
    /// Items removed (monitor mode: that would be).
    pub total: usize,
    /// The first `MAX_LISTED` of them.
    pub removed: Vec<Removed>,
    pub tally: Vec<Tally>,
    /// Monitor mode: nothing was removed, `total` counts what would have been.
    pub monitored: bool,
}

impl Decided {
    pub fn outcome(&self) -> Outcome {
        match (self.total, self.monitored) {
            (0, _) => Outcome::Kept,
            (_, true) => Outcome::Monitored,
            (_, false) => Outcome::Filtered,
        }
    }

    fn count(&mut self, item: &Identity<'_>, reason: Code) {
        self.total += 1;
        if self.removed.len() < MAX_LISTED {
            self.removed.push(Removed {
                id: item.shown.as_deref().map(quoted),
                platform: item.platform.map(Platform::as_str),
                reason: reason.as_str(),
            });
        }
        match self
            .tally
            .iter_mut()
            .find(|t| t.platform == item.platform && t.reason == reason)
        {
            Some(t) => t.count += 1,
            None => self.tally.push(Tally {
                platform: item.platform,
                reason,
                count: 1,
            }),
        }
    }
}

/// An id as a record quotes it: its first `MAX_ID_CHARS` characters, copied in one piece.
fn quoted(id: &str) -> String {
    // No more characters than bytes: a short id is whole without counting.
    let end = if id.len() <= MAX_ID_CHARS {
        id.len()
    } else {
        id.char_indices()
            .nth(MAX_ID_CHARS)
            .map_or(id.len(), |(i, _)| i)
    };
    id[..end].to_owned()
}

/// Why a list cannot be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undecided {
    /// The body is not a list this reading accepts.
    Unreadable(Fault),
    /// The route fails closed on a stale index (or none has loaded): `index_stale`.
    Stale,
}

/// An item's identity as the policy gets it, and what a record shows of it.
struct Identity<'b> {
    who: Result<Option<Identified<'b>>, Code>,
    platform: Option<Platform>,
    shown: Option<Cow<'b, str>>,
}

/// A string field's text: borrowed when it has no escapes, decoded once otherwise.
fn text<'b>(body: &'b str, f: &Field) -> Option<Cow<'b, str>> {
    match f {
        Field::Str {
            raw,
            escaped: false,
        } => body.get(raw.clone()).map(Cow::Borrowed),
        Field::Str { raw, escaped: true } => {
            scan::decode(body.as_bytes(), raw.clone()).map(Cow::Owned)
        }
        _ => None,
    }
}

/// The identity an item names, read like a request's (`extract::identify`): no id (or an
/// empty one) is none; an id that is not a string, or breaks its platform's grammar, is
/// `identifier_invalid`; a repeated key on the way is `ambiguous_request`; a platform that is
/// missing or unknown is `platform_invalid`.
fn identity<'b>(body: &'b str, spec: &ListSpec, item: &Item) -> Identity<'b> {
    let shown = text(body, &item.id);
    let platform = match &spec.platform {
        ItemPlatform::Fixed(p) => Ok(*p),
        ItemPlatform::From(_) => match &item.platform {
            Field::Duplicate => Err(Code::AmbiguousRequest),
            f => text(body, f)
                .and_then(|n| n.parse::<Platform>().ok())
                .ok_or(Code::PlatformInvalid),
        },
    };
    let who = match (&item.id, &shown) {
        (Field::Duplicate, _) => Err(Code::AmbiguousRequest),
        (Field::NotString, _) => Err(Code::IdentifierInvalid),
        (Field::Missing, _) => Ok(None),
        (Field::Str { .. }, Some(id)) if id.is_empty() => Ok(None),
        (Field::Str { .. }, None) => Err(Code::IdentifierInvalid),
        (Field::Str { .. }, Some(id)) => platform.and_then(|p| {
            validate(p, id).map_err(|_| Code::IdentifierInvalid)?;
            Ok(Some(Identified {
                platform: p,
                id: id.clone(),
            }))
        }),
    };
    Identity {
        who,
        platform: platform.ok(),
        shown,
    }
}

/// Reads the list `spec` names in `body` and decides every item against `rev`, as
/// `policy::decide` decides a request on `route` (its mode, `on_missing`, `on_unknown`,
/// `on_stale`). An item whose decision forwards a request (allow, pass, monitor) is kept; one
/// it refuses is removed, with that refusal's code as the reason. In monitor mode nothing is
/// removed and `total` counts what would be.
pub fn decide(
    route: &RouteConfig,
    spec: &ListSpec,
    body: &[u8],
    rev: &Revision,
    stale: bool,
) -> Result<Decided, Undecided> {
    let platform_ptr = match &spec.platform {
        ItemPlatform::From(p) => Some(p.as_slice()),
        ItemPlatform::Fixed(_) => None,
    };
    let pointers = Pointers {
        list: &spec.pointer,
        id: &spec.id,
        platform: platform_ptr,
    };
    let text =
        simdutf8::basic::from_utf8(body).map_err(|_| Undecided::Unreadable(Fault::Encoding))?;
    let located = scan::locate_text(text, &pointers).map_err(Undecided::Unreadable)?;
    decide_located(route, spec, text, &located, rev, stale)
}

/// The decisions and the splice of `decide` on a list already located in `body` (the text
/// `located` was scanned from, with the same `spec`): every item decided as `decide` says,
/// the removed ones spliced out. Fails only with `Undecided::Stale`.
pub fn decide_located(
    route: &RouteConfig,
    spec: &ListSpec,
    body: &str,
    located: &Located,
    rev: &Revision,
    stale: bool,
) -> Result<Decided, Undecided> {
    let mut d = Decided {
        items: located.items.len(),
        monitored: route.mode == Mode::Monitor,
        ..Decided::default()
    };
    let mut gone: Vec<u32> = Vec::new();
    for (i, item) in located.items.iter().enumerate() {
        let it = identity(body, spec, item);
        let who = it.who.as_ref().map(Option::as_ref).map_err(|c| *c);
        match policy::decide_with::<AnyActive>(route, who, rev, stale) {
            Decision::Allow(_) | Decision::Pass(_) => {}
            Decision::Monitor(code) => d.count(&it, code),
            Decision::Refuse(Code::IndexStale) => return Err(Undecided::Stale),
            Decision::Refuse(code) => {
                d.count(&it, code);
                gone.push(i as u32);
            }
        }
    }
    if !gone.is_empty() {
        d.body = Some(splice(body.as_bytes(), located, &gone));
    }
    Ok(d)
}

/// `body` without the items at the indexes `gone` (ascending): the bytes before and after the
/// array as they are, the kept items' own bytes joined by commas. Kept items that follow one
/// another with only a comma between them (the usual, compact list) are copied as one run.
fn splice(body: &[u8], l: &Located, gone: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    out.extend_from_slice(&body[..=l.open]);
    let mut gone = gone.iter().peekable();
    let mut run: Option<std::ops::Range<usize>> = None;
    for (i, item) in l.items.iter().enumerate() {
        if gone.peek().is_some_and(|&&g| g as usize == i) {
            gone.next();
            continue;
        }
        let span = item.span.clone();
        match &mut run {
            // The byte between two items is a comma when it is the only one.
            Some(r) if r.end + 1 == span.start => r.end = span.end,
            Some(r) => {
                out.extend_from_slice(&body[r.clone()]);
                out.push(b',');
                *r = span;
            }
            None => run = Some(span),
        }
    }
    if let Some(r) = run {
        out.extend_from_slice(&body[r]);
    }
    out.extend_from_slice(&body[l.close..]);
    out
}

#[cfg(test)]
mod tests;
