//! Listener limits and index-staleness policies over the wire.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(
    limits: &str,
    index_extra: &str,
    route_edit: impl Fn(String) -> String,
) -> (icpgate::Running, Upstream, tempfile::TempDir) {
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), SNAPSHOT).unwrap();
    let text = config_text(up.addr, closed_port().await, "")
        .replace("[limits]\n", &format!("[limits]\n{limits}\n"))
        .replace(
            "snapshot = \"snapshot.ndjson\"",
            &format!("snapshot = \"snapshot.ndjson\"\n{index_extra}"),
        );
    let text = route_edit(text);
    let cfg = icpgate::config::Config::parse(&text, &dir.path().join("gw.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    (icpgate::start(cfg).await.unwrap(), up, dir)
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_max_connections_are_closed_at_accept() {
    let (g, _up, _d) = start("max_connections = 1", "", |t| t).await;
    let addr = g.listeners[0].1;
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(b"GET /v1/android/apps/io.github.benderblog.traintime_pda/update HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    first.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let mut second = TcpStream::connect(addr).await.unwrap();
    let _ = second.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(
        read_until_closed(&mut second).await,
        "",
        "the second connection gets no answer"
    );
    let m = icpgate::metrics::Metrics::render(&g.metrics);
    assert!(
        m.contains("icpgate_connections_rejected_total{listener=\"public\"} 1"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_and_idle_connections_are_closed() {
    let (g, _up, _d) = start(
        "header_read_timeout = \"200ms\"\nidle_timeout = \"300ms\"",
        "",
        |t| t,
    )
    .await;
    let addr = g.listeners[0].1;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /v1/android/apps/x.y/update HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /v1/android/apps/io.github.benderblog.traintime_pda/update HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "served, then closed once idle: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused() {
    let (g, up, _d) = start("max_header_bytes = 8192", "", |t| t).await;
    let mut s = TcpStream::connect(g.listeners[0].1).await.unwrap();
    let big = "a".repeat(20_000);
    let req = format!("GET /v1/android/apps/io.github.benderblog.traintime_pda/update HTTP/1.1\r\nHost: x\r\nx-big: {big}\r\n\r\n");
    let _ = s.write_all(req.as_bytes()).await;
    let answer = read_until_closed(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert!(up.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_index_follows_each_routes_policy() {
    let (g, up, _d) = start("", "stale_after = \"0s\"", |t| {
        t.replace("name = \"mp\"\n", "name = \"mp\"\non_stale = \"closed\"\n")
            .replace(
                "name = \"form\"\n",
                "name = \"form\"\non_stale = \"open\"\n",
            )
    })
    .await;
    let base = format!("http://{}", g.listeners[0].1);
    let c = client();
    let r = get(
        &c,
        &format!("{base}/mp/wechat/share?appid=wx84c222762738ce75"),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (503, Some("index_stale"))
    );
    let r = send(
        &c,
        post(
            &format!("{base}/v1/releases"),
            "application/x-www-form-urlencoded",
            "package=com.nobody.unfiled",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "fail open forwards even an unfiled app");
    assert!(filing_of(&up.requests()[0].headers).is_none());
    let r = get(
        &c,
        &format!("{base}/v1/android/apps/com.nobody.unfiled/update"),
    )
    .await;
    assert_eq!(
        r.status, 451,
        "the default keeps enforcing from the last good index"
    );
    let ready = get(&c, &format!("http://{}/readyz", g.admin)).await;
    assert_eq!(
        (ready.status, ready.json()["state"].as_str()),
        (200, Some("stale"))
    );
    let m = g.metrics.render();
    assert!(m.contains(r#"icpgate_requests_total{decision="pass",platform="android",reason="index_stale_fail_open",route="form",status_class="2xx"} 1"#), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_forwards_an_over_limit_body_unchanged() {
    let (g, up, _d) = start("", "", |t| {
        t.replace(
            "extract = [{ query = \"pkg\" }]\nmode = \"monitor\"",
            "extract = [{ json = \"/pkg\" }]\nmode = \"monitor\"",
        )
    })
    .await;
    let base = format!("http://{}", g.listeners[0].1);
    let body: Vec<u8> = format!(
        r#"{{"pkg":"com.nobody.unfiled","pad":"{}"}}"#,
        "z".repeat(9000)
    )
    .into_bytes();
    let r = send(
        &client(),
        post(
            &format!("{base}/monitor/upload"),
            "application/json",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(up.requests()[0].body, body);
    assert!(g
        .metrics
        .render()
        .contains(r#"reason="body_too_large",route="monitor",status_class="2xx"} 1"#));
}

/// A listener whose accept queue is full: Linux drops further SYNs, so a connect to it hangs
/// until the connector gives up. Holds the listener and the connection that fills the queue.
async fn unanswering_port() -> (tokio::net::TcpListener, TcpStream, std::net::SocketAddr) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    // Backlog 0 queues one connection; it is never accepted.
    let listener = sock.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let filler = TcpStream::connect(addr).await.unwrap();
    (listener, filler, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_never_accepts_is_504_after_connect_timeout() {
    let up = upstream().await;
    let (_listener, _filler, stalled) = unanswering_port().await;
    let text = config_text(up.addr, stalled, "");
    let g = gateway_from(&text, up, &[], "http").await;
    let c = client();
    let r = get(&c, &format!("{}/down/anything", g.base)).await;
    // A refused connect would be 502 upstream_unavailable with cause "connect".
    assert_eq!(r.status, 504, "{:?}", r.json());
    assert_eq!(r.json()["code"], "upstream_timeout");
    assert_eq!(
        metric(
            &g,
            r#"icpgate_upstream_errors_total{cause="timeout",upstream="down"}"#
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_408_on_body_and_upload_routes() {
    let upload_route = "\n[[route]]\nname = \"pkg\"\nmethods = [\"POST\"]\npath = \"/v1/packages\"\nupstream = \"store\"\nupload = { field = \"file\" }\n";
    let (g, up, _d) = start("body_read_timeout = \"200ms\"", "", |t| t + upload_route).await;
    let addr = g.listeners[0].1;
    for (path, ctype) in [
        ("/v1/uploads", "application/json"),
        ("/v1/packages", "application/vnd.android.package-archive"),
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: 100\r\n\r\n{{\"app\":"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        // Nothing more is sent: the gateway must answer and close on its own.
        let answer = read_until_closed(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(
            answer.contains("\"code\":\"body_timeout\""),
            "{path}: {answer}"
        );
    }
    assert!(up.requests().is_empty(), "nothing reaches the upstream");
    let m = icpgate::metrics::Metrics::render(&g.metrics);
    assert!(m.contains("reason=\"body_timeout\""), "{m}");
}
