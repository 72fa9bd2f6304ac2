//! Differential suite: every parser-differential construction sent through the gateway to real
//! upstream readers, and what each reader read compared with what the gateway decided.
//!
//! Upstream: nginx (its `$uri`, `$arg_*`, `$http_*`) proxying to a tee that relays the same
//! bytes to a Python reader (urllib.parse, posixpath, json, email, cgi, zipfile, WSGI header
//! names), PHP's built-in server ($_GET/$_POST/$_REQUEST/$_FILES/$_SERVER, PharData) and,
//! when installed, Node (URL, URLSearchParams, querystring, undici FormData) and Go (net/http
//! URL.Query, Header, FormValue; encoding/json's case-insensitive struct binding). They start
//! once for the whole suite; see docs/differential.md and tests/differential/.
//!
//! Criterion: a case passes when the gateway refuses it (4xx/451, and the application readers
//! received nothing), or when every upstream reading names exactly the identifier the gateway
//! decided on: for each reader whose normalised path matches an enforcing route, the gateway
//! applied that same route and allowed the request, and every identifier the reader takes
//! for that route (path capture, query, form, JSON, header, multipart field, the package's
//! manifest) is listed by the filing the gateway attached (`icp-filing-number`). The suite
//! prints the case and bypass counts and every bypass with its readings, and fails when there
//! is a bypass, a harness error, or a control case that a reader did not read as expected.

mod common;
mod upload_support;

#[path = "differential/bodies.rs"]
mod bodies;
#[path = "differential/cases.rs"]
mod cases;
#[path = "differential/client.rs"]
mod client;
#[path = "differential/judge.rs"]
mod judge;
#[path = "differential/stacks.rs"]
mod stacks;
#[path = "differential/uploads.rs"]
mod uploads;

use bodies::{content_types, forms, json_keys, unread_bodies};
use cases::*;
use judge::{Truth, Verdict};
use std::collections::BTreeMap;
use std::net::SocketAddr;

const UPLOAD_NUMBER: &str = "京ICP备2024000001号-1A";

/// The bundled config's route shapes, in front of nginx.
fn config(nginx: SocketAddr) -> String {
    format!(
        r#"
[[listener]]
name = "public"
address = "127.0.0.1:0"

[limits]
max_body_bytes = 1048576

[admin]
address = "127.0.0.1:0"

[index]
snapshot = "diff.ndjson"

[audit]
path = "audit.jsonl"

[[upstream]]
name = "store"
url = "http://{nginx}"
response_timeout = "10s"

[[route]]
name = "android-update"
methods = ["GET"]
path = "/v1/android/apps/{{package}}/update"
upstream = "store"
platform = "android"
extract = [{{ path = "package" }}]

[[route]]
name = "app-check"
methods = ["GET", "HEAD"]
path = "/v1/{{platform}}/apps/{{id}}"
upstream = "store"
platform_from = {{ path = "platform" }}
extract = [{{ path = "id" }}]

[[route]]
name = "header-check"
methods = ["GET"]
path = "/v1/apps/current"
upstream = "store"
platform = "android"
extract = [{{ header = "x-app-id" }}]

[[route]]
name = "upload-metadata"
methods = ["POST", "PUT"]
path = "/v1/uploads"
upstream = "store"
platform_from = {{ json = "/app/platform" }}
extract = [{{ json = "/app/id" }}, {{ header = "x-app-id" }}]

[[route]]
name = "package-metadata"
methods = ["POST"]
path = "/v1/metadata"
upstream = "store"
platform = "android"
extract = [{{ json = "/package" }}]

[[route]]
name = "package-upload"
methods = ["POST", "PUT"]
path = "/v1/packages"
upstream = "store"
extract = [{{ header = "x-app-id" }}, {{ form = "package" }}]
upload = {{ field = "file", max_bytes = "16MiB", require_signer = true }}

[[route]]
name = "release-form"
methods = ["POST"]
path = "/v1/releases"
upstream = "store"
platform = "android"
extract = [{{ form = "package" }}]

[[route]]
name = "miniprogram-api"
path = "/mp/{{host}}/{{api}}"
upstream = "store"
platform_from = {{ path = "host" }}
extract = [{{ query = "appid" }}, {{ header = "x-mp-appid" }}]

[[route]]
name = "harmony-monitor"
prefix = "/v1/harmony/"
upstream = "store"
platform = "harmony"
extract = [{{ query = "bundle" }}]
mode = "monitor"

[[route]]
name = "static"
prefix = "/static/"
upstream = "store"
platform = "android"
mode = "off"
"#
    )
}

/// The suite's index: filed, revoked and unfiled ids, and the test APK's filing with its
/// signer (when the APK could be built).
fn snapshot(signer: Option<&[String; 3]>) -> (String, BTreeMap<String, Vec<String>>) {
    let line = |n: &str, status: &str, platform: &str, id: &str| {
        upload_support::record(n, status, platform, id, &[])
    };
    let mut lines = vec![
        line(FILED_NUMBER, "active", "android", FILED),
        line("粤ICP备2023123456号-3A", "revoked", "android", REVOKED),
        line(FILED_WX_NUMBER, "active", "wechat", FILED_WX),
    ];
    let mut filings = BTreeMap::from([
        (FILED_NUMBER.to_string(), vec![FILED.to_string()]),
        (FILED_WX_NUMBER.to_string(), vec![FILED_WX.to_string()]),
    ]);
    if let Some([sha256, sha1, md5]) = signer {
        let s: &[(&str, &str)] = &[("sha256", sha256), ("sha1", sha1), ("md5", md5)];
        lines.push(upload_support::record(
            UPLOAD_NUMBER,
            "active",
            "android",
            uploads::GENUINE_ID,
            &[s],
        ));
        filings.insert(UPLOAD_NUMBER.into(), vec![uploads::GENUINE_ID.into()]);
    }
    (lines.join("\n") + "\n", filings)
}

struct Outcome {
    class: &'static str,
    name: String,
    verdict: Verdict,
    tee: Option<serde_json::Value>,
}

async fn run(
    g: &common::Gateway,
    tee: SocketAddr,
    c: &Case,
) -> (judge::Gateway, Option<serde_json::Value>) {
    let addr = g.running.listeners[0].1;
    let admin = g.running.admin;
    let (count0, m0) = (
        client::tee_count(tee).await,
        client::request_counts(admin).await,
    );
    let answer = client::send(addr, &c.req).await;
    let (count1, m1) = (
        client::tee_count(tee).await,
        client::request_counts(admin).await,
    );
    let grown = client::grown(&m0, &m1);
    let (status, body) = match answer {
        Ok(a) => (a.status, a.body),
        Err(e) => (0, e.into_bytes()),
    };
    let tee_json = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .filter(|v| v.get("seq").is_some());
    let decided = (grown.len() == 1).then(|| grown[0].clone());
    let gw = judge::Gateway {
        status,
        decided,
        relayed: count1 - count0,
        tee: tee_json.clone(),
    };
    (
        gw,
        tee_json.or_else(|| {
            Some(serde_json::json!({"status": status, "body": String::from_utf8_lossy(&body)}))
        }),
    )
}

/// A control must be allowed and read as `id` by every reader, or the harness is broken.
fn check_control(id: &str, g: &judge::Gateway, readers: &[&str], truth: &Truth) -> Option<String> {
    let Some(tee) = &g.tee else {
        return Some(format!("control not relayed (status {})", g.status));
    };
    let mut views = vec![("nginx", &tee["nginx"])];
    views.extend(readers.iter().map(|r| (*r, &tee["readers"][*r])));
    for (who, v) in views {
        let path = v["path"].as_str().unwrap_or("");
        let read_it = path.split('/').any(|s| s == id)
            || v["readings"].as_array().into_iter().flatten().any(|r| {
                let value = r["value"].as_str().unwrap_or("");
                truth.manifests.get(value).map_or(value, String::as_str) == id
            });
        // nginx reads no bodies: it only has to route the request.
        let exempt = who == "nginx" && path.starts_with("/v1/");
        if !read_it && !exempt {
            return Some(format!("control: {who} did not read {id}: {v}"));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_reads_the_identifier_the_gateway_decided_on() {
    let nginx_bin = match stacks::tools() {
        Ok(p) => p,
        Err(why) => return stacks::missing(&why),
    };
    let stacks = stacks::start(&nginx_bin).await;
    let own = upload_support::own();
    let packages =
        own.map(|o| uploads::forge(&o.dir.join("signed.apk"), &stacks.work.path().join("apks")));
    let (snap, filings) = snapshot(own.map(|o| &o.signed));
    let mut manifests = BTreeMap::new();
    if let Some(p) = &packages {
        manifests.insert(
            format!("sha256:{}", p.genuine_sha),
            uploads::GENUINE_ID.to_string(),
        );
        manifests.insert(
            format!("sha256:{}", p.forged_sha),
            uploads::FORGED_ID.to_string(),
        );
        let file = |b: &[u8]| format!("file-sha256:{}", upload_support::sha256_hex(b));
        manifests.insert(file(&p.genuine), uploads::GENUINE_ID.to_string());
        manifests.insert(file(&p.forged), uploads::FORGED_ID.to_string());
    }
    let truth = Truth { filings, manifests };
    let up = common::upstream().await;
    let g = common::gateway_from(
        &config(stacks.nginx),
        up,
        &[("diff.ndjson", snap.as_bytes())],
        "http",
    )
    .await;

    let mut all = [
        paths(),
        query_names(),
        unread_bodies(),
        header_aliases(),
        content_types(),
        json_keys(),
        forms(),
    ]
    .concat();
    match &packages {
        Some(p) => all.extend([uploads::multipart(p), uploads::zips(p)].concat()),
        None => eprintln!(
            "differential suite: no test APK (see above); multipart and ZIP cases skipped"
        ),
    }
    let mut outcomes = Vec::new();
    let mut broken = Vec::new();
    for c in &all {
        let (gw, seen) = run(&g, stacks.tee, c).await;
        if let Some(id) = c.control {
            if let Some(why) = check_control(id, &gw, &stacks.readers, &truth) {
                broken.push(format!("{}: {why}", c.name));
            }
        }
        let verdict = judge::judge(c.req.method, &gw, &truth, &stacks.readers);
        outcomes.push(Outcome {
            class: c.class,
            name: c.name.clone(),
            verdict,
            tee: seen,
        });
    }
    report(&outcomes, &broken, &stacks.readers)
}

fn report(outcomes: &[Outcome], broken: &[String], readers: &[&str]) {
    let mut by_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut bypasses = Vec::new();
    for o in outcomes {
        let e = by_class.entry(o.class).or_default();
        e.0 += 1;
        match &o.verdict {
            Verdict::Bypass(p) => {
                e.1 += 1;
                bypasses.push((o, p));
            }
            Verdict::HarnessError(why) => {
                let seen = o.tee.as_ref().map(ToString::to_string).unwrap_or_default();
                eprintln!("HARNESS ERROR [{}] {}: {why}\n    {seen}", o.class, o.name);
            }
            Verdict::Refused(_) | Verdict::Consistent => {}
        }
    }
    for o in outcomes {
        let v = match &o.verdict {
            Verdict::Refused(why) => format!("refused: {why}"),
            Verdict::Consistent => "consistent".into(),
            Verdict::Bypass(_) => "BYPASS".into(),
            Verdict::HarnessError(_) => "HARNESS ERROR".into(),
        };
        eprintln!("  [{}] {} -> {v}", o.class, o.name);
    }
    for (o, problems) in &bypasses {
        eprintln!("BYPASS [{}] {}", o.class, o.name);
        for p in *problems {
            eprintln!("    {p}");
        }
        if let Some(t) = &o.tee {
            eprintln!("    nginx: {}", t["nginx"]);
            for r in readers {
                eprintln!("    {r}: {}", t["readers"][*r]);
            }
        }
    }
    for b in broken {
        eprintln!("BROKEN CONTROL {b}");
    }
    let errors = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::HarnessError(_)))
        .count();
    for (class, (n, b)) in &by_class {
        eprintln!("  {class}: {n} cases, {b} bypasses");
    }
    eprintln!(
        "differential suite: {} cases, {} bypasses, {errors} harness errors (readers: nginx, {})",
        outcomes.len(),
        bypasses.len(),
        readers.join(", ")
    );
    assert!(
        broken.is_empty() && errors == 0,
        "{} broken controls, {errors} harness errors",
        broken.len()
    );
    assert!(
        bypasses.is_empty(),
        "{} bypasses of {} cases",
        bypasses.len(),
        outcomes.len()
    );
}
