//! One canonical request path over the wire: dot-segments, encoded dots and separators, `//`,
//! backslashes, `;` parameters, controls and bad escapes, sent in origin-form, absolute-form
//! and over HTTP/2, to a listener that refuses them and to one that normalises them; and the
//! headers some stacks take as the URL, removed unless a route allows them.

mod common;

use common::wire::*;
use common::*;
use std::net::SocketAddr;

/// Two listeners (`refuse`, the default, and `normalize`) in front of an enforced update
/// route and two prefix routes in mode off: `static`, the walk's start, and `legacy`, which
/// lets the URL headers through.
const GATEWAY: &str = r#"
[[listener]]
name = "refuse"
address = "127.0.0.1:0"

[[listener]]
name = "normalize"
address = "127.0.0.1:0"
path = "normalize"

[[upstream]]
name = "store"
url = "http://{up}"

[[route]]
name = "android-update"
path = "/v1/android/apps/{package}/update"
upstream = "store"
platform = "android"
extract = [{ path = "package" }]

[[route]]
name = "legacy"
prefix = "/legacy/"
upstream = "store"
platform = "android"
mode = "off"
allow_url_headers = true

[[route]]
name = "static"
prefix = "/static/"
upstream = "store"
platform = "android"
mode = "off"
"#;

/// How a request target travels.
#[derive(Clone, Copy, Debug)]
enum Via {
    /// `GET /path HTTP/1.1`, bytes as written.
    Origin,
    /// `GET http://host/path HTTP/1.1`.
    Absolute,
    /// HTTP/2 `:path`.
    H2,
}

const VIAS: [Via; 3] = [Via::Origin, Via::Absolute, Via::H2];

/// Sends GET `path` to `addr`; returns the status and the refusal `code` ("" when forwarded).
async fn send_via(addr: SocketAddr, via: Via, path: &str) -> (u16, String) {
    let url = format!("http://localhost:{}{path}", addr.port());
    let (status, body) = match via {
        Via::Origin => raw_h1(addr, &format!("GET {path} HTTP/1.1")).await,
        Via::Absolute => raw_h1(addr, &format!("GET {url} HTTP/1.1")).await,
        Via::H2 => {
            let r = h2_get(addr, &url).await;
            (r.status, String::from_utf8_lossy(&r.body).into_owned())
        }
    };
    let code = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["code"].as_str().map(String::from))
        .unwrap_or_default();
    (status, code)
}

/// Each walks from `static` (mode off) to the enforced update path of an unfiled app.
const WALKS: &[&str] = &[
    "/static/../v1/android/apps/com.nobody.unfiled/update",
    "/static/%2e%2e/v1/android/apps/com.nobody.unfiled/update",
    "/static/%2E%2e/v1/android/apps/com.nobody.unfiled/update",
    "/static/.%2E/v1/android/apps/com.nobody.unfiled/update",
    "/static/./../v1/android/apps/com.nobody.unfiled/update",
    "/static//../../v1/android/apps/com.nobody.unfiled/update",
    "//static/../v1/android/apps/com.nobody.unfiled/update",
    "/static/x/../../v1/%61ndroid/apps/com.nobody.unfiled/update",
];

/// Walks that no rewrite makes unambiguous: refused by both listeners.
const UNREADABLE: &[&str] = &[
    "/static/%2e%2e%2fv1/android/apps/com.nobody.unfiled/update",
    "/static/..%2Fv1/android/apps/com.nobody.unfiled/update",
    "/static/..%5cv1/android/apps/com.nobody.unfiled/update",
    "/static/..\\v1\\android\\apps\\com.nobody.unfiled\\update",
    "/static/..;/v1/android/apps/com.nobody.unfiled/update",
    "/static/x;jsessionid=1/../../v1/android/apps/com.nobody.unfiled/update",
    "/v1/android;x=1/apps/com.nobody.unfiled/update",
    "/static/%00/../../v1/android/apps/com.nobody.unfiled/update",
    "/static/%zz/../../v1/android/apps/com.nobody.unfiled/update",
    "/static/%252e%252e/v1/android/apps/com.nobody.unfiled/update",
    "/static/%c0%ae%c0%ae/v1/android/apps/com.nobody.unfiled/update",
];

async fn gateway_pair() -> (Gateway, SocketAddr, SocketAddr) {
    let g = start(GATEWAY, upstream().await, &[]).await;
    let refuse = g.running.addr("refuse").unwrap();
    let normalize = g.running.addr("normalize").unwrap();
    (g, refuse, normalize)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walks_out_of_a_mode_off_prefix_are_refused_or_decided_on_their_target() {
    let (g, refuse, normalize) = gateway_pair().await;
    let mut wrong = Vec::new();
    for path in WALKS {
        for via in VIAS {
            for (addr, want) in [
                (refuse, (400, "path_invalid")),
                (normalize, (451, "not_filed")),
            ] {
                let got = send_via(addr, via, path).await;
                if (got.0, got.1.as_str()) != want {
                    wrong.push(format!(
                        "{path} {via:?} at {addr}: got {got:?}, want {want:?}"
                    ));
                }
            }
        }
    }
    for path in UNREADABLE {
        for via in VIAS {
            for addr in [refuse, normalize] {
                let got = send_via(addr, via, path).await;
                if (got.0, got.1.as_str()) != (400, "path_invalid") {
                    wrong.push(format!("{path} {via:?} at {addr}: got {got:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(g.up.requests().is_empty(), "{:?}", g.up.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_receives_the_path_the_decision_was_taken_on() {
    let (g, refuse, normalize) = gateway_pair().await;
    let want = format!("/v1/android/apps/{PDA}/update?x=/../%2e&y");
    // (listener, path sent): each reaches the update route as `want`, query untouched.
    let cases = [
        (
            normalize,
            format!("/static/../v1/android/apps/{PDA}/update?x=/../%2e&y"),
        ),
        (
            normalize,
            format!("/static/%2E%2E//v1/./android/apps/{PDA}/update?x=/../%2e&y"),
        ),
        (
            refuse,
            format!("/v1/%61ndroid/apps/{PDA}/update?x=/../%2e&y"),
        ),
        (
            normalize,
            format!("/v1/%61ndroid/apps/{PDA}/update?x=/../%2e&y"),
        ),
    ];
    let mut n = 0;
    for (addr, path) in &cases {
        for via in VIAS {
            let got = send_via(*addr, via, path).await;
            assert_eq!(got, (200, String::new()), "{path} {via:?} at {addr}");
            let seen = &g.up.requests()[n];
            n += 1;
            assert_eq!(seen.uri, want, "{path} {via:?} at {addr}");
            assert_eq!(
                decoded(&seen.headers["icp-filing-number"]),
                PDA_FILING,
                "{path} {via:?}"
            );
        }
    }
    // A canonical path on the mode-off route is forwarded as it came.
    let got = send_via(refuse, Via::Origin, "/static/a.b/..c/%20?q=..").await;
    assert_eq!(got, (200, String::new()));
    assert_eq!(g.up.requests()[n].uri, "/static/a.b/..c/%20?q=..");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_star_and_connect_are_refused_without_a_panic() {
    let (g, refuse, normalize) = gateway_pair().await;
    for addr in [refuse, normalize] {
        for line in ["OPTIONS * HTTP/1.1", "CONNECT localhost:443 HTTP/1.1"] {
            let (status, body) = raw_h1(addr, line).await;
            assert_eq!(status, 400, "{line}: {body}");
            assert!(body.contains("\"path_invalid\""), "{line}: {body}");
        }
        // The listener still serves.
        let got = send_via(addr, Via::H2, &format!("/v1/android/apps/{PDA}/update")).await;
        assert_eq!(got, (200, String::new()));
    }
    assert_eq!(g.up.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_headers_are_removed_unless_the_route_allows_them() {
    let (g, _, _) = gateway_pair().await;
    let names = [
        "X-Original-URL",
        "x-rewrite-url",
        "X-Original-URI",
        "X-Forwarded-Uri",
        "X-Forwarded-Path",
        "X-Forwarded-Prefix",
        "X-Envoy-Original-Path",
        "X-Forwarded-Host",
        "X-HTTP-Method-Override",
        "Forwarded",
    ];
    let c = client();
    for (path, kept) in [
        (format!("/v1/android/apps/{PDA}/update"), false),
        ("/static/app.apk".to_string(), false),
        ("/legacy/app.apk".to_string(), true),
    ] {
        let mut req = http::Request::get(format!("{}{path}", g.base));
        for n in names {
            req = req.header(n, "/v1/android/apps/com.nobody.unfiled/update");
        }
        let r = send(&c, req.body(Default::default()).unwrap()).await;
        assert_eq!(r.status, 200, "{path}");
        let seen = g.up.requests().pop().unwrap();
        assert_eq!(seen.uri, path);
        for n in names {
            assert_eq!(seen.headers.contains_key(n), kept, "{n} on {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_naming_two_hosts_is_refused() {
    let (g, refuse, _) = gateway_pair().await;
    let port = refuse.port();
    // raw_h1 adds `Host: localhost:PORT` after the request line and what it carries.
    for line in [
        "GET http://static.example/static/app.apk HTTP/1.1".to_string(),
        "GET /static/app.apk HTTP/1.1\r\nHost: store.example".to_string(),
        format!("GET /static/app.apk HTTP/1.1\r\nHost: localhost:{port}"),
    ] {
        let (status, body) = raw_h1(refuse, &line).await;
        assert_eq!(status, 400, "{line}: {body}");
        assert!(body.contains("\"host_invalid\""), "{line}: {body}");
    }
    assert!(g.up.requests().is_empty(), "nothing reaches the upstream");
    // The same host in both places, in another case and without the port, is one host.
    let line = "GET http://LOCALHOST/static/app.apk HTTP/1.1";
    assert_eq!(raw_h1(refuse, line).await.0, 200);
    assert_eq!(g.up.requests().len(), 1);
}
