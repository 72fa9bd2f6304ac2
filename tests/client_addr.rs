//! The client address behind a load balancer: PROXY protocol v1 and v2 headers sent before
//! the request by a raw TCP client, X-Forwarded-For from trusted and untrusted peers, and the
//! audit record naming the client each time.
mod common;

use common::*;
use http::Request;
use http_body_util::Full;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const UNFILED: &str = "/v1/android/apps/com.nobody.unfiled/update";
const FILED: &str = "/v1/android/apps/io.github.benderblog.traintime_pda/update";

/// Sends `bytes` on a fresh connection and returns everything the gateway answers.
async fn raw(g: &Gateway, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(g.running.listeners[0].1).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").into_bytes()
}

fn v2_header(src: std::net::SocketAddr) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21".to_vec();
    match src {
        std::net::SocketAddr::V6(a) => {
            h.extend_from_slice(&[0x21, 0, 36 + 7]);
            h.extend_from_slice(&a.ip().octets());
            h.extend_from_slice(&[0; 16]);
            h.extend_from_slice(&a.port().to_be_bytes());
            h.extend_from_slice(&443u16.to_be_bytes());
        }
        std::net::SocketAddr::V4(a) => {
            h.extend_from_slice(&[0x11, 0, 12 + 7]);
            h.extend_from_slice(&a.ip().octets());
            h.extend_from_slice(&[192, 0, 2, 1]);
            h.extend_from_slice(&a.port().to_be_bytes());
            h.extend_from_slice(&443u16.to_be_bytes());
        }
    }
    // One TLV the gateway skips (PP2_TYPE_AUTHORITY, "lb.test").
    h.extend_from_slice(&[0x02, 0, 4, b'l', b'b', b'.', b't']);
    h
}

/// The audit records once the gateway has stopped (which writes every held record).
async fn audit_after_stop(g: Gateway) -> Vec<serde_json::Value> {
    g.running.shutdown();
    let path = g.audit.clone();
    let _dir = g.dir;
    g.running.wait().await;
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_protocol_v1_and_v2_name_the_client_in_the_audit_and_forwarded_for() {
    let g = gateway_with("proxy_protocol = true", &[]).await;
    let v1 = [
        b"PROXY TCP4 203.0.113.7 192.0.2.1 5555 443\r\n".as_slice(),
        &request(UNFILED),
    ]
    .concat();
    let answer = raw(&g, &v1).await;
    assert!(answer.starts_with("HTTP/1.1 451"), "{answer}");
    let v2 = [
        v2_header("[2001:db8::7]:6666".parse().unwrap()),
        request(UNFILED),
    ]
    .concat();
    let answer = raw(&g, &v2).await;
    assert!(answer.starts_with("HTTP/1.1 451"), "{answer}");
    // A forwarded request: the upstream's X-Forwarded-For names the client, not the balancer.
    let v2 = [
        v2_header("198.51.100.9:7777".parse().unwrap()),
        request(FILED),
    ]
    .concat();
    let answer = raw(&g, &v2).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        g.up.requests()[0].headers["x-forwarded-for"],
        "198.51.100.9"
    );
    // v1 UNKNOWN (and v2 LOCAL): the connection's own peer.
    let unknown = [b"PROXY UNKNOWN\r\n".as_slice(), &request(UNFILED)].concat();
    assert!(raw(&g, &unknown).await.starts_with("HTTP/1.1 451"));
    let clients: Vec<String> = audit_after_stop(g)
        .await
        .iter()
        .map(|r| r["client"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(clients[..2], ["203.0.113.7:5555", "[2001:db8::7]:6666"]);
    assert!(clients[2].starts_with("127.0.0.1:"), "{clients:?}");
    assert_eq!(clients.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_valid_proxy_header_is_closed_and_counted() {
    let g = gateway_with("proxy_protocol = true", &[]).await;
    // Plain HTTP, a malformed v1 header, and a v1 header that never ends.
    assert_eq!(raw(&g, &request(FILED)).await, "");
    let bad = [
        b"PROXY TCP4 203.0.113.7 192.0.2.1 5555\r\n".as_slice(),
        &request(FILED),
    ]
    .concat();
    assert_eq!(raw(&g, &bad).await, "");
    assert_eq!(raw(&g, &b"PROXY UNKNOWN ".repeat(10)).await, "");
    let invalid = r#"icpgate_proxy_protocol_rejected_total{cause="invalid"}"#;
    assert_eq!(metric(&g, invalid).await, 3.0);
    assert!(g.up.requests().is_empty());
    // The listener still serves a well-formed connection.
    let ok = [b"PROXY UNKNOWN\r\n".as_slice(), &request(FILED)].concat();
    assert!(raw(&g, &ok).await.starts_with("HTTP/1.1 200"));
}

async fn blocked_with_forwarded_for(g: &Gateway, xff: &str) -> u16 {
    let req = Request::get(format!("{}{UNFILED}", g.base))
        .header("x-forwarded-for", xff)
        .body(Full::default())
        .unwrap();
    send(&client(), req).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_a_trusted_peer_names_the_client() {
    let g = gateway_with(r#"trusted_proxies = ["127.0.0.0/8", "10.0.0.0/8"]"#, &[]).await;
    let chain = "203.0.113.1, 198.51.100.9, 10.1.2.3";
    assert_eq!(blocked_with_forwarded_for(&g, chain).await, 451);
    // A malformed entry stops the walk at the last trusted hop.
    assert_eq!(
        blocked_with_forwarded_for(&g, "198.51.100.9, bogus, 10.1.2.3").await,
        451
    );
    // The forwarded header keeps the chain and adds the peer.
    let req = Request::get(format!("{}{FILED}", g.base))
        .header("x-forwarded-for", chain)
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&client(), req).await.status, 200);
    let sent = g.up.requests()[0].headers["x-forwarded-for"].clone();
    assert_eq!(sent, format!("{chain}, 127.0.0.1").as_str());
    let clients: Vec<String> = audit_after_stop(g)
        .await
        .iter()
        .map(|r| r["client"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(clients, ["198.51.100.9", "10.1.2.3"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let g = gateway_with(r#"trusted_proxies = ["10.0.0.0/8"]"#, &[]).await;
    assert_eq!(blocked_with_forwarded_for(&g, "198.51.100.9").await, 451);
    let records = audit_after_stop(g).await;
    assert_eq!(records.len(), 1);
    let client = records[0]["client"].as_str().unwrap();
    assert!(client.starts_with("127.0.0.1:"), "{client}");
}
