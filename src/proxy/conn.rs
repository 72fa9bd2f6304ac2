//! The client connection a request came in on: its listener, peer, client address (PROXY
//! protocol, trusted X-Forwarded-For) and the per-listener options its requests are read with.
//!
//! Owns the per-connection facts made once at accept time (the X-Forwarded-For entry).
//! Must not: read requests or decide anything.
//! Invariant: `forwarded_for` is always `client`'s address.

use super::target::PathMode;
use crate::client::{self, ClientAddr};
use http::HeaderValue;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;

/// The client connection a request came in on.
#[derive(Clone)]
pub struct Conn {
    pub listener: Arc<str>,
    /// The TCP peer.
    pub peer: SocketAddr,
    /// The connection's client: the source a PROXY protocol header names, else `peer`.
    pub client: SocketAddr,
    pub tls: bool,
    /// `client`'s address as the X-Forwarded-For entry its requests add.
    pub forwarded_for: HeaderValue,
    /// The listener's `path` option: refuse or normalise non-canonical paths.
    pub path: PathMode,
    /// The listener's `trusted_proxies`: whose X-Forwarded-For names the client.
    pub trusted_proxies: Arc<[IpNet]>,
}

fn forwarded_for(client: SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&client.ip().to_canonical().to_string())
        .unwrap_or(HeaderValue::from_static("unknown"))
}

impl Conn {
    pub fn new(listener: Arc<str>, peer: SocketAddr, tls: bool, path: PathMode) -> Conn {
        Conn {
            listener,
            peer,
            client: peer,
            tls,
            forwarded_for: forwarded_for(peer),
            path,
            trusted_proxies: Arc::from([]),
        }
    }

    /// Believes X-Forwarded-For from these proxies (`client.rs`).
    pub fn trusting(self, trusted_proxies: Arc<[IpNet]>) -> Conn {
        Conn {
            trusted_proxies,
            ..self
        }
    }

    /// The connection's client is `client`, as its PROXY protocol header says.
    pub fn proxied_for(self, client: SocketAddr) -> Conn {
        Conn {
            client,
            forwarded_for: forwarded_for(client),
            ..self
        }
    }

    /// The client of a request on this connection: `client`, or past trusted proxies the
    /// address X-Forwarded-For names.
    pub fn client_of(&self, headers: &http::HeaderMap) -> ClientAddr {
        client::resolve(self.client, &self.trusted_proxies, headers)
    }
}
