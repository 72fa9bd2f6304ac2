//! Route validation: path patterns, methods, extractor specs, platform specs, lists, and the
//! per-route policy knobs (`knobs.rs`).
//!
//! Owns the compiled route form (`RouteConfig`) the proxy matches against.
//! Must not: match requests itself (that is `proxy::route`), or accept a route whose extractor
//! could never find a value (a path capture its pattern does not define).
//! Invariant: a `RouteConfig` with mode enforce or monitor has at least one extractor, a
//! response `filter` or a request `batch`; upload routes have neither list.

use super::knobs::{self, BodyIds, Mode, OnIntrospectionFailure, OnMissing, OnStale, OnUnknown};
use super::lists::{BatchConfig, FilterConfig};
use super::pattern::PathRegex;
use super::raw::{RawRoute, RawSource};
use super::token::{self, TokenSource};
use super::upload::UploadRoute;
use super::{lists, upload, Problems};
use crate::filing::Platform;
use http::Method;
use std::sync::Arc;

/// Where an identifier (or the platform name) comes from in a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A named capture of the route's path pattern, percent-decoded once.
    Path(String),
    /// A query parameter, percent-decoded once; present twice = ambiguous.
    Query(String),
    /// A request header, taken verbatim; present twice = ambiguous.
    Header(http::HeaderName),
    /// A JSON body value at this pointer (RFC 6901 tokens, unescaped); a repeated key along the
    /// path = ambiguous.
    Json(Vec<String>),
    /// A urlencoded form body field, decoded once; present twice = ambiguous.
    Form(String),
    /// A claim of a verified JWT, or a member of a token's introspection answer: resolved
    /// before the other sources are read (the `tokens` module).
    Token(Arc<TokenSource>),
}

/// Token sources are configured objects: two are the same source only if they are one.
impl PartialEq for TokenSource {
    fn eq(&self, other: &TokenSource) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for TokenSource {}

impl Source {
    pub fn reads_body(&self) -> bool {
        matches!(self, Source::Json(_) | Source::Form(_))
    }

    /// A short label for error messages: `query:pkg`, `json:/app/id`.
    pub fn label(&self) -> String {
        match self {
            Source::Path(n) => format!("path:{n}"),
            Source::Query(n) => format!("query:{n}"),
            Source::Header(h) => format!("header:{h}"),
            Source::Json(t) => format!("json:/{}", t.join("/")),
            Source::Form(f) => format!("form:{f}"),
            Source::Token(t) => match &t.kind {
                token::TokenKind::Jwt(j) => format!("jwt:{}", j.claim),
                token::TokenKind::Introspect { pointer, .. } => format!("introspect:{pointer}"),
            },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformSpec {
    Fixed(Platform),
    From(Source),
    /// Upload routes without `platform`/`platform_from`: the uploaded package's kind decides
    /// (apk → android, ipa → ios, hap → harmony).
    Package,
}

#[derive(Clone, Debug)]
pub enum PathMatcher {
    Prefix(String),
    Regex(PathRegex),
}

#[derive(Clone, Debug)]
pub struct RouteConfig {
    pub name: String,
    /// Lowercased host without port; `None` matches any host.
    pub host: Option<String>,
    /// Empty matches any method.
    pub methods: Vec<Method>,
    pub matcher: PathMatcher,
    pub upstream: usize,
    pub platform: PlatformSpec,
    pub extract: Vec<Source>,
    pub mode: Mode,
    pub on_missing: OnMissing,
    pub on_unknown: OnUnknown,
    pub on_stale: OnStale,
    pub body_ids: BodyIds,
    /// Set on upload routes: the body is a package, spooled and inspected before deciding.
    pub upload: Option<UploadRoute>,
    /// Forward the headers some stacks take as the request URL (`X-Original-URL`, …;
    /// `proxy::forward::URL_HEADERS`) instead of removing them.
    pub allow_url_headers: bool,
    /// True when an extractor reads a token (`Source::Token`): only then does the pipeline
    /// resolve credentials.
    pub tokens: bool,
    pub on_introspection_failure: OnIntrospectionFailure,
    /// Filter the list in the upstream's JSON response (`crate::lists`).
    pub filter: Option<Box<FilterConfig>>,
    /// Decide each item of the list in the request's JSON body (`crate::lists`).
    pub batch: Option<Box<BatchConfig>>,
}

impl RouteConfig {
    /// A route with the configuration file's defaults: any host and method, prefix `/`, the
    /// first upstream, mode enforce, on_missing reject, on_unknown block, on_stale enforce,
    /// body_ids check, not an upload route, URL headers removed. For tests and benchmarks; set
    /// other fields with struct update syntax.
    pub fn new(name: &str, platform: PlatformSpec, extract: Vec<Source>) -> RouteConfig {
        RouteConfig {
            name: name.to_string(),
            host: None,
            methods: Vec::new(),
            matcher: PathMatcher::Prefix("/".into()),
            upstream: 0,
            platform,
            mode: Mode::Enforce,
            on_missing: OnMissing::Reject,
            on_unknown: OnUnknown::Block,
            on_stale: OnStale::Enforce,
            body_ids: BodyIds::Check,
            upload: None,
            allow_url_headers: false,
            tokens: extract.iter().any(|s| matches!(s, Source::Token(_))),
            on_introspection_failure: OnIntrospectionFailure::Closed,
            extract,
            filter: None,
            batch: None,
        }
    }

    /// The identifier's sources, then the platform's (`platform_from`), each with whether it
    /// is the platform's.
    pub fn sources(&self) -> impl Iterator<Item = (&Source, bool)> {
        let platform = match &self.platform {
            PlatformSpec::From(s) => Some((s, true)),
            _ => None,
        };
        self.extract.iter().map(|s| (s, false)).chain(platform)
    }

    /// True when deciding needs the request body.
    pub fn reads_body(&self) -> bool {
        self.mode != Mode::Off
            && (self.extract.iter().any(Source::reads_body)
                || matches!(&self.platform, PlatformSpec::From(s) if s.reads_body())
                || self.batch.is_some())
    }
}

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

fn matcher(p: &mut Problems<'_>, key: &str, r: &RawRoute) -> Option<PathMatcher> {
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

fn captures(m: &PathMatcher) -> Vec<&str> {
    match m {
        PathMatcher::Regex(r) => r.names().collect(),
        PathMatcher::Prefix(_) => Vec::new(),
    }
}

/// What `source` needs besides the extractor: the route's path captures, the introspection
/// endpoints' names, and how many credential extractors came before this one.
struct Ctx<'a> {
    caps: &'a [&'a str],
    endpoints: &'a [&'a str],
    slot: usize,
}

fn source(p: &mut Problems<'_>, key: &str, s: &RawSource, cx: &Ctx<'_>) -> Option<Source> {
    let set = [&s.path, &s.query, &s.header, &s.json, &s.form]
        .iter()
        .filter(|o| o.is_some())
        .count()
        + usize::from(s.jwt.is_some())
        + usize::from(s.introspect.is_some());
    if set != 1 {
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
    let caps = cx.caps;
    if let Some(c) = &s.path {
        if !caps.contains(&c.as_str()) {
            p.add(
                &format!("{key}.path"),
                format!("the route's path pattern has no capture named {c:?} (captures: {caps:?})"),
            );
            return None;
        }
        return Some(Source::Path(c.clone()));
    }
    if let Some(q) = &s.query {
        return non_empty(p, &format!("{key}.query"), q).then(|| Source::Query(q.clone()));
    }
    if let Some(f) = &s.form {
        return non_empty(p, &format!("{key}.form"), f).then(|| Source::Form(f.clone()));
    }
    if let Some(h) = &s.header {
        return match http::HeaderName::from_bytes(h.as_bytes()) {
            Ok(n) => Some(Source::Header(n)),
            Err(_) => {
                p.add(
                    &format!("{key}.header"),
                    format!("{h:?} is not a valid header name"),
                );
                None
            }
        };
    }
    let ptr = s.json.as_deref().unwrap_or_default();
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

pub(super) fn route(
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
    let mut slot = 0;
    let extract: Vec<Source> = r
        .extract
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let cx = Ctx {
                caps: &caps,
                endpoints,
                slot,
            };
            slot += usize::from(s.jwt.is_some() || s.introspect.is_some());
            source(p, &format!("{key}.extract[{i}]"), s, &cx)
        })
        .collect();
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
    let lists = r.filter.is_some() || r.batch.is_some();
    if k.mode != Some(Mode::Off) && r.extract.is_empty() && r.upload.is_none() && !lists {
        p.add(
            &format!("{key}.extract"),
            "a route in enforce or monitor mode needs at least one extractor, a filter or a batch",
        );
    }
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
