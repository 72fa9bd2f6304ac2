//! A listener's client-address options: `trusted_proxies` (whose X-Forwarded-For names the
//! client) and `proxy_protocol` (a plain bool, taken as it is).
//!
//! Owns the parsing of the CIDR list. Must not: decide anything about requests (`client.rs`).
//! Invariant: every block it returns is truncated to its prefix (`10.1.2.3/8` is `10.0.0.0/8`).

use super::Problems;
use std::sync::Arc;

/// `listener[i].trusted_proxies`: CIDR blocks (`10.0.0.0/8`) or single addresses.
pub(super) fn trusted_proxies(
    p: &mut Problems<'_>,
    key: &str,
    raw: &[String],
) -> Arc<[ipnet::IpNet]> {
    let mut nets = Vec::new();
    for (j, v) in raw.iter().enumerate() {
        match v.parse::<ipnet::IpNet>() {
            Ok(n) => nets.push(n.trunc()),
            Err(_) => match v.parse::<std::net::IpAddr>() {
                Ok(ip) => nets.push(ipnet::IpNet::from(ip)),
                Err(_) => p.add(
                    &format!("{key}.trusted_proxies[{j}]"),
                    format!("{v:?} is not an address or CIDR block (e.g. \"10.0.0.0/8\")"),
                ),
            },
        }
    }
    nets.into()
}

#[cfg(test)]
pub(super) mod tests {
    use crate::config::Config;

    pub(in crate::config) fn config(listener: &str, audit: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("snap.ndjson"), "").unwrap();
        let text = format!(
            "[[listener]]\nname = \"public\"\naddress = \"127.0.0.1:0\"\n{listener}\n\n\
             [index]\nsnapshot = \"snap.ndjson\"\n\n[audit]\n{audit}\n"
        );
        (dir, text)
    }

    pub(in crate::config) fn parse(
        listener: &str,
        audit: &str,
    ) -> Result<Config, Vec<(String, Option<usize>)>> {
        let (dir, text) = config(listener, audit);
        Config::parse(&text, &dir.path().join("gw.toml"))
            .map_err(|e| e.0.into_iter().map(|e| (e.key, e.line)).collect())
    }

    pub(in crate::config) fn errors(listener: &str, audit: &str) -> Vec<(String, Option<usize>)> {
        match parse(listener, audit) {
            Ok(_) => panic!("should fail: {listener} {audit}"),
            Err(e) => e,
        }
    }

    #[test]
    fn listener_client_options_default_off_and_parse_cidr_blocks() {
        let c = parse("", "").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(c.listeners[0].trusted_proxies.is_empty());
        assert!(!c.listeners[0].proxy_protocol);
        let c = parse(
            "trusted_proxies = [\"10.1.2.3/8\", \"127.0.0.1\", \"::1\", \"fd00::/8\"]\nproxy_protocol = true",
            "",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let nets: Vec<String> = c.listeners[0]
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"]);
        assert!(c.listeners[0].proxy_protocol);
        let e = errors(
            "trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/33\", \"lb\"]",
            "",
        );
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "listener[0].trusted_proxies[1]",
                "listener[0].trusted_proxies[2]"
            ]
        );
        assert!(e.iter().all(|(_, line)| *line == Some(4)), "{e:?}");
    }
}
