//! Upstream validation: URL (http or https, no query), timeouts, TLS roots, host handling,
//! the server list and its failure rule.
//!
//! Owns the compiled upstream form (`UpstreamConfig`) the proxy forwards to.
//! Must not: resolve or connect (that is `proxy::forward`).
//! Invariant: an `UpstreamConfig` has an http or https scheme, an authority and at least one
//! server; several servers only under an `http` scheme, each `host:port`, none twice.

use super::raw::RawUpstream;
use super::{tls, Problems, UpstreamConfig};

pub(super) fn upstream(p: &mut Problems<'_>, key: &str, u: &RawUpstream) -> Option<UpstreamConfig> {
    let connect_timeout = p.duration(&format!("{key}.connect_timeout"), &u.connect_timeout);
    let response_timeout = p.duration(&format!("{key}.response_timeout"), &u.response_timeout);
    let uri: http::Uri = match u.url.parse() {
        Ok(uri) => uri,
        Err(e) => {
            p.add(
                &format!("{key}.url"),
                format!("{:?} is not a URL: {e}", u.url),
            );
            return None;
        }
    };
    let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
        p.add(
            &format!("{key}.url"),
            format!(
                "{:?} needs a scheme and a host, e.g. http://10.0.0.5:8080",
                u.url
            ),
        );
        return None;
    };
    if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
        p.add(
            &format!("{key}.url"),
            format!("scheme {scheme} is not http or https"),
        );
        return None;
    }
    if uri.query().is_some() {
        p.add(&format!("{key}.url"), "must not have a query string");
    }
    let tls = tls::client_config(p, &format!("{key}.ca_file"), u.ca_file.as_deref())?;
    let fail_timeout = p.duration(&format!("{key}.fail_timeout"), &u.fail_timeout);
    if fail_timeout.is_zero() && !u.fail_timeout.trim().is_empty() {
        p.add(&format!("{key}.fail_timeout"), "must be longer than 0s");
    }
    let servers = match &u.servers {
        None => vec![authority.clone()],
        Some(list) => servers(p, key, &scheme, list)?,
    };
    Some(UpstreamConfig {
        name: u.name.clone(),
        scheme,
        authority,
        path_prefix: uri.path().trim_end_matches('/').to_string(),
        connect_timeout,
        response_timeout,
        tls,
        preserve_host: u.preserve_host,
        servers,
        max_fails: u.max_fails,
        fail_timeout,
    })
}

/// Most servers one upstream lists (a request tries each at most once).
pub const MAX_SERVERS: usize = 64;

/// The `servers` list: `host:port` each, no scheme, path or user info, none twice.
fn servers(
    p: &mut Problems<'_>,
    key: &str,
    scheme: &http::uri::Scheme,
    list: &[String],
) -> Option<Vec<http::uri::Authority>> {
    let k = format!("{key}.servers");
    if list.is_empty() {
        p.add(
            &k,
            "list at least one server (\"host:port\"), or leave servers out",
        );
        return None;
    }
    if list.len() > MAX_SERVERS {
        p.add(&k, format!("{} servers; at most {MAX_SERVERS}", list.len()));
        return None;
    }
    if *scheme != http::uri::Scheme::HTTP {
        p.add(
            &k,
            "several servers need an http:// url (a TLS upstream is one https address: put a balancer behind it)",
        );
        return None;
    }
    let mut out: Vec<http::uri::Authority> = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let k = format!("{k}[{i}]");
        match s.parse::<http::uri::Authority>() {
            Ok(a) if a.port_u16().is_some() && !a.as_str().contains('@') => {
                if out
                    .iter()
                    .any(|o| o.as_str().eq_ignore_ascii_case(a.as_str()))
                {
                    p.add(&k, format!("{s:?} is listed twice"));
                } else {
                    out.push(a);
                }
            }
            _ => p.add(
                &k,
                format!("{s:?} is not host:port (e.g. \"10.0.0.5:8080\"; no scheme or path)"),
            ),
        }
    }
    Some(out)
}

/// A minimal configuration whose one `[[upstream]]` (`name = "store"`) has `url` and the
/// `keys` lines, parsed beside an empty snapshot: the upstream tests' fixture.
#[cfg(test)]
pub(crate) fn parse_with_upstream(
    url: &str,
    keys: &str,
) -> Result<super::Config, Vec<super::ConfigError>> {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("snap.ndjson"), "").expect("snapshot file");
    let text = format!(
        "[[listener]]\nname = \"public\"\naddress = \"127.0.0.1:0\"\n\n\
         [index]\nsnapshot = \"snap.ndjson\"\n\n\
         [[upstream]]\nname = \"store\"\nurl = \"{url}\"\n{keys}\n"
    );
    super::Config::parse(&text, &dir.path().join("gw.toml")).map_err(|e| e.0)
}

#[cfg(test)]
mod tests;
