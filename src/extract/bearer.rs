//! Where a request carries its access token, read once: the `Authorization: Bearer` header
//! (RFC 6750 §2.1), another header, or a query parameter, and the values the credential step
//! resolved from tokens (`Credentials`).
//!
//! Owns the token's one reading: a header is read with the header rules of `mod.rs` (one
//! occurrence over every alias, not listed in `Connection`), a query parameter with every
//! spelling of `names.rs`; `Bearer` is matched ASCII-case-blind and must be followed by exactly
//! one b64token (RFC 6750 `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`).
//! Because an upstream may read the token from the other RFC 6750 place, a token extractor
//! also looks there: a request with a Bearer header and an `access_token` query parameter (any
//! spelling) carrying different tokens is ambiguous.
//! Must not: verify or look up a token (the `tokens` module does), or decode a token's bytes.
//! Invariant: `token` returns a token only when the request carries exactly one, in one place.

use super::{header_value, param};
use crate::code::Code;
use crate::config::TokenPlace;
use http::request::Parts;
use std::borrow::Cow;

/// The longest token read: beyond it a token is `token_invalid` without being parsed.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// The RFC 6750 query parameter every token extractor also checks.
const ACCESS_TOKEN: &str = "access_token";

/// The resolved value of each credential extractor of a route, by its `slot`: `None` when the
/// request carried no token for it (or its claim was absent).
#[derive(Debug, Default)]
pub struct Credentials(pub Vec<Option<String>>);

/// No resolved values: what routes without credential extractors read with.
pub static NO_CREDENTIALS: Credentials = Credentials(Vec::new());

impl Credentials {
    /// The value of credential slot `slot`; a slot never resolved is `token_invalid`, so an
    /// unverified token can never stand in for a missing one.
    pub fn get(&self, slot: usize) -> Result<Option<&str>, Code> {
        match self.0.get(slot) {
            Some(v) => Ok(v.as_deref()),
            None => Err(Code::TokenInvalid),
        }
    }
}

/// True when `t` is a b64token (RFC 6750 §2.1).
fn b64token(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The token of an `Authorization` value: `Bearer` (any case), one or more spaces, one token.
/// Another scheme or a malformed value is `token_invalid`.
fn bearer(v: &str) -> Result<&str, Code> {
    let (scheme, rest) = v.split_once(' ').ok_or(Code::TokenInvalid)?;
    let token = rest.trim_start_matches(' ');
    if !scheme.eq_ignore_ascii_case("bearer") || !b64token(token) {
        return Err(Code::TokenInvalid);
    }
    Ok(token)
}

/// The Bearer token of the request's one `Authorization` header; `None` without one.
fn from_authorization(parts: &Parts) -> Result<Option<&str>, Code> {
    match header_value(parts, http::header::AUTHORIZATION.as_str())? {
        Some(v) => bearer(v).map(Some),
        None => Ok(None),
    }
}

/// The query parameter `name` (every spelling); `None` without one.
fn from_query<'a>(parts: &'a Parts, name: &str) -> Result<Option<Cow<'a, str>>, Code> {
    match param(parts.uri.query().unwrap_or("").as_bytes(), name) {
        Ok(v) => Ok(v),
        // A `%` or `+` in a token: readers decode it differently.
        Err(Code::IdentifierInvalid) => Err(Code::TokenInvalid),
        Err(c) => Err(c),
    }
}

/// The one token the request carries for `place`; `None` without one. A token in the other
/// RFC 6750 place that differs from it is `ambiguous_request`; an unreadable one is
/// `token_invalid`.
pub fn token<'a>(place: &TokenPlace, parts: &'a Parts) -> Result<Option<Cow<'a, str>>, Code> {
    let bearer = |p: &'a Parts| from_authorization(p).map(|o| o.map(Cow::Borrowed));
    let (own, rival) = match place {
        TokenPlace::Bearer => (bearer(parts)?, from_query(parts, ACCESS_TOKEN)?),
        TokenPlace::Query(q) => (from_query(parts, q)?, bearer(parts).ok().flatten()),
        TokenPlace::Header(h) => {
            let own = header_value(parts, h.as_str())?.map(Cow::Borrowed);
            let rival = bearer(parts).ok().flatten();
            (own, rival.or(from_query(parts, ACCESS_TOKEN)?))
        }
    };
    match (own, rival) {
        (Some(a), Some(b)) if a != b => Err(Code::AmbiguousRequest),
        (None, Some(_)) => Err(Code::AmbiguousRequest),
        (Some(t), _) if t.len() > MAX_TOKEN_BYTES || t.is_empty() => Err(Code::TokenInvalid),
        (own, _) => Ok(own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_scheme_and_one_token() {
        let t = |h: &str| {
            token(&TokenPlace::Bearer, &parts("/", &[("authorization", h)]))
                .map(|o| o.map(Cow::into_owned))
        };
        assert_eq!(t("Bearer abc.def-_~+/="), Ok(Some("abc.def-_~+/=".into())));
        assert_eq!(t("bEaReR   abc"), Ok(Some("abc".into())));
        assert_eq!(t("Basic dXNlcjpwYXNz"), Err(Code::TokenInvalid));
        assert_eq!(t("Bearer a b"), Err(Code::TokenInvalid));
        assert_eq!(t("Bearer"), Err(Code::TokenInvalid));
        assert_eq!(t("Bearer =="), Err(Code::TokenInvalid));
        assert_eq!(t("Bearer a,b"), Err(Code::TokenInvalid));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1));
        assert_eq!(t(&long), Err(Code::TokenInvalid));
        let none = parts("/", &[]);
        assert_eq!(token(&TokenPlace::Bearer, &none), Ok(None));
        let two = parts(
            "/",
            &[("authorization", "Bearer a"), ("authorization", "Bearer a")],
        );
        assert_eq!(
            token(&TokenPlace::Bearer, &two),
            Err(Code::AmbiguousRequest)
        );
        let hop = parts(
            "/",
            &[
                ("authorization", "Bearer a"),
                ("connection", "authorization"),
            ],
        );
        assert_eq!(
            token(&TokenPlace::Bearer, &hop),
            Err(Code::AmbiguousRequest)
        );
    }

    #[test]
    fn query_token_every_spelling_and_the_other_place() {
        let q = TokenPlace::Query("access_token".into());
        let t = |uri: &str, h: &[(&str, &str)]| {
            token(&q, &parts(uri, h)).map(|o| o.map(Cow::into_owned))
        };
        assert_eq!(t("/?access_token=abc", &[]), Ok(Some("abc".into())));
        assert_eq!(
            t("/?access_token=abc&ACCESS_TOKEN=abd", &[]),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(
            t("/?access_token=abc&access.token=abc", &[]),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(t("/?access_token=a%2Bb", &[]), Err(Code::TokenInvalid));
        assert_eq!(
            t("/?access_token=abc", &[("authorization", "Bearer abd")]),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(
            t("/?access_token=abc", &[("authorization", "Bearer abc")]),
            Ok(Some("abc".into()))
        );
        assert_eq!(
            t("/", &[("authorization", "Bearer abc")]),
            Err(Code::AmbiguousRequest)
        );
        // A Bearer route refuses a query token that differs.
        let b = parts("/?access_token=x", &[("authorization", "Bearer y")]);
        assert_eq!(token(&TokenPlace::Bearer, &b), Err(Code::AmbiguousRequest));
    }
}
