//! The TOML shape of the configuration, exactly as users write it (every key documented in
//! `config/icpgate.toml` and `docs/configuration.md`).
//!
//! Owns deserialisation only: unknown keys are rejected here, everything semantic is checked in
//! `validate`. Must not hold defaults that differ from the documentation.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub listener: Vec<RawListener>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub admin: RawAdmin,
    pub index: RawIndex,
    #[serde(default)]
    pub audit: RawAudit,
    pub access_log: Option<RawAccessLog>,
    #[serde(default)]
    pub filing_header: RawFilingHeader,
    #[serde(default)]
    pub upstream: Vec<RawUpstream>,
    #[serde(default)]
    pub route: Vec<RawRoute>,
    #[serde(default)]
    pub default: RawDefault,
    #[serde(default)]
    pub demo: Option<RawDemo>,
    pub feed: Option<RawFeed>,
    #[serde(default)]
    pub upload: super::upload::RawUploadGlobal,
    #[serde(default)]
    pub introspection: Vec<super::token::RawIntrospection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    pub name: String,
    pub address: String,
    pub tls: Option<RawTls>,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    #[serde(default)]
    pub proxy_protocol: bool,
}

fn default_path() -> String {
    "refuse".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub max_connections: usize,
    pub header_read_timeout: String,
    pub idle_timeout: String,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    pub body_read_timeout: String,
    pub drain_delay: String,
    pub drain_timeout: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    /// Worker threads; 0 = one per available core.
    pub workers: usize,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_connections: 10_000,
            header_read_timeout: "10s".into(),
            idle_timeout: "60s".into(),
            max_header_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024,
            body_read_timeout: "60s".into(),
            drain_delay: "5s".into(),
            drain_timeout: "30s".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAdmin {
    pub address: String,
    pub token: Option<String>,
    pub token_file: Option<String>,
    pub console_recent: u64,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            address: "127.0.0.1:9901".into(),
            token: None,
            token_file: None,
            console_recent: super::DEFAULT_CONSOLE_RECENT as u64,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    pub snapshot: Option<String>,
    #[serde(default = "default_bloom")]
    pub bloom: bool,
    #[serde(default = "default_stale_after")]
    pub stale_after: String,
}

/// On: at 10M ids the blocked pre-filter costs a cold filed lookup ~5 ns (467 → 472 ns) and
/// saves an unknown one ~120 ns of its ~200 (BENCHMARKS.md, "Index").
fn default_bloom() -> bool {
    super::DEFAULT_BLOOM
}

fn default_stale_after() -> String {
    "24h".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawAudit {
    pub path: String,
    pub fold_window: String,
    pub fold_keys: usize,
    pub queue: usize,
    pub on_failure: String,
}

impl Default for RawAudit {
    fn default() -> Self {
        RawAudit {
            path: "-".into(),
            fold_window: "1s".into(),
            fold_keys: 10_000,
            queue: 65_536,
            on_failure: "serve".into(),
        }
    }
}

/// `[access_log]`: present = on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAccessLog {
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawFilingHeader {
    pub request: String,
    pub response: bool,
}

impl Default for RawFilingHeader {
    fn default() -> Self {
        RawFilingHeader {
            request: "icp-filing-number".into(),
            response: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub name: String,
    pub url: String,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: String,
    #[serde(default = "default_response_timeout")]
    pub response_timeout: String,
    pub ca_file: Option<String>,
    #[serde(default = "yes")]
    pub preserve_host: bool,
    /// Several servers behind the one upstream (nginx `upstream { server …; }`): `host:port`
    /// each; `url` still gives the scheme, the path prefix and the upstream's own Host.
    pub servers: Option<Vec<String>>,
    #[serde(default = "default_max_fails")]
    pub max_fails: u32,
    #[serde(default = "default_fail_timeout")]
    pub fail_timeout: String,
}

fn default_max_fails() -> u32 {
    1
}
fn default_fail_timeout() -> String {
    "10s".into()
}
fn default_connect_timeout() -> String {
    "2s".into()
}
fn default_response_timeout() -> String {
    "30s".into()
}
fn yes() -> bool {
    true
}

/// One extractor: exactly one of the keys is set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub path: Option<String>,
    pub query: Option<String>,
    pub header: Option<String>,
    pub json: Option<String>,
    pub form: Option<String>,
    pub jwt: Option<super::token::RawJwt>,
    pub introspect: Option<super::token::RawIntrospect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub name: String,
    pub host: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    pub path: Option<String>,
    pub prefix: Option<String>,
    pub regex: Option<String>,
    pub upstream: String,
    pub platform: Option<String>,
    pub platform_from: Option<RawSource>,
    #[serde(default)]
    pub extract: Vec<RawSource>,
    #[serde(default = "default_mode")]
    pub mode: String,
    #[serde(default = "default_on_missing")]
    pub on_missing: String,
    #[serde(default = "default_on_unknown")]
    pub on_unknown: String,
    #[serde(default = "default_on_stale")]
    pub on_stale: String,
    pub upload: Option<super::upload::RawUploadRoute>,
    #[serde(default)]
    pub allow_url_headers: bool,
    /// `"check"` when absent; not allowed on upload routes.
    pub body_ids: Option<String>,
    /// `"closed"` when absent; only on routes with an `introspect` extractor.
    pub on_introspection_failure: Option<String>,
    pub filter: Option<super::lists::RawFilter>,
    pub batch: Option<super::lists::RawBatch>,
}

fn default_mode() -> String {
    "enforce".into()
}
fn default_on_missing() -> String {
    "reject".into()
}
fn default_on_unknown() -> String {
    "block".into()
}
fn default_on_stale() -> String {
    "enforce".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDefault {
    pub action: String,
    pub upstream: Option<String>,
}

impl Default for RawDefault {
    fn default() -> Self {
        RawDefault {
            action: "not_found".into(),
            upstream: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDemo {
    pub echo_upstream: Option<String>,
    /// Build a feed from this export at start (ephemeral key) and serve it here.
    pub feed_export: Option<String>,
    pub feed_address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub url: String,
    /// This gateway's name in the feed's User-Agent; the host name when unset.
    pub instance: Option<String>,
    #[serde(default)]
    pub public_keys: Vec<String>,
    #[serde(default)]
    pub public_key_files: Vec<String>,
    #[serde(default = "default_poll")]
    pub poll_interval: String,
    #[serde(default = "default_response_timeout")]
    pub request_timeout: String,
    pub cache_dir: String,
    #[serde(default = "default_max_deltas")]
    pub max_deltas: usize,
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    #[serde(default = "default_compact_after")]
    pub compact_after: usize,
    pub ca_file: Option<String>,
}

fn default_poll() -> String {
    "30s".into()
}
fn default_max_deltas() -> usize {
    100
}
fn default_max_file_bytes() -> u64 {
    16 << 30
}
fn default_compact_after() -> usize {
    250_000
}
