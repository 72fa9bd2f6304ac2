//! The query side of the `body_ids` check: a route that takes its identifier (or platform)
//! from a form or JSON body must not receive a query naming it with another value, because
//! stacks that merge parameters read the query's: Flask/Werkzeug `request.values` (query
//! first), Go's `r.FormValue` (the query when a JSON body fills no form), PHP's `$_GET` and
//! `$_REQUEST` for a JSON body, Express `req.query`, and every handler that reads the query
//! alone.
//!
//! Owns which query names stand for a body source: a form field's name, and for a JSON pointer
//! its first token (`app` for `/app/id`, which `app[id]` spells as PHP, Rails and `qs` nest
//! it) and its tokens joined by dots (`app.id`), each in every spelling of `names.rs`, under
//! `&` and `&`+`;` splitting.
//! Must not: decode values (a value is compared as it is sent, so a percent-encoded copy of the
//! identifier is another value), or look at a name the route itself reads from the query (the
//! sources' agreement has settled it).
//! Invariant: `check` returns `Ok` only when every query pair with a checked name has exactly
//! the value the gateway decided on (`BodyIds::Refuse`: when there is none).

use super::names;
use crate::code::Code;
use crate::config::{BodyIds, RouteConfig, Source};

/// True when `route` has a body source whose names a query could carry.
pub fn applies(route: &RouteConfig) -> bool {
    route.body_ids != BodyIds::Ignore
        && route.upload.is_none()
        && body_sources(route).next().is_some()
}

/// The route's body sources, each with whether it is the platform's.
fn body_sources(route: &RouteConfig) -> impl Iterator<Item = (&Source, bool)> {
    route.sources().filter(|(s, _)| s.reads_body())
}

/// True when the query name `raw` stands for the body source `s`.
fn names_source(raw: &[u8], s: &Source) -> bool {
    match s {
        Source::Form(n) => names::spells(raw, n.as_bytes()),
        Source::Json(toks) => {
            let Some(first) = toks.first() else {
                return false;
            };
            if names::spells(raw, first.as_bytes()) {
                return true;
            }
            toks.len() > 1 && spells_dotted(raw, toks)
        }
        _ => false,
    }
}

/// True when `raw` spells the tokens joined by `.` (`app.id`), which no configured name holds
/// as one string, so it is compared without building it.
fn spells_dotted(raw: &[u8], toks: &[String]) -> bool {
    let mut joined = [0u8; 256];
    let mut n = 0;
    for (i, t) in toks.iter().enumerate() {
        let sep = usize::from(i > 0);
        let Some(room) = joined.get_mut(n..n + sep + t.len()) else {
            return false;
        };
        if sep == 1 {
            room[0] = b'.';
        }
        room[sep..].copy_from_slice(t.as_bytes());
        n += sep + t.len();
    }
    names::spells(raw, &joined[..n])
}

/// True when the route reads the query name `raw` itself.
fn read_by_route(route: &RouteConfig, raw: &[u8]) -> bool {
    route
        .sources()
        .any(|(s, _)| matches!(s, Source::Query(n) if names::spells(raw, n.as_bytes())))
}

/// Checks the query of `route` against the identifier `id` and the platform name `platform`
/// its sources agreed on.
pub fn check(
    route: &RouteConfig,
    query: &[u8],
    id: Option<&str>,
    platform: Option<&str>,
) -> Result<(), Code> {
    let mut clash = false;
    for seg in query.split(|&b| b == b'&') {
        for pair in
            std::iter::once(seg).chain(seg.split(|&b| b == b';').filter(|_| seg.contains(&b';')))
        {
            let (name, value) = match memchr::memchr(b'=', pair) {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            if pair.is_empty() || read_by_route(route, name) {
                continue;
            }
            for (s, is_platform) in body_sources(route) {
                if !names_source(name, s) {
                    continue;
                }
                let expected = if is_platform { platform } else { id };
                let allowed = route.body_ids == BodyIds::Check
                    && expected.is_some_and(|e| e.as_bytes() == value);
                clash |= !allowed;
            }
        }
    }
    if clash {
        Err(Code::AmbiguousRequest)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatformSpec;
    use crate::filing::Platform;

    fn route(extract: Vec<Source>, mode: BodyIds) -> RouteConfig {
        let mut r = RouteConfig::new("r", PlatformSpec::Fixed(Platform::Android), extract);
        r.body_ids = mode;
        r
    }

    fn json(p: &str) -> Source {
        Source::Json(p[1..].split('/').map(String::from).collect())
    }

    #[test]
    fn a_query_naming_a_form_field_with_another_value_is_ambiguous() {
        let r = route(vec![Source::Form("package".into())], BodyIds::Check);
        assert!(applies(&r));
        let id = Some("com.filed.app");
        for q in [
            "package=com.unfiled.app",
            "x=1&PACKAGE=com.unfiled.app",
            "package[]=com.unfiled.app",
            "a=1;package=com.unfiled.app",
            "package",
            "package=com.filed%2eapp",
        ] {
            assert_eq!(
                check(&r, q.as_bytes(), id, None),
                Err(Code::AmbiguousRequest),
                "{q}"
            );
        }
        for q in ["package=com.filed.app", "pkg=other", "", "a=b&c"] {
            assert_eq!(check(&r, q.as_bytes(), id, None), Ok(()), "{q}");
        }
        assert_eq!(
            check(&r, b"package=com.unfiled.app", None, None),
            Err(Code::AmbiguousRequest),
            "the body named nothing: the query's id is the only one an upstream sees"
        );
        let refuse = route(vec![Source::Form("package".into())], BodyIds::Refuse);
        assert_eq!(
            check(&refuse, b"package=com.filed.app", id, None),
            Err(Code::AmbiguousRequest)
        );
        let ignore = route(vec![Source::Form("package".into())], BodyIds::Ignore);
        assert!(!applies(&ignore));
    }

    #[test]
    fn a_json_pointer_is_named_by_its_first_token_and_its_dotted_path() {
        let r = route(vec![json("/app/id")], BodyIds::Check);
        let id = Some("com.filed.app");
        for q in [
            "app[id]=com.unfiled.app",
            "app%5Bid%5D=com.unfiled.app",
            "app=com.unfiled.app",
            "app.id=com.unfiled.app",
            "APP.ID=com.unfiled.app",
        ] {
            assert_eq!(
                check(&r, q.as_bytes(), id, None),
                Err(Code::AmbiguousRequest),
                "{q}"
            );
        }
        assert_eq!(check(&r, b"app[id]=com.filed.app", id, None), Ok(()));
        assert_eq!(check(&r, b"application=x&id=y", id, None), Ok(()));
    }

    #[test]
    fn names_the_route_reads_from_the_query_are_left_to_the_sources_agreement() {
        let r = route(
            vec![Source::Query("package".into()), json("/package")],
            BodyIds::Refuse,
        );
        assert_eq!(
            check(&r, b"package=com.filed.app", Some("com.filed.app"), None),
            Ok(())
        );
    }

    #[test]
    fn the_platform_source_is_checked_against_the_platform() {
        let mut r = route(vec![json("/id")], BodyIds::Check);
        r.platform = PlatformSpec::From(json("/platform"));
        let (id, p) = (Some("com.filed.app"), Some("android"));
        assert_eq!(check(&r, b"platform=android", id, p), Ok(()));
        assert_eq!(
            check(&r, b"platform=ios", id, p),
            Err(Code::AmbiguousRequest)
        );
    }
}
