//! Request extractors: find the app identifier (and, where configured, the platform) in the
//! path, query, headers, JSON body or form body of a request.
//!
//! Owns percent-decoding (exactly once, here), duplicate detection per source, and agreement
//! between sources. Grammar validation of the id against its platform also happens here so the
//! policy only ever sees well-formed identities.
//! Must not: read the body itself (the handler passes the bounded, buffered bytes), or guess
//! between two different values.
//! Invariant: `identify` returns `Ok(Some)` only for an id valid for its platform that every
//! configured source that found a value agrees on.

pub mod json;
pub mod multipart;
pub mod upload;

use crate::code::Code;
use crate::config::{PlatformSpec, RouteConfig, Source};
use crate::filing::{validate, Platform};
use crate::policy::Identified;
use http::request::Parts;
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
fn one<'a, I>(mut it: I) -> Result<Option<Cow<'a, str>>, Code>
where
    I: Iterator<Item = Result<Cow<'a, str>, Code>>,
{
    let first = it.next().transpose()?;
    if it.next().is_some() {
        return Err(Code::AmbiguousRequest);
    }
    Ok(first)
}

/// The values of `name` in a urlencoded string, decoded (borrowed where nothing was encoded).
fn form_values<'a>(
    raw: &'a [u8],
    name: &'a str,
) -> impl Iterator<Item = Result<Cow<'a, str>, Code>> {
    form_urlencoded::parse(raw)
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| Ok(v))
}

/// The single value `src` yields, `None` if absent. Two occurrences = ambiguous. Borrows from
/// the request wherever the value needs no decoding.
pub(crate) fn value_of<'a>(
    src: &'a Source,
    parts: &'a Parts,
    caps: Captures<'_>,
    body: Option<&'a [u8]>,
) -> Result<Option<Cow<'a, str>>, Code> {
    match src {
        Source::Path(name) => caps
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, span)| parts.uri.path().get(span.clone()))
            .map(decode)
            .transpose(),
        Source::Query(name) => one(form_values(
            parts.uri.query().unwrap_or("").as_bytes(),
            name,
        )),
        Source::Header(h) => one(parts.headers.get_all(h).iter().map(|v| {
            v.to_str()
                .map(Cow::Borrowed)
                .map_err(|_| Code::IdentifierInvalid)
        })),
        Source::Form(name) => one(form_values(body.unwrap_or_default(), name)),
        Source::Json(ptr) => {
            let b = body.unwrap_or_default();
            if b.iter().all(u8::is_ascii_whitespace) {
                return Ok(None);
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
) -> Result<Option<Cow<'a, str>>, Code> {
    let mut found: Option<Cow<'a, str>> = None;
    for s in sources {
        if let Some(v) = value_of(s, parts, caps, body)? {
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
    let Some(id) = agreed(&route.extract, parts, caps, body)? else {
        return Ok(None);
    };
    let platform = match &route.platform {
        PlatformSpec::Fixed(p) => *p,
        PlatformSpec::From(src) => match agreed(std::slice::from_ref(src), parts, caps, body)? {
            Some(name) => name
                .parse::<Platform>()
                .map_err(|_| Code::PlatformInvalid)?,
            None => return Err(Code::PlatformInvalid),
        },
        // Only upload routes take the platform from the package; they never come here.
        PlatformSpec::Package => return Err(Code::PlatformInvalid),
    };
    if id.is_empty() {
        return Ok(None);
    }
    validate(platform, &id).map_err(|_| Code::IdentifierInvalid)?;
    Ok(Some(Identified { platform, id }))
}

#[cfg(test)]
mod tests;
