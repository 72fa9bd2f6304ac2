//! Forwarding to upstreams: per worker and upstream, a connection pool of its own for plain
//! HTTP (`pool.rs`) or a pooled hyper-util client for TLS via rustls (HTTP/1.1 or HTTP/2 by
//! ALPN); request and response header hygiene, timeouts.
//!
//! Owns the upstream side of a proxied exchange: URI rewrite, hop-by-hop removal (RFC 9110
//! §7.6.1), X-Forwarded-For / X-Forwarded-Proto / Via, Host handling, and the classification
//! of failures into `UpstreamError`.
//! Must not: buffer bodies (they stream both ways), or let a client-supplied filing header
//! through (only the gateway may assert a filing).
//! Invariant: the upstream receives the client's body bytes unchanged.

use super::body::ProxyBody;
use super::peers::{Peers, Tried};
use super::pool::{Pool, PoolError};
use crate::code::Code;
use crate::config::UpstreamConfig;
use crate::fold::{Folded, Level};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::{Authority, PathAndQuery};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

pub struct Upstream {
    pub cfg: UpstreamConfig,
    /// The Host header the upstream gets unless `preserve_host`.
    host: HeaderValue,
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
    /// `http://` upstreams: this worker's own connection pool (`pool.rs`) to each server, in
    /// `peers` order; `https://` ones (one server) go through `client` (TLS, ALPN).
    pools: Vec<Pool>,
    /// The servers' rotation and failure record, shared with the other workers.
    peers: Arc<Peers>,
    /// Connect and protocol failures, logged folded (`fold.rs`): one line per request would
    /// flood the log while the upstream is down.
    failed: [Arc<Folded>; 2],
}

/// Why an upstream exchange failed; each maps to one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    Connect,
    Timeout,
    Protocol,
}

impl UpstreamError {
    /// Every cause, for the metrics to create each `cause` series at start.
    pub const ALL: [UpstreamError; 3] = [
        UpstreamError::Connect,
        UpstreamError::Timeout,
        UpstreamError::Protocol,
    ];

    pub fn code(self) -> Code {
        match self {
            UpstreamError::Connect | UpstreamError::Protocol => Code::UpstreamUnavailable,
            UpstreamError::Timeout => Code::UpstreamTimeout,
        }
    }
    pub fn cause(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Protocol => "protocol",
        }
    }
}

/// Facts about the client side that the upstream request carries.
pub struct ClientSide<'a> {
    pub tls: bool,
    pub filing_header: &'a HeaderName,
    /// The client's address as an X-Forwarded-For entry (made once per connection).
    pub forwarded_for: &'a HeaderValue,
    /// The filing numbers to assert, already encoded; `None` asserts nothing.
    pub filing: Option<HeaderValue>,
}

/// The hop-by-hop headers of RFC 9110 §7.6.1 and their legacy spellings (`keep-alive`,
/// `proxy-connection`), and `proxy-authorization`, which is meant for this hop too.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authorization"
    )
}

/// Whether a Connection header names `name` (its tokens compared without case, as header
/// names are).
fn named_by_connection(connection: &[&str], name: &HeaderName) -> bool {
    connection.iter().any(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(name.as_str()))
    })
}

/// Removes hop-by-hop headers, including those the Connection header names. One pass over the
/// header names finds them (a match on the name, no hashing, no allocation); only the found
/// ones are removed.
pub fn strip_hop_by_hop(h: &mut HeaderMap) {
    let connection: smallvec::SmallVec<[&str; 2]> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let found: smallvec::SmallVec<[HeaderName; 4]> = h
        .keys()
        .filter(|k| hop_by_hop(k) || named_by_connection(&connection, k))
        .cloned()
        .collect();
    drop(connection);
    for name in found {
        h.remove(name);
    }
}

/// Headers that some stacks take as the request URL instead of the request line: IIS URL
/// Rewrite and Symfony/Zend (`X-Original-URL`, `X-Rewrite-URL`), nginx and Traefik auth setups
/// (`X-Original-URI`, `X-Forwarded-Uri`), Spring and ASP.NET path bases (`X-Forwarded-Path`,
/// `X-Forwarded-Prefix`), Envoy (`X-Envoy-Original-Path`); the host from `X-Forwarded-Host`,
/// `X-Host`, `X-Forwarded-Server` (Express `trust proxy`, Django `USE_X_FORWARDED_HOST`,
/// Symfony, Rails) and `Forwarded: host=`; the method from `X-HTTP-Method-Override`,
/// `X-HTTP-Method`, `X-Method-Override` (Rails, Laravel, ASP.NET, Express
/// `method-override`). The gateway decides on the request line and `Host`, so a route removes
/// them unless it sets `allow_url_headers`.
pub static URL_HEADERS: [HeaderName; 14] = [
    HeaderName::from_static("x-original-url"),
    HeaderName::from_static("x-rewrite-url"),
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-uri"),
    HeaderName::from_static("x-forwarded-path"),
    HeaderName::from_static("x-forwarded-prefix"),
    HeaderName::from_static("x-envoy-original-path"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-host"),
    HeaderName::from_static("x-forwarded-server"),
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
    header::FORWARDED,
];

/// Removes every [`URL_HEADERS`] entry. One pass over the request's header names finds them,
/// so a request without any costs no hashing and no allocation.
pub fn strip_url_headers(h: &mut HeaderMap) {
    fn found(h: &HeaderMap) -> Option<&'static HeaderName> {
        h.keys()
            .filter(|k| k.as_str().starts_with("x-") || *k == header::FORWARDED)
            .find_map(|k| URL_HEADERS.iter().find(|u| *u == k))
    }
    while let Some(name) = found(h) {
        h.remove(name);
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The gateway's Via entry for a request of version `v` (RFC 9110 §7.6.3).
fn via(v: Version) -> HeaderValue {
    HeaderValue::from_static(match v {
        Version::HTTP_09 => "0.9 icpgate",
        Version::HTTP_10 => "1.0 icpgate",
        Version::HTTP_2 => "2 icpgate",
        Version::HTTP_3 => "3 icpgate",
        _ => "1.1 icpgate",
    })
}

/// Appends `add` to the list header `name`: the value itself when the request has none (no
/// copy), joined to the existing entries otherwise.
fn append(h: &mut HeaderMap, name: HeaderName, add: &HeaderValue) {
    let prev = h.get(&name).map(HeaderValue::as_bytes);
    let joined = match prev {
        Some(prev) if !prev.is_empty() => {
            HeaderValue::from_bytes(&[prev, b", ", add.as_bytes()].concat()).ok()
        }
        _ => Some(add.clone()),
    };
    if let Some(v) = joined {
        h.insert(name, v);
    }
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

impl Upstream {
    /// This worker's client of upstream `cfg`, whose servers are `peers` (`Peers::new` of the
    /// same configuration, shared by every worker).
    pub fn new(cfg: UpstreamConfig, peers: Arc<Peers>) -> Upstream {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(cfg.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*cfg.tls).clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        let host =
            HeaderValue::from_str(cfg.authority.as_str()).unwrap_or(HeaderValue::from_static(""));
        let folded = |event, cause| {
            let key = format!("upstream={} cause={cause}", cfg.name);
            Folded::new(event, key, Level::Warn)
        };
        let failed = [
            folded("upstream_connect_failed", "connect"),
            folded("upstream_failed", "protocol"),
        ];
        let pools = if cfg.scheme == http::uri::Scheme::HTTP {
            let t = cfg.connect_timeout;
            cfg.servers.iter().map(|s| Pool::new(s, t)).collect()
        } else {
            Vec::new()
        };
        Upstream {
            pools,
            peers,
            cfg,
            host,
            client,
            failed,
        }
    }

    /// The upstream URI for a request: the configured scheme and authority, then the prefix
    /// and the client's path and query. Without a prefix the path and query move over as they
    /// are, not copied. Returns the client's authority (absolute-form requests) beside it.
    fn upstream_uri(&self, uri: Uri) -> (Uri, Option<Authority>) {
        let client = uri.into_parts();
        let pq = match (self.cfg.path_prefix.as_str(), client.path_and_query) {
            ("", Some(pq)) => Some(pq),
            (prefix, pq) => {
                let rest = pq.as_ref().map_or("/", |p| p.as_str());
                PathAndQuery::try_from(format!("{prefix}{rest}")).ok()
            }
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.cfg.scheme.clone());
        parts.authority = Some(self.cfg.authority.clone());
        parts.path_and_query = pq.or_else(|| Some(PathAndQuery::from_static("/")));
        let uri = Uri::from_parts(parts).unwrap_or_else(|_| Uri::from_static("/"));
        (uri, client.authority)
    }

    pub(super) fn prepare(&self, parts: &mut Parts, side: &ClientSide<'_>) {
        let (uri, original_authority) = self.upstream_uri(std::mem::take(&mut parts.uri));
        parts.uri = uri;
        let h = &mut parts.headers;
        strip_hop_by_hop(h);
        h.remove(side.filing_header);
        if let Some(v) = side.filing.clone() {
            h.insert(side.filing_header.clone(), v);
        }
        if !self.cfg.preserve_host {
            h.insert(header::HOST, self.host.clone());
        } else if !h.contains_key(header::HOST) {
            if let Some(a) = original_authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            {
                h.insert(header::HOST, a);
            }
        }
        append(h, X_FORWARDED_FOR, side.forwarded_for);
        h.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if side.tls { "https" } else { "http" }),
        );
        append(h, header::VIA, &via(parts.version));
        parts.version = Version::HTTP_11;
    }

    /// Sends the request upstream and waits for the response head (bounded by
    /// `response_timeout`). The response body streams afterwards. Returns the server (index in
    /// `cfg.servers`) that answered, or the last one tried.
    pub async fn send(
        &self,
        mut parts: Parts,
        body: ProxyBody,
        side: &ClientSide<'_>,
    ) -> (Result<Response<Incoming>, UpstreamError>, usize) {
        self.prepare(&mut parts, side);
        if !self.pools.is_empty() {
            return self.send_pooled(parts, body).await;
        }
        let fut = self.client.request(Request::from_parts(parts, body));
        let result = match tokio::time::timeout(self.cfg.response_timeout, fut).await {
            Err(_) => Err(UpstreamError::Timeout),
            Ok(Ok(mut resp)) => {
                strip_hop_by_hop(resp.headers_mut());
                Ok(resp)
            }
            Ok(Err(e)) if is_timeout(&e) => Err(UpstreamError::Timeout),
            Ok(Err(e)) if e.is_connect() => Err(self.connect_failed(&e)),
            Ok(Err(e)) => Err(self.exchange_failed(&e)),
        };
        if result.is_err() {
            self.peers.failed(0);
        }
        (result, 0)
    }

    /// `send` on this worker's pools: the request goes in origin form, with a `Host`, to the
    /// servers in `peers` order; one that cannot be connected to hands it to the next (the
    /// request reached no server), any other failure ends the exchange. `response_timeout`
    /// bounds the whole.
    async fn send_pooled(
        &self,
        mut parts: Parts,
        body: ProxyBody,
    ) -> (Result<Response<Incoming>, UpstreamError>, usize) {
        if !parts.headers.contains_key(header::HOST) {
            parts.headers.insert(header::HOST, self.host.clone());
        }
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or(Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        let current = AtomicUsize::new(0);
        let fut = self.exchange(Request::from_parts(parts, body), &current);
        let result = match tokio::time::timeout(self.cfg.response_timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                // The exchange is still waiting on this server.
                self.peers.failed(current.load(Relaxed));
                Err(UpstreamError::Timeout)
            }
        };
        (result, current.load(Relaxed))
    }

    /// The attempts of `send_pooled`; `current` names the server being (or last) tried.
    async fn exchange(
        &self,
        mut req: Request<ProxyBody>,
        current: &AtomicUsize,
    ) -> Result<Response<Incoming>, UpstreamError> {
        let mut tried = Tried::default();
        let mut i = self.peers.pick(tried).unwrap_or(0);
        loop {
            tried.add(i);
            current.store(i, Relaxed);
            let error = match self.pools[i].send(req).await {
                Ok(mut resp) => {
                    self.peers.answered(i);
                    strip_hop_by_hop(resp.headers_mut());
                    return Ok(resp);
                }
                Err(PoolError::Connect(e, back)) => {
                    self.peers.failed(i);
                    if let Some(next) = self.peers.pick(tried) {
                        tracing::debug!(event = "upstream_next_server", upstream = %self.cfg.name, server = self.peers.name(i), error = %e);
                        self.peers.retried();
                        (req, i) = (*back, next);
                        continue;
                    }
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        UpstreamError::Timeout
                    } else {
                        self.connect_failed(&e)
                    }
                }
                Err(PoolError::Exchange(e)) => {
                    self.peers.failed(i);
                    if is_timeout(&e) {
                        UpstreamError::Timeout
                    } else {
                        self.exchange_failed(&e)
                    }
                }
            };
            return Err(error);
        }
    }

    fn connect_failed(&self, e: &(dyn std::error::Error + 'static)) -> UpstreamError {
        if let Some(r) = self.failed[0].hit() {
            tracing::warn!(event = "upstream_connect_failed", upstream = %self.cfg.name, error = %e, cause = ?e.source(), repeated = r.count, window_s = r.secs());
        }
        UpstreamError::Connect
    }

    fn exchange_failed(&self, e: &(dyn std::error::Error + 'static)) -> UpstreamError {
        if let Some(r) = self.failed[1].hit() {
            tracing::warn!(event = "upstream_failed", upstream = %self.cfg.name, error = %e, cause = ?e.source(), repeated = r.count, window_s = r.secs());
        }
        UpstreamError::Protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_connection_tokens_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["x-kept"]);
    }

    #[test]
    fn every_connection_header_line_and_every_hop_header_spelling_counts() {
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("close"));
        h.append("connection", HeaderValue::from_static(" X-One ,x-two"));
        for n in [
            "x-one",
            "x-two",
            "te",
            "trailer",
            "upgrade",
            "proxy-connection",
        ] {
            h.append(n, HeaderValue::from_static("1"));
        }
        h.append("proxy-authorization", HeaderValue::from_static("Basic a"));
        h.append("proxy-authorization", HeaderValue::from_static("Basic b"));
        h.insert("x-one-more", HeaderValue::from_static("kept"));
        strip_hop_by_hop(&mut h);
        let left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, vec!["x-one-more"]);
    }

    #[test]
    fn url_headers_are_removed_in_any_case_and_number() {
        let mut h = HeaderMap::new();
        for n in &URL_HEADERS {
            h.append(
                n.clone(),
                HeaderValue::from_static("/v1/android/apps/x/update"),
            );
            h.append(n.clone(), HeaderValue::from_static("/again"));
        }
        h.insert("X-Original-Url", HeaderValue::from_static("/a"));
        h.insert("x-original", HeaderValue::from_static("kept"));
        h.insert("host", HeaderValue::from_static("kept"));
        strip_url_headers(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort();
        assert_eq!(left, vec!["host", "x-original"]);
    }
}
