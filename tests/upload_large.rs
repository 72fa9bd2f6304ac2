//! Large uploads over the wire: a 20 MB APK signed by apksigner (v1, v2, v3, verity) is
//! hashed as it streams in, raw and as a multipart part, and the decision with every digest
//! verified is the one apksigner's fingerprints call for; a byte changed in transit is refused.
//!
//! Owns: the end-to-end check of chunk digests computed during spooling (proxy/prehash.rs).
//! Must not: time anything (benches/upload_latency.rs measures the decision's delay).

mod common;
mod upload_support;

use common::*;
use http::Request;
use http_body_util::Full;
use upload_support::*;

const FILING: &str = "京ICP备2026000418号-1A";

const ROUTES: &str = r#"
[upload]
spool_dir = "."
memory_threshold = 4096

[[route]]
name = "big"
methods = ["POST"]
path = "/v1/big"
upstream = "store"
upload = { field = "file", max_bytes = "64MiB", verify_digests = true }
"#;

fn req(url: &str, content_type: &str, body: Vec<u8>) -> Request<Full<bytes::Bytes>> {
    post(url, content_type, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_signed_apk_is_hashed_as_it_arrives_and_a_changed_byte_is_refused() {
    let Some(own) = build_apks(
        "large-apks",
        &[
            ("SIGN_FLAGS", "--verity-enabled"),
            ("FILLER_BYTES", "20000000"),
        ],
    ) else {
        return;
    };
    let snapshot = record(
        FILING,
        "active",
        "android",
        own.package,
        &[&[("sha256", &own.signed[0])]],
    ) + "\n";
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, "") + ROUTES;
    let g = gateway_from(
        &text,
        up,
        &[("snapshot.ndjson", snapshot.as_bytes())],
        "http",
    )
    .await;
    let url = format!("{}/v1/big", g.base.replace("localhost", "127.0.0.1"));
    let c = client();
    let apk = own.file("signed.apk");
    let r = send(&c, req(&url, "application/octet-stream", apk.clone())).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let body = multipart("bnd-42", &[("notes", "x")], "file", &apk);
    let ct = "multipart/form-data; boundary=bnd-42";
    let r = send(&c, req(&url, ct, body.clone())).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let seen = g.up.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(sha256_hex(&seen[0].body), sha256_hex(&apk));
    assert_eq!(sha256_hex(&seen[1].body), sha256_hex(&body));
    assert_eq!(filing_of(&seen[0].headers).as_deref(), Some(FILING));

    let mut changed = apk.clone();
    changed[apk.len() / 2] ^= 0x20; // a byte of the stored filler, in a whole chunk
    for (ct, body) in [
        ("application/octet-stream".to_string(), changed.clone()),
        (ct.to_string(), multipart("bnd-42", &[], "file", &changed)),
    ] {
        let r = send(&c, req(&url, &ct, body)).await;
        assert_eq!(r.status, 422, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(r.json()["code"], "signature_invalid");
    }
    assert_eq!(
        g.up.requests().len(),
        2,
        "no changed copy reached the store"
    );
}
