//! Route matching: (host, method, path) → the first configured route that matches, with its
//! path captures.
//!
//! Owns host normalisation (Host header for HTTP/1, :authority for HTTP/2, port stripped,
//! ASCII-lowercased) and match order (configuration order, first match wins).
//! Must not: decode captures (extractors decode exactly once).
//! Invariant: a route with a host only matches requests for that host.

use crate::config::{PathMatcher, RouteConfig};
use http::request::Parts;

/// The host a request is addressed to, lowercased, without port.
pub fn request_host(parts: &Parts) -> Option<String> {
    let raw = parts.uri.host().map(str::to_string).or_else(|| {
        let h = parts.headers.get(http::header::HOST)?.to_str().ok()?;
        let h = h
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(h, |(host, _)| host);
        Some(h.to_string())
    })?;
    Some(raw.to_ascii_lowercase())
}

/// Finds the route for a request; captures are raw (percent-encoded) strings.
pub fn find<'r>(
    routes: &'r [RouteConfig],
    parts: &Parts,
) -> Option<(&'r RouteConfig, Vec<(String, String)>)> {
    let path = parts.uri.path();
    let host = routes
        .iter()
        .any(|r| r.host.is_some())
        .then(|| request_host(parts))
        .flatten();
    for r in routes {
        if let Some(h) = &r.host {
            if host.as_deref() != Some(h.as_str()) {
                continue;
            }
        }
        if !r.methods.is_empty() && !r.methods.contains(&parts.method) {
            continue;
        }
        match &r.matcher {
            PathMatcher::Prefix(p) if path.starts_with(p.as_str()) => return Some((r, Vec::new())),
            PathMatcher::Prefix(_) => {}
            PathMatcher::Regex(re) => {
                if let Some(c) = re.captures(path) {
                    let caps = re
                        .capture_names()
                        .flatten()
                        .filter_map(|n| c.name(n).map(|m| (n.to_string(), m.as_str().to_string())))
                        .collect();
                    return Some((r, caps));
                }
            }
        }
    }
    None
}
