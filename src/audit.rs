//! The audit trail: one JSON line per block, monitor and fail-open decision, written by a
//! dedicated task to a file or stdout, separate from the operational log.
//!
//! Owns the record shape and the writer task. Records are queued on a bounded channel; a
//! request waits for room rather than dropping its record.
//! `reopen` (SIGUSR1) makes the writer open the file at its path again before the next batch,
//! so a rotation by rename loses nothing and writes nothing more to the renamed file.
//! Must not: crash or stall the proxy on a write error (it is logged, folded, and counted), or
//! lose a queued record on shutdown (`close` drains and flushes).
//! Invariant: each line is one complete JSON object followed by `\n`.

use crate::metrics::Metrics;
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub decision_id: String,
    /// The request's `x-request-id` (as sent, or made by the gateway).
    pub request_id: String,
    /// RFC 3339 UTC time of the decision.
    pub time: String,
    pub listener: String,
    pub route: String,
    pub method: String,
    pub path: String,
    pub platform: Option<&'static str>,
    pub identifier: Option<String>,
    /// Filing numbers involved (the filings found for the identifier).
    pub filings: Vec<String>,
    pub decision: &'static str,
    pub reason: &'static str,
    pub index_revision: u64,
    pub client: String,
    /// Upload routes: the package the decision was made on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageAudit>,
}

/// What an audit record says about an uploaded package.
#[derive(Clone, Debug, Serialize)]
pub struct PackageAudit {
    /// apk, ipa or hap.
    pub kind: &'static str,
    pub id: String,
    pub version_code: Option<String>,
    pub version_name: Option<String>,
    /// The certificates the package is signed with (as its platform would accept them).
    pub signers: Vec<SignerAudit>,
    /// Size of the package in bytes.
    pub bytes: u64,
}

/// Certificate fingerprints, lowercase hex.
#[derive(Clone, Debug, Serialize)]
pub struct SignerAudit {
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
}

impl SignerAudit {
    pub fn of(s: &crate::filing::Signer) -> SignerAudit {
        SignerAudit {
            md5: s.md5.map(hex::encode),
            sha1: s.sha1.map(hex::encode),
            sha256: s.sha256.map(hex::encode),
        }
    }
}

const QUEUE: usize = 65_536;

enum Msg {
    Record(Box<AuditRecord>),
    Close,
}

/// Handle for queueing audit records; cheap to clone.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Msg>,
    /// Set by `reopen`; the writer reopens its file before the next batch.
    reopen: Arc<AtomicBool>,
}

/// The writer task; `close` flushes everything queued before it returns.
pub struct AuditWriter {
    tx: mpsc::Sender<Msg>,
    task: tokio::task::JoinHandle<()>,
}

impl Audit {
    /// Opens the destination (None = stdout) and starts the writer task.
    pub fn start(
        path: Option<PathBuf>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Audit, AuditWriter)> {
        let out: Box<dyn Write + Send> = match &path {
            None => Box::new(std::io::stdout()),
            Some(p) => Box::new(open(p)?),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let reopen = Arc::new(AtomicBool::new(false));
        let file = path.map(|p| (p, reopen.clone()));
        let task = tokio::task::spawn_blocking(move || write_loop(rx, out, &metrics, file));
        let audit = Audit {
            tx: tx.clone(),
            reopen,
        };
        Ok((audit, AuditWriter { tx, task }))
    }

    /// Reopens the audit file before the next batch is written (SIGUSR1, after logrotate
    /// renamed it); stdout is left as it is.
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    /// Queues a record, waiting for room if the writer is behind.
    pub async fn record(&self, r: AuditRecord) {
        if self.tx.send(Msg::Record(Box::new(r))).await.is_err() {
            tracing::error!(
                event = "audit_closed",
                "audit record after the audit trail closed"
            );
        }
    }
}

impl AuditWriter {
    /// Writes and flushes every record queued before this call, then stops the writer. Records
    /// queued after it are refused (and logged by `record`).
    pub async fn close(self) {
        let _ = self.tx.send(Msg::Close).await;
        let _ = self.task.await;
    }
}

fn open(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Writes each batch of queued records with one `write_all` and one flush, and counts it
/// once that has succeeded: `audit_records` only counts lines that reached the destination,
/// and a failed batch adds its records to `audit_write_failures` (some of its bytes may have
/// been written; none is counted as a record). `file` is the audit file and its reopen flag.
fn write_loop(
    mut rx: mpsc::Receiver<Msg>,
    mut out: Box<dyn Write + Send>,
    m: &Metrics,
    file: Option<(PathBuf, Arc<AtomicBool>)>,
) {
    let failed = crate::fold::Folded::new("audit_write_failed", "", crate::fold::Level::Error);
    let mut closing = false;
    let mut buf = Vec::with_capacity(64 << 10);
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(r) = rx.try_recv() {
            batch.push(r);
        }
        buf.clear();
        let mut records = 0u64;
        for msg in &batch {
            match msg {
                Msg::Record(r) => {
                    // A record of strings and numbers always serialises.
                    if serde_json::to_writer(&mut buf, r).is_ok() {
                        buf.push(b'\n');
                        records += 1;
                    }
                }
                Msg::Close => closing = true,
            }
        }
        if let Some((path, reopen)) = &file {
            if reopen.swap(false, Ordering::AcqRel) {
                match open(path) {
                    Ok(f) => out = Box::new(f),
                    Err(e) => tracing::error!(event = "audit_reopen_failed", error = %e),
                }
            }
        }
        // Written and flushed whenever the queue is drained, so records are on disk while
        // traffic is light and batched when it is not.
        match out.write_all(&buf).and_then(|()| out.flush()) {
            Ok(()) => m.audit_records.inc_by(records),
            Err(e) => {
                m.audit_write_failures.inc_by(records);
                if let Some(r) = failed.hit() {
                    let (repeated, window_s) = (r.count, r.secs());
                    tracing::error!(event = "audit_write_failed", error = %e, records, repeated, window_s);
                }
            }
        }
        if closing {
            // Refuse new records; the loop still drains what is already queued, then ends.
            rx.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> AuditRecord {
        AuditRecord {
            decision_id: format!("d{i}"),
            request_id: format!("r{i}"),
            time: "2026-01-01T00:00:00Z".into(),
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
            client: "127.0.0.1:1".into(),
            package: None,
        }
    }

    #[tokio::test]
    async fn every_record_is_written_before_close_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let m = Arc::new(Metrics::new());
        let (audit, writer) = Audit::start(Some(path.clone()), m.clone()).unwrap();
        for i in 0..1000 {
            audit.record(rec(i)).await;
        }
        writer.close().await;
        audit.record(rec(1000)).await;
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999]["decision_id"], "d999");
        assert_eq!(m.audit_records.get(), 1000);
        assert_eq!(m.audit_write_failures.get(), 0);
    }

    #[tokio::test]
    async fn after_reopen_records_go_to_a_new_file_at_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let m = Arc::new(Metrics::new());
        let (audit, writer) = Audit::start(Some(path.clone()), m.clone()).unwrap();
        audit.record(rec(0)).await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while m.audit_records.get() < 1 {
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        std::fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
        audit.reopen();
        audit.record(rec(1)).await;
        writer.close().await;
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        assert!(read(&dir.path().join("audit.jsonl.1")).contains("\"d0\""));
        let now = read(&path);
        assert_eq!(now.lines().count(), 1);
        assert!(now.contains("\"request_id\":\"r1\""), "{now}");
    }

    /// A destination that refuses every write (a full disk): the records are counted as
    /// failures, none as written, the writer keeps going and `close` still returns.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn write_failures_are_counted_per_record_and_never_stop_the_writer() {
        let m = Arc::new(Metrics::new());
        let (audit, writer) = Audit::start(Some("/dev/full".into()), m.clone()).unwrap();
        for i in 0..5 {
            audit.record(rec(i)).await;
        }
        writer.close().await;
        assert_eq!(m.audit_write_failures.get(), 5);
        assert_eq!(m.audit_records.get(), 0);
    }
}
