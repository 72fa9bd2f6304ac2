//! The web console over the wire: a gateway makes pass, block and monitor decisions, then every
//! console page is loaded in Debian's headless `chromium` and its rendered DOM checked; the
//! screenshots land in `target/console-screenshots/` for a person to look at. The token and
//! cookie flow is checked with plain HTTP requests (headless chromium cannot send a header).

mod common;

use common::wire::{PDA, UNFILED};
use common::*;
use http::Request;
use http_body_util::Full;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The most markup a request line can carry (hyper refuses `<` and `>` in a target).
const QUOTES_PATH: &str = "/mp/wechat/x\"onmouseover=\"alert(1)\"'";
/// A decision only a tampered audit file can hold: the console must still show it as text.
const SCRIPT_PATH: &str = "/apps/<script>alert(1)</script>";
const SCRIPT_DECISION: &str = "0190a5b2-7c1e-7d3f-8a9b-0c1d2e3f4a5b";
const UNFILED_WX: &str = "wx0123456789abcdef";

/// The chromium binary; the test fails here, naming it, when it is not installed.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
        {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !p.is_empty() {
                return PathBuf::from(p);
            }
        }
    }
    panic!(
        "the `chromium` binary is missing: tests/console.rs loads the console in headless \
         chromium (apt-get install -y chromium; .ci/run installs it)"
    );
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless chromium on `url` with `args`, returning its stdout.
fn headless(bin: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Loads `url`, saves a screenshot as `name.png`, and returns the rendered DOM.
async fn load(url: String, name: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let bin = chromium();
        let profile = tempfile::tempdir().unwrap();
        let png = screenshots().join(format!("{name}.png"));
        let _ = std::fs::remove_file(&png);
        let shot = format!("--screenshot={}", png.display());
        headless(
            &bin,
            profile.path(),
            &[&shot, "--window-size=1280,1000"],
            &url,
        );
        assert!(png.is_file(), "no screenshot of {url} at {}", png.display());
        headless(&bin, profile.path(), &["--dump-dom"], &url)
    })
    .await
    .unwrap()
}

async fn raw_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes the decisions the pages show; returns the decision id of the revoked block.
async fn decide(g: &Gateway) -> String {
    let c = client();
    let pass = get(&c, &format!("{}/v1/android/apps/{PDA}/update", g.base)).await;
    assert_eq!(pass.status, 200);
    let unfiled = get(&c, &format!("{}/v1/android/apps/{UNFILED}/update", g.base)).await;
    assert_eq!(unfiled.status, 451);
    let revoked = get(
        &c,
        &format!("{}/v1/android/apps/com.example.revokedapp/update", g.base),
    )
    .await;
    assert_eq!(revoked.status, 451);
    let monitor = get(&c, &format!("{}/monitor/x?pkg=com.nobody.watched", g.base)).await;
    assert_eq!(monitor.status, 200);
    // A block whose path carries quotes: the hyper client will not send them, a socket will.
    let addr = g.base.trim_start_matches("http://");
    let answer = raw_get(addr, &format!("{QUOTES_PATH}?appid={UNFILED_WX}")).await;
    assert!(answer.starts_with("HTTP/1.1 451"), "{answer}");
    revoked.json()["decision_id"].as_str().unwrap().to_string()
}

/// Appends a record with `SCRIPT_PATH` to the audit file, once the writer has written the
/// revoked block (the file holds whole lines from then on).
async fn append_script_record(g: &Gateway, written: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&g.audit)
        .unwrap_or_default()
        .contains(written)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "audit record never written"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let line = serde_json::json!({
        "decision_id": SCRIPT_DECISION, "request_id": "r", "time": "2026-01-01T00:00:00Z",
        "listener": "public", "route": "android-update", "method": "GET", "path": SCRIPT_PATH,
        "platform": "android", "identifier": "com.nobody.unfiled", "filings": [],
        "decision": "block", "reason": "not_filed", "index_revision": 1,
        "client": "127.0.0.1:1", "count": 1,
    });
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&g.audit)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_renders_in_headless_chromium() {
    chromium();
    let g = gateway().await;
    let revoked_decision = decide(&g).await;
    let a = &g.admin;

    let health = load(format!("{a}/"), "health").await;
    assert!(health.contains(r#"id="revision">1<"#), "{health}");
    assert!(health.contains(r#"id="stale">fresh<"#), "{health}");
    assert!(
        health.contains(r#"data-route="android-update""#),
        "{health}"
    );
    assert!(
        health.contains("block 2"),
        "android-update blocked twice: {health}"
    );
    assert!(health.contains("<polyline"), "a rate line: {health}");

    let recent = load(format!("{a}/console/decisions"), "decisions").await;
    assert!(
        recent.contains(UNFILED) && recent.contains("com.nobody.watched"),
        "{recent}"
    );
    assert!(
        !recent.contains(PDA),
        "a pass is not a recent block: {recent}"
    );
    assert!(
        recent.contains(&format!(r#"<td class="path">GET {QUOTES_PATH}</td>"#)),
        "the quoted path is text, not attributes: {recent}"
    );
    assert!(!recent.contains("onmouseover=\"alert(1)\">"), "{recent}");

    // A `<script>` in a decision's path (from the audit file) and in the search form's input.
    append_script_record(&g, &revoked_decision).await;
    let script = load(
        format!("{a}/console/search?decision={SCRIPT_DECISION}"),
        "search-escaped-script",
    )
    .await;
    assert!(script.contains("the audit file"), "{script}");
    assert!(
        script.contains("GET /apps/&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the path renders as text: {script}"
    );
    assert!(!script.contains("<script>alert"), "{script}");
    let reflected = load(
        format!("{a}/console/search?id=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
        "search-bad-identifier",
    )
    .await;
    assert!(
        reflected.contains("not a valid identifier on any platform"),
        "{reflected}"
    );
    assert!(
        reflected.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{reflected}"
    );
    assert!(!reflected.contains("<script>alert"), "{reflected}");

    let filtered = load(
        format!("{a}/console/decisions?route=android-update&platform=android&code=revoked"),
        "decisions-filtered",
    )
    .await;
    assert!(filtered.contains("com.example.revokedapp"), "{filtered}");
    assert!(!filtered.contains(UNFILED), "{filtered}");

    let by_id = load(
        format!("{a}/console/search?id=com.example.revokedapp"),
        "search-identifier",
    )
    .await;
    assert!(by_id.contains("粤ICP备2023123456号-3A"), "{by_id}");
    assert!(
        by_id.contains("甲公司") && by_id.contains("revoked"),
        "{by_id}"
    );
    assert!(
        by_id.contains(&revoked_decision),
        "its recent decision: {by_id}"
    );
    assert!(by_id.contains("https://beian.miit.gov.cn/"), "{by_id}");

    let decision = load(
        format!("{a}/console/search?decision={revoked_decision}"),
        "search-decision",
    )
    .await;
    assert!(decision.contains("粤ICP备2023123456号-3A"), "{decision}");
    assert!(decision.contains("/v1/android/apps/com.example.revokedapp/update"));
    assert!(decision.contains("recent-decision ring"), "{decision}");

    let not_uuid = load(
        format!("{a}/console/search?decision=not-a-uuid"),
        "search-bad-decision",
    )
    .await;
    assert!(not_uuid.contains(r#"id="error""#), "{not_uuid}");
    assert!(not_uuid.contains("is not a decision id"), "{not_uuid}");

    let bad_platform = load(
        format!("{a}/console/decisions?platform=symbian"),
        "decisions-bad-platform",
    )
    .await;
    assert!(bad_platform.contains("unknown platform"), "{bad_platform}");
}

fn with_token(req: http::request::Builder, how: &str) -> http::request::Builder {
    match how.split_once(':') {
        Some(("bearer", t)) => req.header("authorization", format!("Bearer {t}")),
        Some(("cookie", c)) => req.header("cookie", c),
        _ => req,
    }
}

async fn page(url: &str, how: &str) -> Reply {
    let req = with_token(Request::get(url), how);
    send(&client(), req.body(Full::default()).unwrap()).await
}

fn assert_hardened(r: &Reply) {
    let h = |n: &str| r.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let csp = h("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h("x-content-type-options"), "nosniff");
    assert_eq!(h("x-frame-options"), "DENY");
    assert_eq!(h("cache-control"), "no-store");
    assert_eq!(h("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn with_a_token_the_console_takes_the_bearer_header_or_the_login_cookie() {
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, "").replace(
        "[admin]\naddress = \"127.0.0.1:0\"",
        "[admin]\naddress = \"127.0.0.1:0\"\ntoken = \"s3cret\"",
    );
    let g = gateway_from(&text, up, &[], "http").await;
    let a = &g.admin;

    let closed = page(&format!("{a}/"), "").await;
    assert_eq!(closed.status, 401);
    assert_hardened(&closed);
    let body = String::from_utf8_lossy(&closed.body);
    assert!(body.contains(r#"action="/console/login""#), "{body}");
    assert!(!body.contains("id=\"revision\""), "{body}");

    let bearer = page(&format!("{a}/"), "bearer:s3cret").await;
    assert_eq!(bearer.status, 200);
    assert_hardened(&bearer);
    assert!(String::from_utf8_lossy(&bearer.body).contains(r#"id="revision">1<"#));

    let login = |token: &str| {
        post(
            &format!("{a}/console/login"),
            "application/x-www-form-urlencoded",
            format!("token={token}"),
        )
    };
    let wrong = send(&client(), login("s3cre")).await;
    assert_eq!(wrong.status, 401);
    assert!(String::from_utf8_lossy(&wrong.body).contains("that is not the admin token"));
    assert!(wrong.headers.get("set-cookie").is_none());

    let right = send(&client(), login("s3cret")).await;
    assert_eq!(right.status, 303);
    assert_eq!(right.headers["location"], "/");
    assert_hardened(&right);
    let set = right.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(
        !set.contains("s3cret"),
        "the cookie does not carry the token: {set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();

    let signed_in = page(
        &format!("{a}/console/decisions"),
        &format!("cookie:{cookie}"),
    )
    .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let forged = page(&format!("{a}/"), "cookie:icpgate_console=4102444800.00ff").await;
    assert_eq!(forged.status, 401);
    let api = page(&format!("{a}/v1/status"), &format!("cookie:{cookie}")).await;
    assert_eq!(api.status, 401, "the cookie opens the console, not the API");

    let script = page(&format!("{a}/console/console.js"), "").await;
    assert_eq!(script.status, 200, "the login page's own script is open");
    assert_eq!(
        script.headers["content-type"],
        "text/javascript; charset=utf-8"
    );

    let huge = format!("{a}/console/search?id={}", "a".repeat(20_000));
    let huge = page(&huge, "bearer:s3cret").await;
    assert_eq!(huge.status, 400);
    assert!(String::from_utf8_lossy(&huge.body).contains("the console reads at most 2048"));

    let out = send(
        &client(),
        post(&format!("{a}/console/logout"), "text/plain", ""),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
}
