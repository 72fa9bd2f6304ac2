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
mod validate;
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
        let cfg = validate::validate(raw, path, &mut p);
        if p.found.is_empty() {
            Ok(cfg)
        } else {
            p.found.sort_by_key(|e| e.line.unwrap_or(0));
            Err(ConfigErrors(p.found))
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod token_tests;
