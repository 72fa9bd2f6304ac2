//! Request extractors: find the app identifier (and, where configured, the platform) in the
//! path, query, headers, JSON body or form body of a request.
//!
//! Owns the one reading of each source: every spelling of a parameter or header name that a
//! common server stack reads as the same variable counts as an occurrence (`names.rs`), a
//! body is read only as the type it declares (`media.rs`), and a body the route does not take
//! its identifier from is checked for the identifier's names (`bodyids.rs`), as is the query of
//! a route that takes it from the body (`queryids.rs`). Path captures are
//! percent-decoded once; query and form values are taken as sent. Grammar validation of the id
//! against its platform also happens here so the policy only ever sees well-formed identities.
//! Must not: read the body itself (`proxy::request` passes the bounded, buffered, decoded bytes), or
//! guess between two different values or two readings.
//! Invariant: `identify` returns `Ok(Some)` only for an id valid for its platform that every
//! configured source that found a value agrees on, read once in every source.

pub mod bearer;
pub mod bodyids;
pub mod json;
pub mod jsonkeys;
pub mod media;
pub mod multipart;
pub mod names;
pub mod queryids;
pub mod upload;

use crate::code::Code;
use crate::config::{PlatformSpec, RouteConfig, Source};
use crate::filing::{validate, Platform};
use crate::policy::Identified;
use bearer::{Credentials, NO_CREDENTIALS};
use http::request::Parts;
use media::Media;
use std::borrow::Cow;
use std::ops::Range;

/// Path captures of the matched route: each name with its span in `parts.uri.path()`, raw
/// (still percent-encoded).
pub type Captures<'a> = &'a [(&'a str, Range<usize>)];

fn decode(raw: &str) -> Result<Cow<'_, str>, Code> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| Code::IdentifierInvalid)
}

/// The single item of `it`, `None` if it is empty; two items are ambiguous.
fn one<T, I>(mut it: I) -> Result<Option<T>, Code>
where
    I: Iterator<Item = Result<T, Code>>,
{
    let first = it.next().transpose()?;
    if it.next().is_some() {
        return Err(Code::AmbiguousRequest);
    }
    Ok(first)
}

/// The one value of the parameter `name` in a urlencoded string, taken as sent. Every spelling
/// of `name` is an occurrence, under `&` splitting and under `&`+`;` splitting; more than one
/// in either, or a different value in each, is ambiguous. A value with `%` or `+` is
/// `identifier_invalid`: no identifier grammar has them, and readers disagree on decoding them
/// (nginx `$arg_*` decodes nothing).
fn param<'a>(raw: &'a [u8], name: &str) -> Result<Option<Cow<'a, str>>, Code> {
    let (mut amp, mut semi) = ((0u32, None), (0u32, None));
    names::each(
        raw,
        |n| names::spells(n, name.as_bytes()),
        |split, v| {
            let slot = match split {
                names::Split::Amp => &mut amp,
                names::Split::Semi => &mut semi,
            };
            slot.0 += 1;
            slot.1 = Some(v);
        },
    );
    if amp.0 > 1 || semi.0 > 1 || amp.1 != semi.1 {
        return Err(Code::AmbiguousRequest);
    }
    let Some(v) = amp.1 else {
        return Ok(None);
    };
    if v.iter().any(|&b| b == b'%' || b == b'+') {
        return Err(Code::IdentifierInvalid);
    }
    std::str::from_utf8(v)
        .map(|v| Some(Cow::Borrowed(v)))
        .map_err(|_| Code::IdentifierInvalid)
}

/// The one value of header `name` over all its aliases; a header listed in `Connection`
/// (dropped before forwarding) or present twice is ambiguous.
fn header_value<'a>(parts: &'a Parts, name: &str) -> Result<Option<&'a str>, Code> {
    if names::in_connection(&parts.headers, name) {
        return Err(Code::AmbiguousRequest);
    }
    one(parts
        .headers
        .iter()
        .filter(|(k, _)| names::header_alias(k.as_str(), name))
        .map(|(_, v)| v.to_str().map_err(|_| Code::IdentifierInvalid)))
}

/// The body, when the request declares the type `want` (a source does not read a body of
/// another type).
fn body_as<'a>(parts: &Parts, body: Option<&'a [u8]>, want: Media<'_>) -> Option<&'a [u8]> {
    body.filter(|b| !b.is_empty())
        .filter(|_| Media::of(&parts.headers).is_ok_and(|m| m == want))
}

/// The single value `src` yields, `None` if absent. Two occurrences = ambiguous. Borrows from
/// the request wherever the value needs no decoding.
pub(crate) fn value_of<'a>(
    src: &'a Source,
    parts: &'a Parts,
    caps: Captures<'_>,
    body: Option<&'a [u8]>,
    creds: &'a Credentials,
) -> Result<Option<Cow<'a, str>>, Code> {
    match src {
        Source::Token(t) => Ok(creds.get(t.slot)?.map(Cow::Borrowed)),
        Source::Path(name) => caps
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, span)| parts.uri.path().get(span.clone()))
            .map(decode)
            .transpose(),
        Source::Query(name) => param(parts.uri.query().unwrap_or("").as_bytes(), name),
        Source::Header(h) => Ok(header_value(parts, h.as_str())?.map(Cow::Borrowed)),
        Source::Form(name) => match body_as(parts, body, Media::Form) {
            Some(b) => param(b, name),
            None => Ok(None),
        },
        Source::Json(ptr) => {
            let Some(b) = body_as(parts, body, Media::Json) else {
                return Ok(None);
            };
            if b.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
            }
            if !json::nesting_within(b, json::MAX_DEPTH) {
                return Err(Code::BodyInvalid);
            }
            match json::extract(b, ptr) {
                Ok(json::Found::Value(v)) => Ok(Some(Cow::Owned(v))),
                Ok(json::Found::Missing) => Ok(None),
                Ok(json::Found::NotScalar) => Err(Code::IdentifierInvalid),
                Err(json::JsonError::Duplicate(_)) => Err(Code::AmbiguousRequest),
                Err(json::JsonError::Syntax(_)) => Err(Code::BodyInvalid),
            }
        }
    }
}

/// The one value all `sources` agree on; `None` if none has one; ambiguous if they differ.
fn agreed<'a>(
    sources: &'a [Source],
    parts: &'a Parts,
    caps: Captures<'_>,
    body: Option<&'a [u8]>,
    creds: &'a Credentials,
) -> Result<Option<Cow<'a, str>>, Code> {
    let mut found: Option<Cow<'a, str>> = None;
    for s in sources {
        if let Some(v) = value_of(s, parts, caps, body, creds)? {
            match &found {
                Some(prev) if *prev != v => return Err(Code::AmbiguousRequest),
                _ => found = Some(v),
            }
        }
    }
    Ok(found)
}

/// Identifies the app a request is about. `Ok(None)`: no source had an identifier.
pub fn identify<'a>(
    route: &'a RouteConfig,
    parts: &'a Parts,
    caps: Captures<'_>,
    body: Option<&'a [u8]>,
) -> Result<Option<Identified<'a>>, Code> {
    identify_with(route, parts, caps, body, &NO_CREDENTIALS)
}

/// `identify` with the values the credential step resolved from the request's tokens
/// (the `tokens` module), which token sources yield like any other source.
pub fn identify_with<'a>(
    route: &'a RouteConfig,
    parts: &'a Parts,
    caps: Captures<'_>,
    body: Option<&'a [u8]>,
    creds: &'a Credentials,
) -> Result<Option<Identified<'a>>, Code> {
    if route.reads_body() && body.is_some_and(|b| !b.is_empty()) {
        accepts(route, Media::of(&parts.headers)?)?;
    }
    let id = agreed(&route.extract, parts, caps, body, creds)?;
    if let Some(b) = body.filter(|b| !b.is_empty()) {
        bodyids::check(route, parts, caps, b, id.as_deref())?;
    }
    if let Some(q) = parts.uri.query().filter(|q| !q.is_empty()) {
        if queryids::applies(route) {
            let platform = match &route.platform {
                PlatformSpec::From(s) if s.reads_body() => {
                    value_of(s, parts, caps, body, creds).ok().flatten()
                }
                _ => None,
            };
            queryids::check(route, q.as_bytes(), id.as_deref(), platform.as_deref())?;
        }
    }
    let Some(id) = id else {
        return Ok(None);
    };
    let platform = match &route.platform {
        PlatformSpec::Fixed(p) => *p,
        PlatformSpec::From(src) => {
            match agreed(std::slice::from_ref(src), parts, caps, body, creds)? {
                Some(name) => name
                    .parse::<Platform>()
                    .map_err(|_| Code::PlatformInvalid)?,
                None => return Err(Code::PlatformInvalid),
            }
        }
        // Only upload routes take the platform from the package; they never come here.
        PlatformSpec::Package => return Err(Code::PlatformInvalid),
    };
    if id.is_empty() {
        return Ok(None);
    }
    validate(platform, &id).map_err(|_| Code::IdentifierInvalid)?;
    Ok(Some(Identified { platform, id }))
}

/// Whether a body of type `media` is one the route's body sources read: a form source reads
/// only `application/x-www-form-urlencoded`, a JSON source (or a `batch`) only JSON. Anything else, or no
/// type at all, is `unsupported_media_type`.
pub fn accepts(route: &RouteConfig, media: Media<'_>) -> Result<(), Code> {
    let platform = match &route.platform {
        PlatformSpec::From(s) => Some(s),
        _ => None,
    };
    let batch = route.batch.is_some() && media == Media::Json;
    let ok = batch
        || route.extract.iter().chain(platform).any(|s| {
            matches!(
                (s, media),
                (Source::Form(_), Media::Form) | (Source::Json(_), Media::Json)
            )
        });
    if ok {
        Ok(())
    } else {
        Err(Code::UnsupportedMediaType)
    }
}

#[cfg(test)]
mod reading_tests;
#[cfg(test)]
mod tests;
