//! A route's path matcher, from its `path` template, `prefix` or `regex`.
//!
//! Owns the template grammar (`/apps/{id}`: literal text and named captures of one segment
//! each) and the names of a matcher's captures.
//! Must not: match requests (that is `proxy::route`), or accept a template with an unclosed,
//! unmatched or badly named capture.
//! Invariant: a compiled template matches whole paths (`^…$`) and each capture stops at `/`.

use super::PathMatcher;
use crate::config::pattern::PathRegex;
use crate::config::raw::RawRoute;
use crate::config::Problems;

/// Compiles `/apps/{package}/update` into an anchored regex with named captures.
fn template(p: &mut Problems<'_>, key: &str, t: &str) -> Option<PathRegex> {
    if !t.starts_with('/') {
        p.add(key, format!("{t:?} must start with /"));
        return None;
    }
    let mut re = String::from("^");
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..open]));
        let Some(close) = rest[open..].find('}') else {
            p.add(key, format!("unclosed {{ in {t:?}"));
            return None;
        };
        let name = &rest[open + 1..open + close];
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            p.add(
                key,
                format!("capture {{{name}}} must be a name of letters, digits and _"),
            );
            return None;
        }
        re.push_str(&format!("(?P<{name}>[^/]+)"));
        rest = &rest[open + close + 1..];
    }
    if rest.contains('}') {
        p.add(key, format!("unmatched }} in {t:?}"));
        return None;
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    match PathRegex::new(&re) {
        Ok(r) => Some(r),
        Err(e) => {
            p.add(key, format!("{t:?}: {e}"));
            None
        }
    }
}

pub(super) fn matcher(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Option<PathMatcher> {
    match (&r.path, &r.prefix, &r.regex) {
        (Some(t), None, None) => template(p, &format!("{key}.path"), t).map(PathMatcher::Regex),
        (None, Some(pre), None) if pre.starts_with('/') => Some(PathMatcher::Prefix(pre.clone())),
        (None, Some(pre), None) => {
            p.add(
                &format!("{key}.prefix"),
                format!("{pre:?} must start with /"),
            );
            None
        }
        (None, None, Some(re)) => match PathRegex::new(re) {
            Ok(r) => Some(PathMatcher::Regex(r)),
            Err(e) => {
                p.add(&format!("{key}.regex"), format!("bad regex: {e}"));
                None
            }
        },
        _ => {
            p.add(key, "set exactly one of path, prefix or regex");
            None
        }
    }
}

pub(super) fn captures(m: &PathMatcher) -> Vec<&str> {
    match m {
        PathMatcher::Regex(r) => r.names().collect(),
        PathMatcher::Prefix(_) => Vec::new(),
    }
}
