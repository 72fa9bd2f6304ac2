//! Upload routes over the wire: the gateway reads the package (raw body or multipart part),
//! checks it against the filing and replays the exact bytes, or refuses without touching the
//! upstream. Ground truth comes from apksigner (own APKs) and MANIFEST.json (shared fixtures),
//! never from icpgate itself.

mod common;
mod upload_support;

use common::*;
use http::Request;
use http_body_util::Full;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use upload_support::*;

const OWN_FILING: &str = "京ICP备2026000417号-2A";
const TINY_FILING: &str = "粤ICP备2024000001号-1A";
const TINY_OTHER_FILING: &str = "闽ICP备2024000002号-1A";
const IPA_FILING: &str = "京ICP备2024000003号-1A";
const TINY: &str = "apk/apksig-golden-aligned-v1v2v3-out.apk";
const IPA: &str = "ipa/icyleaf-iphone.ipa";
const IPA_UNSIGNED: &str = "ipa/fastlane-iOSAppOnly.ipa";
const HAP: &str = "hap/icyleaf-harmony.hap";
const APK_MIME: &str = "application/vnd.android.package-archive";
const MAX: usize = 512 << 10;

const ROUTES: &str = r#"
[upload]
spool_dir = "spool"
memory_threshold = 1024

[[route]]
name = "packages"
methods = ["POST", "PUT"]
path = "/v1/packages"
upstream = "store"
extract = [{ header = "x-app-id" }, { form = "package" }]
upload = { field = "file", max_bytes = "512KiB" }

[[route]]
name = "android-packages"
methods = ["POST"]
path = "/v1/android/packages/{package}"
upstream = "store"
platform = "android"
extract = [{ path = "package" }]
upload = { max_bytes = "512KiB" }

[[route]]
name = "lax-packages"
path = "/v1/lax/packages"
upstream = "store"
upload = { require_signer = false }

[[route]]
name = "unverified-packages"
path = "/v1/unverified/packages"
upstream = "store"
upload = { verify_digests = false }

[[route]]
name = "monitor-packages"
path = "/v1/monitor/packages"
upstream = "store"
mode = "monitor"
upload = {}
"#;

struct Gw {
    running: icpgate::Running,
    base: String,
    admin: String,
    up: Upstream,
    spool: PathBuf,
    audit: PathBuf,
    _dir: tempfile::TempDir,
}

/// The md5 of the certificate with this sha256 in a MANIFEST `certs` object.
fn md5_of(expected: &serde_json::Value, sha256: &str) -> String {
    let mut found = None;
    for (_, scheme) in expected["certs"].as_object().unwrap() {
        for s in scheme.as_array().unwrap() {
            let certs = s["certs"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![s.clone()]);
            for c in certs {
                if c["sha256"] == sha256 {
                    found = c["md5"].as_str().map(String::from);
                }
            }
        }
    }
    found.unwrap_or_else(|| panic!("no md5 for {sha256}"))
}

/// Filings for every fixture that is available, from independent ground truth.
fn snapshot() -> String {
    let mut lines = vec![SNAPSHOT.to_string()];
    if let Some(own) = own() {
        lines.push(record(
            OWN_FILING,
            "active",
            "android",
            own.package,
            &[&[("sha256", &own.signed[0])]],
        ));
    }
    if let Some(tiny) = shared(TINY) {
        let e = &tiny.expected;
        let sha = e["platform_signers_sha256"][0].as_str().unwrap();
        let md5 = md5_of(e, sha);
        let id = e["package"].as_str().unwrap();
        // Two entities filed the same package name; the certificate tells them apart.
        lines.push(record(
            TINY_FILING,
            "active",
            "android",
            id,
            &[&[("md5", &md5)]],
        ));
        lines.push(record(
            TINY_OTHER_FILING,
            "active",
            "android",
            id,
            &[&[("md5", "00112233445566778899aabbccddeeff")]],
        ));
    }
    if let Some(ipa) = shared(IPA) {
        let e = &ipa.expected;
        // iOS filings record the SHA-1 of the distribution certificate (domain.md §3.2).
        let sha1 = e["code_signature"]["slices"][0]["signer_cert"]["sha1"]
            .as_str()
            .unwrap();
        let id = e["bundle_id"].as_str().unwrap();
        lines.push(record(
            IPA_FILING,
            "active",
            "ios",
            id,
            &[&[("sha1", sha1)]],
        ));
    }
    if let Some(u) = shared(IPA_UNSIGNED) {
        let id = u.expected["bundle_id"].as_str().unwrap();
        lines.push(record("京ICP备2024000004号-1A", "active", "ios", id, &[]));
    }
    if let Some(h) = shared(HAP) {
        let id = h.expected["bundle_name"].as_str().unwrap();
        lines.push(record(
            "京ICP备2024000005号-1A",
            "active",
            "harmony",
            id,
            &[],
        ));
    }
    // The test-signed HAPs (hapsign.rs): a harmony filing listing the test key's SHA-256.
    let hap_sha256 = hap_key().sha256_hex();
    lines.push(record(
        SIGNED_HAP_FILING,
        "active",
        "harmony",
        SIGNED_HAP_ID,
        &[&[("sha256", &hap_sha256)]],
    ));
    lines.join("\n") + "\n"
}

async fn start() -> Gw {
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), snapshot()).unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let text = config_text(up.addr, closed_port().await, "") + ROUTES;
    let cfg = icpgate::config::Config::parse(&text, &dir.path().join("gw.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let running = icpgate::start(cfg).await.unwrap();
    Gw {
        base: format!("http://127.0.0.1:{}", running.listeners[0].1.port()),
        admin: format!("http://{}", running.admin),
        audit: dir.path().join("audit.jsonl"),
        running,
        up,
        spool,
        _dir: dir,
    }
}

async fn gauge(g: &Gw, name: &str) -> f64 {
    let text = String::from_utf8(
        get(&client(), &format!("{}/metrics", g.admin))
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Polls (bounded by a timeout, never a fixed sleep) until `name` reads `want`.
async fn wait_gauge(g: &Gw, name: &str, want: f64) {
    let polled = tokio::time::timeout(Duration::from_secs(10), async {
        while gauge(g, name).await != want {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(polled.is_ok(), "{name} never became {want}");
}

fn spool_files(g: &Gw) -> Vec<PathBuf> {
    std::fs::read_dir(&g.spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Every spool released and the spool directory empty.
async fn assert_no_spool(g: &Gw) {
    wait_gauge(g, "icpgate_upload_spool_files", 0.0).await;
    wait_gauge(g, "icpgate_upload_spool_bytes", 0.0).await;
    assert_eq!(spool_files(g), Vec::<PathBuf>::new());
}

fn raw(url: &str, content_type: &str, body: &[u8]) -> Request<Full<bytes::Bytes>> {
    post(url, content_type, body.to_vec())
}

fn form(url: &str, boundary: &str, body: Vec<u8>) -> Request<Full<bytes::Bytes>> {
    post(
        url,
        &format!("multipart/form-data; boundary={boundary}"),
        body,
    )
}

/// The first `n` or more audit records, once that many complete lines are written (the writer
/// flushes whenever its queue drains; a line still being written is not read).
async fn audit_for(g: &Gw, n: usize) -> Vec<serde_json::Value> {
    let polled = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let t = std::fs::read_to_string(&g.audit).unwrap_or_default();
            let t = &t[..t.rfind('\n').map_or(0, |i| i + 1)];
            if t.lines().count() >= n {
                return t
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    polled.expect("audit records")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filed_signed_apk_reaches_the_upstream_byte_for_byte_raw_and_multipart() {
    let Some(own) = own() else { return };
    let g = start().await;
    let apk = own.file("signed.apk");
    let c = client();
    // Raw body, HTTP/1.1, spooled to disk (threshold 1 KiB).
    let r = send(&c, raw(&format!("{}/v1/packages", g.base), APK_MIME, &apk)).await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    // Raw body over HTTP/2, on the route that takes the id from the path.
    let url = format!("{}/v1/android/packages/{}", g.base, own.package);
    let r = send(&h2_client(), raw(&url, "application/octet-stream", &apk)).await;
    assert_eq!(r.status, 200);
    // Multipart with other fields around the package, and a claim that matches.
    let body = multipart(
        "b0undary",
        &[
            ("package", own.package),
            ("release_notes", "修复 bugs\r\n--not-a-boundary"),
        ],
        "file",
        &apk,
    );
    let mut req = form(&format!("{}/v1/packages", g.base), "b0undary", body.clone());
    req.headers_mut()
        .insert("x-app-id", own.package.parse().unwrap());
    let r = send(&c, req).await;
    assert_eq!(r.status, 200);

    let seen = g.up.requests();
    assert_eq!(seen.len(), 3);
    for s in &seen[..2] {
        assert_eq!(sha256_hex(&s.body), sha256_hex(&apk));
        assert_eq!(filing_of(&s.headers).as_deref(), Some(OWN_FILING));
    }
    assert_eq!(
        seen[2].body, body,
        "the whole multipart body, other fields untouched"
    );
    assert_eq!(filing_of(&seen[2].headers).as_deref(), Some(OWN_FILING));
    assert!(seen[2]
        .headers
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().contains("b0undary")));

    // Uploads are audited on allow too, with the package and its signer.
    let recs = audit_for(&g, 3).await;
    let a = &recs[0];
    assert_eq!(a["decision"], "allow");
    assert_eq!(a["identifier"], own.package);
    assert_eq!(a["package"]["kind"], "apk");
    assert_eq!(a["package"]["version_code"], "7");
    assert_eq!(a["package"]["version_name"], "1.2.0");
    assert_eq!(a["package"]["signers"][0]["sha256"], own.signed[0].as_str());
    assert_eq!(a["package"]["signers"][0]["md5"], own.signed[2].as_str());
    assert_eq!(a["filings"][0], format!("{OWN_FILING} (active)"));
    assert!(
        gauge(
            &g,
            "icpgate_package_inspections_total{kind=\"apk\",result=\"ok\"}"
        )
        .await
            >= 3.0
    );
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_fixture_apk_and_ipa_pass_and_the_signer_selects_the_filing() {
    let (Some(tiny), Some(ipa)) = (shared(TINY), shared(IPA)) else {
        return;
    };
    let g = start().await;
    let c = client();
    let r = send(
        &c,
        raw(&format!("{}/v1/packages", g.base), APK_MIME, &tiny.bytes),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let body = multipart("x-y-z", &[("channel", "beta")], "file", &ipa.bytes);
    let r = send(
        &c,
        form(&format!("{}/v1/packages", g.base), "x-y-z", body.clone()),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    let r = send(
        &c,
        raw(
            &format!("{}/v1/packages", g.base),
            "application/octet-stream",
            &ipa.bytes,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let seen = g.up.requests();
    assert_eq!(sha256_hex(&seen[0].body), sha256_hex(&tiny.bytes));
    // Two entities filed this package name: only the one listing the signer is attached.
    assert_eq!(filing_of(&seen[0].headers).as_deref(), Some(TINY_FILING));
    assert_eq!(seen[1].body, body);
    assert_eq!(filing_of(&seen[1].headers).as_deref(), Some(IPA_FILING));
    assert_eq!(sha256_hex(&seen[2].body), sha256_hex(&ipa.bytes));
    let recs = audit_for(&g, 3).await;
    assert_eq!(recs[1]["package"]["kind"], "ipa");
    assert_eq!(recs[1]["identifier"], ipa.expected["bundle_id"]);
    assert_eq!(
        recs[1]["package"]["signers"][0]["sha1"],
        ipa.expected["code_signature"]["slices"][0]["signer_cert"]["sha1"]
    );
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_signed_copy_is_451_signer_not_filed() {
    let Some(own) = own() else { return };
    let g = start().await;
    let c = client();
    let resigned = own.file("resigned.apk");
    let r = send(
        &c,
        raw(&format!("{}/v1/packages", g.base), APK_MIME, &resigned),
    )
    .await;
    assert_eq!(r.status, 451);
    let j = r.json();
    assert_eq!(j["code"], "signer_not_filed");
    assert_eq!(j["identifier"], own.package);
    assert_eq!(j["platform"], "android");
    assert_eq!(j["filings"][0], format!("{OWN_FILING} (active)"));
    assert!(r.headers.get("link").is_some());
    // The same in a multipart form.
    let body = multipart("bnd", &[("package", own.package)], "file", &resigned);
    let r = send(&c, form(&format!("{}/v1/packages", g.base), "bnd", body)).await;
    assert_eq!(r.json()["code"], "signer_not_filed");
    assert!(
        g.up.requests().is_empty(),
        "the upstream is never contacted"
    );
    // Two refusals so far: wait for both records (the last line may still be the first's).
    let a = audit_for(&g, 2).await[1].clone();
    assert_eq!(a["decision"], "block");
    assert_eq!(a["reason"], "signer_not_filed");
    assert_eq!(a["decision_id"], r.json()["decision_id"]);
    assert_eq!(
        a["package"]["signers"][0]["sha256"],
        own.resigned[0].as_str()
    );
    // Monitor mode forwards it, byte for byte, and records what enforce would have said.
    let r = send(
        &c,
        raw(
            &format!("{}/v1/monitor/packages", g.base),
            APK_MIME,
            &resigned,
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(sha256_hex(&g.up.requests()[0].body), sha256_hex(&resigned));
    assert!(g.up.requests()[0]
        .headers
        .get("icp-filing-number")
        .is_none());
    let a = audit_for(&g, 3).await[2].clone();
    assert_eq!(
        (a["decision"].as_str(), a["reason"].as_str()),
        (Some("monitor"), Some("signer_not_filed"))
    );
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_for_another_package_is_400_ambiguous() {
    let Some(own) = own() else { return };
    let g = start().await;
    let c = client();
    let apk = own.file("signed.apk");
    let mut req = raw(&format!("{}/v1/packages", g.base), APK_MIME, &apk);
    req.headers_mut()
        .insert("x-app-id", "com.tencent.mm".parse().unwrap());
    let r = send(&c, req).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("ambiguous_request"))
    );
    let body = multipart("q", &[("package", "com.tencent.mm")], "file", &apk);
    let r = send(&c, form(&format!("{}/v1/packages", g.base), "q", body)).await;
    assert_eq!(r.json()["code"], "ambiguous_request");
    let url = format!("{}/v1/android/packages/com.tencent.mm", g.base);
    let r = send(&c, raw(&url, APK_MIME, &apk)).await;
    assert_eq!(r.json()["code"], "ambiguous_request");
    // Two package parts are ambiguous too.
    let mut two = multipart("q", &[], "file", &apk);
    let tail = "--q\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--q--\r\n";
    two.truncate(two.len() - b"--q--\r\n".len());
    two.extend_from_slice(tail.as_bytes());
    let r = send(&c, form(&format!("{}/v1/packages", g.base), "q", two)).await;
    assert_eq!(r.json()["code"], "ambiguous_request");
    assert!(g.up.requests().is_empty());
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_and_unreadable_packages_are_422_and_wrong_bodies_4xx() {
    let g = start().await;
    let c = client();
    let url = format!("{}/v1/packages", g.base);
    if let Some(own) = own() {
        let r = send(&c, raw(&url, APK_MIME, &own.file("unsigned.apk"))).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (422, Some("unsigned"))
        );
        assert_eq!(r.json()["reason"], "package_rejected");
        assert_eq!(r.json()["identifier"], own.package);
        // An iOS package on the route pinned to android.
        if let Some(ipa) = shared(IPA) {
            let r = send(
                &c,
                raw(
                    &format!("{}/v1/android/packages/{}", g.base, own.package),
                    APK_MIME,
                    &ipa.bytes,
                ),
            )
            .await;
            assert_eq!(r.json()["code"], "package_platform_mismatch");
        }
    }
    if let Some(ipa) = shared(IPA_UNSIGNED) {
        let r = send(&c, raw(&url, "application/octet-stream", &ipa.bytes)).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (422, Some("unsigned"))
        );
    }
    let r = send(&c, raw(&url, APK_MIME, b"PK\x03\x04 not really a zip")).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (422, Some("package_unreadable"))
    );
    let r = send(&c, raw(&url, APK_MIME, b"")).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("package_missing"))
    );
    let r = send(&c, raw(&url, "application/json", b"{}")).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let body = multipart("q", &[("package", "cn.icpgate.demo")], "other", b"PK");
    let r = send(&c, form(&url, "q", body)).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("package_missing"))
    );
    let r = send(&c, form(&url, "q", b"--q\r\nno headers end".to_vec())).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("body_invalid"))
    );
    assert!(g.up.requests().is_empty());
    assert_no_spool(&g).await;
}

/// A filed, signed APK made ambiguous after signing (a second AndroidManifest.xml, a second
/// end record in the comment) passes as the genuine package unless strict ZIP refuses it: 422
/// `package_ambiguous` on every route, digests verified or not, and the upstream sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_zip_is_422_package_ambiguous_whatever_verify_digests_says() {
    let Some(tiny) = shared(TINY) else { return };
    let g = start().await;
    let c = client();
    let filed = send(
        &c,
        raw(&format!("{}/v1/packages", g.base), APK_MIME, &tiny.bytes),
    )
    .await;
    assert_eq!(filed.status, 200, "the genuine APK passes");
    let twice = with_extra_entry(&tiny.bytes, "AndroidManifest.xml", b"another app");
    let decoy = with_comment(&tiny.bytes, b"PK\x05\x06 a second end record");
    for body in [&twice, &decoy] {
        for path in [
            "/v1/packages",
            "/v1/unverified/packages",
            "/v1/monitor/packages",
        ] {
            let r = send(&c, raw(&format!("{}{path}", g.base), APK_MIME, body)).await;
            if path.contains("monitor") {
                assert_eq!(r.status, 200, "monitor forwards");
                continue;
            }
            assert_eq!(
                (r.status, r.json()["code"].as_str()),
                (422, Some("package_ambiguous")),
                "{path}"
            );
        }
        let body = multipart("q", &[], "file", body);
        let r = send(&c, form(&format!("{}/v1/packages", g.base), "q", body)).await;
        assert_eq!(r.json()["code"], "package_ambiguous");
    }
    let forwarded = g.up.requests();
    assert_eq!(
        forwarded.len(),
        3,
        "the genuine APK and the two monitored ones"
    );
    assert_no_spool(&g).await;
}

/// A multipart form around a filed APK, valid to icpgate's old reading, that some parser reads
/// with another package or field: 400 `multipart_invalid` (names read as one field:
/// `ambiguous_request`), and the upstream sees nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_forms_with_two_readings_are_refused() {
    let Some(tiny) = shared(TINY) else { return };
    let g = start().await;
    let c = client();
    let url = format!("{}/v1/packages", g.base);
    let good = multipart("q", &[], "file", &tiny.bytes);
    assert_eq!(send(&c, form(&url, "q", good.clone())).await.status, 200);
    let part = |headers: &str, content: &[u8]| {
        let mut p = format!("--q\r\n{headers}\r\n\r\n").into_bytes();
        p.extend_from_slice(content);
        p.extend_from_slice(b"\r\n");
        p
    };
    let file = "Content-Disposition: form-data; name=\"file\"; filename=\"a.apk\"";
    let with = |extra: &[u8], tail: &[u8]| {
        let mut b = part(file, &tiny.bytes);
        b.extend_from_slice(extra);
        b.extend_from_slice(b"--q--");
        b.extend_from_slice(tail);
        b
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "an LF-only delimiter hiding a second file part",
            with(b"\n--q\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n", b"\r\n"),
            "multipart_invalid",
        ),
        (
            "a part after the closing delimiter",
            with(b"", b"\r\n--q\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nevil\r\n--q--\r\n"),
            "multipart_invalid",
        ),
        (
            "name*= (RFC 2231)",
            with(&part("Content-Disposition: form-data; name=\"x\"; name*=utf-8''file", b"evil"), b"\r\n"),
            "multipart_invalid",
        ),
        (
            "two Content-Disposition headers",
            with(&part("Content-Disposition: form-data; name=\"x\"\r\nContent-Disposition: form-data; name=\"file\"", b"evil"), b"\r\n"),
            "multipart_invalid",
        ),
        (
            "Content-Transfer-Encoding",
            with(&part("Content-Disposition: form-data; name=\"note\"\r\nContent-Transfer-Encoding: base64", b"ZXZpbA=="), b"\r\n"),
            "multipart_invalid",
        ),
        (
            "a case variant of the package field",
            with(&part("Content-Disposition: form-data; name=\"File\"", b"evil"), b"\r\n"),
            "ambiguous_request",
        ),
    ];
    for (what, body, code) in cases {
        let r = send(&c, form(&url, "q", body)).await;
        assert_eq!(r.json()["code"], code, "{what}");
        assert_eq!(r.status, 400, "{what}");
    }
    let r = send(
        &c,
        post(&url, "multipart/form-data; boundary=q; boundary=z", good),
    )
    .await;
    assert_eq!(r.json()["code"], "multipart_invalid", "repeated boundary");
    assert_eq!(g.up.requests().len(), 1, "only the valid form is forwarded");
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_without_the_signer_rule_passes_an_unsigned_filed_hap() {
    let Some(hap) = shared(HAP) else { return };
    let g = start().await;
    let c = client();
    let url = format!("{}/v1/packages", g.base);
    // The fixture is signed (a Huawei development certificate, docs/inspection.md); its
    // filing lists no certificate, so signer routes refuse it as not filed.
    let r = send(&c, raw(&url, "application/zip", &hap.bytes)).await;
    assert_eq!(r.status, 451);
    assert_eq!(r.json()["code"], "signer_not_filed");
    // The same HAP with its signing block removed is unsigned.
    let unsigned = hapsign::strip(&hap.bytes);
    let r = send(&c, raw(&url, "application/zip", &unsigned)).await;
    assert_eq!(r.json()["code"], "unsigned", "signer routes refuse it");
    for body in [&unsigned, &hap.bytes] {
        let lax = format!("{}/v1/lax/packages", g.base);
        let r = send(&c, raw(&lax, "application/zip", body)).await;
        assert_eq!(r.status, 200);
        let seen = g.up.requests();
        let last = seen.last().unwrap();
        assert_eq!(sha256_hex(&last.body), sha256_hex(body));
        assert_eq!(
            filing_of(&last.headers).as_deref(),
            Some("京ICP备2024000005号-1A")
        );
    }
    assert_eq!(g.up.requests().len(), 2);
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_hap_is_judged_by_its_signer() {
    let g = start().await;
    let c = client();
    let unsigned = hapsign::unsigned_hap(SIGNED_HAP_ID);
    let filed = hapsign::sign(&unsigned, hap_key(), hapsign::Tamper::None);
    let url = format!("{}/v1/packages", g.base);
    let r = send(&c, raw(&url, "application/zip", &filed)).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let seen = g.up.requests();
    assert_eq!(sha256_hex(&seen[0].body), sha256_hex(&filed));
    assert_eq!(
        filing_of(&seen[0].headers).as_deref(),
        Some(SIGNED_HAP_FILING)
    );
    let a = audit_for(&g, 1).await[0].clone();
    assert_eq!(a["package"]["signers"][0]["sha256"], hap_key().sha256_hex());

    let other = hapsign::TestKey::new("someone else");
    let foreign = hapsign::sign(&unsigned, &other, hapsign::Tamper::None);
    let body = multipart("bnd", &[("package", SIGNED_HAP_ID)], "file", &foreign);
    let r = send(&c, form(&url, "bnd", body)).await;
    assert_eq!(r.status, 451);
    let j = r.json();
    assert_eq!(j["code"], "signer_not_filed");
    assert_eq!(j["platform"], "harmony");
    assert_eq!(j["identifier"], SIGNED_HAP_ID);
    assert_eq!(j["filings"][0], format!("{SIGNED_HAP_FILING} (active)"));

    let bad = hapsign::sign(&unsigned, hap_key(), hapsign::Tamper::BadSignature);
    let r = send(&c, raw(&url, "application/zip", &bad)).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (422, "signature_invalid".into())
    );
    let r = send(&c, raw(&url, "application/zip", &unsigned)).await;
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (422, "unsigned".into())
    );
    assert_eq!(
        g.up.requests().len(),
        1,
        "only the filed signer reached the upstream"
    );
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upload_is_413_and_leaves_no_spool() {
    let g = start().await;
    let c = client();
    let url = format!("{}/v1/packages", g.base);
    let big = vec![0x5a_u8; MAX + 1];
    // Declared too large: refused before a byte is read.
    let r = send(&c, raw(&url, APK_MIME, &big)).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (413, Some("body_too_large"))
    );
    // Chunked, no length: refused when the limit is passed mid-stream.
    let mut s = TcpStream::connect(g.running.listeners[0].1).await.unwrap();
    let head = "POST /v1/packages HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b'z'; 64 << 10];
    let mut answer = Vec::new();
    for _ in 0..16 {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if s.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"));
    assert!(answer.to_ascii_lowercase().contains("connection: close"));
    assert!(g.up.requests().is_empty());
    assert_no_spool(&g).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_aborts_mid_upload_leaves_no_spool() {
    let g = start().await;
    let mut s = TcpStream::connect(g.running.listeners[0].1).await.unwrap();
    let head = format!(
        "POST /v1/packages HTTP/1.1\r\nHost: x\r\nContent-Type: {APK_MIME}\r\nContent-Length: {}\r\n\r\n",
        MAX - 1
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&vec![b'P'; 200 << 10]).await.unwrap();
    // The body is being spooled to a temp file that has no name in the spool directory.
    wait_gauge(&g, "icpgate_upload_spool_files", 1.0).await;
    assert_eq!(spool_files(&g), Vec::<PathBuf>::new());
    drop(s);
    assert_no_spool(&g).await;
    assert!(g.up.requests().is_empty());
}

/// An entry changed after signing keeps its v2/v3 signatures valid (they sign the digests, not
/// the bytes): a default route recomputes the digests and refuses it; a route with
/// `verify_digests = false`, which reads only the ZIP directory, manifest and signing block,
/// reports its signer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_route_refuses_a_package_modified_after_signing() {
    let Some(own) = own() else { return };
    let g = start().await;
    let c = client();
    let apk = own.file("signed.apk");
    let packages = format!("{}/v1/packages", g.base);
    let r = send(&c, raw(&packages, APK_MIME, &apk)).await;
    assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
    // The first local file header's modification time: covered by the v2 content digest,
    // by no v1 digest, and not read when the entry is inflated.
    assert_eq!(&apk[..4], b"PK\x03\x04");
    let mut tampered = apk.clone();
    tampered[10] ^= 0x01;
    let r = send(&c, raw(&packages, APK_MIME, &tampered)).await;
    assert_eq!(r.status, 422, "{:?}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["code"], "signature_invalid");
    assert_eq!(
        g.up.requests().len(),
        1,
        "the tampered copy never reached the store"
    );
    let r = send(
        &c,
        raw(
            &format!("{}/v1/unverified/packages", g.base),
            APK_MIME,
            &tampered,
        ),
    )
    .await;
    assert_eq!(
        r.status, 200,
        "verify_digests = false does not read the entries"
    );
    assert_eq!(sha256_hex(&g.up.requests()[1].body), sha256_hex(&tampered));
    assert_no_spool(&g).await;
}
