//! One host per request: the host routing decides on is the host every upstream reads.
//!
//! Routing takes the host from the request target when it names one (absolute-form, HTTP/2
//! `:authority`) and from `Host` otherwise, as RFC 9112 §3.2.2 says; an application behind
//! nginx reads `Host` (PHP `$_SERVER['HTTP_HOST']`, WSGI `HTTP_HOST`). A request whose target
//! and `Host` name different hosts, or with two `Host` headers (readers take the first, the
//! last, or join them), or a `Host` that is no host (`a, b`, userinfo, spaces), would be routed
//! for one host and served by another, so it is refused.
//! Owns that check. Must not: allocate, or refuse a request whose hosts differ only in ASCII
//! case or port (routes ignore both).
//! Invariant: a request it accepts names at most one host, in at most one place or the same
//! host in both.

use http::request::Parts;

/// Why a request's host is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("more than one Host header")]
    Repeated,
    #[error("the Host header is not a host[:port]")]
    Malformed,
    #[error("the request target and the Host header name different hosts")]
    Mismatch,
}

/// `host[:port]` without the port; an IPv6 literal keeps its brackets.
fn host_of(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((h, port)) if !h.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// An IPv6 literal without its brackets; any other host as it is.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Checks that `parts` names one host (see the module header).
pub fn check(parts: &Parts) -> Result<(), HostError> {
    let mut hosts = parts.headers.get_all(http::header::HOST).iter();
    let header = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Repeated);
    }
    let Some(header) = header else {
        return Ok(());
    };
    let header = header.to_str().map_err(|_| HostError::Malformed)?;
    // `host[:port]` as every reader splits it: letters, digits, `-._~`, an IPv6 literal's
    // brackets and colons. Checked byte by byte: parsing into an `Authority` would copy it.
    let ok = !header.is_empty()
        && header.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'[' | b']')
        });
    if !ok {
        return Err(HostError::Malformed);
    }
    match parts.uri.host() {
        Some(target) if !bare(target).eq_ignore_ascii_case(bare(host_of(header))) => {
            Err(HostError::Mismatch)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, hosts: &[&str]) -> Parts {
        let mut b = http::Request::get(uri);
        for h in hosts {
            b = b.header(http::header::HOST, *h);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn one_host_passes_in_any_case_and_with_any_port() {
        assert_eq!(check(&parts("/a", &["store.example"])), Ok(()));
        assert_eq!(check(&parts("/a", &[])), Ok(()));
        assert_eq!(
            check(&parts("http://Store.Example/a", &["store.example:8080"])),
            Ok(())
        );
        assert_eq!(check(&parts("http://store.example:80/a", &[])), Ok(()));
        assert_eq!(check(&parts("http://[::1]:8080/a", &["[::1]"])), Ok(()));
        assert_eq!(
            check(&parts("http://127.0.0.1/a", &["127.0.0.1:9"])),
            Ok(())
        );
    }

    #[test]
    fn two_hosts_are_refused() {
        assert_eq!(
            check(&parts("http://other.example/a", &["store.example"])),
            Err(HostError::Mismatch)
        );
        assert_eq!(
            check(&parts("/a", &["store.example", "other.example"])),
            Err(HostError::Repeated)
        );
        assert_eq!(
            check(&parts("/a", &["store.example", "store.example"])),
            Err(HostError::Repeated)
        );
        for bad in ["a.example, b.example", "user@store.example", "a b", ""] {
            assert_eq!(
                check(&parts("/a", &[bad])),
                Err(HostError::Malformed),
                "{bad}"
            );
        }
    }
}
