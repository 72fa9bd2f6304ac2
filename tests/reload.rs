//! Configuration reload and the lame-duck stop, over the wire: a route added by a reload takes
//! effect while new connections keep arriving (none refused), a configuration that fails
//! validation leaves the running one, a certificate swapped on disk is what the next TLS
//! handshake presents, listeners come and go, and SIGTERM's lame duck answers `/readyz` 503
//! while a new connection still gets served.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PDA: &str = "/v1/android/apps/io.github.benderblog.traintime_pda/update";

/// A route the base configuration does not have: everything under /new/ goes to `store`.
const NEW_ROUTE: &str = "\n[[route]]\nname = \"new\"\nprefix = \"/new/\"\nupstream = \"store\"\nplatform = \"android\"\nmode = \"off\"\n";

fn cfg_path(g: &Gateway) -> std::path::PathBuf {
    g.dir.path().join("gw.toml")
}

/// One GET on a connection of its own; `None` when the connection or exchange failed.
async fn fresh_get(url: &str) -> Option<u16> {
    let c: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(HttpConnector::new());
    let req = http::Request::get(url).body(Full::default()).ok()?;
    c.request(req).await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_adds_a_route_while_new_connections_keep_being_served() {
    let g = gateway().await;
    assert_eq!(
        get(&client(), &format!("{}/new/x", g.base)).await.status,
        404
    );
    // New connections, one request each, all through the reload.
    let stop = Arc::new(AtomicBool::new(false));
    let (served, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, served, failed) = (stop.clone(), served.clone(), failed.clone());
        let url = format!("{}{PDA}", g.base);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match fresh_get(&url).await {
                    Some(200) => served.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let text = std::fs::read_to_string(cfg_path(&g)).unwrap() + NEW_ROUTE;
    std::fs::write(cfg_path(&g), text).unwrap();
    let report = g.running.reload(None).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.listeners.as_ref().unwrap().kept, ["public"]);
    assert_eq!(report.bound, g.running.listeners);
    // The new route answers on the next request.
    assert_eq!(
        get(&client(), &format!("{}/new/x", g.base)).await.status,
        200
    );
    while served.load(Ordering::Relaxed) < 50 {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "a connection failed");
    assert_eq!(
        metric(&g, "icpgate_reloads_total{result=\"ok\"}").await,
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_that_fails_validation_leaves_the_running_one() {
    let g = gateway().await;
    let good = std::fs::read_to_string(cfg_path(&g)).unwrap();
    // An unknown key, and a route with no upstream: both reported, nothing applied.
    let bad = good.replace("[limits]", "[limits]\nmax_conections = 5")
        + NEW_ROUTE.replace("upstream = \"store\"\n", "").as_str();
    std::fs::write(cfg_path(&g), bad).unwrap();
    let r = reqwest_post(&format!("{}/v1/reload", g.admin)).await;
    assert_eq!(r.status, 422, "{:?}", String::from_utf8_lossy(&r.body));
    let v = r.json();
    assert_eq!(v["code"], "config_invalid");
    assert_eq!(v["config"]["result"], "failed");
    let error = v["config"]["error"].as_str().unwrap();
    assert!(error.contains("limits.max_conections"), "{error}");
    assert!(error.contains("gw.toml:"), "{error}");
    // The running configuration stays: no /new/ route, the filed app still served.
    assert_eq!(
        get(&client(), &format!("{}/new/x", g.base)).await.status,
        404
    );
    assert_eq!(
        get(&client(), &format!("{}{PDA}", g.base)).await.status,
        200
    );
    let status = get(&client(), &format!("{}/v1/status", g.admin))
        .await
        .json();
    assert_eq!(status["config"]["failed"], 1);
    assert_eq!(status["config"]["last"]["result"], "failed");
    assert_eq!(
        metric(&g, "icpgate_reloads_total{result=\"failed\"}").await,
        1.0
    );
}

async fn reqwest_post(url: &str) -> Reply {
    send(
        &client(),
        http::Request::post(url).body(Full::default()).unwrap(),
    )
    .await
}

async fn handshake_ok(trusted: &[u8], url: &str) -> bool {
    let req = http::Request::get(url).body(Full::default()).unwrap();
    tls_client(trusted, false).request(req).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_swapped_on_disk_is_presented_by_the_next_handshake() {
    let (cert_a, key_a, der_a) = self_signed();
    let (cert_b, key_b, der_b) = self_signed();
    let tls = "[listener.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"";
    let files: &[(&str, &[u8])] = &[
        ("cert.pem", cert_a.as_bytes()),
        ("key.pem", key_a.as_bytes()),
    ];
    let g = gateway_with(tls, files).await;
    let url = format!("{}{PDA}", g.base);
    assert!(handshake_ok(&der_a, &url).await);
    assert!(!handshake_ok(&der_b, &url).await);
    std::fs::write(g.dir.path().join("cert.pem"), &cert_b).unwrap();
    std::fs::write(g.dir.path().join("key.pem"), &key_b).unwrap();
    let report = g.running.reload(None).await;
    assert!(report.ok(), "{report:?}");
    assert!(handshake_ok(&der_b, &url).await);
    assert!(!handshake_ok(&der_a, &url).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_are_added_and_removed_and_the_kept_one_is_never_rebound() {
    let g = gateway().await;
    let original = std::fs::read_to_string(cfg_path(&g)).unwrap();
    let public = g.running.listeners[0].1;
    // Pin the kept listener to the port it has, then add a second one.
    let pinned = original.replacen(
        "address = \"127.0.0.1:0\"",
        &format!("address = \"{public}\""),
        1,
    );
    std::fs::write(cfg_path(&g), &pinned).unwrap();
    let first = g.running.reload(None).await;
    assert!(first.ok(), "{first:?}");
    let second = pinned.replacen(
        "[limits]",
        "[[listener]]\nname = \"extra\"\naddress = \"127.0.0.1:0\"\n\n[limits]",
        1,
    );
    std::fs::write(cfg_path(&g), &second).unwrap();
    let report = g.running.reload(None).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.listeners.as_ref().unwrap().added, ["extra"]);
    let extra = report.bound.iter().find(|(n, _)| n == "extra").unwrap().1;
    assert_eq!(report.bound[0], ("public".to_string(), public));
    let on_extra = format!("http://{extra}{PDA}");
    assert_eq!(fresh_get(&on_extra).await, Some(200));
    std::fs::write(cfg_path(&g), &pinned).unwrap();
    let report = g.running.reload(None).await;
    assert_eq!(report.listeners.as_ref().unwrap().removed, ["extra"]);
    // Closed: a new connection to the removed listener is refused (bounded wait: the close
    // reaches every worker's accept loop asynchronously).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fresh_get(&on_extra).await.is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the removed listener still accepts"
        );
        tokio::task::yield_now().await;
    }
    assert_eq!(fresh_get(&format!("http://{public}{PDA}")).await, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_answers_readyz_503_while_new_connections_are_still_served() {
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, "").replace(
        "drain_timeout = \"10s\"",
        "drain_delay = \"30s\"\ndrain_timeout = \"10s\"",
    );
    let g = gateway_from(&text, up, &[], "http").await;
    assert_eq!(
        get(&client(), &format!("{}/readyz", g.admin)).await.status,
        200
    );
    g.running.terminate();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = get(&client(), &format!("{}/readyz", g.admin)).await;
        if r.status == 503 {
            assert_eq!(r.json()["state"], "draining");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "readyz never turned 503"
        );
        tokio::task::yield_now().await;
    }
    // Still accepting and serving on a brand-new connection.
    assert_eq!(fresh_get(&format!("{}{PDA}", g.base)).await, Some(200));
    // An immediate stop ends the lame duck long before its 30 s.
    g.running.shutdown();
    tokio::time::timeout(Duration::from_secs(15), g.running.stopped())
        .await
        .expect("the stop did not cut the lame duck short");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_moves_the_audit_trail_and_starts_the_access_log() {
    let g = gateway().await;
    let blocked = format!("{}/v1/android/apps/com.nobody.unfiled/update", g.base);
    assert_eq!(get(&client(), &blocked).await.status, 451);
    let text = std::fs::read_to_string(cfg_path(&g)).unwrap().replace(
        "path = \"audit.jsonl\"",
        "path = \"audit2.jsonl\"\nfold_window = \"0s\"",
    ) + "\n[access_log]\npath = \"access.jsonl\"\n";
    std::fs::write(cfg_path(&g), text).unwrap();
    let report = g.running.reload(None).await;
    assert!(report.ok(), "{report:?}");
    assert!(report.restart_required.is_empty(), "{report:?}");
    let r = get(&client(), &blocked).await;
    assert_eq!(r.status, 451);
    let id = r.json()["request_id"].as_str().unwrap().to_string();
    let (new_audit, access) = (
        g.dir.path().join("audit2.jsonl"),
        g.dir.path().join("access.jsonl"),
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !read(&new_audit).contains(&id) || !read(&access).contains(&id) {
        assert!(
            std::time::Instant::now() < deadline,
            "no records in the new destinations"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The request before the reload stays in the first trail (written at the latest at the stop).
    g.running.shutdown();
    g.running.stopped().await;
    let old = read(&g.audit);
    assert_eq!(old.lines().count(), 1, "{old}");
    assert!(!old.contains(&id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_destination_that_cannot_be_opened_fails_the_reload() {
    let g = gateway().await;
    // Validation passes (the folder exists, the name is free); creating a file there fails.
    let text = std::fs::read_to_string(cfg_path(&g)).unwrap()
        + "\n[access_log]\npath = \"/proc/self/icpgate-access.jsonl\"\n";
    std::fs::write(cfg_path(&g), text).unwrap();
    let report = g.running.reload(None).await;
    assert!(!report.ok(), "{report:?}");
    let error = report.error.unwrap();
    assert!(
        error.contains("cannot open access log /proc/self/icpgate-access.jsonl"),
        "{error}"
    );
    assert_eq!(
        get(&client(), &format!("{}{PDA}", g.base)).await.status,
        200
    );
}
