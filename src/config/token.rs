//! Credential extractors (`jwt`, `introspect`) and the `[[introspection]]` endpoints they use:
//! their TOML shape and their validated form.
//!
//! Owns where a route's token is read (a header, `authorization` meaning the Bearer scheme, or
//! a query parameter), the JWT checks a route asks for (keys, claim, leeway, issuer,
//! audience), and each introspection endpoint's settings.
//! Must not: verify tokens or call endpoints (the `tokens` module does); every file it names
//! (JWKS, CA, client secret) is read here, so a bad one fails the load or the reload.
//! Invariant: a `TokenSource` names a loadable key set or an existing endpoint, and a claim
//! pointer that is a valid RFC 6901 pointer.

use super::{jwks, tls, Problems};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// `{ jwt = { header | query, claim, keys, leeway, require_exp, issuer, audience } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    pub header: Option<String>,
    pub query: Option<String>,
    pub claim: String,
    pub keys: String,
    #[serde(default = "default_leeway")]
    pub leeway: String,
    #[serde(default = "yes")]
    pub require_exp: bool,
    #[serde(default)]
    pub issuer: OneOrMany,
    #[serde(default)]
    pub audience: OneOrMany,
}

/// `{ introspect = { header | query, endpoint, pointer } }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntrospect {
    pub header: Option<String>,
    pub query: Option<String>,
    pub endpoint: String,
    pub pointer: String,
}

/// A string or a list of strings.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// `[[introspection]]`: one RFC 7662 endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntrospection {
    pub name: String,
    pub url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_file: Option<String>,
    pub ca_file: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default = "default_cache_entries")]
    pub cache_entries: usize,
    #[serde(default = "default_cache_max_ttl")]
    pub cache_max_ttl: String,
    #[serde(default = "default_inactive_ttl")]
    pub cache_inactive_ttl: String,
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

fn default_leeway() -> String {
    "5s".into()
}
fn yes() -> bool {
    true
}
fn default_timeout() -> String {
    "2s".into()
}
fn default_cache_entries() -> usize {
    10_000
}
fn default_cache_max_ttl() -> String {
    "5m".into()
}
fn default_inactive_ttl() -> String {
    "10s".into()
}
fn default_max_concurrent() -> usize {
    64
}

/// Where a request carries its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenPlace {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    Bearer,
    /// The whole value of another header.
    Header(http::HeaderName),
    /// A query parameter, every spelling of `names.rs`.
    Query(String),
}

/// What a `jwt` extractor checks.
#[derive(Clone, Debug)]
pub struct JwtSpec {
    pub keys: Arc<jwks::JwtKeys>,
    /// RFC 6901 pointer into the verified payload.
    pub claim: String,
    pub leeway: Duration,
    pub require_exp: bool,
    /// Accepted `iss` values; empty = not checked.
    pub issuer: Vec<String>,
    /// Accepted `aud` values (one must be in the token's); empty = not checked.
    pub audience: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum TokenKind {
    Jwt(JwtSpec),
    /// The endpoint's position in `Config::introspection`, and the RFC 6901 pointer into its
    /// answer.
    Introspect {
        endpoint: usize,
        pointer: String,
    },
}

/// A credential extractor.
#[derive(Clone, Debug)]
pub struct TokenSource {
    pub place: TokenPlace,
    pub kind: TokenKind,
    /// Its position among the route's credential extractors (`extract::bearer::Credentials`).
    pub slot: usize,
}

/// A validated `[[introspection]]` endpoint.
#[derive(Clone)]
pub struct IntrospectionConfig {
    pub name: String,
    pub url: http::Uri,
    /// `Authorization: Basic` of the client id and secret (RFC 6749 §2.3.1), when configured.
    pub authorization: Option<http::HeaderValue>,
    pub tls: Arc<rustls::ClientConfig>,
    pub timeout: Duration,
    pub cache_entries: usize,
    pub cache_max_ttl: Duration,
    pub cache_inactive_ttl: Duration,
    pub max_concurrent: usize,
}

impl IntrospectionConfig {
    /// True when answers cached for `other` hold for this endpoint too: the same name, URL,
    /// client and cache size. A reload keeps such an endpoint's cache.
    pub fn shares_cache(&self, other: &IntrospectionConfig) -> bool {
        self.name == other.name
            && self.url == other.url
            && self.authorization == other.authorization
            && self.cache_entries == other.cache_entries
    }
}

fn place(
    p: &mut Problems<'_>,
    key: &str,
    header: &Option<String>,
    query: &Option<String>,
) -> Option<TokenPlace> {
    match (header, query) {
        (Some(h), None) if h.eq_ignore_ascii_case("authorization") => Some(TokenPlace::Bearer),
        (Some(h), None) => match http::HeaderName::from_bytes(h.as_bytes()) {
            Ok(n) => Some(TokenPlace::Header(n)),
            Err(_) => {
                p.add(
                    &format!("{key}.header"),
                    format!("{h:?} is not a valid header name"),
                );
                None
            }
        },
        (None, Some(q)) if !q.is_empty() => Some(TokenPlace::Query(q.clone())),
        (None, Some(_)) => {
            p.add(&format!("{key}.query"), "must not be empty");
            None
        }
        _ => {
            p.add(key, "set exactly one of header or query");
            None
        }
    }
}

fn pointer(p: &mut Problems<'_>, key: &str, v: &str) -> Option<String> {
    let bad_escape = v.split('~').skip(1).any(|t| !t.starts_with(['0', '1']));
    if !v.starts_with('/') || bad_escape {
        p.add(
            key,
            format!("{v:?} is not a JSON pointer (RFC 6901, e.g. \"/appid\")"),
        );
        return None;
    }
    Some(v.to_string())
}

pub(super) fn jwt(p: &mut Problems<'_>, key: &str, r: &RawJwt, slot: usize) -> Option<TokenSource> {
    let place = place(p, key, &r.header, &r.query);
    let claim = pointer(p, &format!("{key}.claim"), &r.claim);
    let leeway = p.duration(&format!("{key}.leeway"), &r.leeway);
    if leeway > Duration::from_secs(300) {
        p.add(&format!("{key}.leeway"), "must be at most 5m");
    }
    let file = p.file_path(&format!("{key}.keys"), &r.keys, true);
    let keys = if file.is_file() {
        match jwks::load(&file) {
            Ok(k) => Some(Arc::new(k)),
            Err(e) => {
                p.add(&format!("{key}.keys"), format!("{}: {e}", file.display()));
                None
            }
        }
    } else {
        None
    };
    let spec = JwtSpec {
        keys: keys?,
        claim: claim?,
        leeway,
        require_exp: r.require_exp,
        issuer: r.issuer.to_vec(),
        audience: r.audience.to_vec(),
    };
    Some(TokenSource {
        place: place?,
        kind: TokenKind::Jwt(spec),
        slot,
    })
}

pub(super) fn introspect(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawIntrospect,
    endpoints: &[&str],
    slot: usize,
) -> Option<TokenSource> {
    let place = place(p, key, &r.header, &r.query);
    let pointer = pointer(p, &format!("{key}.pointer"), &r.pointer);
    let endpoint = endpoints.iter().position(|n| *n == r.endpoint);
    if endpoint.is_none() {
        p.add(
            &format!("{key}.endpoint"),
            format!(
                "no [[introspection]] is named {:?} (defined: {endpoints:?})",
                r.endpoint
            ),
        );
    }
    Some(TokenSource {
        place: place?,
        kind: TokenKind::Introspect {
            endpoint: endpoint?,
            pointer: pointer?,
        },
        slot,
    })
}

/// `client_id` / `client_secret` (or `client_secret_file`) as an `Authorization: Basic`
/// value: each form-urlencoded, then joined with `:` and base64-encoded (RFC 6749 §2.3.1).
fn basic(p: &mut Problems<'_>, key: &str, r: &RawIntrospection) -> Option<http::HeaderValue> {
    let secret = match (&r.client_secret, &r.client_secret_file) {
        (Some(_), Some(_)) => {
            p.add(
                &format!("{key}.client_secret_file"),
                "set client_secret or client_secret_file, not both",
            );
            return None;
        }
        (Some(s), None) => Some(s.clone()),
        (None, Some(f)) => {
            let path = p.file_path(&format!("{key}.client_secret_file"), f, true);
            std::fs::read_to_string(&path)
                .ok()
                .map(|s| s.trim().to_string())
        }
        (None, None) => None,
    };
    let id = r.client_id.as_ref()?;
    let Some(secret) = secret else {
        p.add(
            &format!("{key}.client_id"),
            "needs client_secret or client_secret_file",
        );
        return None;
    };
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    use base64::Engine;
    let pair = format!("{}:{}", enc(id), enc(&secret));
    let v = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    );
    let mut v = http::HeaderValue::from_str(&v).ok()?;
    v.set_sensitive(true);
    Some(v)
}

/// One `[[introspection]]` endpoint.
pub(super) fn endpoint(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawIntrospection,
) -> Option<IntrospectionConfig> {
    let url: Option<http::Uri> = match r.url.parse::<http::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some() => {
            Some(u)
        }
        _ => {
            p.add(
                &format!("{key}.url"),
                format!("{:?} is not an http:// or https:// URL", r.url),
            );
            None
        }
    };
    if r.client_secret.is_some() && r.client_id.is_none() {
        p.add(&format!("{key}.client_secret"), "needs client_id");
    }
    let authorization = basic(p, key, r);
    let tls = tls::client_config(p, &format!("{key}.ca_file"), r.ca_file.as_deref());
    let timeout = p.duration(&format!("{key}.timeout"), &r.timeout);
    let cache_max_ttl = p.duration(&format!("{key}.cache_max_ttl"), &r.cache_max_ttl);
    let cache_inactive_ttl =
        p.duration(&format!("{key}.cache_inactive_ttl"), &r.cache_inactive_ttl);
    if timeout.is_zero() {
        p.add(&format!("{key}.timeout"), "must be greater than 0");
    }
    if r.max_concurrent == 0 {
        p.add(&format!("{key}.max_concurrent"), "must be greater than 0");
    }
    Some(IntrospectionConfig {
        name: r.name.clone(),
        url: url?,
        authorization,
        tls: tls?,
        timeout,
        cache_entries: r.cache_entries,
        cache_max_ttl,
        cache_inactive_ttl,
        max_concurrent: r.max_concurrent,
    })
}

/// Every `[[introspection]]` endpoint; names must be unique.
pub(super) fn endpoints(
    p: &mut Problems<'_>,
    raw: &[RawIntrospection],
) -> Vec<IntrospectionConfig> {
    raw.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let key = format!("introspection[{i}]");
            if raw[..i].iter().any(|o| o.name == r.name) {
                p.add(
                    &format!("{key}.name"),
                    format!("duplicate introspection name {:?}", r.name),
                );
            }
            endpoint(p, &key, r)
        })
        .collect()
}
