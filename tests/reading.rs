//! One reading of every request, over the wire: each construction that a common server stack
//! reads as a second identifier, as a body of another type, or as a body the gateway did not
//! look at, is refused before the upstream sees anything; the legitimate variants pass.

mod common;

use bytes::Bytes;
use common::*;
use flate2::{write::GzEncoder, Compression};
use http::Request;
use http_body_util::Full;
use std::io::Write;

const WX: &str = "wx84c222762738ce75";
const UNFILED_WX: &str = "wx358a2cd2bf7c5dfe";
const PDA: &str = "io.github.benderblog.traintime_pda";
const FORM: &str = "application/x-www-form-urlencoded";

type Headers<'a> = &'a [(&'a str, &'a str)];

fn code(r: &Reply) -> String {
    r.json()["code"].as_str().unwrap_or_default().to_string()
}

fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into())).unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// Sends `req` and asserts the refusal and that the upstream saw nothing new.
async fn refused(g: &Gateway, req: Request<Full<Bytes>>, status: u16, want: &str) {
    let before = g.up.requests().len();
    let what = format!("{} {:?}", req.uri(), req.headers());
    let r = send(&client(), req).await;
    assert_eq!((r.status, code(&r).as_str()), (status, want), "{what}");
    assert_eq!(g.up.requests().len(), before, "upstream reached: {what}");
}

async fn passes(g: &Gateway, req: Request<Full<Bytes>>) -> Seen {
    let what = format!("{} {:?}", req.uri(), req.headers());
    let r = send(&client(), req).await;
    assert_eq!(r.status, 200, "{what}: {:?}", r.body);
    g.up.requests().pop().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_the_query_name_is_a_second_occurrence() {
    let g = gateway().await;
    let mp = |q: &str| format!("{}/mp/wechat/share?{q}", g.base);
    for second in [
        "APPID", "AppId", "appid[]", "appid[0]", "appid[x]", "%20appid", "+appid", "%61ppid",
    ] {
        for value in [WX, UNFILED_WX] {
            let url = mp(&format!("appid={WX}&{second}={value}"));
            refused(&g, request("GET", &url, &[], ""), 400, "ambiguous_request").await;
        }
    }
    for q in [
        format!("appid={WX};appid={UNFILED_WX}"),
        format!("x=1;appid={UNFILED_WX}&appid={WX}"),
        format!("appid={WX};x=1"),
        format!("x=1;appid={WX}"),
    ] {
        refused(
            &g,
            request("GET", &mp(&q), &[], ""),
            400,
            "ambiguous_request",
        )
        .await;
    }
    // Values are taken as sent.
    let url = mp("appid=wx84c222762738ce7%35");
    refused(&g, request("GET", &url, &[], ""), 400, "identifier_invalid").await;
    // One occurrence in any spelling is the identifier.
    let url = mp(&format!("APPID={UNFILED_WX}"));
    refused(&g, request("GET", &url, &[], ""), 451, "not_filed").await;
    let seen = passes(&g, request("GET", &mp(&format!("a=1&APPID={WX}")), &[], "")).await;
    assert!(filing_of(&seen.headers).is_some());
    let url = mp(&format!("a=b%20c&appid={WX}&x=1;y=2&z=+"));
    let seen = passes(&g, request("GET", &url, &[], "")).await;
    assert!(seen
        .uri
        .ends_with(&format!("a=b%20c&appid={WX}&x=1;y=2&z=+")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_aliases_and_connection_listed_headers_are_refused() {
    let g = gateway().await;
    let url = format!("{}/mp/wechat/share", g.base);
    for alias in ["x_mp_appid", "X_MP_APPID", "x.mp.appid"] {
        let h = [("x-mp-appid", WX), (alias, UNFILED_WX)];
        refused(&g, request("GET", &url, &h, ""), 400, "ambiguous_request").await;
    }
    let h = [("x-mp-appid", WX), ("connection", "X-Mp-Appid")];
    refused(&g, request("GET", &url, &h, ""), 400, "ambiguous_request").await;
    let h = [("x_mp_appid", UNFILED_WX)];
    refused(&g, request("GET", &url, &h, ""), 451, "not_filed").await;
    passes(&g, request("GET", &url, &[("x-mp-appid", WX)], "")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_read_only_as_the_type_they_declare() {
    let g = gateway().await;
    let releases = format!("{}/v1/releases", g.base);
    let uploads = format!("{}/v1/uploads", g.base);
    let form = format!("package={PDA}");
    let json = format!(r#"{{"app":{{"platform":"wechat","id":"{WX}"}}}}"#);
    let ct = |v: &'static str| [("content-type", v)];
    let cases: [(&str, Headers, &str); 6] = [
        (&releases, &ct("application/json"), &form),
        (&releases, &[], &form),
        (&releases, &ct("multipart/form-data; boundary=x"), &form),
        (
            &releases,
            &ct("application/x-www-form-urlencoded, text/plain"),
            &form,
        ),
        (&uploads, &ct(FORM), &json),
        (&uploads, &ct("application/json; charset=utf-7"), &json),
    ];
    for (url, h, body) in cases {
        let req = request("POST", url, h, body.to_string());
        refused(&g, req, 415, "unsupported_media_type").await;
    }
    let deep = format!(
        r#"{{"app":{{"platform":"wechat","id":"{WX}"}},"x":{}1{}}}"#,
        "[".repeat(70),
        "]".repeat(70)
    );
    let req = request("POST", &uploads, &ct("application/json"), deep);
    refused(&g, req, 400, "body_invalid").await;
    passes(&g, request("POST", &releases, &ct(FORM), form.clone())).await;
    let vnd = ct("application/vnd.store.v1+json; charset=utf-8");
    passes(&g, request("POST", &uploads, &vnd, json.clone())).await;
    // Go's encoding/json and ASP.NET Core bind `ID` and `App` to the `id` and `app` fields
    // (the last one wins); JavaScript, Python and PHP read the wanted keys. Both are refused.
    for body in [
        format!(r#"{{"app":{{"platform":"wechat","id":"{WX}","ID":"wx0000000000000000"}}}}"#),
        format!(r#"{{"app":{{"platform":"wechat","id":"{WX}"}},"App":{{"id":"wx00"}}}}"#),
        r#"{"app":{"platform":"wechat","Id":"wx0000000000000000"}}"#.to_string(),
        // fastjson's smart match binds a key no field has to the field equal to it in ASCII
        // case without `_` and `-`: `i_d`, `_id` and `ID-` set `id`, `_app` sets `app`.
        format!(r#"{{"app":{{"platform":"wechat","id":"{WX}","i_d":"{UNFILED_WX}"}}}}"#),
        format!(r#"{{"app":{{"platform":"wechat","_id":"{UNFILED_WX}","id":"{WX}"}}}}"#),
        format!(r#"{{"app":{{"platform":"wechat","ID-":"{UNFILED_WX}"}}}}"#),
        format!(r#"{{"app":{{"platform":"wechat","id":"{WX}"}},"_app":{{"id":"{UNFILED_WX}"}}}}"#),
    ] {
        let req = request("POST", &uploads, &ct("application/json"), body);
        refused(&g, req, 400, "ambiguous_request").await;
    }
    // A key that differs by more than `_`, `-` and case is another field to every binder.
    let other = format!(r#"{{"app":{{"platform":"wechat","id":"{WX}","id2":"{UNFILED_WX}"}}}}"#);
    passes(
        &g,
        request("POST", &uploads, &ct("application/json"), other),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_bodies_are_decoded_within_the_limit_and_forwarded_as_sent() {
    let g = gateway().await;
    let uploads = format!("{}/v1/uploads", g.base);
    let json = format!(r#"{{"app":{{"platform":"wechat","id":"{WX}"}}}}"#);
    let gz = gzip(json.as_bytes());
    let h = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    let seen = passes(&g, request("POST", &uploads, &h, gz.clone())).await;
    assert_eq!(
        &seen.body[..],
        &gz[..],
        "the upstream gets the bytes as sent"
    );
    assert_eq!(seen.headers["content-encoding"], "gzip");
    let unfiled = format!(r#"{{"app":{{"platform":"wechat","id":"{UNFILED_WX}"}}}}"#);
    let req = request("POST", &uploads, &h, gzip(unfiled.as_bytes()));
    refused(&g, req, 451, "not_filed").await;
    // Past max_body_bytes (4096 in the harness) once decoded: a decompression bomb.
    let bomb = format!(
        r#"{{"app":{{"platform":"wechat","id":"{WX}"}},"pad":"{}"}}"#,
        "a".repeat(1 << 20)
    );
    let req = request("POST", &uploads, &h, gzip(bomb.as_bytes()));
    refused(&g, req, 413, "body_too_large").await;
    for coding in ["br", "zstd", "gzip, gzip", "compress"] {
        let h = [
            ("content-type", "application/json"),
            ("content-encoding", coding),
        ];
        let req = request("POST", &uploads, &h, gz.clone());
        refused(&g, req, 415, "unsupported_media_type").await;
    }
    let h = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ];
    refused(
        &g,
        request("POST", &uploads, &h, json.clone()),
        400,
        "body_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_on_routes_that_do_not_read_them_are_checked() {
    let g = gateway().await;
    let url = format!("{}/mp/wechat/share?appid={WX}", g.base);
    let form = [("content-type", FORM)];
    let json = [("content-type", "application/json")];
    let multi = [("content-type", "multipart/form-data; boundary=b")];
    let part = |name: &str, v: &str| {
        format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{v}\r\n--b--\r\n")
    };
    let cases: Vec<(Headers, String)> = vec![
        (&form, format!("appid={UNFILED_WX}")),
        (&form, format!("note=1&AppId[]={UNFILED_WX}")),
        (&form, format!("x_mp_appid={UNFILED_WX}")),
        (&json, format!(r#"{{"APPID":"{UNFILED_WX}"}}"#)),
        (&multi, part("appid", UNFILED_WX)),
    ];
    for (h, body) in cases {
        let req = request("POST", &url, h, body.clone());
        refused(&g, req, 400, "ambiguous_request").await;
    }
    let h = [("content-type", FORM), ("content-encoding", "gzip")];
    let req = request(
        "POST",
        &url,
        &h,
        gzip(format!("appid={UNFILED_WX}").as_bytes()),
    );
    refused(&g, req, 400, "ambiguous_request").await;
    let big = format!("appid={WX}&pad={}", "x".repeat(5000));
    refused(&g, request("POST", &url, &form, big), 413, "body_too_large").await;
    // A path capture's name is checked too.
    let update = format!("{}/v1/android/apps/{PDA}/update", g.base);
    let req = request("POST", &update, &form, "package=com.nobody.unfiled");
    refused(&g, req, 400, "ambiguous_request").await;
    // The same value, other fields, and bodies of other types pass, byte for byte.
    for (h, body) in [
        (&form[..], format!("APPID={WX}&note=hello")),
        (&json[..], format!(r#"{{"appid":"{WX}","n":1}}"#)),
        (&multi[..], part("appid", WX)),
        (
            &[("content-type", "text/plain")][..],
            format!("appid={UNFILED_WX}"),
        ),
        (&[][..], format!("appid={UNFILED_WX}")),
    ] {
        let seen = passes(&g, request("POST", &url, h, body.clone())).await;
        assert_eq!(&seen.body[..], body.as_bytes());
    }
}

async fn with_body_ids(mode: &str) -> Gateway {
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, "").replace(
        "name = \"mp\"\n",
        &format!("name = \"mp\"\nbody_ids = \"{mode}\"\n"),
    );
    gateway_from(&text, up, &[], "http").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_ids_refuse_and_ignore() {
    let url = |g: &Gateway| format!("{}/mp/wechat/share?appid={WX}", g.base);
    let form = [("content-type", FORM)];
    let g = with_body_ids("refuse").await;
    let req = request("POST", &url(&g), &form, format!("appid={WX}"));
    refused(&g, req, 400, "ambiguous_request").await;
    passes(&g, request("POST", &url(&g), &form, "note=1")).await;
    let g = with_body_ids("ignore").await;
    let body = format!("appid={UNFILED_WX}");
    let seen = passes(&g, request("POST", &url(&g), &form, body.clone())).await;
    assert_eq!(&seen.body[..], body.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_forwards_a_mismatched_body_and_counts_it() {
    let g = gateway().await;
    let url = format!("{}/monitor/x?pkg={PDA}", g.base);
    let body = "pkg=com.nobody.unfiled";
    let seen = passes(&g, request("POST", &url, &[("content-type", FORM)], body)).await;
    assert_eq!(&seen.body[..], body.as_bytes());
    assert_eq!(
        metric(&g, r#"icpgate_requests_total{decision="monitor",platform="none",reason="ambiguous_request",route="monitor",status_class="2xx"}"#).await,
        1.0
    );
}

#[test]
fn body_ids_is_validated() {
    let text = config_text(
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
        "",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), SNAPSHOT).unwrap();
    let path = dir.path().join("gw.toml");
    let bad = text.replace("name = \"mp\"\n", "name = \"mp\"\nbody_ids = \"maybe\"\n");
    let e = icpgate::config::Config::parse(&bad, &path)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("body_ids") && e.contains("maybe"), "{e}");
    let upload = format!(
        "{text}\n[[route]]\nname = \"pkg\"\npath = \"/pkg\"\nupstream = \"store\"\nupload = {{}}\nbody_ids = \"check\"\n"
    );
    let e = icpgate::config::Config::parse(&upload, &path)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("body_ids") && e.contains("upload"), "{e}");
}
