//! One `[[route]]` table validated into a `RouteConfig`.
//!
//! Owns the rules that span a route's keys: its matcher's captures feed its extractors, upload
//! routes limit their sources and platform, lists and knobs apply to the right kind of route.
//! Must not: look at other routes or upstreams (names and upstream references are
//! `validate`'s), or return a route with a problem.
//! Invariant: a `RouteConfig` with mode enforce or monitor has at least one extractor, a
//! response `filter` or a request `batch`; upload routes have neither list.

use super::matcher::{captures, matcher};
use super::source::{source, Ctx};
use super::{PlatformSpec, RouteConfig, Source};
use crate::config::knobs::{self, Mode, OnIntrospectionFailure};
use crate::config::lists::{BatchConfig, FilterConfig};
use crate::config::raw::RawRoute;
use crate::config::{lists, token, upload, Problems};
use crate::filing::Platform;
use http::Method;

/// The route's methods, upper-cased; each one that is not an HTTP method is named.
fn methods(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Vec<Method> {
    r.methods
        .iter()
        .enumerate()
        .filter_map(
            |(i, s)| match Method::from_bytes(s.to_ascii_uppercase().as_bytes()) {
                Ok(m) => Some(m),
                Err(_) => {
                    p.add(
                        &format!("{key}.methods[{i}]"),
                        format!("{s:?} is not an HTTP method"),
                    );
                    None
                }
            },
        )
        .collect()
}

/// Where the route's platform comes from: fixed, a request source (never a token), or the
/// uploaded package's kind.
fn platform(p: &mut Problems<'_>, key: &str, r: &RawRoute, cx: &Ctx<'_>) -> Option<PlatformSpec> {
    match (&r.platform, &r.platform_from) {
        (Some(name), None) => match name.parse::<Platform>() {
            Ok(pl) => Some(PlatformSpec::Fixed(pl)),
            Err(e) => {
                p.add(&format!("{key}.platform"), e.to_string());
                None
            }
        },
        (None, Some(s)) if s.jwt.is_some() || s.introspect.is_some() => {
            p.add(
                &format!("{key}.platform_from"),
                "the platform cannot come from a token: use platform, or a path, query, header, json or form source",
            );
            None
        }
        (None, Some(s)) => {
            source(p, &format!("{key}.platform_from"), s, cx).map(PlatformSpec::From)
        }
        (None, None) if r.upload.is_some() => Some(PlatformSpec::Package),
        _ if r.upload.is_some() => {
            p.add(key, "set at most one of platform or platform_from");
            None
        }
        _ => {
            p.add(key, "set exactly one of platform or platform_from");
            None
        }
    }
}

/// One route: its matcher, methods, platform, extractors, upload settings, knobs, lists and
/// host, each checked in that order; `None` when any of them has a problem.
pub(in crate::config) fn route(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawRoute,
    upstream: usize,
    endpoints: &[&str],
) -> Option<RouteConfig> {
    let m = matcher(p, key, r);
    let caps: Vec<String> = m
        .as_ref()
        .map(|m| captures(m).into_iter().map(String::from).collect())
        .unwrap_or_default();
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    let methods = methods(p, key, r);
    let platform = platform(
        p,
        key,
        r,
        &Ctx {
            caps: &caps,
            endpoints,
            slot: 0,
        },
    );
    let extract = extractors(p, key, r, &caps, endpoints);
    let on_introspection_failure = introspection_failure(p, key, r, &extract);
    let upload = r
        .upload
        .as_ref()
        .and_then(|u| upload::route(p, &format!("{key}.upload"), u));
    if let Some(u) = &r.upload {
        upload_sources(p, key, &u.field, platform.as_ref(), &extract);
    }
    let k = knobs::parse(p, key, r);
    let (filter, batch) = route_lists(p, key, r, platform.as_ref());
    decides_something(p, key, r, k.mode);
    let host = host(p, key, r);
    Some(RouteConfig {
        name: r.name.clone(),
        host,
        methods,
        matcher: m?,
        upstream,
        platform: platform?,
        mode: k.mode?,
        on_missing: k.on_missing?,
        on_unknown: k.on_unknown?,
        on_stale: k.on_stale?,
        body_ids: k.body_ids?,
        upload,
        allow_url_headers: r.allow_url_headers,
        tokens: extract.iter().any(|s| matches!(s, Source::Token(_))),
        on_introspection_failure: on_introspection_failure?,
        extract,
        filter,
        batch,
    })
}

/// `extract = [...]`: each extractor, credential ones numbered in order (their token slot).
fn extractors(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawRoute,
    caps: &[&str],
    endpoints: &[&str],
) -> Vec<Source> {
    let mut slot = 0;
    r.extract
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let cx = Ctx {
                caps,
                endpoints,
                slot,
            };
            slot += usize::from(s.jwt.is_some() || s.introspect.is_some());
            source(p, &format!("{key}.extract[{i}]"), s, &cx)
        })
        .collect()
}

/// A route in enforce or monitor mode has something to decide on: an extractor, an upload, a
/// filter or a batch.
fn decides_something(p: &mut Problems<'_>, key: &str, r: &RawRoute, mode: Option<Mode>) {
    let lists = r.filter.is_some() || r.batch.is_some();
    if mode != Some(Mode::Off) && r.extract.is_empty() && r.upload.is_none() && !lists {
        p.add(
            &format!("{key}.extract"),
            "a route in enforce or monitor mode needs at least one extractor, a filter or a batch",
        );
    }
}

/// `host`, lowercased: a bare host name.
fn host(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Option<String> {
    let host = r.host.as_ref().map(|h| h.to_ascii_lowercase());
    if host
        .as_deref()
        .is_some_and(|h| h.is_empty() || h.contains(['/', ' ']))
    {
        p.add(
            &format!("{key}.host"),
            "must be a host name without scheme, path or spaces",
        );
    }
    host
}

/// `on_introspection_failure`: only on a route with an `introspect` extractor.
fn introspection_failure(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawRoute,
    extract: &[Source],
) -> Option<OnIntrospectionFailure> {
    let introspects = extract.iter().any(
        |s| matches!(s, Source::Token(t) if matches!(t.kind, token::TokenKind::Introspect { .. })),
    );
    let k = format!("{key}.on_introspection_failure");
    match &r.on_introspection_failure {
        None => Some(OnIntrospectionFailure::Closed),
        Some(_) if !introspects && r.extract.iter().all(|s| s.introspect.is_none()) => {
            p.add(&k, "the route has no introspect extractor");
            None
        }
        Some(v) => knobs::choice(
            p,
            &k,
            v,
            &[
                ("closed", OnIntrospectionFailure::Closed),
                ("open", OnIntrospectionFailure::Open),
            ],
        ),
    }
}

/// A route's `filter` and `batch` (`config/lists.rs`); neither applies to upload routes.
#[allow(clippy::type_complexity)]
fn route_lists(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawRoute,
    platform: Option<&PlatformSpec>,
) -> (Option<Box<FilterConfig>>, Option<Box<BatchConfig>>) {
    if r.upload.is_some() {
        for (k, set) in [("filter", r.filter.is_some()), ("batch", r.batch.is_some())] {
            if set {
                p.add(&format!("{key}.{k}"), "does not apply to upload routes");
            }
        }
        return (None, None);
    }
    let platform = match platform {
        Some(PlatformSpec::Fixed(pl)) => Some(*pl),
        _ => None,
    };
    let filter = r
        .filter
        .as_ref()
        .and_then(|f| lists::filter(p, &format!("{key}.filter"), f, platform))
        .map(Box::new);
    let batch = r
        .batch
        .as_ref()
        .and_then(|b| lists::batch(p, &format!("{key}.batch"), b, platform))
        .map(Box::new);
    (filter, batch)
}

/// Upload routes: the body is the package, so JSON sources cannot apply; `form` sources name
/// multipart text fields (never the package field); a pinned platform must have a package kind.
fn upload_sources(
    p: &mut Problems<'_>,
    key: &str,
    field: &str,
    platform: Option<&PlatformSpec>,
    extract: &[Source],
) {
    let mut check = |k: String, s: &Source| {
        match s {
        Source::Json(_) => p.add(
            &format!("{k}.json"),
            "an upload route's body is the package: use path, query, header or form (a multipart field)",
        ),
        Source::Form(f) if f == field => p.add(
            &format!("{k}.form"),
            format!("{f:?} is the package field (upload.field); name a text field"),
        ),
        Source::Token(_) => p.add(
            &k,
            "upload routes do not read tokens: use path, query, header or form",
        ),
        _ => {}
    }
    };
    for (i, s) in extract.iter().enumerate() {
        check(format!("{key}.extract[{i}]"), s);
    }
    if let Some(PlatformSpec::From(s)) = platform {
        check(format!("{key}.platform_from"), s);
    }
    match platform {
        Some(PlatformSpec::Fixed(pl))
            if !matches!(pl, Platform::Android | Platform::Ios | Platform::Harmony) =>
        {
            p.add(
                &format!("{key}.platform"),
                "uploaded packages are APK, IPA or HAP: platform must be android, ios or harmony",
            )
        }
        _ => {}
    }
}
