//! Over-the-wire coverage of features no other test exercised: route `host`, `regex` (named
//! captures) and `methods` matching; `[default] action = "forward"` and `"not_found"`;
//! `[filing_header]` with its own name and `response = true`; an `https://` upstream trusted
//! through `ca_file` (and refused when its certificate does not chain to it); two
//! `[[listener]]`s (plain and TLS) in one gateway; 451 refusals over HTTP/2.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderValue, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use icpgate::config::Config;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

const LINK: &str = "<https://beian.miit.gov.cn/>; rel=\"blocked-by\"";
const PDA: &str = "io.github.benderblog.traintime_pda";
const PDA_FILING: &str = "陕ICP备2024026116号-1A";
const UNFILED: &str = "com.nobody.unfiled";

const PLAIN: &str = "[[listener]]\nname = \"plain\"\naddress = \"127.0.0.1:0\"\n";
const COMMON: &str = r#"
[admin]
address = "127.0.0.1:0"

[index]
snapshot = "snapshot.ndjson"

[audit]
path = "audit.jsonl"
"#;

/// One enforcing route on the `store` upstream (`{up}`, the gateway's recording upstream).
const UPDATE: &str = r#"
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

/// The routing tests: `store` (`{up}`) behind host, regex and method routes; `other` takes
/// the `any-host` route and everything no route matches.
const ROUTING: &str = r#"
[default]
action = "forward"
upstream = "other"

[[upstream]]
name = "store"
url = "http://{up}"

[[upstream]]
name = "other"
url = "http://{other}"

[[route]]
name = "store-host"
host = "Store.Example.com"
prefix = "/h/"
upstream = "store"
platform = "android"
extract = [{ query = "pkg" }]

[[route]]
name = "any-host"
prefix = "/h/"
upstream = "other"
platform = "android"
mode = "off"

[[route]]
name = "by-regex"
regex = '^/v2/(?P<os>android|ios)/apps/(?P<id>[^/]+)/info$'
upstream = "store"
platform_from = { path = "os" }
extract = [{ path = "id" }]

[[route]]
name = "writes"
methods = ["POST", "PUT"]
path = "/m/{id}"
upstream = "store"
platform = "android"
extract = [{ path = "id" }]
"#;

/// Starts a gateway from `text` (listeners, upstreams, routes; `{up}` is `up`) plus
/// [`COMMON`], over the harness snapshot. `base` is the first listener, in plain HTTP.
async fn start(text: &str, up: Upstream, files: &[(&str, &[u8])]) -> Gateway {
    let text = format!("{text}\n{COMMON}").replace("{up}", &up.addr.to_string());
    gateway_from(&text, up, files, "http").await
}

async fn routing() -> (Gateway, Upstream) {
    let other = upstream().await;
    let text = format!("{PLAIN}{ROUTING}").replace("{other}", &other.addr.to_string());
    (start(&text, upstream().await, &[]).await, other)
}

fn req(method: &str, url: &str, host: Option<&str>) -> Request<Full<Bytes>> {
    let b = Request::builder().method(method).uri(url);
    let b = match host {
        Some(h) => b.header("host", h),
        None => b,
    };
    b.body(Full::default()).unwrap()
}

async fn collect(resp: http::Response<hyper::body::Incoming>) -> (Version, Reply) {
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
async fn fetch<C>(c: &Client<C, Full<Bytes>>, r: Request<Full<Bytes>>) -> (Version, Reply)
where
    C: Connect + Clone + Send + Sync + 'static,
{
    collect(c.request(r).await.unwrap()).await
}

/// GET over one HTTP/2 connection to `addr`, whatever authority `uri` names.
async fn h2_get(addr: SocketAddr, uri: &str) -> Reply {
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

fn decoded(v: &HeaderValue) -> String {
    let s = percent_encoding::percent_decode_str(v.to_str().unwrap());
    s.decode_utf8().unwrap().into_owned()
}

fn assert_ok(r: &Reply) {
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!((r.status, &*body), (200, "upstream-ok"));
}

fn assert_refused(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], code);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_route_matches_only_its_host() {
    let (g, other) = routing().await;
    let c = client();
    let url = |pkg: &str| format!("{}/h/x?pkg={pkg}", g.base);
    // Case-insensitive, port ignored.
    for host in ["store.example.com", "STORE.Example.COM:8443"] {
        assert_refused(
            &send(&c, req("GET", &url(UNFILED), Some(host))).await,
            451,
            "not_filed",
        );
    }
    let r = send(&c, req("GET", &url(PDA), Some("store.example.com"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        filing_of(&g.up.requests()[0].headers).as_deref(),
        Some(PDA_FILING)
    );
    // Any other host, even one that merely starts with it, falls to the next route.
    for host in ["other.example.com", "store.example.com.evil.test"] {
        assert_ok(&send(&c, req("GET", &url(UNFILED), Some(host))).await);
    }
    // HTTP/2: the host is the :authority.
    let addr = g.running.listeners[0].1;
    let r = h2_get(addr, &format!("http://store.example.com/h/y?pkg={UNFILED}")).await;
    assert_refused(&r, 451, "not_filed");
    let r = h2_get(addr, &format!("http://other.example.com/h/y?pkg={UNFILED}")).await;
    assert_eq!(r.status, 200);
    let seen = other.requests();
    let hosts: Vec<_> = seen.iter().map(|s| s.headers["host"].clone()).collect();
    assert_eq!(
        hosts,
        [
            "other.example.com",
            "store.example.com.evil.test",
            "other.example.com"
        ]
    );
    assert!(seen.iter().all(|s| filing_of(&s.headers).is_none()));
    assert_eq!(g.up.requests().len(), 1);
    let sample = r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="store-host"}"#;
    assert_eq!(metric(&g, sample).await, 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_route_extracts_named_captures() {
    let (g, other) = routing().await;
    let c = client();
    let url = |p: &str| format!("{}{p}", g.base);
    let r = get(&c, &url("/v2/ios/apps/xyz.superbart.xdyou/info")).await;
    assert_eq!(r.status, 200);
    let r = get(
        &c,
        &url("/v2/android/apps/io.github.benderblog.traintime%5Fpda/info"),
    )
    .await;
    assert_eq!(r.status, 200, "the capture is percent-decoded once");
    let seen = g.up.requests();
    assert_eq!(seen[0].uri, "/v2/ios/apps/xyz.superbart.xdyou/info");
    assert_eq!(
        seen[1].uri,
        "/v2/android/apps/io.github.benderblog.traintime%5Fpda/info"
    );
    for s in &seen {
        assert_eq!(filing_of(&s.headers).as_deref(), Some(PDA_FILING));
    }
    let r = get(&c, &url("/v2/android/apps/com.example.revokedapp/info")).await;
    assert_refused(&r, 451, "revoked");
    let v = r.json();
    assert_eq!(
        (v["platform"].as_str(), v["identifier"].as_str()),
        (Some("android"), Some("com.example.revokedapp"))
    );
    // Paths the regex does not match go to the default upstream, undecided.
    for p in [
        "/v2/android/apps/com.example.revokedapp/info/x",
        "/v2/harmony/apps/com.example.hmos.notes/info",
    ] {
        assert_eq!(get(&c, &url(p)).await.status, 200, "{p}");
    }
    assert_eq!(g.up.requests().len(), 2);
    assert_eq!(other.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_limit_a_route() {
    let (g, other) = routing().await;
    let c = client();
    let unfiled = format!("{}/m/{UNFILED}", g.base);
    for m in ["POST", "PUT"] {
        assert_refused(&send(&c, req(m, &unfiled, None)).await, 451, "not_filed");
    }
    for m in ["GET", "DELETE", "PATCH"] {
        let r = send(&c, req(m, &unfiled, None)).await;
        assert_eq!(
            r.status, 200,
            "{m} is not one of the route's methods: the default forwards it"
        );
    }
    let methods: Vec<_> = other.requests().into_iter().map(|s| s.method).collect();
    assert_eq!(methods, ["GET", "DELETE", "PATCH"]);
    let r = send(&c, req("PUT", &format!("{}/m/{PDA}", g.base), None)).await;
    assert_eq!(r.status, 200);
    let seen = g.up.requests();
    assert_eq!((seen.len(), seen[0].method.as_str()), (1, "PUT"));
    assert_eq!(filing_of(&seen[0].headers).as_deref(), Some(PDA_FILING));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_action_forward_and_not_found() {
    let (g, other) = routing().await;
    let r = Request::post(format!("{}/nowhere/x?q=1", g.base))
        .header("icp-filing-number", "forged")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    assert_ok(&send(&client(), r).await);
    let seen = other.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].uri.as_str()),
        ("POST", "/nowhere/x?q=1")
    );
    assert_eq!(&seen[0].body[..], b"payload");
    assert_eq!(seen[0].headers["via"], "1.1 icpgate");
    assert!(
        seen[0].headers.get("icp-filing-number").is_none(),
        "a client's filing header is always removed"
    );
    assert!(g.up.requests().is_empty());

    let text = format!("{PLAIN}[default]\naction = \"not_found\"\n{UPDATE}");
    let g = start(&text, upstream().await, &[]).await;
    let r = get(&client(), &format!("{}/nowhere", g.base)).await;
    assert_refused(&r, 404, "no_route");
    assert_eq!(r.json()["status"], 404);
    assert!(g.up.requests().is_empty());
    let bad = format!("{PLAIN}[default]\naction = \"404\"\n{UPDATE}{COMMON}")
        .replace("{up}", "127.0.0.1:1");
    let e = Config::parse(&bad, &g.dir.path().join("bad.toml"))
        .err()
        .expect("action = \"404\" is not a valid default action")
        .to_string();
    assert!(e.contains("default.action"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filing_header_named_and_on_the_response() {
    let text =
        format!("{PLAIN}[filing_header]\nrequest = \"x-icp-filing\"\nresponse = true\n{UPDATE}");
    let g = start(&text, upstream().await, &[]).await;
    let c = client();
    let r = Request::get(format!("{}/v1/android/apps/{PDA}/update", g.base))
        .header("x-icp-filing", "forged")
        .body(Full::default())
        .unwrap();
    let r = send(&c, r).await;
    assert_eq!(r.status, 200);
    assert_eq!(decoded(&r.headers["x-icp-filing"]), PDA_FILING);
    assert!(r.headers.get("icp-filing-number").is_none());
    let seen = g.up.requests();
    let sent: Vec<_> = seen[0]
        .headers
        .get_all("x-icp-filing")
        .iter()
        .map(decoded)
        .collect();
    assert_eq!(sent, [PDA_FILING], "the client's value is replaced");
    assert!(seen[0].headers.get("icp-filing-number").is_none());
    let r = get(
        &c,
        &format!("{}/v1/android/apps/com.example.revokedapp/update", g.base),
    )
    .await;
    assert_refused(&r, 451, "revoked");
    assert!(r.headers.get("x-icp-filing").is_none());
}

/// Added to [`UPDATE`], whose `store` is then reached through a TLS front with a certificate
/// that chains to `ca.pem`; `rogue`'s front presents a self-signed one.
const ROGUE: &str = r#"
[[upstream]]
name = "rogue"
url = "https://localhost:{rogue}"
ca_file = "ca.pem"

[[route]]
name = "rogue"
prefix = "/rogue/"
upstream = "rogue"
platform = "android"
mode = "off"
"#;

/// A CA, and a certificate for `localhost` it signed (DER, with its key).
fn ca_and_leaf() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "icpgate test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (ca.pem(), leaf.der().clone(), key)
}

type Alpns = Arc<Mutex<Vec<Option<Vec<u8>>>>>;

/// Terminates TLS (ALPN h2, http/1.1) on 127.0.0.1:0 and pipes each connection to `inner`;
/// records the protocol each completed handshake negotiated.
async fn tls_front(
    inner: SocketAddr,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> (SocketAddr, Alpns) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let alpns = Alpns::default();
    let seen = alpns.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (acceptor, seen) = (acceptor.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                seen.lock()
                    .unwrap()
                    .push(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec));
                let mut plain = TcpStream::connect(inner).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (addr, alpns)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_trusted_through_ca_file() {
    let up = upstream().await;
    let (ca_pem, cert, key) = ca_and_leaf();
    let (front, alpns) = tls_front(up.addr, cert, key).await;
    let rogue = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let rogue_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(rogue.key_pair.serialize_der()));
    let (rogue, rogue_alpns) = tls_front(up.addr, rogue.cert.der().clone(), rogue_key).await;
    let store = format!(
        "\"https://localhost:{}\"\nca_file = \"ca.pem\"",
        front.port()
    );
    let text = format!("{PLAIN}{UPDATE}{ROGUE}")
        .replace("\"http://{up}\"", &store)
        .replace("{rogue}", &rogue.port().to_string());
    let g = start(&text, up, &[("ca.pem", ca_pem.as_bytes())]).await;
    let c = client();
    assert_ok(&get(&c, &format!("{}/v1/android/apps/{PDA}/update?x=1", g.base)).await);
    let seen = g.up.requests();
    assert_eq!(seen.len(), 1);
    let uri: http::Uri = seen[0].uri.parse().unwrap();
    assert_eq!(
        uri.path_and_query().unwrap(),
        &*format!("/v1/android/apps/{PDA}/update?x=1")
    );
    assert_eq!(filing_of(&seen[0].headers).as_deref(), Some(PDA_FILING));
    assert_eq!(seen[0].headers["via"], "1.1 icpgate");
    assert_eq!(
        *alpns.lock().unwrap(),
        [Some(b"h2".to_vec())],
        "one TLS connection, h2 by ALPN"
    );
    let r = get(
        &c,
        &format!("{}/v1/android/apps/com.example.revokedapp/update", g.base),
    )
    .await;
    assert_refused(&r, 451, "revoked");
    // A certificate that does not chain to ca_file is refused: nothing reaches the upstream.
    assert_refused(
        &get(&c, &format!("{}/rogue/x", g.base)).await,
        502,
        "upstream_unavailable",
    );
    assert!(rogue_alpns.lock().unwrap().is_empty());
    assert_eq!(g.up.requests().len(), 1);
}

fn tls_h2_client(
    ca_der: &[u8],
) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca_der.to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(cfg)
        .https_only()
        .enable_http2()
        .build();
    Client::builder(TokioExecutor::new()).build(conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_and_tls_listeners_serve_together() {
    let (cert, key, der) = self_signed();
    let text = format!(
        "{PLAIN}[[listener]]\nname = \"secure\"\naddress = \"127.0.0.1:0\"\n\
         [listener.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n{UPDATE}"
    );
    let files: &[(&str, &[u8])] = &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())];
    let g = start(&text, upstream().await, files).await;
    let names = g.running.listeners.iter().map(|(n, _)| n.as_str());
    assert_eq!(names.collect::<Vec<_>>(), ["plain", "secure"]);
    let secure = format!("https://localhost:{}", g.running.listeners[1].1.port());
    let (plain, tls) = (client(), tls_h2_client(&der));
    for (id, status) in [(PDA, 200), (UNFILED, 451)] {
        let path = format!("/v1/android/apps/{id}/update");
        let (v, r) = fetch(&plain, req("GET", &format!("{}{path}", g.base), None)).await;
        assert_eq!((v, r.status), (Version::HTTP_11, status));
        let (v, r) = fetch(&tls, req("GET", &format!("{secure}{path}"), None)).await;
        assert_eq!((v, r.status), (Version::HTTP_2, status));
    }
    let seen = g.up.requests();
    let side = |s: &Seen| {
        (
            s.headers["x-forwarded-proto"].clone(),
            s.headers["via"].clone(),
        )
    };
    assert_eq!(
        side(&seen[0]),
        ("http".parse().unwrap(), "1.1 icpgate".parse().unwrap())
    );
    assert_eq!(
        side(&seen[1]),
        ("https".parse().unwrap(), "2 icpgate".parse().unwrap())
    );
    drop((plain, tls));
    g.running.shutdown();
    g.running.wait().await;
    let audit = std::fs::read_to_string(&g.audit).unwrap();
    let lines = audit.lines().map(|l| serde_json::from_str(l).unwrap());
    let listeners: Vec<serde_json::Value> = lines
        .map(|v: serde_json::Value| v["listener"].clone())
        .collect();
    assert_eq!(listeners, ["plain", "secure"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_refusals_carry_451_json_and_link() {
    let g = start(&format!("{PLAIN}{UPDATE}"), upstream().await, &[]).await;
    let c = h2_client();
    let url = |id: &str| format!("{}/v1/android/apps/{id}/update", g.base);
    for (id, code) in [
        (UNFILED, "not_filed"),
        ("com.example.revokedapp", "revoked"),
    ] {
        let (v, r) = fetch(&c, req("GET", &url(id), None)).await;
        assert_eq!(v, Version::HTTP_2);
        assert_refused(&r, 451, code);
        assert_eq!(r.headers["link"], LINK);
        assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
        assert!(r.headers.get("connection").is_none());
        let j = r.json();
        assert_eq!(
            (j["status"].as_u64(), j["identifier"].as_str()),
            (Some(451), Some(id))
        );
        assert_eq!(j["lookup_url"], "https://beian.miit.gov.cn/");
        assert_eq!(j["decision_id"].as_str().map(str::len), Some(36));
    }
    // A refused body is left unread: the stream ends, the connection carries on.
    let put = Request::put(url(UNFILED))
        .body(Full::new(vec![7u8; 10_000].into()))
        .unwrap();
    let (_, r) = fetch(&c, put).await;
    assert_refused(&r, 451, "not_filed");
    assert!(r.headers.get("connection").is_none());
    assert!(
        g.up.requests().is_empty(),
        "the upstream must not see blocked requests"
    );
    assert_eq!(fetch(&c, req("GET", &url(PDA), None)).await.1.status, 200);
    assert_eq!(g.up.requests().len(), 1);
    assert_eq!(
        metric(&g, r#"icpgate_connections_total{listener="plain"}"#).await,
        1.0
    );
}
