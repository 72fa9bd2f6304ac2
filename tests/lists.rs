//! Lists on the wire: a gateway in front of an upstream that answers with lists (plain,
//! chunked, gzip, too large, not JSON), filter routes in enforce and monitor mode, batch
//! routes that drop or refuse; what the client and the upstream get byte for byte, the audit
//! record and the metrics.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

const FILED: &str =
    r#"{"package":"io.github.benderblog.traintime_pda","name":"XDYou","rating":4.8}"#;
const FILED_AGAIN: &str =
    r#"{ "name" : "again", "package" : "io.github.benderblog.traintime_pda" }"#;

fn list() -> String {
    format!(
        r#"{{"total":5,"results":[{FILED},{{"package":"com.example.revokedapp"}},{{"package":"com.unknown.app","name":"U"}},{{"package":"com.example.iosonly"}},{FILED_AGAIN}],"next":null}}"#
    )
}

fn filtered() -> String {
    format!(r#"{{"total":5,"results":[{FILED},{FILED_AGAIN}],"next":null}}"#)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// The upstream's answer to `path` (its last segment names the case).
fn answer(path: &str) -> http::Response<Body> {
    let json = "application/json";
    let (status, ctype, coding, body): (u16, &str, Option<&str>, Vec<u8>) =
        match path.rsplit('/').next().unwrap_or("") {
            "gzip" => (200, json, Some("gzip"), gzip(list().as_bytes())),
            "br" => (200, json, Some("br"), list().into_bytes()),
            "text" => (200, "text/plain", None, list().into_bytes()),
            "missing" => (200, json, None, br#"{"other":[]}"#.to_vec()),
            "dup" => (
                200,
                json,
                None,
                br#"{"results":[],"results":[{"package":"com.unknown.app"}]}"#.to_vec(),
            ),
            "notfound" => (
                404,
                json,
                None,
                br#"{"error":"nope","results":[{"package":"com.unknown.app"}]}"#.to_vec(),
            ),
            "big" => {
                let items = vec![FILED; 200].join(",");
                (
                    200,
                    json,
                    None,
                    format!(r#"{{"results":[{items}]}}"#).into_bytes(),
                )
            }
            "chunked" => {
                let l = list().into_bytes();
                let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = l
                    .chunks(7)
                    .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                    .collect();
                let body = StreamBody::new(futures_util::stream::iter(frames));
                let mut r = http::Response::new(BodyExt::boxed(body));
                r.headers_mut()
                    .insert("content-type", json.parse().unwrap());
                r.headers_mut().insert("etag", "\"v1\"".parse().unwrap());
                return r;
            }
            _ => (200, json, None, list().into_bytes()),
        };
    let mut r = http::Response::new(BodyExt::boxed(Full::new(Bytes::from(body))));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", ctype.parse().unwrap());
    r.headers_mut().insert("etag", "\"v1\"".parse().unwrap());
    if let Some(c) = coding {
        r.headers_mut()
            .insert("content-encoding", c.parse().unwrap());
    }
    r
}

/// An upstream that records every request and answers with a list.
async fn list_upstream() -> Upstream {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = l.accept().await else {
                continue;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let s = s.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await?.to_bytes();
                        s.lock().unwrap().push(Seen {
                            method: parts.method.to_string(),
                            uri: parts.uri.to_string(),
                            headers: parts.headers,
                            body,
                        });
                        Ok::<_, hyper::Error>(answer(parts.uri.path()))
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

async fn lists_gateway() -> Gateway {
    let up = list_upstream().await;
    let text = format!(
        r#"
[[listener]]
name = "public"
address = "127.0.0.1:0"

[limits]
max_body_bytes = 4096

[admin]
address = "127.0.0.1:0"

[index]
snapshot = "snapshot.ndjson"

[audit]
path = "audit.jsonl"

[[upstream]]
name = "lists"
url = "http://{}"

[[route]]
name = "search"
prefix = "/search/"
upstream = "lists"
platform = "android"
filter = {{ pointer = "/results", id = "/package", max_bytes = 4096 }}

[[route]]
name = "search-monitor"
prefix = "/monitor/"
upstream = "lists"
platform = "android"
mode = "monitor"
filter = {{ pointer = "/results", id = "/package", max_bytes = 4096 }}

[[route]]
name = "search-pass"
prefix = "/pass/"
upstream = "lists"
platform = "android"
filter = {{ pointer = "/results", id = "/package", max_bytes = 4096, on_oversize = "pass" }}

[[route]]
name = "update-drop"
methods = ["POST"]
path = "/update/drop"
upstream = "lists"
platform = "android"
batch = {{ pointer = "/installed", id = "/package" }}

[[route]]
name = "update-refuse"
methods = ["POST"]
path = "/update/refuse"
upstream = "lists"
platform = "android"
batch = {{ pointer = "/installed", id = "/package", on_unfiled = "refuse" }}
"#,
        up.addr
    );
    gateway_from(&text, up, &[], "http").await
}

/// The audit records written so far, waiting (with a deadline) until there are `n`.
async fn audit_records(g: &Gateway, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&g.audit).unwrap_or_default();
        let recs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if recs.len() >= n {
            return recs;
        }
        assert!(
            Instant::now() < deadline,
            "{} audit records, want {n}",
            recs.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfiled_items_are_removed_from_plain_chunked_and_gzip_lists() {
    let g = lists_gateway().await;
    let c = client();
    for case in ["plain", "chunked", "gzip"] {
        let req = Request::get(format!("{}/search/{case}", g.base))
            .header("accept-encoding", "gzip")
            .header("range", "bytes=0-10")
            .header("if-none-match", "\"v0\"")
            .body(Full::default())
            .unwrap();
        let r = send(&c, req).await;
        assert_eq!(r.status, 200, "{case}");
        assert_eq!(std::str::from_utf8(&r.body).unwrap(), filtered(), "{case}");
        assert_eq!(r.headers["x-icp-filtered"], "3", "{case}");
        assert_eq!(
            r.headers["content-length"],
            filtered().len().to_string(),
            "{case}"
        );
        assert!(r.headers.get("transfer-encoding").is_none(), "{case}");
        assert!(r.headers.get("content-encoding").is_none(), "{case}");
        assert!(r.headers.get("etag").is_none(), "{case}");
    }
    // The upstream was asked for a whole, uncoded list.
    for seen in g.up.requests() {
        assert_eq!(seen.headers["accept-encoding"], "identity");
        assert!(seen.headers.get("range").is_none());
        assert!(seen.headers.get("if-none-match").is_none());
    }
    let recs = audit_records(&g, 3).await;
    let r = &recs[0];
    assert_eq!(r["decision"], "filter");
    assert_eq!(r["reason"], "list_filtered");
    assert_eq!(r["route"], "search");
    assert_eq!(r["list"]["side"], "response");
    assert_eq!(r["list"]["items"], 5);
    assert_eq!(r["list"]["removed_total"], 3);
    let removed: Vec<(&str, &str)> = r["list"]["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["id"].as_str().unwrap(), x["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        removed,
        [
            ("com.example.revokedapp", "revoked"),
            ("com.unknown.app", "not_filed"),
            ("com.example.iosonly", "platform_not_filed"),
        ]
    );
    assert_eq!(
        metric(
            &g,
            r#"icpgate_lists_total{outcome="filtered",route="search",side="response"}"#
        )
        .await,
        3.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_list_items_removed_total{platform="android",reason="not_filed",route="search"}"#).await,
        3.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_list_items_removed_total{platform="android",reason="revoked",route="search"}"#).await,
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_be_filtered_is_refused_or_passed_as_configured() {
    let g = lists_gateway().await;
    let c = client();
    for (path, status, code) in [
        ("/search/br", 502, "list_invalid"),
        ("/search/text", 502, "list_invalid"),
        ("/search/missing", 502, "list_invalid"),
        ("/search/dup", 502, "list_invalid"),
        ("/search/big", 502, "list_too_large"),
    ] {
        let r = get(&c, &format!("{}{path}", g.base)).await;
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.json()["code"], code, "{path}");
    }
    // Not 2xx: passed untouched, list and all.
    let r = get(&c, &format!("{}/search/notfound", g.base)).await;
    assert_eq!(r.status, 404);
    assert!(std::str::from_utf8(&r.body)
        .unwrap()
        .contains("com.unknown.app"));
    assert!(r.headers.get("x-icp-filtered").is_none());
    // on_oversize = "pass": forwarded whole, marked and counted.
    let r = get(&c, &format!("{}/pass/big", g.base)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-icp-unfiltered"], "oversize");
    assert!(r.body.len() > 4096);
    assert_eq!(
        metric(
            &g,
            r#"icpgate_lists_total{outcome="oversize_passed",route="search-pass",side="response"}"#
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &g,
            r#"icpgate_lists_total{outcome="oversize_refused",route="search",side="response"}"#
        )
        .await,
        1.0
    );
    let recs = audit_records(&g, 1).await;
    assert_eq!(recs[0]["reason"], "list_oversize_passed");
    // Upstream failures of the request itself are unchanged (502, not a list code).
    let r = get(&c, &format!("{}/search/plain", g.base)).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_counts_and_keeps_the_upstreams_bytes() {
    let g = lists_gateway().await;
    let c = client();
    let r = get(&c, &format!("{}/monitor/gzip", g.base)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-icp-filtered"], "0");
    assert_eq!(r.headers["x-icp-would-filter"], "3");
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(&r.body[..], &gzip(list().as_bytes())[..]);
    let r = get(&c, &format!("{}/monitor/br", g.base)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["x-icp-unfiltered"], "invalid");
    assert_eq!(
        metric(&g, r#"icpgate_list_items_monitored_total{platform="android",reason="not_filed",route="search-monitor"}"#).await,
        1.0
    );
    assert_eq!(
        metric(&g, r#"icpgate_list_items_removed_total{platform="android",reason="not_filed",route="search-monitor"}"#).await,
        0.0
    );
    let recs = audit_records(&g, 1).await;
    assert_eq!(recs[0]["decision"], "monitor");
    assert_eq!(recs[0]["list"]["removed_total"], 3);
}

const INSTALLED: &str = r#"{"device":"x","installed":[{"package":"io.github.benderblog.traintime_pda","v":3},{"package":"com.unknown.app","v":1},{"package":"com.example.cancelledapp","v":9}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_are_dropped_to_their_filed_items() {
    let g = lists_gateway().await;
    let c = client();
    let r = send(
        &c,
        post(
            &format!("{}/update/drop", g.base),
            "application/json",
            INSTALLED,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = g.up.requests();
    let want =
        r#"{"device":"x","installed":[{"package":"io.github.benderblog.traintime_pda","v":3}]}"#;
    assert_eq!(std::str::from_utf8(&seen[0].body).unwrap(), want);
    assert_eq!(seen[0].headers["content-length"], want.len().to_string());
    assert_eq!(seen[0].headers["x-icp-filtered"], "2");
    // A gzip body is decided decoded and forwarded decoded, without its coding.
    let req = Request::post(format!("{}/update/drop", g.base))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(gzip(INSTALLED.as_bytes()))))
        .unwrap();
    assert_eq!(send(&c, req).await.status, 200);
    let seen = g.up.requests();
    assert_eq!(std::str::from_utf8(&seen[1].body).unwrap(), want);
    assert!(seen[1].headers.get("content-encoding").is_none());
    // All filed: the client's bytes as sent, and no list header of the client's own.
    let all = r#"{"installed":[{"package":"io.github.benderblog.traintime_pda"}]}"#;
    let mut req = post(&format!("{}/update/drop", g.base), "application/json", all);
    for name in ["x-icp-filtered", "x-icp-would-filter", "x-icp-unfiltered"] {
        req.headers_mut()
            .insert(name, http::HeaderValue::from_static("7"));
    }
    let r = send(&c, req).await;
    assert_eq!(r.status, 200);
    let seen = g.up.requests();
    assert_eq!(&seen[2].body[..], all.as_bytes());
    for name in ["x-icp-filtered", "x-icp-would-filter", "x-icp-unfiltered"] {
        assert!(seen[2].headers.get(name).is_none(), "{name}");
    }
    // Not a list: refused, never forwarded.
    for (body, ctype, status, code) in [
        (
            r#"{"installed":{}}"#,
            "application/json",
            400,
            "body_invalid",
        ),
        (
            r#"{"installed":[],"installed":[]}"#,
            "application/json",
            400,
            "ambiguous_request",
        ),
        (INSTALLED, "text/plain", 415, "unsupported_media_type"),
    ] {
        let r = send(&c, post(&format!("{}/update/drop", g.base), ctype, body)).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
    }
    assert_eq!(g.up.requests().len(), 3);
    let recs = audit_records(&g, 2).await;
    assert_eq!(recs[0]["list"]["side"], "batch");
    assert_eq!(recs[0]["list"]["removed_total"], 2);
    assert_eq!(recs[0]["decision"], "filter");
    assert_eq!(
        metric(&g, r#"icpgate_list_items_removed_total{platform="android",reason="cancelled",route="update-drop"}"#).await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_an_unfiled_item_can_be_refused_whole() {
    let g = lists_gateway().await;
    let c = client();
    let r = send(
        &c,
        post(
            &format!("{}/update/refuse", g.base),
            "application/json",
            INSTALLED,
        ),
    )
    .await;
    assert_eq!(r.status, 451);
    let j = r.json();
    assert_eq!(j["code"], "batch_unfiled");
    assert_eq!(j["removed_total"], 2);
    assert_eq!(j["removed"][0]["id"], "com.unknown.app");
    assert_eq!(j["removed"][1]["reason"], "cancelled");
    assert!(g.up.requests().is_empty());
    let recs = audit_records(&g, 1).await;
    assert_eq!(recs[0]["decision"], "block");
    assert_eq!(recs[0]["reason"], "batch_unfiled");
    assert_eq!(recs[0]["list"]["removed_total"], 2);
    assert_eq!(
        metric(
            &g,
            r#"icpgate_lists_total{outcome="refused",route="update-refuse",side="batch"}"#
        )
        .await,
        1.0
    );
}
