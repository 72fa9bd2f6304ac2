//! Over-the-wire coverage of routing features no other test exercised: route `host`, `regex`
//! (named captures) and `methods` matching; `[default] action = "forward"` and `"not_found"`;
//! `[filing_header]` with its own name and `response = true`. TLS is in `tests/tls.rs`.

mod common;

use bytes::Bytes;
use common::wire::*;
use common::*;
use http::Request;
use http_body_util::Full;
use icpgate::config::Config;

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

async fn routing() -> (Gateway, Upstream) {
    let other = upstream().await;
    let text = format!("{PLAIN}{ROUTING}").replace("{other}", &other.addr.to_string());
    (start(&text, upstream().await, &[]).await, other)
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
    let sample = r#"icpgate_requests_total{decision="block",platform="android",reason="not_filed",route="store-host",status_class="4xx"}"#;
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
    assert_eq!(r.status, 200, "the capture is read decoded");
    let seen = g.up.requests();
    assert_eq!(seen[0].uri, "/v2/ios/apps/xyz.superbart.xdyou/info");
    // The upstream gets the canonical path the route matched: `%5F` is an unreserved `_`.
    assert_eq!(
        seen[1].uri,
        "/v2/android/apps/io.github.benderblog.traintime_pda/info"
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
