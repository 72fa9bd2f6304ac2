//! The differential suite's wire: a raw HTTP/1.1 client (so dot-segments, backslashes, header
//! spellings and absolute-form targets reach the gateway exactly as written), an HTTP/2
//! prior-knowledge client, and the readings of the gateway's admin metrics and the tee's
//! request counter. Every exchange is bounded by a timeout; nothing here sleeps.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// One request as the case states it; `send` turns it into bytes or an h2 stream.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: &'static str,
    /// The request target: origin-form (`/a?b`) or absolute-form (`http://host/a`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub h2: bool,
}

/// The gateway's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends `r` to `addr` over a fresh connection (HTTP/1.1 with `Connection: close`, or h2c).
pub async fn send(addr: SocketAddr, r: &Req) -> Result<Answer, String> {
    let fut = async {
        if r.h2 {
            send_h2(addr, r).await
        } else {
            send_h1(addr, &h1_bytes(r)).await
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, fut)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// The request's HTTP/1.1 bytes: the headers as given, then Host, Content-Length and
/// `Connection: close` unless the case sets them itself.
pub fn h1_bytes(r: &Req) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", r.method, r.target).into_bytes();
    let has = |n: &str| r.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("host") {
        out.extend_from_slice(b"Host: localhost\r\n");
    }
    for (k, v) in &r.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !has("connection") {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    if !r.body.is_empty() && !has("content-length") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", r.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&r.body);
    out
}

async fn send_h1(addr: SocketAddr, bytes: &[u8]) -> Result<Answer, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(bytes).await.map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    // A reset after the answer (the gateway closing a connection with an unread body) still
    // leaves the answer in `data`.
    let _ = s.read_to_end(&mut data).await;
    parse_h1(&data)
}

fn parse_h1(data: &[u8]) -> Result<Answer, String> {
    let end = memchr::memmem::find(data, b"\r\n\r\n")
        .ok_or_else(|| format!("no response head: {:?}", String::from_utf8_lossy(data)))?;
    let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {head:?}"))?;
    let mut body = data[end + 4..].to_vec();
    if head.contains("\r\ntransfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok(Answer { status, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = memchr::memmem::find(b, b"\r\n") {
        let size = String::from_utf8_lossy(&b[..eol]);
        let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < eol + 2 + n {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = b.get(eol + 4 + n..).unwrap_or_default();
    }
    out
}

async fn send_h2(addr: SocketAddr, r: &Req) -> Result<Answer, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut tx, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let target = if r.target.starts_with('/') {
        format!("http://localhost{}", r.target)
    } else {
        r.target.clone()
    };
    let mut b = http::Request::builder().method(r.method).uri(target);
    for (k, v) in &r.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let req = b
        .body(Full::new(Bytes::from(r.body.clone())))
        .map_err(|e| e.to_string())?;
    tx.ready().await.map_err(|e| e.to_string())?;
    let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

/// `icpgate_requests_total` samples from the admin listener: label set → count.
pub async fn request_counts(admin: SocketAddr) -> BTreeMap<String, f64> {
    let get = Req {
        method: "GET",
        target: "/metrics".into(),
        headers: vec![],
        body: vec![],
        h2: false,
    };
    let a = send(admin, &get).await.expect("admin /metrics");
    String::from_utf8_lossy(&a.body)
        .lines()
        .filter_map(|l| l.strip_prefix("icpgate_requests_total{"))
        .filter_map(|l| {
            let (labels, n) = l.rsplit_once("} ")?;
            Some((labels.to_string(), n.trim().parse().ok()?))
        })
        .collect()
}

/// The one `icpgate_requests_total` series that grew between two scrapes, as
/// (route, decision, reason).
pub fn grown(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Vec<[String; 3]> {
    let label = |set: &str, key: &str| {
        set.split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{key}=\"")))
            .map(|v| v.trim_end_matches('"').to_string())
            .unwrap_or_default()
    };
    after
        .iter()
        .filter(|(k, v)| before.get(*k).copied().unwrap_or(0.0) < **v)
        .map(|(k, _)| [label(k, "route"), label(k, "decision"), label(k, "reason")])
        .collect()
}

/// How many requests the tee relayed to the application readers so far.
pub async fn tee_count(tee: SocketAddr) -> u64 {
    let get = Req {
        method: "GET",
        target: "/__diff_count".into(),
        headers: vec![],
        body: vec![],
        h2: false,
    };
    let a = send(tee, &get).await.expect("tee count");
    let v: serde_json::Value = serde_json::from_slice(&a.body).expect("tee count JSON");
    v["count"].as_u64().expect("count")
}
