//! What an operator's Prometheus and a feed operator see of a running gateway: every metric
//! family from the first scrape, the index freshness before any load, the gateway-added time
//! and status classes of real requests, and the User-Agent of feed requests.

mod common;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use icpgate::metrics::{FAMILIES, PROCESS_FAMILIES};
use std::sync::{Arc, Mutex};

async fn scrape(admin: &str) -> String {
    let r = get(&client(), &format!("{admin}/metrics")).await;
    assert_eq!(r.status, 200);
    String::from_utf8(r.body.to_vec()).unwrap()
}

/// The families a scrape exports (its `# TYPE` lines).
fn families(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_gateway_exports_every_family_and_zero_counters() {
    let g = gateway().await;
    let text = scrape(&g.admin).await;
    let have = families(&text);
    for f in FAMILIES.iter().chain(PROCESS_FAMILIES) {
        assert!(have.contains(f), "{f} is not exported at start:\n{text}");
    }
    for sample in [
        r#"icpgate_upstream_errors_total{cause="connect",upstream="down"} 0"#,
        r#"icpgate_upstream_errors_total{cause="timeout",upstream="store"} 0"#,
        r#"icpgate_feed_sync_failures_total{cause="signature"} 0"#,
        r#"icpgate_connections_rejected_total{listener="public"} 0"#,
        r#"icpgate_tls_handshake_failures_total{listener="public"} 0"#,
        r#"icpgate_index_loads_total{result="error"} 0"#,
        r#"icpgate_reloads_total{result="failed"} 0"#,
        r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="android-update",status_class="4xx"} 0"#,
        "icpgate_requests_in_flight 0",
    ] {
        assert!(text.contains(sample), "{sample} missing:\n{text}");
    }
    let build = format!(
        "icpgate_build_info{{commit=\"{}\",version=\"{}\"}} 1",
        icpgate::metrics::COMMIT,
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{build} missing");
    assert!(metric(&g, "icpgate_process_resident_memory_bytes").await > 0.0);
    assert!(metric(&g, "icpgate_process_open_fds").await > 0.0);
    assert_eq!(
        metric(&g, "icpgate_index_stale").await,
        0.0,
        "the snapshot loaded at start"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_a_status_class_and_the_time_the_gateway_adds() {
    let g = gateway().await;
    let c = client();
    // 300 ms at the upstream: the gateway's own share stays far below it.
    let slow = get(&c, &format!("{}/slow?ms=300", g.base)).await;
    assert_eq!(slow.status, 200);
    let blocked = get(
        &c,
        &format!("{}/v1/android/apps/com.nobody.unfiled/update", g.base),
    )
    .await;
    assert_eq!(blocked.status, 451);
    assert_eq!(
        metric(&g, r#"icpgate_requests_total{decision="pass",platform="none",reason="identifier_missing_forwarded",route="slow",status_class="2xx"}"#).await,
        1.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="android-update",status_class="4xx"}"#).await,
        1.0
    );
    let total = metric(
        &g,
        r#"icpgate_request_duration_seconds_sum{decision="pass",route="slow"}"#,
    )
    .await;
    let added = metric(&g, r#"icpgate_gateway_duration_seconds_sum{route="slow"}"#).await;
    let upstream = metric(
        &g,
        r#"icpgate_upstream_duration_seconds_sum{upstream="store"}"#,
    )
    .await;
    assert!(total >= 0.3, "total {total}");
    assert!(upstream >= 0.3, "upstream {upstream}");
    assert!(
        added < 0.25 && (total - upstream - added).abs() < 0.05,
        "added {added}, total {total}, upstream {upstream}"
    );
    // The 25 µs bucket exists, so a fast answer has a measurable p99.
    let text = scrape(&g.admin).await;
    assert!(
        text.contains(
            r#"icpgate_gateway_duration_seconds_bucket{route="android-update",le="0.000025"}"#
        ),
        "{text}"
    );
    assert_eq!(
        metric(
            &g,
            r#"icpgate_gateway_duration_seconds_count{route="android-update"}"#
        )
        .await,
        1.0
    );
    assert_eq!(metric(&g, "icpgate_requests_in_flight").await, 0.0);
}

/// A feed server that answers 503 to everything and records each request's User-Agent.
async fn recording_feed() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let ua = req.headers().get("user-agent").map_or("-".into(), |v| {
                        String::from_utf8_lossy(v.as_bytes()).into_owned()
                    });
                    s.lock().unwrap().push(ua);
                    async move {
                        let mut r = http::Response::new(Full::new(Bytes::from_static(b"down")));
                        *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, seen)
}

/// A gateway whose only index source is the feed at `url` (so it never loads while that is
/// down), with `feed_extra` added to its `[feed]` section.
async fn feed_gateway(url: &str, feed_extra: &str) -> Gateway {
    let up = upstream().await;
    let key = "11".repeat(32);
    let text = config_text(up.addr, closed_port().await, "")
        .replace("snapshot = \"snapshot.ndjson\"", "stale_after = \"1h\"")
        + &format!("\n[feed]\nurl = \"{url}\"\npublic_keys = [\"{key}\"]\npoll_interval = \"1h\"\ncache_dir = \"cache\"\n{feed_extra}\n");
    gateway_from(&text, up, &[], "http").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_first_load_the_index_is_stale_and_has_no_age() {
    let (url, _) = recording_feed().await;
    let g = feed_gateway(&url, "").await;
    let text = scrape(&g.admin).await;
    assert!(text.contains("\nicpgate_index_stale 1\n"), "{text}");
    assert!(text.contains("\nicpgate_index_age_seconds NaN\n"), "{text}");
    assert!(text.contains("\nicpgate_index_revision 0\n"), "{text}");
    let s = get(&client(), &format!("{}/v1/status", g.admin))
        .await
        .json();
    assert_eq!(s["ready"], false);
    assert_eq!(s["index"]["stale"], true);
    assert!(s["index"]["age_seconds"].is_null(), "{s}");
    let r = get(
        &client(),
        &format!(
            "{}/v1/android/apps/io.github.benderblog.traintime_pda/update",
            g.base
        ),
    )
    .await;
    assert_eq!(r.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_requests_name_the_version_and_the_instance() {
    let (url, seen) = recording_feed().await;
    let g = feed_gateway(&url, "instance = \"edge-7.bj\"").await;
    // A sync now: it fetches the manifest (and fails on the 503) before it returns.
    assert!(g.running.source.refresh().await.is_err());
    let want = format!("icpgate/{} (edge-7.bj)", env!("CARGO_PKG_VERSION"));
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the feed server saw no request");
    assert!(seen.iter().all(|ua| *ua == want), "{seen:?}");
    assert!(metric(&g, r#"icpgate_feed_sync_failures_total{cause="fetch"}"#).await >= 1.0);
}
