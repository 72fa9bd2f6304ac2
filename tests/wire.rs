//! The same decisions over HTTP/2 (prior knowledge) and over TLS with ALPN h2 and http/1.1.

mod common;

use common::*;
use http::{Request, Version};
use http_body_util::{BodyExt, Full};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_cleartext_allows_and_blocks() {
    let g = gateway().await;
    let c = h2_client();
    let resp = c
        .request(
            Request::get(format!(
                "{}/v1/android/apps/io.github.benderblog.traintime_pda/update",
                g.base
            ))
            .body(Full::default())
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let seen = g.up.requests();
    assert_eq!(
        filing_of(&seen[0].headers).as_deref(),
        Some("陕ICP备2024026116号-1A")
    );
    assert_eq!(seen[0].headers["via"], "2 icpgate");
    assert_eq!(
        seen[0].headers["host"],
        format!("localhost:{}", g.running.listeners[0].1.port())
    );
    let body = br#"{"app":{"platform":"wechat","id":"wx84c222762738ce75"}}"#;
    let r = send(
        &c,
        post(
            &format!("{}/v1/uploads", g.base),
            "application/json",
            &body[..],
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(&g.up.requests()[1].body[..], &body[..]);
    let r = get(
        &c,
        &format!("{}/v1/android/apps/com.example.revokedapp/update", g.base),
    )
    .await;
    assert_eq!(r.status, 451);
    assert_eq!(r.json()["code"], "revoked");
    assert!(
        r.headers.get("connection").is_none(),
        "no Connection header on HTTP/2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_serves_h1_and_h2_by_alpn() {
    let (cert, key, der) = self_signed();
    let g = gateway_with(
        "[listener.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
        &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())],
    )
    .await;
    for (h2, version, via) in [
        (false, Version::HTTP_11, "1.1 icpgate"),
        (true, Version::HTTP_2, "2 icpgate"),
    ] {
        let c = tls_client(&der, h2);
        let ok = c
            .request(
                Request::get(format!(
                    "{}/mp/wechat/share?appid=wx84c222762738ce75",
                    g.base
                ))
                .body(Full::default())
                .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(ok.version(), version);
        assert_eq!(ok.status(), 200);
        let blocked = c
            .request(
                Request::get(format!(
                    "{}/mp/wechat/share?appid=wx0123456789abcdef",
                    g.base
                ))
                .body(Full::default())
                .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(blocked.status(), 451);
        let v: serde_json::Value =
            serde_json::from_slice(&blocked.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        assert_eq!(v["code"], "not_filed");
        let seen = g.up.requests();
        let last = seen.last().unwrap();
        assert_eq!(last.headers["x-forwarded-proto"], "https");
        assert_eq!(last.headers["via"], via);
        assert_eq!(
            filing_of(&last.headers).as_deref(),
            Some("京ICP备2026059598号-1X")
        );
    }
    assert_eq!(g.up.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshake_garbage_is_counted_not_fatal() {
    let (cert, key, der) = self_signed();
    let g = gateway_with(
        "[listener.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"",
        &[("cert.pem", cert.as_bytes()), ("key.pem", key.as_bytes())],
    )
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(g.running.listeners[0].1)
        .await
        .unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let c = tls_client(&der, false);
    let ok = c
        .request(
            Request::get(format!(
                "{}/mp/wechat/share?appid=wx84c222762738ce75",
                g.base
            ))
            .body(Full::default())
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        metric(
            &g,
            r#"icpgate_tls_handshake_failures_total{listener="public"}"#
        )
        .await,
        1.0
    );
}
