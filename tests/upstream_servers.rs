//! An upstream of several servers (`servers`, `max_fails`, `fail_timeout`): requests go round
//! robin, a server that refuses connections is skipped and taken out, a request no server saw
//! goes to the next one with its body intact, and a request is never sent twice.

mod common;

use common::*;
use std::net::SocketAddr;

fn config(servers: &[SocketAddr], extra: &str) -> String {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"
[[listener]]
name = "public"
address = "127.0.0.1:0"

[admin]
address = "127.0.0.1:0"

[index]
snapshot = "snapshot.ndjson"

[audit]
path = "audit.jsonl"

[access_log]
path = "access.jsonl"

[[upstream]]
name = "store"
url = "http://store.internal"
servers = [{}]
connect_timeout = "1s"
response_timeout = "2s"
{extra}

[[route]]
name = "android-update"
path = "/v1/android/apps/{{package}}/update"
upstream = "store"
platform = "android"
extract = [{{ path = "package" }}]

[[route]]
name = "slow"
prefix = "/slow"
upstream = "store"
platform = "android"
extract = [{{ query = "pkg" }}]
on_missing = "forward"

[[route]]
name = "form"
methods = ["POST"]
path = "/v1/releases"
upstream = "store"
platform = "android"
extract = [{{ form = "package" }}]
"#,
        list.join(", ")
    )
}

const FILED: &str = "/v1/android/apps/io.github.benderblog.traintime_pda/update";

#[tokio::test]
async fn requests_alternate_between_the_servers() {
    let (a, b) = (upstream().await, upstream().await);
    let text = config(&[a.addr, b.addr], "");
    let (a_seen, b_seen) = (a.seen.clone(), b.seen.clone());
    let g = gateway_from(&text, a, &[], "http").await;
    let c = client();
    for _ in 0..10 {
        let r = get(&c, &format!("{}{FILED}", g.base)).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(a_seen.lock().unwrap().len(), 5);
    assert_eq!(b_seen.lock().unwrap().len(), 5);
    let seen = b_seen.lock().unwrap()[0].clone();
    assert!(
        filing_of(&seen.headers).is_some(),
        "each server gets the filing header"
    );
    assert_eq!(
        metric(&g, r#"icpgate_upstream_retries_total{upstream="store"}"#).await,
        0.0
    );
}

#[tokio::test]
async fn a_server_refusing_connections_is_skipped_and_taken_out() {
    let (dead, live) = (closed_port().await, upstream().await);
    let text = config(&[dead, live.addr], "fail_timeout = \"1h\"");
    let live_seen = live.seen.clone();
    let g = gateway_from(&text, live, &[], "http").await;
    let c = client();
    // The first request meets the dead server first (round robin starts at the first server):
    // refused, it goes to the next with its body, and the dead one is out for an hour.
    let body = "package=io.github.benderblog.traintime_pda&note=%E4%B8%AD";
    let r = send(
        &c,
        post(
            &format!("{}/v1/releases", g.base),
            "application/x-www-form-urlencoded",
            body,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    for _ in 0..5 {
        assert_eq!(get(&c, &format!("{}{FILED}", g.base)).await.status, 200);
    }
    let seen = live_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    assert_eq!(
        seen[0].body,
        body.as_bytes(),
        "the body arrives byte for byte"
    );
    let dead_series = format!(r#"{{server="{dead}",upstream="store"}}"#);
    let live_series = format!(r#"{{server="{}",upstream="store"}}"#, seen_addr(&g));
    for (family, want) in [
        ("icpgate_upstream_server_failures_total", 1.0),
        ("icpgate_upstream_server_marked_down_total", 1.0),
    ] {
        assert_eq!(
            metric(&g, &format!("{family}{dead_series}")).await,
            want,
            "{family}"
        );
        assert_eq!(
            metric(&g, &format!("{family}{live_series}")).await,
            0.0,
            "{family}"
        );
    }
    assert_eq!(
        metric(&g, r#"icpgate_upstream_retries_total{upstream="store"}"#).await,
        1.0
    );
    // The access log names the server that answered each request (nginx's $upstream_addr).
    let (dir, live_addr) = (g.dir, g.up.addr);
    g.running.shutdown();
    g.running.wait().await;
    let log = std::fs::read_to_string(dir.path().join("access.jsonl")).unwrap();
    let addrs: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["upstream_addr"].clone())
        .collect();
    assert_eq!(addrs.len(), 6, "{log}");
    assert!(addrs.iter().all(|a| *a == live_addr.to_string()), "{log}");
}

#[tokio::test]
async fn with_every_server_refusing_the_client_gets_502_once_each_was_tried() {
    let (d1, d2) = (closed_port().await, closed_port().await);
    let spare = upstream().await;
    let text = config(&[d1, d2], "");
    let g = gateway_from(&text, spare, &[], "http").await;
    let r = get(&client(), &format!("{}{FILED}", g.base)).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["code"], "upstream_unavailable");
    for d in [d1, d2] {
        let s =
            format!(r#"icpgate_upstream_server_failures_total{{server="{d}",upstream="store"}}"#);
        assert_eq!(metric(&g, &s).await, 1.0, "{s}");
    }
}

#[tokio::test]
async fn a_request_a_server_took_is_not_sent_again() {
    // The first server reads the request and answers only after response_timeout: the client
    // gets 504, the second server never sees the request, and the first is out of rotation.
    let (slow, other) = (upstream().await, upstream().await);
    let text = config(&[slow.addr, other.addr], "fail_timeout = \"1h\"");
    let (slow_addr, other_seen) = (slow.addr, other.seen.clone());
    let g = gateway_from(&text, slow, &[], "http").await;
    let c = client();
    let r = get(&c, &format!("{}/slow?ms=5000", g.base)).await;
    assert_eq!(r.status, 504);
    assert_eq!(g.up.requests().len(), 1);
    assert!(other_seen.lock().unwrap().is_empty());
    let s = format!(
        r#"icpgate_upstream_server_marked_down_total{{server="{slow_addr}",upstream="store"}}"#
    );
    assert_eq!(metric(&g, &s).await, 1.0);
    assert_eq!(get(&c, &format!("{}{FILED}", g.base)).await.status, 200);
    assert_eq!(
        other_seen.lock().unwrap().len(),
        1,
        "the next request goes to the other"
    );
}

/// The live server's address as the gateway labels it.
fn seen_addr(g: &Gateway) -> SocketAddr {
    g.up.addr
}
