//! The `body_ids` check: a body the route does not take its identifier from must not name the
//! identifier (or the platform) with another value, because PHP's `$_REQUEST`, Rails params,
//! Laravel's `$request->input`, Flask/Werkzeug `request.values` and Express merge body fields
//! with the query and path.
//!
//! Owns which names are checked and how each body type is searched: a form body under both
//! `&` and `;` splitting, the top-level keys of a JSON object, the part names of a
//! `multipart/form-data` form; every spelling of `names.rs` counts.
//! Must not: read a body of another type, decode values (a value is compared as it is sent, so
//! a percent-encoded copy of the identifier is another value), or pass a body it cannot parse.
//! Invariant: `check` returns `Ok` only when every occurrence of a checked name in the body has
//! exactly the value the gateway decided on (`BodyIds::Refuse`: when there is none).

use super::bearer::NO_CREDENTIALS;
use super::media::Media;
use super::{json, multipart, names, value_of, Captures};
use crate::code::Code;
use crate::config::{BodyIds, PlatformSpec, RouteConfig, Source, TokenPlace};
use http::request::Parts;

/// One name to look for in the body and the value it may have.
struct Checked<'a> {
    source: &'a Source,
    expected: Option<&'a str>,
}

impl Checked<'_> {
    /// True when the body name `raw` is a spelling of this source's name. Path captures and
    /// query parameters are compared as parameter names; a header also as a field with `-`
    /// read as `_`.
    fn named_by(&self, raw: &[u8]) -> bool {
        match self.source {
            Source::Path(n) | Source::Query(n) => names::spells(raw, n.as_bytes()),
            Source::Header(h) => names::spells_header(raw, h.as_str().as_bytes()),
            // A second token in the body, which merging stacks read with the request's.
            Source::Token(t) => match &t.place {
                TokenPlace::Query(n) => names::spells(raw, n.as_bytes()),
                TokenPlace::Header(h) => names::spells_header(raw, h.as_str().as_bytes()),
                TokenPlace::Bearer => names::spells(raw, b"access_token"),
            },
            Source::Json(_) | Source::Form(_) => false,
        }
    }

    fn allows(&self, mode: BodyIds, value: Option<&[u8]>) -> bool {
        mode == BodyIds::Check && value.is_some() && value == self.expected.map(str::as_bytes)
    }
}

/// True when `route` checks the bodies it does not read for its identifier's names.
pub fn applies(route: &RouteConfig) -> bool {
    route.body_ids != BodyIds::Ignore
        && route.upload.is_none()
        && checked_sources(route).next().is_some()
}

fn checked_sources(route: &RouteConfig) -> impl Iterator<Item = (&Source, bool)> {
    route.sources().filter(|(s, _)| !s.reads_body())
}

/// Checks a form, JSON or multipart `body` (already decoded) against the identifier `id` the
/// route's sources agreed on. Any other body type passes unread.
pub fn check(
    route: &RouteConfig,
    parts: &Parts,
    caps: Captures<'_>,
    body: &[u8],
    id: Option<&str>,
) -> Result<(), Code> {
    let media = Media::of(&parts.headers)?;
    if !media.names_fields() || !applies(route) {
        return Ok(());
    }
    let mut platform_value = None;
    if let PlatformSpec::From(s) = &route.platform {
        platform_value = value_of(s, parts, caps, None, &NO_CREDENTIALS)
            .ok()
            .flatten();
    }
    let checked: smallvec::SmallVec<[Checked<'_>; 4]> = checked_sources(route)
        .map(|(source, is_platform)| Checked {
            source,
            expected: if is_platform {
                platform_value.as_deref()
            } else {
                id
            },
        })
        .collect();
    let mode = route.body_ids;
    let mut clash = false;
    let mut see = |name: &[u8], value: Option<&[u8]>| {
        clash |= checked
            .iter()
            .any(|c| c.named_by(name) && !c.allows(mode, value));
    };
    match media {
        Media::Form => form(body, &mut see),
        Media::Json => {
            if !json::nesting_within(body, json::MAX_DEPTH) {
                return Err(Code::BodyInvalid);
            }
            json::top_level(body, |k, v| see(k.as_bytes(), v.map(str::as_bytes)))
                .map_err(|_| Code::BodyInvalid)?;
        }
        Media::Multipart(ct) => multipart_fields(ct, body, &mut see)?,
        Media::Other | Media::Missing => {}
    }
    if clash {
        Err(Code::AmbiguousRequest)
    } else {
        Ok(())
    }
}

/// Every pair of a urlencoded body, under `&` and under `&`+`;` splitting.
fn form(body: &[u8], see: &mut impl FnMut(&[u8], Option<&[u8]>)) {
    for seg in body.split(|&b| b == b'&') {
        let subs = seg.split(|&b| b == b';');
        let whole = std::iter::once(seg).filter(|s| s.contains(&b';'));
        for pair in subs.chain(whole).filter(|p| !p.is_empty()) {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            see(name, Some(value));
        }
    }
}

/// Every part of a multipart form by its name, with its content.
fn multipart_fields(
    ct: &str,
    body: &[u8],
    see: &mut impl FnMut(&[u8], Option<&[u8]>),
) -> Result<(), Code> {
    let boundary = multipart::boundary(ct).map_err(|e| e.code())?;
    let mut scanner = multipart::Scanner::new(&boundary, &[]);
    scanner.feed(body).map_err(|e| e.code())?;
    let parts = scanner.finish().map_err(|e| e.code())?;
    for p in &parts {
        let Some(name) = &p.name else { continue };
        let value = usize::try_from(p.start)
            .ok()
            .zip(usize::try_from(p.end).ok())
            .and_then(|(s, e)| body.get(s..e));
        see(name.as_bytes(), value);
    }
    Ok(())
}
