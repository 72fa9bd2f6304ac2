//! The audit trail: one JSON line per block, monitor and fail-open decision, written by a
//! dedicated thread to a file or stdout, separate from the operational log.
//!
//! Owns the record shape and the handle requests queue records through. The queue is bounded
//! (`audit.queue`) and a request never waits on it: a record that finds it full is dropped and
//! counted, and with `audit.on_failure = "refuse"` the request is refused instead (503
//! `audit_unavailable`), as it is while the destination cannot be written. Identical records
//! fold into one with a count (`fold.rs`); the writer batches and retries (`writer.rs`).
//! `reopen` (SIGUSR1) makes the writer open the file at its path again before its next write,
//! so a rotation by rename loses nothing and writes nothing more to the renamed file.
//! Must not: block or stall a request on the trail, or lose a queued record on shutdown
//! (`close` writes everything queued and held before it returns).
//! Invariant: each line is one complete JSON object followed by `\n`.

mod fold;
mod writer;

use crate::client::ClientAddr;
use crate::config::{AuditConfig, Config, OnAuditFailure};
use crate::metrics::Metrics;
use prometheus::IntCounter;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use writer::{Msg, Writer};

#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    pub decision_id: String,
    /// The request's `x-request-id` (as sent, or made by the gateway).
    pub request_id: String,
    /// RFC 3339 UTC time of the decision (the first, for a folded record).
    pub time: String,
    /// A folded record: the time of the last decision it counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_time: Option<String>,
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
    /// The client: the connection's address (or its PROXY header's), or the one
    /// X-Forwarded-For names past the listener's trusted proxies (`client.rs`).
    pub client: ClientAddr,
    /// How many identical decisions this record stands for (`audit.fold_window`).
    pub count: u64,
    /// Upload routes: the package the decision was made on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageAudit>,
    /// List routes: the items removed from one list (monitor mode: that would be), folded
    /// into this one record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list: Option<ListAudit>,
}

/// What an audit record says about a list (`crate::lists`).
#[derive(Clone, Debug, Serialize)]
pub struct ListAudit {
    /// `response` (the upstream's answer) or `batch` (the request body).
    pub side: &'static str,
    /// Items in the list.
    pub items: usize,
    /// Items removed (monitor mode: that would be).
    pub removed_total: usize,
    /// The first 100 of them: id, platform, reason.
    pub removed: Vec<crate::lists::Removed>,
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

/// What the handle and the writer share.
struct State {
    /// False from a failed write until a write succeeds.
    writable: AtomicBool,
    /// Set by `reopen`; the writer opens `path` again before its next write.
    reopen: AtomicBool,
    /// The audit file (`None`: stdout, never reopened).
    path: Option<std::path::PathBuf>,
    refuse: bool,
    queue_full: IntCounter,
    closed: IntCounter,
}

/// Handle for queueing audit records; cheap to clone.
#[derive(Clone)]
pub struct Audit {
    tx: SyncSender<Msg>,
    state: Arc<State>,
}

/// The record cannot be kept and `audit.on_failure = "refuse"`: the request it describes must
/// not be served (503 `audit_unavailable`).
#[derive(Debug, PartialEq, Eq)]
pub struct Unavailable;

/// The writer thread; `close` writes everything queued and held before it returns.
pub struct AuditWriter {
    tx: SyncSender<Msg>,
    thread: std::thread::JoinHandle<()>,
}

/// The destination: `None` is stdout, written through its own descriptor so a batch is one
/// write (std's `Stdout` splits at line ends).
pub(crate) fn open(path: Option<&Path>) -> std::io::Result<Box<dyn Write + Send>> {
    Ok(match path {
        None => {
            use std::os::fd::AsFd;
            let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
            Box::new(std::fs::File::from(fd))
        }
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
    })
}

impl Audit {
    /// Opens `audit.path` (stdout when unset) and starts the writer thread.
    pub fn start(cfg: &Config, metrics: Arc<Metrics>) -> std::io::Result<(Audit, AuditWriter)> {
        let out = open(cfg.audit_path.as_deref())?;
        Audit::spawn_at(out, cfg.audit_path.clone(), &cfg.audit, metrics)
    }

    /// Reopens the audit file before the next write (SIGUSR1, after logrotate renamed it);
    /// stdout is left as it is.
    pub fn reopen(&self) {
        self.state.reopen.store(true, Ordering::Release);
    }

    #[cfg(test)]
    pub(crate) fn spawn(
        out: Box<dyn Write + Send>,
        cfg: &AuditConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Audit, AuditWriter)> {
        Audit::spawn_at(out, None, cfg, metrics)
    }

    fn spawn_at(
        out: Box<dyn Write + Send>,
        path: Option<std::path::PathBuf>,
        cfg: &AuditConfig,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Audit, AuditWriter)> {
        let (tx, rx) = sync_channel(cfg.queue.max(1));
        let dropped = &metrics.audit.dropped;
        let state = Arc::new(State {
            writable: AtomicBool::new(true),
            reopen: AtomicBool::new(false),
            path,
            refuse: cfg.on_failure == OnAuditFailure::Refuse,
            queue_full: dropped.with_label_values(&["queue_full"]),
            closed: dropped.with_label_values(&["closed"]),
        });
        let fold = fold::Folder::new(cfg.fold_window, cfg.fold_keys);
        let w = Writer::new(out, fold, state.clone(), metrics);
        let thread = std::thread::Builder::new()
            .name("icpgate-audit".into())
            .spawn(move || w.run(rx))?;
        Ok((
            Audit {
                tx: tx.clone(),
                state,
            },
            AuditWriter { tx, thread },
        ))
    }

    /// Queues a record without waiting. `Err` only with `on_failure = "refuse"`, when the
    /// record cannot be kept: the destination is failing, the queue is full or the trail is
    /// closed. Otherwise a record that cannot be queued is dropped and counted.
    pub fn record(&self, r: AuditRecord) -> Result<(), Unavailable> {
        let s = &self.state;
        if s.refuse && !s.writable.load(Ordering::Relaxed) {
            return Err(Unavailable);
        }
        let lost = match self.tx.try_send(Msg::Record(Box::new(r))) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(_)) => &s.queue_full,
            Err(TrySendError::Disconnected(_)) => &s.closed,
        };
        lost.inc();
        if s.refuse {
            Err(Unavailable)
        } else {
            Ok(())
        }
    }
}

impl AuditWriter {
    /// Writes every record queued or held before this call, then stops the writer. Records
    /// queued after it are dropped and counted (`icpgate_audit_dropped_total{reason="closed"}`).
    pub async fn close(self) {
        let AuditWriter { tx, thread } = self;
        let _ = tokio::task::spawn_blocking(move || {
            let _ = tx.send(Msg::Close);
            let _ = thread.join();
        })
        .await;
    }
}

#[cfg(test)]
pub(crate) mod tests;
