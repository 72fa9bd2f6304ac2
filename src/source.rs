//! Where the index comes from: a local snapshot file (re-read on SIGHUP or `POST /v1/reload`)
//! or a registry feed (synced on schedule by `feed::sync`; `POST /v1/reload` syncs now).
//!
//! Owns the one-at-a-time reload of snapshot files and the common face both sources show the
//! admin API and the lifecycle.
//! Must not: publish a revision that failed to load.
//! Invariant: revision numbers only increase; a failed refresh leaves the served index as it was.

use crate::feed::sync::Syncer;
use crate::index::{load_snapshot, Index, LoadError, LoadReport};
use crate::metrics::{LoadResult, Metrics};
use std::path::PathBuf;
use std::sync::Arc;

/// Loads a snapshot file into new revisions, one load at a time.
pub struct SnapshotSource {
    pub path: PathBuf,
    pub bloom: bool,
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    lock: tokio::sync::Mutex<Option<LoadReport>>,
}

impl SnapshotSource {
    pub fn new(
        path: PathBuf,
        bloom: bool,
        index: Arc<Index>,
        metrics: Arc<Metrics>,
    ) -> SnapshotSource {
        SnapshotSource {
            path,
            bloom,
            index,
            metrics,
            lock: tokio::sync::Mutex::new(None),
        }
    }

    /// Loads the snapshot off the async threads and publishes it.
    pub async fn reload(&self) -> Result<LoadReport, LoadError> {
        let mut last = self.lock.lock().await;
        let next = self.index.current().revision + 1;
        let (path, bloom) = (self.path.clone(), self.bloom);
        let started = std::time::Instant::now();
        let loaded = tokio::task::spawn_blocking(move || load_snapshot(&path, next, bloom))
            .await
            .unwrap_or_else(|e| {
                Err(LoadError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::other(e),
                })
            });
        match loaded {
            Ok((rev, report)) => {
                self.metrics.index_loaded(LoadResult::Ok);
                self.metrics.index_rejected_records.inc_by(report.rejected);
                self.metrics.observe_revision(&rev);
                tracing::info!(
                    event = "index_loaded", revision = next, records = report.accepted, rejected = report.rejected,
                    ids = rev.stats.ids, took_ms = started.elapsed().as_millis() as u64, source = %rev.source
                );
                for r in report.rejected_lines.iter().take(10) {
                    tracing::warn!(event = "snapshot_line_rejected", line = r.line, reason = %r.reason);
                }
                self.index.publish(rev);
                *last = Some(report.clone());
                Ok(report)
            }
            Err(e) => {
                self.metrics.index_loaded(LoadResult::Error);
                tracing::error!(event = "index_load_failed", error = %e);
                Err(e)
            }
        }
    }
}

pub enum Source {
    Snapshot(SnapshotSource),
    Feed(Arc<Syncer>),
}

impl Source {
    /// Re-reads the snapshot, or syncs the feed now; the JSON describes what happened.
    pub async fn refresh(&self) -> Result<serde_json::Value, String> {
        match self {
            Source::Snapshot(s) => s
                .reload()
                .await
                .map(|r| serde_json::json!({ "load": r }))
                .map_err(|e| e.to_string()),
            Source::Feed(f) => f
                .sync_once()
                .await
                .map(|o| serde_json::json!({ "sync": o }))
                .map_err(|e| e.to_string()),
        }
    }

    /// What `/v1/status` shows under `source`.
    pub fn status(&self) -> serde_json::Value {
        match self {
            Source::Snapshot(s) => {
                serde_json::json!({ "kind": "snapshot", "path": s.path.display().to_string() })
            }
            Source::Feed(f) => serde_json::json!({ "kind": "feed", "feed": f.status() }),
        }
    }
}
