//! The audit trail under a flood and under a destination that cannot be written: identical
//! blocks fold into few records with the right counts, `on_failure = "refuse"` answers 503
//! `audit_unavailable` while `serve` keeps serving.
mod common;

use common::*;
use std::time::{Duration, Instant};

const UNFILED: &str = "/v1/android/apps/com.nobody.unfiled/update";
const FILED: &str = "/v1/android/apps/io.github.benderblog.traintime_pda/update";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_on_one_unfiled_id_writes_a_few_records_with_its_count() {
    let g = gateway().await;
    let c = client();
    let url = format!("{}{UNFILED}", g.base);
    let other = format!("{}/v1/android/apps/com.example.revokedapp/update", g.base);
    let start = Instant::now();
    const N: u64 = 2000;
    for _ in 0..N {
        assert_eq!(get(&c, &url).await.status, 451);
    }
    assert_eq!(get(&c, &other).await.status, 451);
    let elapsed = start.elapsed();
    // Counted once the writer has taken every record: after the stop.
    g.running.shutdown();
    g.running.stopped().await;
    let folded = g.running.metrics.audit.folded.get() as f64;
    let path = g.audit.clone();
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let flood: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["identifier"] == "com.nobody.unfiled")
        .collect();
    let total: u64 = flood.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(total, N);
    // One record per 1 s window (the default), not one per request.
    let windows = elapsed.as_secs() as usize + 2;
    assert!(
        flood.len() <= windows,
        "{} records in {elapsed:?}",
        flood.len()
    );
    assert!(folded >= (N as usize - windows) as f64, "{folded}");
    assert!(flood.iter().all(|r| r["reason"] == "not_filed"));
    let revoked: Vec<_> = records
        .iter()
        .filter(|r| r["reason"] == "revoked")
        .collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["count"], 1);
}

/// A gateway whose audit destination refuses every write (a full disk).
async fn unwritable(on_failure: &str) -> Gateway {
    let up = upstream().await;
    let text = config_text(up.addr, closed_port().await, "").replace(
        "path = \"audit.jsonl\"",
        &format!("path = \"/dev/full\"\non_failure = \"{on_failure}\""),
    );
    gateway_from(&text, up, &[], "http").await
}

/// Sends the unfiled request until the trail is marked unwritable (the first record's write
/// fails) and returns the answer after that.
async fn after_the_trail_fails(g: &Gateway) -> Reply {
    let c = client();
    let url = format!("{}{UNFILED}", g.base);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        get(&c, &url).await;
        if metric(g, "icpgate_audit_writable").await == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the write to /dev/full never failed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    get(&c, &url).await
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_refuse_answers_503_while_the_audit_cannot_be_written() {
    let g = unwritable("refuse").await;
    let r = after_the_trail_fails(&g).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["code"], "audit_unavailable");
    assert!(r.json().get("decision_id").is_none());
    // Monitor decisions are audited too: not forwarded without their record.
    let c = client();
    let monitored = get(&c, &format!("{}/monitor/x?pkg=com.nobody.unfiled", g.base)).await;
    assert_eq!(monitored.status, 503);
    // A filed request writes no audit record: it is served.
    assert_eq!(get(&c, &format!("{}{FILED}", g.base)).await.status, 200);
    let refused = r#"icpgate_requests_total{decision="error",platform="android",reason="audit_unavailable",route="android-update",status_class="5xx"}"#;
    assert!(metric(&g, refused).await >= 1.0);
    assert!(metric(&g, "icpgate_audit_write_failures_total").await >= 1.0);
    assert_eq!(g.up.requests().len(), 1);
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_serve_keeps_serving_while_the_audit_cannot_be_written() {
    let g = unwritable("serve").await;
    let r = after_the_trail_fails(&g).await;
    assert_eq!(r.status, 451);
    assert_eq!(r.json()["code"], "not_filed");
    let c = client();
    let monitored = get(&c, &format!("{}/monitor/x?pkg=com.nobody.unfiled", g.base)).await;
    assert_eq!(monitored.status, 200);
}
