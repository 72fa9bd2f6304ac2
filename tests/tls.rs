//! Over-the-wire TLS and HTTP/2 coverage: an `https://` upstream trusted through `ca_file` (and
//! refused when its certificate does not chain to it); two `[[listener]]`s (plain and TLS) in
//! one gateway; 451 refusals over HTTP/2.

mod common;

use common::wire::*;
use common::*;
use http::{Request, Version};
use http_body_util::Full;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

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
    let (plain, tls) = (client(), tls_client(&der, true));
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
