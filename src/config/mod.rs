//! Configuration: TOML file → fully validated `Config`.
//!
//! Owns every check a config can fail (unknown keys, addresses, durations, certificate files,
//! route references, regexes, extractor specs) and the error messages that name file, line and
//! key. Relative paths are resolved against the config file's directory.
//! Must not: bind ports, start tasks or read the snapshot (that is the server's job); every
//! error is found here, before anything starts.
//! Invariant: a `Config` value is internally consistent (every route's upstream exists, every
//! path capture an extractor names exists in that route's pattern, TLS material loads).

mod audit;
mod client;
mod feed;
mod jwks;
mod knobs;
mod lists;
mod locate;
mod pattern;
mod raw;
mod route;
mod shape;
mod tls;
mod token;
mod upload;
mod upstream;
#[cfg(test)]
pub(crate) use upstream::parse_with_upstream;

/// `index.bloom` when the config does not say (raw.rs gives the measurements).
pub const DEFAULT_BLOOM: bool = true;

pub use audit::{AuditConfig, OnAuditFailure};
pub use jwks::{JwtKeys, VerifyKey, MAX_KEYS as MAX_JWKS_KEYS};
pub use knobs::{BodyIds, Mode, OnIntrospectionFailure, OnMissing, OnStale, OnUnknown};
pub use lists::{
    BatchConfig, FilterConfig, ItemPlatform, ListSpec, OnOversize, OnUnfiled, DEFAULT_FILTER_BYTES,
};
pub use pattern::{PathRegex, Spans};
pub use route::{PathMatcher, PlatformSpec, RouteConfig, Source};
pub use token::{IntrospectionConfig, JwtSpec, TokenKind, TokenPlace, TokenSource};
pub use upload::{parse_size, UploadGlobal, UploadRoute, DEFAULT_RAW_TYPES};

use locate::Locator;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// One problem in a configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(
                f,
                "{}:{}: {}: {}",
                self.file.display(),
                l,
                self.key,
                self.message
            ),
            None => write!(f, "{}: {}: {}", self.file.display(), self.key, self.message),
        }
    }
}

/// Every problem found in one file, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Collects errors with their location while validating.
pub(crate) struct Problems<'a> {
    file: &'a Path,
    loc: &'a Locator,
    pub(crate) dir: &'a Path,
    found: Vec<ConfigError>,
}

impl Problems<'_> {
    /// Records a problem at `key`. A multi-line message (the regex crate draws a caret under
    /// the pattern) is folded onto one line: every problem is one `FILE:LINE: KEY: PROBLEM`.
    pub(crate) fn add(&mut self, key: &str, message: impl Into<String>) {
        let mut message: String = message.into();
        if message.contains('\n') {
            message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        self.found.push(ConfigError {
            file: self.file.to_path_buf(),
            line: self.loc.line_of_path(key),
            key: key.to_string(),
            message,
        });
    }

    pub(crate) fn duration(&mut self, key: &str, v: &str) -> Duration {
        match humantime::parse_duration(v) {
            Ok(d) => d,
            Err(e) => {
                self.add(
                    key,
                    format!("{v:?} is not a duration (e.g. \"500ms\", \"10s\", \"2m\"): {e}"),
                );
                Duration::ZERO
            }
        }
    }

    pub(crate) fn addr(&mut self, key: &str, v: &str) -> SocketAddr {
        v.parse().unwrap_or_else(|e| {
            self.add(key, format!("{v:?} is not an IP:port address: {e}"));
            SocketAddr::from(([127, 0, 0, 1], 0))
        })
    }

    pub(crate) fn file_path(&mut self, key: &str, v: &str, must_exist: bool) -> PathBuf {
        let p = self.dir.join(v);
        if must_exist && !p.is_file() {
            self.add(
                key,
                format!("file {} does not exist or is not a file", p.display()),
            );
        }
        p
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    /// Longest wait for the next bytes of a request body the gateway reads (extractors, body
    /// checks, upload spooling); past it 408 `body_timeout`.
    pub body_read_timeout: Duration,
    /// Lame duck: after SIGTERM, `/readyz` answers 503 and the listeners keep accepting this
    /// long (for load balancers to take the instance out) before they close and the drain starts.
    pub drain_delay: Duration,
    pub drain_timeout: Duration,
}

#[derive(Clone)]
pub struct ListenerConfig {
    pub name: String,
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// What its requests' non-canonical paths get (`proxy/target.rs`).
    pub path: PathMode,
    /// Peers whose X-Forwarded-For names the client (`client.rs`).
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Every connection starts with a PROXY protocol header (`proxy_protocol.rs`).
    pub proxy_protocol: bool,
}

/// What a listener does with a path that is not canonical (`[[listener]] path`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathMode {
    /// 400 `path_invalid` for dot-segments and empty segments.
    #[default]
    Refuse,
    /// Remove dot-segments, merge `//`, and forward the result.
    Normalize,
}

#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub addr: SocketAddr,
    pub token: Option<String>,
    /// Block and monitor decisions the console keeps in memory (`console/ring.rs`); 0: none.
    pub console_recent: usize,
}

/// `admin.console_recent` by default: about 1 MB of recent decisions.
pub const DEFAULT_CONSOLE_RECENT: usize = 1000;

/// The most recent decisions the console can keep (about 100 MB at ~1 KB a record).
pub const MAX_CONSOLE_RECENT: usize = 100_000;

#[derive(Clone, Debug)]
pub struct IndexConfig {
    /// A local snapshot file; `None` when the index comes from `[feed]`.
    pub snapshot: Option<PathBuf>,
    pub bloom: bool,
    pub stale_after: Duration,
}

#[derive(Clone)]
pub struct UpstreamConfig {
    pub name: String,
    pub scheme: http::uri::Scheme,
    pub authority: http::uri::Authority,
    /// Path prefix of the upstream URL, without a trailing slash ("" for none).
    pub path_prefix: String,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub tls: Arc<rustls::ClientConfig>,
    pub preserve_host: bool,
    /// The servers requests go to (`host:port`): the `servers` list, else the url's authority
    /// alone. Never empty.
    pub servers: Vec<http::uri::Authority>,
    /// Failed attempts within `fail_timeout` that take a server out for `fail_timeout`; 0
    /// never takes one out. Only with two servers or more.
    pub max_fails: u32,
    pub fail_timeout: Duration,
}

/// Where a log stream goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stdout,
    /// Appended to; reopened on SIGUSR1.
    File(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    NotFound,
    Forward(usize),
}

/// The most worker threads `[server] workers` may ask for.
pub const MAX_WORKERS: usize = 1024;

/// A validated configuration.
#[derive(Clone)]
pub struct Config {
    pub source: PathBuf,
    /// `[server] workers`: worker threads serving the listeners (0 = one per available core).
    pub workers: usize,
    pub listeners: Vec<ListenerConfig>,
    pub limits: Limits,
    pub admin: AdminConfig,
    pub index: IndexConfig,
    /// `None` writes the audit trail to stdout.
    pub audit_path: Option<PathBuf>,
    /// `[audit]`'s other options: folding, queue, failure policy.
    pub audit: AuditConfig,
    /// `[access_log]`: `None` when absent (no access log).
    pub access_log: Option<LogTarget>,
    pub filing_header: http::HeaderName,
    pub filing_header_on_response: bool,
    pub upstreams: Vec<UpstreamConfig>,
    pub routes: Vec<RouteConfig>,
    pub default: DefaultAction,
    pub demo_echo: Option<SocketAddr>,
    /// Demo only: build a feed from this export with an ephemeral key and serve it here.
    pub demo_feed: Option<(PathBuf, SocketAddr)>,
    pub feed: Option<FeedConfig>,
    /// `[upload]`: spooling of upload-route bodies.
    pub upload: UploadGlobal,
    /// `[[introspection]]`: the token introspection endpoints `introspect` extractors name.
    pub introspection: Vec<IntrospectionConfig>,
}

/// Where the gateway syncs its index from (docs/feed.md).
#[derive(Clone)]
pub struct FeedConfig {
    /// The feed directory URL, always ending in `/`.
    pub url: String,
    pub keys: Vec<crate::feed::format::PublicKey>,
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub cache_dir: PathBuf,
    pub max_deltas: usize,
    pub max_file_bytes: u64,
    pub compact_after: usize,
    pub tls: Arc<rustls::ClientConfig>,
    /// `icpgate/<version> (<instance>)`, sent with every feed request.
    pub user_agent: http::HeaderValue,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: None,
                key: "(file)".into(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(&text, path)
    }

    /// Validates configuration text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
        let loc = Locator::new(text);
        let (raw, shape_problems) = match shape::parse(text, &loc, path) {
            shape::Shape::Typed(raw, found) => (*raw, found),
            shape::Shape::Untyped(found) => return Err(ConfigErrors(found)),
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut p = Problems {
            file: path,
            loc: &loc,
            dir,
            found: shape_problems,
        };
        let cfg = validate(raw, path, &mut p);
        if p.found.is_empty() {
            Ok(cfg)
        } else {
            p.found.sort_by_key(|e| e.line.unwrap_or(0));
            Err(ConfigErrors(p.found))
        }
    }
}

fn validate(raw: raw::RawConfig, path: &Path, p: &mut Problems<'_>) -> Config {
    if raw.listener.is_empty() {
        p.add("listener", "at least one [[listener]] is required");
    }
    let mut listeners = Vec::new();
    for (i, l) in raw.listener.iter().enumerate() {
        let key = format!("listener[{i}]");
        if raw.listener[..i].iter().any(|o| o.name == l.name) {
            p.add(
                &format!("{key}.name"),
                format!("duplicate listener name {:?}", l.name),
            );
        }
        let addr = p.addr(&format!("{key}.address"), &l.address);
        let tls = l
            .tls
            .as_ref()
            .and_then(|t| tls::server_config(p, &format!("{key}.tls"), t));
        let path = match l.path.as_str() {
            "refuse" => PathMode::Refuse,
            "normalize" => PathMode::Normalize,
            other => {
                p.add(
                    &format!("{key}.path"),
                    format!("{other:?} is not \"refuse\" or \"normalize\""),
                );
                PathMode::Refuse
            }
        };
        listeners.push(ListenerConfig {
            name: l.name.clone(),
            addr,
            tls,
            path,
            trusted_proxies: client::trusted_proxies(p, &key, &l.trusted_proxies),
            proxy_protocol: l.proxy_protocol,
        });
    }
    if raw.server.workers > MAX_WORKERS {
        p.add(
            "server.workers",
            format!(
                "{} worker threads is more than {MAX_WORKERS}; 0 means one per core",
                raw.server.workers
            ),
        );
    }
    let r = &raw.limits;
    let limits = Limits {
        max_connections: r.max_connections,
        header_read_timeout: p.duration("limits.header_read_timeout", &r.header_read_timeout),
        idle_timeout: p.duration("limits.idle_timeout", &r.idle_timeout),
        max_header_bytes: r.max_header_bytes,
        max_body_bytes: r.max_body_bytes,
        body_read_timeout: p.duration("limits.body_read_timeout", &r.body_read_timeout),
        drain_delay: p.duration("limits.drain_delay", &r.drain_delay),
        drain_timeout: p.duration("limits.drain_timeout", &r.drain_timeout),
    };
    for (k, v) in [
        ("max_connections", r.max_connections),
        ("max_header_bytes", r.max_header_bytes),
        ("max_body_bytes", r.max_body_bytes),
    ] {
        if v == 0 {
            p.add(&format!("limits.{k}"), "must be greater than 0");
        }
    }
    if limits.body_read_timeout.is_zero() && humantime::parse_duration(&r.body_read_timeout).is_ok()
    {
        p.add("limits.body_read_timeout", "must be greater than 0");
    }
    if limits.max_header_bytes < 8192 && limits.max_header_bytes != 0 {
        p.add(
            "limits.max_header_bytes",
            "must be at least 8192 (hyper's minimum read buffer)",
        );
    }
    let admin = AdminConfig {
        addr: p.addr("admin.address", &raw.admin.address),
        token: admin_token(p, &raw.admin),
        console_recent: console_recent(p, raw.admin.console_recent),
    };
    let index = IndexConfig {
        snapshot: raw
            .index
            .snapshot
            .as_ref()
            .map(|s| p.file_path("index.snapshot", s, true)),
        bloom: raw.index.bloom,
        stale_after: p.duration("index.stale_after", &raw.index.stale_after),
    };
    let audit_path = (raw.audit.path != "-").then(|| log_path(p, "audit.path", &raw.audit.path));
    let access_log = raw.access_log.as_ref().map(|a| match a.path.as_str() {
        "-" => LogTarget::Stdout,
        v => LogTarget::File(log_path(p, "access_log.path", v)),
    });
    let filing_header = http::HeaderName::from_bytes(raw.filing_header.request.as_bytes())
        .unwrap_or_else(|_| {
            p.add(
                "filing_header.request",
                format!("{:?} is not a valid header name", raw.filing_header.request),
            );
            http::HeaderName::from_static("icp-filing-number")
        });
    let upstreams: Vec<UpstreamConfig> = raw
        .upstream
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            if raw.upstream[..i].iter().any(|o| o.name == u.name) {
                p.add(
                    &format!("upstream[{i}].name"),
                    format!("duplicate upstream name {:?}", u.name),
                );
            }
            upstream::upstream(p, &format!("upstream[{i}]"), u)
        })
        .collect();
    let names: Vec<&str> = raw.upstream.iter().map(|u| u.name.as_str()).collect();
    let upstream_index = |p: &mut Problems<'_>, key: &str, name: &str| -> usize {
        names.iter().position(|n| *n == name).unwrap_or_else(|| {
            p.add(
                key,
                format!("no [[upstream]] is named {name:?} (defined: {names:?})"),
            );
            0
        })
    };
    let introspection = token::endpoints(p, &raw.introspection);
    let endpoint_names: Vec<&str> = raw.introspection.iter().map(|e| e.name.as_str()).collect();
    let mut routes = Vec::new();
    for (i, r) in raw.route.iter().enumerate() {
        let key = format!("route[{i}]");
        if raw.route[..i].iter().any(|o| o.name == r.name) {
            p.add(
                &format!("{key}.name"),
                format!("duplicate route name {:?}", r.name),
            );
        }
        let up = upstream_index(p, &format!("{key}.upstream"), &r.upstream);
        if let Some(rc) = route::route(p, &key, r, up, &endpoint_names) {
            routes.push(rc);
        }
    }
    let default = match raw.default.action.as_str() {
        "not_found" => DefaultAction::NotFound,
        "forward" => match &raw.default.upstream {
            Some(u) => DefaultAction::Forward(upstream_index(p, "default.upstream", u)),
            None => {
                p.add("default.upstream", "action \"forward\" needs an upstream");
                DefaultAction::NotFound
            }
        },
        other => {
            p.add(
                "default.action",
                format!("{other:?} is not \"not_found\" or \"forward\""),
            );
            DefaultAction::NotFound
        }
    };
    let demo = raw.demo.as_ref();
    #[cfg(not(feature = "demo"))]
    if demo.is_some() {
        p.add(
            "demo",
            "this build leaves the demo out (built without the `demo` feature): remove [demo]",
        );
    }
    let demo_echo = demo
        .and_then(|d| d.echo_upstream.as_ref())
        .map(|a| p.addr("demo.echo_upstream", a));
    let demo_feed = demo.and_then(|d| match (&d.feed_export, &d.feed_address) {
        (Some(e), Some(a)) => Some((
            p.file_path("demo.feed_export", e, true),
            p.addr("demo.feed_address", a),
        )),
        (None, None) => None,
        _ => {
            p.add("demo", "set both feed_export and feed_address, or neither");
            None
        }
    });
    let feed = raw
        .feed
        .as_ref()
        .and_then(|f| feed::feed(p, f, demo_feed.is_some()));
    match (&index.snapshot, &raw.feed) {
        (Some(_), Some(_)) => p.add("feed", "set index.snapshot or [feed], not both"),
        (None, None) => p.add(
            "index.snapshot",
            "set index.snapshot (a local file) or a [feed] section",
        ),
        _ => {}
    }
    Config {
        source: path.to_path_buf(),
        workers: raw.server.workers,
        listeners,
        limits,
        admin,
        index,
        audit_path,
        audit: audit::audit(p, &raw.audit),
        access_log,
        filing_header,
        filing_header_on_response: raw.filing_header.response,
        upstreams,
        routes,
        default,
        demo_echo,
        demo_feed,
        feed,
        upload: upload::global(p, &raw.upload),
        introspection,
    }
}

/// `audit.path`, `access_log.path`: the file may not exist yet (the gateway creates it), but
/// its folder must, and the path must not name a folder; `serve` opens it before binding any
/// port.
fn log_path(p: &mut Problems<'_>, key: &str, v: &str) -> PathBuf {
    let path = p.file_path(key, v, false);
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() {
        p.add(key, format!("{} is a folder, not a file", path.display()));
    } else if !dir.is_dir() {
        p.add(key, format!("folder {} does not exist", dir.display()));
    }
    path
}

fn console_recent(p: &mut Problems<'_>, n: u64) -> usize {
    if n > MAX_CONSOLE_RECENT as u64 {
        p.add(
            "admin.console_recent",
            format!("{n} is more than {MAX_CONSOLE_RECENT} decisions (0 turns the ring off)"),
        );
        return DEFAULT_CONSOLE_RECENT;
    }
    n as usize
}

fn admin_token(p: &mut Problems<'_>, a: &raw::RawAdmin) -> Option<String> {
    match (&a.token, &a.token_file) {
        (Some(_), Some(_)) => {
            p.add("admin.token_file", "set token or token_file, not both");
            None
        }
        (Some(t), None) if t.is_empty() => {
            p.add("admin.token", "must not be empty");
            None
        }
        (Some(t), None) => Some(t.clone()),
        (None, Some(f)) => {
            let path = p.file_path("admin.token_file", f, true);
            match std::fs::read_to_string(&path) {
                Ok(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Ok(_) => {
                    p.add("admin.token_file", format!("{} is empty", path.display()));
                    None
                }
                Err(_) => None,
            }
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod token_tests;
