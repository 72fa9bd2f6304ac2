//! Routes: the compiled form (`RouteConfig`) the proxy matches against, and its validation
//! (`check.rs`: one route's keys; `matcher.rs`: path patterns; `source.rs`: extractors; the
//! per-route policy knobs are `knobs.rs`, lists `lists.rs`).
//!
//! Owns the route types: sources, platform specs, matchers.
//! Must not: match requests itself (that is `proxy::route`), or accept a route whose extractor
//! could never find a value (a path capture its pattern does not define).
//! Invariant: a `RouteConfig` with mode enforce or monitor has at least one extractor, a
//! response `filter` or a request `batch`; upload routes have neither list.

mod check;
mod matcher;
mod source;

pub(super) use check::route;

use super::knobs::{BodyIds, Mode, OnIntrospectionFailure, OnMissing, OnStale, OnUnknown};
use super::lists::{BatchConfig, FilterConfig};
use super::pattern::PathRegex;
use super::token::{self, TokenSource};
use super::upload::UploadRoute;
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
