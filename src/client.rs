//! The client address of a request: the connection's (its TCP peer, or the source a PROXY
//! protocol header names), or, when that address is a trusted proxy, the address its
//! X-Forwarded-For chain names past every trusted hop.
//!
//! Owns `ClientAddr` and the X-Forwarded-For walk (as nginx's `real_ip_recursive` and Envoy's
//! `xff_num_trusted_hops` read the chain): from the right, each entry added by a trusted
//! address is believed; the first address that is not trusted is the client. A malformed
//! entry stops the walk at the last trusted hop. If every entry is trusted the leftmost is the
//! client.
//! Must not: change the X-Forwarded-For header that is forwarded (`proxy/forward.rs` appends
//! the connection's address to it), or believe X-Forwarded-For from an untrusted address.
//! Invariant: with no trusted proxies the client is the connection's address.

use http::HeaderMap;
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Who a request came from: an address with the port when it is the connection's own (or a
/// PROXY header's), without one when it comes from X-Forwarded-For.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl From<SocketAddr> for ClientAddr {
    fn from(a: SocketAddr) -> ClientAddr {
        ClientAddr {
            ip: a.ip().to_canonical(),
            port: Some(a.port()),
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => SocketAddr::new(self.ip, port).fmt(f),
            None => self.ip.fmt(f),
        }
    }
}

impl serde::Serialize for ClientAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn is_trusted(trusted: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|n| n.contains(&ip))
}

/// The client of a request that came on a connection from `conn`, given its headers and the
/// listener's trusted proxies.
pub fn resolve(conn: SocketAddr, trusted: &[IpNet], headers: &HeaderMap) -> ClientAddr {
    let mut client = ClientAddr::from(conn);
    if trusted.is_empty() || !is_trusted(trusted, client.ip) {
        return client;
    }
    // Header fields in reverse, each field's comma-separated entries in reverse: the chain
    // read from the hop nearest the gateway outwards.
    for field in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = field.to_str() else {
            return client;
        };
        for entry in text.rsplit(',') {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                return client;
            };
            client = ClientAddr {
                ip: ip.to_canonical(),
                port: None,
            };
            if !is_trusted(trusted, client.ip) {
                return client;
            }
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    const LB: &str = "10.0.0.5:4000";

    fn client(trusted: &[&str], values: &[&str]) -> String {
        resolve(LB.parse().unwrap(), &nets(trusted), &xff(values)).to_string()
    }

    #[test]
    fn untrusted_peers_forwarded_for_is_ignored() {
        assert_eq!(client(&[], &["198.51.100.9"]), LB);
        assert_eq!(client(&["192.168.0.0/16"], &["198.51.100.9"]), LB);
    }

    #[test]
    fn the_walk_stops_at_the_first_untrusted_address() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(client(&trusted, &["198.51.100.9"]), "198.51.100.9");
        assert_eq!(
            client(&trusted, &["203.0.113.1, 198.51.100.9, 10.1.2.3"]),
            "198.51.100.9"
        );
        // Several header fields are one list, in order.
        assert_eq!(
            client(&trusted, &["203.0.113.1, 198.51.100.9", "10.1.2.3"]),
            "198.51.100.9"
        );
        // Every entry trusted: the leftmost.
        assert_eq!(client(&trusted, &["10.9.9.9, 10.1.2.3"]), "10.9.9.9");
        // No header: the trusted peer itself.
        assert_eq!(client(&trusted, &[]), LB);
    }

    #[test]
    fn a_malformed_entry_stops_at_the_last_trusted_hop() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            client(&trusted, &["198.51.100.9, bogus, 10.1.2.3"]),
            "10.1.2.3"
        );
        assert_eq!(client(&trusted, &["198.51.100.9, 10.1.2.3:80"]), LB);
        assert_eq!(client(&trusted, &["198.51.100.9,,10.1.2.3"]), "10.1.2.3");
    }

    #[test]
    fn ipv6_and_mapped_addresses() {
        let trusted = ["::1/128", "127.0.0.0/8"];
        let h = xff(&["2001:db8::7"]);
        let peer: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(
            resolve(peer, &nets(&trusted), &h).to_string(),
            "2001:db8::7"
        );
        // An IPv4 peer on a dual-stack socket is matched against IPv4 blocks.
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:9".parse().unwrap();
        assert_eq!(
            resolve(mapped, &nets(&trusted), &h).to_string(),
            "2001:db8::7"
        );
        assert_eq!(resolve(mapped, &[], &h).to_string(), "127.0.0.1:9");
    }
}
