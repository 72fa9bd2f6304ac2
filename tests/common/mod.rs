//! Test harness: a recording upstream, a gateway started in-process on 127.0.0.1:0, and HTTP
//! clients (h1, h2, TLS). No fixed ports, no sleeps for synchronisation.
#![allow(dead_code)]

pub mod wire;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use icpgate::config::Config;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// What the upstream received, byte for byte.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub arrived: Arc<tokio::sync::Notify>,
}

impl Upstream {
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An upstream that records every request and answers 200 `upstream-ok`. A path starting with
/// `/slow` waits for the number of milliseconds in the `ms` query parameter first.
pub async fn upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (s, a) = (seen.clone(), arrived.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let (s, a) = (s.clone(), a.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let (s, a) = (s.clone(), a.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        a.notify_one();
                        let body = body.collect().await?.to_bytes();
                        let uri = parts.uri.to_string();
                        s.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            uri: uri.clone(),
                            headers: parts.headers,
                            body,
                        });
                        if parts.uri.path().starts_with("/slow") {
                            let ms: u64 = parts
                                .uri
                                .query()
                                .and_then(|q| q.strip_prefix("ms="))
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(
                            b"upstream-ok",
                        ))))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Upstream {
        addr,
        seen,
        arrived,
    }
}

/// A port with nothing listening (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

pub const SNAPSHOT: &str = r#"{"number":"陕ICP备2024026116号-1A","status":"active","entity":"西安电子科技大学","app_name":"XDYou","platforms":[{"platform":"ios","ids":["xyz.superbart.xdyou"]},{"platform":"android","ids":["io.github.benderblog.traintime_pda"]}]}
{"number":"粤ICP备2023123456号-3A","status":"revoked","entity":"甲公司","app_name":"R","platforms":[{"platform":"android","ids":["com.example.revokedapp"]}]}
{"number":"浙ICP备2024071295号-2A","status":"cancelled","entity":"乙公司","app_name":"C","platforms":[{"platform":"android","ids":["com.example.cancelledapp"]}]}
{"number":"京ICP备2026059598号-4A","status":"restricted","entity":"丙公司","app_name":"L","platforms":[{"platform":"android","ids":["com.example.restrictedapp"]}]}
{"number":"豫ICP备2024333333号-1A","status":"active","entity":"丁公司","app_name":"I","platforms":[{"platform":"ios","ids":["com.example.iosonly"]}]}
{"number":"京ICP备2026059598号-1X","status":"active","entity":"戊公司","app_name":"M","platforms":[{"platform":"wechat","ids":["wx84c222762738ce75"]}]}
{"number":"鄂ICP备2024222222号-2A","status":"active","entity":"己公司","app_name":"H","platforms":[{"platform":"harmony","ids":["com.example.hmos.notes"]}]}
this line is not a record
"#;

pub struct Gateway {
    pub running: icpgate::Running,
    pub base: String,
    pub admin: String,
    pub up: Upstream,
    pub dir: tempfile::TempDir,
    pub snapshot: PathBuf,
    pub audit: PathBuf,
}

pub fn config_text(up: SocketAddr, down: SocketAddr, extra: &str) -> String {
    format!(
        r#"
[[listener]]
name = "public"
address = "127.0.0.1:0"
{extra}

[limits]
max_body_bytes = 4096
drain_timeout = "10s"

[admin]
address = "127.0.0.1:0"

[index]
snapshot = "snapshot.ndjson"

[audit]
path = "audit.jsonl"

[[upstream]]
name = "store"
url = "http://{up}"
response_timeout = "1s"

[[upstream]]
name = "down"
url = "http://{down}"
connect_timeout = "1s"

[[route]]
name = "android-update"
path = "/v1/android/apps/{{package}}/update"
upstream = "store"
platform = "android"
extract = [{{ path = "package" }}]

[[route]]
name = "app-check"
path = "/v1/{{platform}}/apps/{{id}}"
upstream = "store"
platform_from = {{ path = "platform" }}
extract = [{{ path = "id" }}]

[[route]]
name = "upload"
methods = ["POST"]
path = "/v1/uploads"
upstream = "store"
platform_from = {{ json = "/app/platform" }}
extract = [{{ json = "/app/id" }}, {{ header = "x-app-id" }}]

[[route]]
name = "form"
methods = ["POST"]
path = "/v1/releases"
upstream = "store"
platform = "android"
extract = [{{ form = "package" }}]

[[route]]
name = "mp"
path = "/mp/{{host}}/{{api}}"
upstream = "store"
platform_from = {{ path = "host" }}
extract = [{{ query = "appid" }}, {{ header = "x-mp-appid" }}]

[[route]]
name = "monitor"
prefix = "/monitor/"
upstream = "store"
platform = "android"
extract = [{{ query = "pkg" }}]
mode = "monitor"

[[route]]
name = "slow"
prefix = "/slow"
upstream = "store"
platform = "android"
extract = [{{ query = "pkg" }}]
on_missing = "forward"

[[route]]
name = "to-down"
prefix = "/down"
upstream = "down"
platform = "android"
mode = "off"

[[route]]
name = "search"
prefix = "/search"
upstream = "store"
platform = "android"
filter = {{ pointer = "/results", id = "/package" }}
"#
    )
}

/// Starts a gateway on 127.0.0.1:0 in front of a fresh recording upstream.
pub async fn gateway_with(extra_listener_toml: &str, files: &[(&str, &[u8])]) -> Gateway {
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, extra_listener_toml);
    let scheme = if extra_listener_toml.contains("tls") {
        "https"
    } else {
        "http"
    };
    gateway_from(&text, up, files, scheme).await
}

/// Starts a gateway from config `text` (its relative paths beside the harness snapshot and
/// `files`, in a fresh folder); `base` is the first listener, under `scheme`.
pub async fn gateway_from(
    text: &str,
    up: Upstream,
    files: &[(&str, &[u8])],
    scheme: &str,
) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot.ndjson");
    std::fs::write(&snapshot, SNAPSHOT).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let cfg_path = dir.path().join("gw.toml");
    std::fs::write(&cfg_path, text).unwrap();
    let cfg = Config::load(&cfg_path).unwrap_or_else(|e| panic!("{e}"));
    let running = icpgate::start(cfg).await.unwrap();
    let base = format!("{scheme}://localhost:{}", running.listeners[0].1.port());
    let admin = format!("http://{}", running.admin);
    let audit = dir.path().join("audit.jsonl");
    Gateway {
        running,
        base,
        admin,
        up,
        dir,
        snapshot,
        audit,
    }
}

pub async fn gateway() -> Gateway {
    gateway_with("", &[]).await
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub fn h2_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new())
}

/// A reply with its body collected.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }
}

pub async fn send<C>(client: &Client<C, Full<Bytes>>, req: Request<Full<Bytes>>) -> Reply
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let resp = client.request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

pub async fn get(c: &TestClient, url: &str) -> Reply {
    send(c, Request::get(url).body(Full::default()).unwrap()).await
}

pub fn post(url: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(url)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap()
}

/// The value of one metric sample line from /metrics, 0 if absent.
pub async fn metric(g: &Gateway, sample: &str) -> f64 {
    let text = String::from_utf8(
        get(&client(), &format!("{}/metrics", g.admin))
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    text.lines()
        .find(|l| l.starts_with(sample) && l[sample.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// Percent-decodes the filing header the gateway attached.
pub fn filing_of(h: &HeaderMap) -> Option<String> {
    let v = h.get("icp-filing-number")?.to_str().ok()?;
    Some(
        percent_encoding::percent_decode_str(v)
            .decode_utf8()
            .ok()?
            .into_owned(),
    )
}

pub fn self_signed() -> (String, String, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (
        ck.cert.pem(),
        ck.key_pair.serialize_pem(),
        ck.cert.der().to_vec(),
    )
}

/// A TLS client that trusts only the DER certificate `trusted`; `h2` offers only HTTP/2 by
/// ALPN, otherwise only HTTP/1.1.
pub fn tls_client(
    trusted: &[u8],
    h2: bool,
) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(trusted.to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only();
    let conn = if h2 {
        builder.enable_http2().build()
    } else {
        builder.enable_http1().build()
    };
    Client::builder(TokioExecutor::new()).build(conn)
}
