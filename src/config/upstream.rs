//! Upstream validation: URL (http or https, no query), timeouts, TLS roots, host handling.
//!
//! Owns the compiled upstream form (`UpstreamConfig`) the proxy forwards to.
//! Must not: resolve or connect (that is `proxy::forward`).
//! Invariant: an `UpstreamConfig` has an http or https scheme and an authority.

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
    Some(UpstreamConfig {
        name: u.name.clone(),
        scheme,
        authority,
        path_prefix: uri.path().trim_end_matches('/').to_string(),
        connect_timeout,
        response_timeout,
        tls,
        preserve_host: u.preserve_host,
    })
}
