//! One extractor (`extract = [...]`, `platform_from`): where a value comes from in a request.
//!
//! Owns the extractor kinds (path capture, query, header, JSON pointer, form field, JWT claim,
//! introspection member) and their checks.
//! Must not: read requests (that is `extract`), or accept a path capture the route's pattern
//! does not define.
//! Invariant: a `Source` it returns names exactly one place, and that place is well formed.

use super::Source;
use crate::config::raw::RawSource;
use crate::config::{token, Problems};
use std::sync::Arc;

/// What `source` needs besides the extractor: the route's path captures, the introspection
/// endpoints' names, and how many credential extractors came before this one.
pub(super) struct Ctx<'a> {
    pub(super) caps: &'a [&'a str],
    pub(super) endpoints: &'a [&'a str],
    pub(super) slot: usize,
}

/// One extractor: exactly one kind set, and that kind's value well formed.
pub(super) fn source(
    p: &mut Problems<'_>,
    key: &str,
    s: &RawSource,
    cx: &Ctx<'_>,
) -> Option<Source> {
    if kinds_set(s) != 1 {
        p.add(
            key,
            "set exactly one of path, query, header, json, form, jwt or introspect",
        );
        return None;
    }
    if let Some(j) = &s.jwt {
        let t = token::jwt(p, &format!("{key}.jwt"), j, cx.slot)?;
        return Some(Source::Token(Arc::new(t)));
    }
    if let Some(i) = &s.introspect {
        let t = token::introspect(p, &format!("{key}.introspect"), i, cx.endpoints, cx.slot)?;
        return Some(Source::Token(Arc::new(t)));
    }
    if let Some(c) = &s.path {
        return path_capture(p, key, c, cx.caps);
    }
    if let Some(q) = &s.query {
        return non_empty(p, &format!("{key}.query"), q).then(|| Source::Query(q.clone()));
    }
    if let Some(f) = &s.form {
        return non_empty(p, &format!("{key}.form"), f).then(|| Source::Form(f.clone()));
    }
    if let Some(h) = &s.header {
        return header(p, key, h);
    }
    json_pointer(p, key, s.json.as_deref().unwrap_or_default())
}

/// How many extractor kinds the table sets.
fn kinds_set(s: &RawSource) -> usize {
    [&s.path, &s.query, &s.header, &s.json, &s.form]
        .iter()
        .filter(|o| o.is_some())
        .count()
        + usize::from(s.jwt.is_some())
        + usize::from(s.introspect.is_some())
}

/// `path = "NAME"`: a capture the route's pattern defines.
fn path_capture(p: &mut Problems<'_>, key: &str, c: &str, caps: &[&str]) -> Option<Source> {
    if !caps.contains(&c) {
        p.add(
            &format!("{key}.path"),
            format!("the route's path pattern has no capture named {c:?} (captures: {caps:?})"),
        );
        return None;
    }
    Some(Source::Path(c.to_string()))
}

/// `header = "NAME"`: a valid header name.
fn header(p: &mut Problems<'_>, key: &str, h: &str) -> Option<Source> {
    match http::HeaderName::from_bytes(h.as_bytes()) {
        Ok(n) => Some(Source::Header(n)),
        Err(_) => {
            p.add(
                &format!("{key}.header"),
                format!("{h:?} is not a valid header name"),
            );
            None
        }
    }
}

/// `json = "/a/b"`: an RFC 6901 pointer, kept as its unescaped reference tokens.
fn json_pointer(p: &mut Problems<'_>, key: &str, ptr: &str) -> Option<Source> {
    if !ptr.starts_with('/') {
        p.add(
            &format!("{key}.json"),
            format!("{ptr:?} is not a JSON pointer (RFC 6901, e.g. \"/app/package\")"),
        );
        return None;
    }
    let tokens = ptr[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    Some(Source::Json(tokens))
}

fn non_empty(p: &mut Problems<'_>, key: &str, v: &str) -> bool {
    if v.is_empty() {
        p.add(key, "must not be empty");
    }
    !v.is_empty()
}
