//! The enforcing proxy over the wire (HTTP/1.1): allow, block, reject, monitor, upstream
//! failures, metrics, readiness and audit.

mod common;

use common::*;
use http::Request;
use http_body_util::{BodyExt, Full};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filed_app_reaches_upstream_with_filing_number() {
    let g = gateway().await;
    let c = client();
    let r = get(
        &c,
        &format!(
            "{}/v1/android/apps/io.github.benderblog.traintime_pda/update?channel=beta",
            g.base
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"upstream-ok");
    let seen = g.up.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].uri,
        "/v1/android/apps/io.github.benderblog.traintime_pda/update?channel=beta"
    );
    assert_eq!(
        filing_of(&seen[0].headers).as_deref(),
        Some("陕ICP备2024026116号-1A")
    );
    assert_eq!(seen[0].headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen[0].headers["x-forwarded-proto"], "http");
    assert_eq!(seen[0].headers["via"], "1.1 icpgate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_body_reaches_upstream_byte_for_byte() {
    let g = gateway().await;
    let body = r#"{"app":{"platform":"ios","id":"xyz.superbart.xdyou","notes":"发布说明 \u0000 ✓"},"blob":"AAEC"}"#;
    let req = Request::post(format!("{}/v1/uploads", g.base))
        .header("content-type", "application/json")
        .header("x-app-id", "xyz.superbart.xdyou")
        .header("icp-filing-number", "forged")
        .body(Full::new(body.as_bytes().to_vec().into()))
        .unwrap();
    let r = send(&client(), req).await;
    assert_eq!(r.status, 200);
    let seen = g.up.requests();
    assert_eq!(&seen[0].body[..], body.as_bytes());
    // The client's forged filing header is replaced by the gateway's.
    let values: Vec<_> = seen[0]
        .headers
        .get_all("icp-filing-number")
        .iter()
        .collect();
    assert_eq!(values.len(), 1);
    assert_eq!(
        filing_of(&seen[0].headers).as_deref(),
        Some("陕ICP备2024026116号-1A")
    );
    // Binary body on a route that does not read it streams through untouched.
    let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let req = Request::put(format!(
        "{}/v1/android/apps/io.github.benderblog.traintime_pda/update",
        g.base
    ))
    .body(Full::new(binary.clone().into()))
    .unwrap();
    assert_eq!(send(&client(), req).await.status, 200);
    assert_eq!(g.up.requests()[1].body, binary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfiled_and_inactive_filings_get_451_and_upstream_sees_nothing() {
    let g = gateway().await;
    let c = client();
    let cases = [
        (
            "/v1/android/apps/com.nobody.unfiled/update",
            "not_filed",
            "android",
        ),
        (
            "/v1/android/apps/com.example.revokedapp/update",
            "revoked",
            "android",
        ),
        (
            "/v1/android/apps/com.example.cancelledapp/update",
            "cancelled",
            "android",
        ),
        (
            "/v1/android/apps/com.example.restrictedapp/update",
            "restricted",
            "android",
        ),
        (
            "/v1/android/apps/com.example.iosonly/update",
            "platform_not_filed",
            "android",
        ),
        (
            "/mp/wechat/share?appid=wx0123456789abcdef",
            "not_filed",
            "wechat",
        ),
        (
            "/mp/alipay/pay?appid=2021001102642986",
            "not_filed",
            "alipay",
        ),
    ];
    for (path, code, platform) in cases {
        let r = get(&c, &format!("{}{path}", g.base)).await;
        assert_eq!(r.status, 451, "{path}");
        assert_eq!(
            r.headers["link"],
            "<https://beian.miit.gov.cn/>; rel=\"blocked-by\""
        );
        assert_eq!(r.headers["content-type"], "application/json; charset=utf-8");
        let v = r.json();
        assert_eq!(v["code"], code, "{path}");
        assert_eq!(v["platform"], platform);
        assert!(v["message_zh"].as_str().unwrap().contains("备案"));
        assert!(!v["message_en"].as_str().unwrap().is_empty());
        assert_eq!(v["lookup_url"], "https://beian.miit.gov.cn/");
        assert_eq!(v["decision_id"].as_str().unwrap().len(), 36);
    }
    let v = get(
        &c,
        &format!("{}/v1/android/apps/com.example.revokedapp/update", g.base),
    )
    .await
    .json();
    assert_eq!(v["filings"][0], "粤ICP备2023123456号-3A (revoked)");
    assert!(
        g.up.requests().is_empty(),
        "the upstream must not see blocked requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_request_with_unread_body_closes_the_connection() {
    let g = gateway().await;
    let req = Request::put(format!(
        "{}/v1/android/apps/com.nobody.unfiled/update",
        g.base
    ))
    .body(Full::new(vec![7u8; 10_000].into()))
    .unwrap();
    let r = send(&client(), req).await;
    assert_eq!(r.status, 451);
    assert_eq!(r.headers["connection"], "close");
    let r = get(
        &client(),
        &format!("{}/v1/android/apps/com.nobody.unfiled/update", g.base),
    )
    .await;
    assert!(r.headers.get("connection").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_missing_and_ambiguous_requests_get_400() {
    let g = gateway().await;
    let c = client();
    let url = |p: &str| format!("{}{p}", g.base);
    let code = |r: &Reply| r.json()["code"].as_str().unwrap().to_string();
    let r = get(&c, &url("/v1/android/apps/not_a_package/update")).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "identifier_invalid"));
    let r = get(&c, &url("/v1/symbian/apps/com.a.b")).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "platform_invalid"));
    let r = get(&c, &url("/mp/wechat/share")).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "identifier_missing"));
    let r = get(
        &c,
        &url("/mp/wechat/share?appid=wx84c222762738ce75&appid=wx84c222762738ce75"),
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "ambiguous_request"));
    let req = Request::get(url("/mp/wechat/share?appid=wx84c222762738ce75"))
        .header("x-mp-appid", "wx358a2cd2bf7c5dfe")
        .body(Full::default())
        .unwrap();
    let r = send(&c, req).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "ambiguous_request"));
    let dup = r#"{"app":{"platform":"ios","id":"xyz.superbart.xdyou","id":"com.evil.app"}}"#;
    let r = send(&c, post(&url("/v1/uploads"), "application/json", dup)).await;
    assert_eq!((r.status, code(&r).as_str()), (400, "ambiguous_request"));
    let r = send(
        &c,
        post(&url("/v1/uploads"), "application/json", "{\"app\":"),
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "body_invalid"));
    let r = send(
        &c,
        post(
            &url("/v1/releases"),
            "application/x-www-form-urlencoded",
            "package=com.a.b&package=com.c.d",
        ),
    )
    .await;
    assert_eq!((r.status, code(&r).as_str()), (400, "ambiguous_request"));
    let big = format!(
        r#"{{"app":{{"platform":"ios","id":"xyz.superbart.xdyou"}},"pad":"{}"}}"#,
        "x".repeat(5000)
    );
    let r = send(&c, post(&url("/v1/uploads"), "application/json", big)).await;
    assert_eq!((r.status, code(&r).as_str()), (413, "body_too_large"));
    let r = get(&c, &url("/nowhere")).await;
    assert_eq!((r.status, code(&r).as_str()), (404, "no_route"));
    assert!(g.up.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_and_percent_encoded_ids_decode_once() {
    let g = gateway().await;
    let c = client();
    let r = send(
        &c,
        post(
            &format!("{}/v1/releases", g.base),
            "application/x-www-form-urlencoded",
            "notes=a%20b&package=io.github.benderblog.traintime%5Fpda",
        ),
    )
    .await;
    // Form id values are taken as sent: an escape is no part of any id grammar.
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "identifier_invalid");
    let r = send(
        &c,
        post(
            &format!("{}/v1/releases", g.base),
            "application/x-www-form-urlencoded",
            "notes=a%20b&package=io.github.benderblog.traintime_pda",
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        &g.up.requests()[0].body[..],
        b"notes=a%20b&package=io.github.benderblog.traintime_pda"
    );
    let r = get(
        &c,
        &format!(
            "{}/v1/android/apps/io.github.benderblog.traintime%5Fpda/update",
            g.base
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(
        &c,
        &format!(
            "{}/v1/android/apps/io.github.benderblog.traintime%255Fpda/update",
            g.base
        ),
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_forwards_and_counts_would_block() {
    let g = gateway().await;
    let c = client();
    let r = get(&c, &format!("{}/monitor/x?pkg=com.nobody.unfiled", g.base)).await;
    assert_eq!(r.status, 200);
    assert_eq!(g.up.requests().len(), 1);
    assert!(filing_of(&g.up.requests()[0].headers).is_none());
    let big = vec![b'a'; 10_000];
    let r = send(
        &c,
        post(
            &format!("{}/monitor/y?pkg=com.example.revokedapp", g.base),
            "text/plain",
            big.clone(),
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        metric(&g, r#"icpgate_requests_total{decision="monitor",platform="android",reason="not_filed",route="monitor",status_class="2xx"}"#).await,
        1.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_requests_total{decision="monitor",platform="android",reason="revoked",route="monitor",status_class="2xx"}"#).await,
        1.0
    );
    drop(c);
    g.running.shutdown();
    let audit = g.audit.clone();
    g.running.wait().await;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["decision"], "monitor");
    assert_eq!(lines[0]["reason"], "not_filed");
    assert_eq!(lines[0]["identifier"], "com.nobody.unfiled");
    assert_eq!(lines[1]["filings"][0], "粤ICP备2023123456号-3A (revoked)");
    assert_eq!(lines[1]["index_revision"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_502_and_slow_upstream_is_504() {
    let g = gateway().await;
    let c = client();
    let r = get(&c, &format!("{}/down/anything", g.base)).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["code"], "upstream_unavailable");
    let r = get(&c, &format!("{}/slow?ms=3000", g.base)).await;
    assert_eq!(r.status, 504);
    assert_eq!(r.json()["code"], "upstream_timeout");
    assert_eq!(
        metric(
            &g,
            r#"icpgate_upstream_errors_total{cause="connect",upstream="down"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &g,
            r#"icpgate_upstream_errors_total{cause="timeout",upstream="store"}"#
        )
        .await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_readiness_and_lookup() {
    let g = gateway().await;
    let c = client();
    get(
        &c,
        &format!(
            "{}/v1/android/apps/io.github.benderblog.traintime_pda/update",
            g.base
        ),
    )
    .await;
    get(
        &c,
        &format!("{}/v1/android/apps/com.nobody.unfiled/update", g.base),
    )
    .await;
    assert_eq!(metric(&g, r#"icpgate_requests_total{decision="allow",platform="android",reason="filed",route="android-update",status_class="2xx"}"#).await, 1.0);
    assert_eq!(metric(&g, r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="android-update",status_class="4xx"}"#).await, 1.0);
    assert_eq!(
        metric(&g, "icpgate_index_rejected_records_total").await,
        1.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_index_identifiers{platform="android"}"#).await,
        4.0
    );
    let r = get(&c, &format!("{}/readyz", g.admin)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["state"], "fresh");
    let s = get(&c, &format!("{}/v1/status", g.admin)).await.json();
    assert_eq!(s["index"]["records"], 7);
    assert_eq!(
        s["index"]["by_platform"]["android"]["records"]["revoked"],
        1
    );
    let l = get(
        &c,
        &format!(
            "{}/v1/lookup?platform=android&id=com.example.iosonly",
            g.admin
        ),
    )
    .await
    .json();
    assert_eq!(l["filed"], false);
    assert_eq!(l["filed_elsewhere"], "ios");
    let l = get(
        &c,
        &format!("{}/v1/lookup?platform=ios&id=XYZ.superbart.xdyou", g.admin),
    )
    .await
    .json();
    assert_eq!(l["filings"][0]["number"], "陕ICP备2024026116号-1A");
    assert_eq!(
        get(&c, &format!("{}/v1/lookup?platform=ios&id=bad_id", g.admin))
            .await
            .status,
        400
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_connection_sees_a_revocation_after_reload() {
    let g = gateway().await;
    let stream = tokio::net::TcpStream::connect(g.running.listeners[0].1)
        .await
        .unwrap();
    let (mut send_req, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let path = "/v1/android/apps/io.github.benderblog.traintime_pda/update";
    let req = || {
        Request::get(path)
            .header("host", "localhost")
            .body(Full::<bytes::Bytes>::default())
            .unwrap()
    };
    let first = send_req.send_request(req()).await.unwrap();
    assert_eq!(first.status(), 200);
    // Read the body to its end: only then is the connection free for the next request.
    first.into_body().collect().await.unwrap();
    let revoked = SNAPSHOT.replacen(
        r#""status":"active","entity":"西安电子科技大学""#,
        r#""status":"revoked","entity":"西安电子科技大学""#,
        1,
    );
    std::fs::write(&g.snapshot, revoked).unwrap();
    let r = send(
        &client(),
        Request::post(format!("{}/v1/reload", g.admin))
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["revision"], 2);
    // The same connection, still open: `ready` fails if the gateway closed it.
    send_req.ready().await.unwrap();
    let resp = send_req.send_request(req()).await.unwrap();
    assert_eq!(
        resp.status(),
        451,
        "the same keep-alive connection must see the new revision"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_protects_all_but_probes() {
    let g = gateway_with("", &[]).await;
    drop(g);
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), SNAPSHOT).unwrap();
    let text = config_text(up.addr, closed_port().await, "")
        .replace("[admin]\n", "[admin]\ntoken = \"s3cret\"\n");
    let cfg = icpgate::config::Config::parse(&text, &dir.path().join("gw.toml")).unwrap();
    let running = icpgate::start(cfg).await.unwrap();
    let admin = format!("http://{}", running.admin);
    let c = client();
    assert_eq!(get(&c, &format!("{admin}/healthz")).await.status, 200);
    assert_eq!(get(&c, &format!("{admin}/readyz")).await.status, 200);
    assert_eq!(get(&c, &format!("{admin}/metrics")).await.status, 401);
    let req = Request::get(format!("{admin}/v1/status"))
        .header("authorization", "Bearer s3cret")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&c, req).await.status, 200);
    let req = Request::get(format!("{admin}/v1/status"))
        .header("authorization", "Bearer wrong!")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&c, req).await.status, 401);
}
