//! Shared pieces of the over-the-wire coverage tests (`tests/coverage.rs`, `tests/tls.rs`):
//! config fragments, a gateway started from them, and requests that report the HTTP version.

use super::*;
use http::{HeaderValue, Version};
use hyper_util::client::legacy::connect::Connect;
use tokio::net::TcpStream;

pub const LINK: &str = "<https://beian.miit.gov.cn/>; rel=\"blocked-by\"";
pub const PDA: &str = "io.github.benderblog.traintime_pda";
pub const PDA_FILING: &str = "陕ICP备2024026116号-1A";
pub const UNFILED: &str = "com.nobody.unfiled";

pub const PLAIN: &str = "[[listener]]\nname = \"plain\"\naddress = \"127.0.0.1:0\"\n";
pub const COMMON: &str = r#"
[admin]
address = "127.0.0.1:0"

[index]
snapshot = "snapshot.ndjson"

[audit]
path = "audit.jsonl"
"#;

/// One enforcing route on the `store` upstream (`{up}`, the gateway's recording upstream).
pub const UPDATE: &str = r#"
[[upstream]]
name = "store"
url = "http://{up}"

[[route]]
name = "android-update"
path = "/v1/android/apps/{package}/update"
upstream = "store"
platform = "android"
extract = [{ path = "package" }]
"#;

/// Starts a gateway from `text` (listeners, upstreams, routes; `{up}` is `up`) plus
/// [`COMMON`], over the harness snapshot. `base` is the first listener, in plain HTTP.
pub async fn start(text: &str, up: Upstream, files: &[(&str, &[u8])]) -> Gateway {
    let text = format!("{text}\n{COMMON}").replace("{up}", &up.addr.to_string());
    gateway_from(&text, up, files, "http").await
}

pub fn req(method: &str, url: &str, host: Option<&str>) -> Request<Full<Bytes>> {
    let b = Request::builder().method(method).uri(url);
    let b = match host {
        Some(h) => b.header("host", h),
        None => b,
    };
    b.body(Full::default()).unwrap()
}

pub async fn collect(resp: http::Response<hyper::body::Incoming>) -> (Version, Reply) {
    let (p, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let (status, headers) = (p.status.as_u16(), p.headers);
    (
        p.version,
        Reply {
            status,
            headers,
            body,
        },
    )
}

/// Like `common::send`, with the HTTP version of the response.
pub async fn fetch<C>(c: &Client<C, Full<Bytes>>, r: Request<Full<Bytes>>) -> (Version, Reply)
where
    C: Connect + Clone + Send + Sync + 'static,
{
    collect(c.request(r).await.unwrap()).await
}

/// GET over one HTTP/2 connection to `addr`, whatever authority `uri` names.
pub async fn h2_get(addr: SocketAddr, uri: &str) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    tx.ready().await.unwrap();
    collect(tx.send_request(req("GET", uri, None)).await.unwrap())
        .await
        .1
}

pub fn decoded(v: &HeaderValue) -> String {
    let s = percent_encoding::percent_decode_str(v.to_str().unwrap());
    s.decode_utf8().unwrap().into_owned()
}

pub fn assert_ok(r: &Reply) {
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!((r.status, &*body), (200, "upstream-ok"));
}

pub fn assert_refused(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], code);
}

/// Sends `request_line` (e.g. `GET http://h/p HTTP/1.1`, byte for byte, as no client library
/// would) with a Host header and `Connection: close` on a fresh connection to `addr`; returns
/// the status and the response body (the text after the head; refusals have a fixed length).
pub async fn raw_h1(addr: SocketAddr, request_line: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{request_line}\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}
