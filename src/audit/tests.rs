//! The audit trail end to end: batching, folding, the bounded queue and failing destinations.

use super::*;
use std::time::{Duration, Instant};

pub(crate) fn rec(i: usize) -> AuditRecord {
    AuditRecord {
        decision_id: format!("d{i}"),
        request_id: format!("r{i}"),
        time: "2026-01-01T00:00:00Z".into(),
        last_time: None,
        listener: "l".into(),
        route: "r".into(),
        method: "GET".into(),
        path: "/".into(),
        platform: Some("android"),
        identifier: Some("com.a.b".into()),
        filings: vec![],
        decision: "block",
        reason: "not_filed",
        index_revision: 1,
        client: "127.0.0.1:1"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
        count: 1,
        package: None,
        list: None,
    }
}

fn cfg(fold_window: Duration, queue: usize, on_failure: OnAuditFailure) -> AuditConfig {
    AuditConfig {
        fold_window,
        fold_keys: 100,
        queue,
        on_failure,
    }
}

fn start_at(path: &Path, c: &AuditConfig, m: &Arc<Metrics>) -> (Audit, AuditWriter) {
    Audit::spawn(open(Some(path)).unwrap(), c, m.clone()).unwrap()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn every_record_is_written_in_batches_before_close_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let m = Arc::new(Metrics::new());
    let c = cfg(Duration::ZERO, 65_536, OnAuditFailure::Serve);
    let (audit, writer) = start_at(&path, &c, &m);
    for i in 0..1000 {
        audit.record(rec(i)).unwrap();
    }
    writer.close().await;
    audit.record(rec(1000)).unwrap();
    let lines = lines(&path);
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[999]["decision_id"], "d999");
    assert_eq!(lines[999]["count"], 1);
    assert_eq!(lines[999]["client"], "127.0.0.1:1");
    assert_eq!(m.audit_records.get(), 1000);
    assert_eq!(m.audit_write_failures.get(), 0);
    // Queued faster than written: they share writes.
    assert!(m.audit.batches.get() < 250, "{}", m.audit.batches.get());
    assert_eq!(m.audit.dropped.with_label_values(&["closed"]).get(), 1);
}

#[tokio::test]
async fn a_flood_of_one_record_is_one_line_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let m = Arc::new(Metrics::new());
    let c = cfg(Duration::from_secs(3600), 65_536, OnAuditFailure::Serve);
    let (audit, writer) = start_at(&path, &c, &m);
    for i in 0..5000 {
        let mut r = rec(i);
        r.time = format!("t{i}");
        audit.record(r).unwrap();
    }
    let mut other = rec(5000);
    other.reason = "revoked";
    audit.record(other).unwrap();
    // Held until the window closes, or the trail does.
    writer.close().await;
    let lines = lines(&path);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["count"], 5000);
    assert_eq!(lines[0]["decision_id"], "d0");
    assert_eq!(
        (&lines[0]["time"], &lines[0]["last_time"]),
        (&"t0".into(), &"t4999".into())
    );
    assert_eq!(
        (&lines[1]["count"], &lines[1]["reason"]),
        (&1.into(), &"revoked".into())
    );
    assert_eq!(m.audit.folded.get(), 4999);
    assert_eq!(m.audit_records.get(), 2);
}

#[tokio::test]
async fn folded_records_are_written_when_the_window_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let m = Arc::new(Metrics::new());
    let c = cfg(Duration::from_millis(50), 65_536, OnAuditFailure::Serve);
    let (audit, writer) = start_at(&path, &c, &m);
    for i in 0..10 {
        audit.record(rec(i)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.audit_records.get() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(lines(&path)[0]["count"], 10);
    writer.close().await;
}

/// A destination that takes nothing until it is released, and says when a write began.
struct Stuck {
    began: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
    out: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Write for Stuck {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = self.began.send(());
        let _ = self.release.recv();
        self.out.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The writer is stuck in a write: the queue takes `queue` more records, the rest are
/// dropped and counted (serve) or refused (refuse), and no call waits.
#[tokio::test]
async fn a_full_queue_drops_and_counts_or_refuses_and_never_waits() {
    for policy in [OnAuditFailure::Serve, OnAuditFailure::Refuse] {
        let (began_tx, began) = std::sync::mpsc::channel();
        let (release, release_rx) = std::sync::mpsc::channel();
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stuck = Stuck {
            began: began_tx,
            release: release_rx,
            out: out.clone(),
        };
        let m = Arc::new(Metrics::new());
        let c = cfg(Duration::ZERO, 4, policy);
        let (audit, writer) = Audit::spawn(Box::new(stuck), &c, m.clone()).unwrap();
        audit.record(rec(0)).unwrap();
        began.recv().unwrap();
        let results: Vec<_> = (1..=10).map(|i| audit.record(rec(i))).collect();
        let refused = results.iter().filter(|r| r.is_err()).count();
        let dropped = m.audit.dropped.with_label_values(&["queue_full"]).get();
        assert_eq!(dropped, 6, "{policy:?}");
        let expect_refused = if policy == OnAuditFailure::Refuse {
            6
        } else {
            0
        };
        assert_eq!(refused, expect_refused, "{policy:?}");
        for _ in 0..10 {
            let _ = release.send(());
        }
        writer.close().await;
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 5, "{policy:?}");
        assert_eq!(m.audit_records.get(), 5);
    }
}

/// A destination that refuses every write (a full disk): the trail is marked unwritable,
/// `refuse` turns records away while `serve` keeps taking them, and `close` still returns,
/// counting what it could not write.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_failing_destination_is_unwritable_until_a_write_succeeds() {
    for policy in [OnAuditFailure::Serve, OnAuditFailure::Refuse] {
        let m = Arc::new(Metrics::new());
        let c = cfg(Duration::ZERO, 64, policy);
        let (audit, writer) = start_at(Path::new("/dev/full"), &c, &m);
        audit.record(rec(0)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while m.audit.writable.get() == 1 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(m.audit.writable.get(), 0);
        let next = audit.record(rec(1));
        match policy {
            OnAuditFailure::Refuse => assert_eq!(next, Err(Unavailable)),
            OnAuditFailure::Serve => assert_eq!(next, Ok(())),
        }
        writer.close().await;
        assert!(m.audit_write_failures.get() >= 1);
        assert_eq!(m.audit_records.get(), 0);
        let lost = if policy == OnAuditFailure::Refuse {
            1
        } else {
            2
        };
        assert_eq!(
            m.audit.dropped.with_label_values(&["unwritable"]).get(),
            lost
        );
    }
}

/// A destination that takes part of a batch and then fails once: the retry writes the
/// rest, so every line is whole and in order, and the trail is writable again.
#[tokio::test]
async fn a_failed_write_is_retried_from_where_it_stopped() {
    struct Flaky {
        calls: usize,
        out: Arc<std::sync::Mutex<Vec<u8>>>,
    }
    impl Write for Flaky {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.calls += 1;
            let n = match self.calls {
                1 => 10,
                2 => return Err(std::io::Error::from_raw_os_error(28)),
                _ => b.len(),
            };
            self.out.lock().unwrap().extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let out = Arc::new(std::sync::Mutex::new(Vec::new()));
    let m = Arc::new(Metrics::new());
    let c = cfg(Duration::ZERO, 64, OnAuditFailure::Serve);
    let flaky = Flaky {
        calls: 0,
        out: out.clone(),
    };
    let (audit, writer) = Audit::spawn(Box::new(flaky), &c, m.clone()).unwrap();
    for i in 0..3 {
        audit.record(rec(i)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while m.audit_records.get() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(m.audit.writable.get(), 1);
    writer.close().await;
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["decision_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids, ["d0", "d1", "d2"]);
    assert_eq!(m.audit_write_failures.get(), 1);
    assert_eq!(m.audit_records.get(), 3);
}
