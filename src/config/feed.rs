//! Validation of the `[feed]` section: feed URL, trusted public keys (inline or files), poll
//! interval, cache directory, limits, and `instance`, the name its User-Agent carries.
//!
//! Must not: accept a feed with no trusted key (an unsigned feed could let an unfiled app in),
//! except in demo mode where the gateway generates and trusts an ephemeral key itself.
//! Invariant: `FeedConfig::url` ends in `/`, so file names join onto it.

use super::raw::RawFeed;
use super::{tls, FeedConfig, Problems};
use crate::feed::format::PublicKey;

/// Longest `instance` (a DNS name's limit).
const MAX_INSTANCE: usize = 253;

fn instance_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')
}

/// `instance`, or the host name when unset (its other characters replaced by `-`, so any
/// host name gives a valid User-Agent comment).
pub(super) fn instance(p: &mut Problems<'_>, v: Option<&str>) -> String {
    match v {
        Some(v) if v.is_empty() || v.len() > MAX_INSTANCE || !v.chars().all(instance_char) => {
            p.add(
                "feed.instance",
                format!("{v:?} is not 1 to {MAX_INSTANCE} letters, digits, '.', '-', '_' or ':'"),
            );
            v.to_string()
        }
        Some(v) => v.to_string(),
        None => {
            let host = gethostname::gethostname().to_string_lossy().into_owned();
            let host: String = host
                .chars()
                .take(MAX_INSTANCE)
                .map(|c| if instance_char(c) { c } else { '-' })
                .collect();
            if host.is_empty() {
                "unknown".into()
            } else {
                host
            }
        }
    }
}

/// The User-Agent of feed requests: `icpgate/<version> (<instance>)`.
pub fn user_agent(instance: &str) -> http::HeaderValue {
    let ua = format!("icpgate/{} ({instance})", env!("CARGO_PKG_VERSION"));
    http::HeaderValue::from_str(&ua).unwrap_or(http::HeaderValue::from_static("icpgate"))
}

/// The `[feed]` section: URL, keys, intervals, limits, TLS and the User-Agent.
pub(super) fn feed(p: &mut Problems<'_>, f: &RawFeed, demo: bool) -> Option<FeedConfig> {
    let instance = instance(p, f.instance.as_deref());
    let url = url(p, &f.url);
    let keys = keys(p, f, demo);
    let poll_interval = p.duration("feed.poll_interval", &f.poll_interval);
    let request_timeout = p.duration("feed.request_timeout", &f.request_timeout);
    if poll_interval.is_zero() {
        p.add("feed.poll_interval", "must be greater than 0");
    }
    if f.max_deltas == 0 {
        p.add("feed.max_deltas", "must be at least 1");
    }
    let tls = tls::client_config(p, "feed.ca_file", f.ca_file.as_deref())?;
    Some(FeedConfig {
        url,
        keys,
        poll_interval,
        request_timeout,
        cache_dir: p.dir.join(&f.cache_dir),
        max_deltas: f.max_deltas,
        max_file_bytes: f.max_file_bytes,
        compact_after: f.compact_after,
        tls,
        user_agent: user_agent(&instance),
    })
}

/// `feed.url`: an http or https URL, given a trailing `/` when it has none.
fn url(p: &mut Problems<'_>, v: &str) -> String {
    let url = if v.ends_with('/') {
        v.to_string()
    } else {
        format!("{v}/")
    };
    match url.parse::<http::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some() => {}
        _ => p.add(
            "feed.url",
            format!("{v:?} is not an http:// or https:// URL"),
        ),
    }
    url
}

/// The trusted keys, inline (`public_keys`) then from files (`public_key_files`); at least
/// one unless the demo generates its own.
fn keys(p: &mut Problems<'_>, f: &RawFeed, demo: bool) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    for (i, k) in f.public_keys.iter().enumerate() {
        match PublicKey::parse(k) {
            Some(k) => keys.push(k),
            None => p.add(
                &format!("feed.public_keys[{i}]"),
                "not an Ed25519 public key (64 hex digits, as in a .pub file)",
            ),
        }
    }
    for (i, file) in f.public_key_files.iter().enumerate() {
        let key = format!("feed.public_key_files[{i}]");
        let path = p.file_path(&key, file, true);
        if let Ok(text) = std::fs::read_to_string(&path) {
            match PublicKey::parse(&text) {
                Some(k) => keys.push(k),
                None => p.add(
                    &key,
                    format!(
                        "{} does not hold an Ed25519 public key (64 hex digits)",
                        path.display()
                    ),
                ),
            }
        }
    }
    if keys.is_empty() && !demo {
        p.add(
            "feed.public_keys",
            "a feed needs at least one trusted public key (public_keys or public_key_files)",
        );
    }
    keys
}
