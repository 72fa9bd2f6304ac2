//! The gateway's sync loop: keeps the index current from a feed (docs/feed.md).
//!
//! Owns the per-sync algorithm (conditional manifest fetch, signature check, replay refusal,
//! delta chain or snapshot fallback, checksum after every step, compaction, one atomic
//! publication, cache persistence) and the retry schedule (poll interval, at least the
//! manifest's minimum; exponential back-off with jitter after failures).
//! Must not: publish anything it has not fully verified, or let any feed fault replace the
//! last good index: every failure leaves the served revision as it was.
//! Invariant: the published revision's checksum equals the state checksum the signed manifest
//! gives for that revision.

use super::cache::{Cache, CacheState};
use super::fetch::{Fetched, Fetcher};
use super::format::{check_file, verify, Manifest, PublicKey, MANIFEST, SIGNATURE};
use crate::config::FeedConfig;
use crate::index::Index;
use crate::metrics::Metrics;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

mod chain;

pub use super::error::{Cause, SyncError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SyncOutcome {
    /// The manifest has not changed since the last sync (HTTP 304).
    NotModified,
    /// The manifest is signed and current; the index already holds its revision.
    UpToDate { revision: u64 },
    /// A new revision was published.
    Applied {
        from: u64,
        to: u64,
        snapshot: bool,
        deltas: usize,
    },
}

/// What `/v1/status` shows about the feed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FeedStatus {
    pub url: String,
    pub last_attempt: Option<String>,
    pub last_success: Option<String>,
    pub last_outcome: Option<SyncOutcome>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub bytes_fetched: u64,
    pub last_apply_ms: Option<u64>,
    pub complete_as_of: Option<String>,
    pub cache: Option<String>,
}

#[derive(Default)]
struct Mem {
    etag: Option<String>,
    min_poll: Duration,
    cache: Option<CacheState>,
}

pub struct Syncer {
    cfg: FeedConfig,
    keys: Vec<PublicKey>,
    bloom: bool,
    index: Arc<Index>,
    metrics: Arc<Metrics>,
    fetcher: Fetcher,
    cache: Cache,
    mem: tokio::sync::Mutex<Mem>,
    status: std::sync::Mutex<FeedStatus>,
}

fn now_text() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Where a delta chain's apply time went.
#[derive(Default)]
struct Phases {
    fetch: Duration,
    decode: Duration,
    index: Duration,
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = Result<T, SyncError>> {
    let h = tokio::task::spawn_blocking(f);
    async move {
        h.await
            .map_err(|e| SyncError::new(Cause::Apply, format!("worker failed: {e}")))
    }
}

impl Syncer {
    pub fn new(
        cfg: FeedConfig,
        extra_keys: Vec<PublicKey>,
        bloom: bool,
        index: Arc<Index>,
        metrics: Arc<Metrics>,
    ) -> Syncer {
        let fetcher = Fetcher::new(
            &cfg.url,
            cfg.tls.clone(),
            cfg.request_timeout,
            cfg.max_file_bytes,
            cfg.user_agent.clone(),
        );
        let mut keys = cfg.keys.clone();
        keys.extend(extra_keys);
        let status = FeedStatus {
            url: cfg.url.clone(),
            ..Default::default()
        };
        let cache = Cache {
            dir: cfg.cache_dir.clone(),
        };
        Syncer {
            cfg,
            keys,
            bloom,
            index,
            metrics,
            fetcher,
            cache,
            mem: Default::default(),
            status: std::sync::Mutex::new(status),
        }
    }

    pub fn status(&self) -> FeedStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn set_status(&self, f: impl FnOnce(&mut FeedStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    /// Publishes the cached state, if any, marked unconfirmed until the first sync succeeds.
    pub async fn restore_cache(&self) -> bool {
        let (cache, bloom) = (self.cache.clone(), self.bloom);
        let t = Instant::now();
        match blocking(move || cache.restore(bloom)).await {
            Ok(Ok(Some((rev, state, as_of)))) => {
                tracing::info!(
                    event = "feed_cache_restored",
                    revision = rev.revision,
                    records = rev.stats.records,
                    took_ms = t.elapsed().as_millis() as u64
                );
                self.metrics.observe_revision(&rev);
                self.index.publish(rev);
                self.index.mark_unconfirmed();
                self.mem.lock().await.cache = Some(state);
                self.set_status(|s| {
                    s.cache = Some("restored".into());
                    s.complete_as_of = Some(humantime::format_rfc3339_seconds(as_of).to_string());
                });
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(e)) | Err(SyncError { message: e, .. }) => {
                self.metrics
                    .feed_failures
                    .with_label_values(&[Cause::Cache.as_str()])
                    .inc();
                tracing::warn!(event = "feed_cache_unusable", error = %e);
                self.set_status(|s| s.cache = Some(format!("unusable: {e}")));
                false
            }
        }
    }

    /// One sync attempt. On any error the served index is left exactly as it was.
    pub async fn sync_once(&self) -> Result<SyncOutcome, SyncError> {
        let mut mem = self.mem.lock().await;
        self.metrics.feed_attempts.inc();
        self.metrics.feed_last_attempt.set(
            SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        self.set_status(|s| s.last_attempt = Some(now_text()));
        let r = self.sync_inner(&mut mem).await;
        match &r {
            Ok(outcome) => {
                self.metrics.feed_last_success.set(
                    SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64()),
                );
                self.set_status(|s| {
                    s.last_success = Some(now_text());
                    s.last_outcome = Some(outcome.clone());
                    s.consecutive_failures = 0;
                });
            }
            Err(e) => {
                self.metrics
                    .feed_failures
                    .with_label_values(&[e.cause.as_str()])
                    .inc();
                tracing::warn!(event = "feed_sync_failed", cause = e.cause.as_str(), error = %e.message);
                self.set_status(|s| {
                    s.last_error = Some(format!("{} at {}", e, now_text()));
                    s.consecutive_failures += 1;
                });
            }
        }
        r
    }

    async fn fetch_file(
        &self,
        file: &str,
        sha256: &str,
        size: u64,
    ) -> Result<bytes::Bytes, SyncError> {
        let bytes = self.fetcher.body(file).await?;
        self.count_bytes(bytes.len());
        // Hashing a large snapshot takes seconds: not on an async worker that serves requests.
        let (f, b, want) = (file.to_string(), bytes.clone(), sha256.to_string());
        blocking(move || check_file(&f, &b, &want, size))
            .await?
            .map_err(|e| {
                let cause = if matches!(e, super::format::FormatError::Size { .. }) {
                    Cause::Size
                } else {
                    Cause::Sha256
                };
                SyncError::new(cause, e.to_string())
            })?;
        Ok(bytes)
    }

    fn count_bytes(&self, n: usize) {
        self.metrics.feed_bytes.inc_by(n as u64);
        self.set_status(|s| s.bytes_fetched += n as u64);
    }

    async fn sync_inner(&self, mem: &mut Mem) -> Result<SyncOutcome, SyncError> {
        let Some((m, etag)) = self.fetch_manifest(mem).await? else {
            return self.not_modified();
        };
        let cur = self.index.current();
        let have = if self.index.is_loaded() {
            cur.revision
        } else {
            0
        };
        if m.revision < have {
            return Err(SyncError::new(
                Cause::Replay,
                format!(
                    "manifest revision {} is older than the served {have}",
                    m.revision
                ),
            ));
        }
        mem.min_poll = Duration::from_secs(m.min_poll_interval_seconds);
        let as_of = m.complete_as_of();
        if m.revision == have && self.checksum_at(&m, have) == Some(cur.checksum) {
            self.confirm(mem, etag, &m, as_of);
            return Ok(SyncOutcome::UpToDate { revision: have });
        }
        let t = Instant::now();
        let (rev, snapshot, deltas) = self.reach(&m, have, cur.clone(), as_of).await?;
        let apply_ms = t.elapsed().as_millis() as u64;
        self.metrics
            .feed_apply_duration
            .observe(t.elapsed().as_secs_f64());
        let to = rev.revision;
        tracing::info!(
            event = "feed_applied",
            from = have,
            to,
            snapshot,
            deltas,
            records = rev.stats.records,
            apply_ms
        );
        self.metrics.observe_revision(&rev);
        drop(cur);
        self.index.publish(rev);
        self.persist(mem, &m).await;
        self.confirm(mem, etag, &m, as_of);
        self.set_status(|s| s.last_apply_ms = Some(apply_ms));
        Ok(SyncOutcome::Applied {
            from: have,
            to,
            snapshot,
            deltas,
        })
    }

    /// The manifest, fetched conditionally and verified against the trusted keys, with its
    /// ETag; `None` when the server says it has not changed.
    async fn fetch_manifest(
        &self,
        mem: &Mem,
    ) -> Result<Option<(Manifest, Option<String>)>, SyncError> {
        let (bytes, etag) = match self.fetcher.get(MANIFEST, mem.etag.as_deref()).await? {
            Fetched::NotModified => return Ok(None),
            Fetched::Body { bytes, etag } => (bytes, etag),
        };
        self.count_bytes(bytes.len());
        let sig = self.fetcher.body(SIGNATURE).await?;
        verify(&bytes, &sig, &self.keys)
            .map_err(|e| SyncError::new(Cause::Signature, e.to_string()))?;
        let m =
            Manifest::parse(&bytes).map_err(|e| SyncError::new(Cause::Manifest, e.to_string()))?;
        Ok(Some((m, etag)))
    }

    /// A 304: the served data is confirmed as of the manifest last applied or restored from
    /// the cache; an error when no manifest was ever applied (the server's ETag cannot be ours).
    fn not_modified(&self) -> Result<SyncOutcome, SyncError> {
        if !self.index.is_loaded() {
            return Err(SyncError::new(
                Cause::Fetch,
                "304 for a manifest this gateway never applied",
            ));
        }
        let as_of = self
            .status()
            .complete_as_of
            .and_then(|t| humantime::parse_rfc3339_weak(&t).ok());
        if let Some(t) = as_of {
            self.index.confirm(t);
        }
        Ok(SyncOutcome::NotModified)
    }

    fn confirm(&self, mem: &mut Mem, etag: Option<String>, m: &Manifest, as_of: SystemTime) {
        mem.etag = etag;
        self.index.confirm(as_of);
        self.set_status(|s| s.complete_as_of = Some(m.complete_as_of.clone()));
    }

    /// Writes the published revision to the cache (a new base file only when the base
    /// changed), off the async threads.
    async fn persist(&self, mem: &mut Mem, m: &Manifest) {
        let (cache, rev, prev, as_of) = (
            self.cache.clone(),
            self.index.current(),
            mem.cache.take(),
            m.complete_as_of.clone(),
        );
        let revision = rev.revision;
        match blocking(move || cache.save(&rev, prev.as_ref(), &as_of)).await {
            Ok(Ok(state)) => {
                mem.cache = Some(state);
                self.set_status(|s| s.cache = Some(format!("revision {revision}")));
            }
            Ok(Err(e)) | Err(SyncError { message: e, .. }) => {
                self.metrics
                    .feed_failures
                    .with_label_values(&[Cause::Cache.as_str()])
                    .inc();
                tracing::warn!(event = "feed_cache_write_failed", error = %e);
            }
        }
    }

    /// Delay before the next attempt: the poll interval (at least the manifest's minimum) after
    /// a success; after `failures` failures in a row, exponential back-off from 1 s with full
    /// jitter, capped at the poll interval.
    pub async fn next_delay(&self, failures: u32) -> Duration {
        let poll = self.cfg.poll_interval.max(self.mem.lock().await.min_poll);
        if failures == 0 {
            return poll;
        }
        let cap = Duration::from_secs(1)
            .saturating_mul(1 << failures.min(16))
            .min(poll);
        cap.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0))
    }

    /// Syncs now, then on schedule, until `shutdown` changes.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            failures = match self.sync_once().await {
                Ok(_) => 0,
                Err(_) => failures.saturating_add(1),
            };
            let delay = self.next_delay(failures).await;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}
