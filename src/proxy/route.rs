//! Route matching: (host, method, path) → the first configured route that matches, with its
//! path captures.
//!
//! Owns host normalisation (Host header for HTTP/1, :authority for HTTP/2, port stripped,
//! ASCII-lowercased) and match order (configuration order, first match wins).
//! Must not: decode captures (extractors decode exactly once).
//! Invariant: a route with a host only matches requests for that host.

use crate::config::{PathMatcher, RouteConfig, Spans};
use http::request::Parts;

/// The host a request is addressed to, without port, as sent (compare it ASCII-case-blind).
pub fn request_host(parts: &Parts) -> Option<&str> {
    if let Some(h) = parts.uri.host() {
        return Some(h);
    }
    let h = parts.headers.get(http::header::HOST)?.to_str().ok()?;
    Some(
        h.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(h, |(host, _)| host),
    )
}

/// Finds the route for a request, with the spans of its path captures in `parts.uri.path()`
/// (raw, still percent-encoded). Allocates nothing for up to four captures.
pub fn find<'r>(routes: &'r [RouteConfig], parts: &Parts) -> Option<(&'r RouteConfig, Spans<'r>)> {
    let path = parts.uri.path();
    let host = request_host(parts);
    for r in routes {
        if let Some(h) = &r.host {
            if !host.is_some_and(|got| got.eq_ignore_ascii_case(h)) {
                continue;
            }
        }
        if !r.methods.is_empty() && !r.methods.contains(&parts.method) {
            continue;
        }
        match &r.matcher {
            PathMatcher::Prefix(p) if path.starts_with(p.as_str()) => {
                return Some((r, Spans::new()))
            }
            PathMatcher::Prefix(_) => {}
            PathMatcher::Regex(re) => {
                if let Some(caps) = re.captures(path) {
                    return Some((r, caps));
                }
            }
        }
    }
    None
}
