//! How a sync reaches the manifest's revision: the delta chain from the served state when it
//! applies, else the snapshot and every delta after it; then compaction of a large overlay.
//!
//! Owns the chain planning and the verified application of each step (an `impl Syncer` block
//! beside the sync loop in sync.rs).
//! Must not: return a revision whose checksum differs from the one the manifest gives for it.
//! Invariant: every step's state checksum is compared with the manifest's before the next.

use super::{blocking, Cause, Phases, SyncError, Syncer};
use crate::feed::delta::{parse_delta, Parsed};
use crate::feed::format::{decompress, Checksum, DeltaRef, Manifest};
use crate::index::{parse_snapshot, Revision};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

impl Syncer {
    /// The manifest's revision, built from `cur`, the served revision (`have` is its number,
    /// 0 before any load): by the delta chain when it applies, else (or when the chain fails)
    /// from the snapshot; compacted when the overlay grew large. Also says whether the
    /// snapshot was used and how many deltas were applied.
    pub(super) async fn reach(
        &self,
        m: &Manifest,
        have: u64,
        cur: Arc<Revision>,
        as_of: SystemTime,
    ) -> Result<(Revision, bool, usize), SyncError> {
        let (rev, snapshot, deltas) = match self.delta_plan(m, have, cur.checksum) {
            Some(ds) => match self.apply_deltas(cur, ds, as_of).await {
                Ok(rev) => (rev, false, ds.len()),
                // Drift, a missing or a corrupt delta: the snapshot is verified on its own, so
                // falling back to it can never be worse than the chain.
                Err(e) => {
                    tracing::warn!(event = "feed_snapshot_fallback", cause = e.cause.as_str(), reason = %e.message);
                    self.metrics
                        .feed_failures
                        .with_label_values(&[e.cause.as_str()])
                        .inc();
                    self.metrics.feed_fallbacks.inc();
                    self.snapshot_chain(m, as_of).await?
                }
            },
            None => self.snapshot_chain(m, as_of).await?,
        };
        Ok((self.maybe_compact(rev).await?, snapshot, deltas))
    }

    /// The state checksum the manifest gives for `revision`, if its chain has it.
    pub(super) fn checksum_at(&self, m: &Manifest, revision: u64) -> Option<u128> {
        let hex = if revision == m.snapshot.revision {
            &m.snapshot.state_checksum
        } else {
            &m.deltas
                .iter()
                .find(|d| d.revision == revision)?
                .state_checksum
        };
        Checksum::from_hex(hex).map(|c| c.0)
    }

    /// The deltas to apply from `have`, when the chain reaches us, we are not too far behind,
    /// and our state is the one the manifest expects at `have`.
    fn delta_plan<'m>(&self, m: &'m Manifest, have: u64, checksum: u128) -> Option<&'m [DeltaRef]> {
        if have == 0 || have < m.snapshot.revision {
            return None;
        }
        let ds = m.deltas_after(have)?;
        if ds.len() > self.cfg.max_deltas {
            return None;
        }
        if self.checksum_at(m, have) != Some(checksum) {
            tracing::warn!(event = "feed_state_drift", revision = have);
            self.metrics
                .feed_failures
                .with_label_values(&[Cause::Checksum.as_str()])
                .inc();
            return None;
        }
        Some(ds)
    }

    async fn fetch_changes(&self, d: &DeltaRef, phases: &mut Phases) -> Result<Parsed, SyncError> {
        let t = Instant::now();
        let raw = self.fetch_file(&d.file, &d.sha256, d.size).await?;
        phases.fetch += t.elapsed();
        let t = Instant::now();
        let (file, limit) = (d.file.clone(), self.cfg.max_file_bytes);
        let parsed = blocking(move || -> Result<Parsed, SyncError> {
            let text = decompress(&file, &raw, limit)
                .map_err(|e| SyncError::new(Cause::Decompress, e.to_string()))?;
            parse_delta(&file, &text).map_err(|e| SyncError::new(Cause::Parse, e))
        })
        .await?;
        phases.decode += t.elapsed();
        parsed
    }

    /// Applies `ds` in order on top of `start`; returns the final revision.
    async fn apply_deltas(
        &self,
        start: Arc<Revision>,
        ds: &[DeltaRef],
        as_of: SystemTime,
    ) -> Result<Revision, SyncError> {
        let mut rev = start;
        let mut phases = Phases::default();
        for d in ds {
            let parsed = self.fetch_changes(d, &mut phases).await?;
            let (base, target) = (rev.clone(), d.revision);
            let t = Instant::now();
            let next = blocking(move || {
                base.apply_digested(target, &parsed.changes, &parsed.digests, as_of)
            })
            .await?
            .map_err(|e| SyncError::new(Cause::Apply, e.to_string()))?;
            phases.index += t.elapsed();
            if Checksum::from_hex(&d.state_checksum).map(|c| c.0) != Some(next.checksum) {
                return Err(SyncError::new(
                    Cause::Checksum,
                    format!(
                        "state after {} is {:032x}, manifest says {}",
                        d.file, next.checksum, d.state_checksum
                    ),
                ));
            }
            rev = Arc::new(next);
        }
        tracing::info!(
            event = "feed_deltas_applied",
            deltas = ds.len(),
            fetch_ms = phases.fetch.as_millis() as u64,
            decode_ms = phases.decode.as_millis() as u64,
            index_ms = phases.index.as_millis() as u64,
            "fetch and sha256, decompress and parse, apply to the index"
        );
        // The last revision was built here and its only other holders (the apply closures) are gone.
        Arc::try_unwrap(rev).map_err(|_| SyncError::new(Cause::Manifest, "no deltas to apply"))
    }

    /// Loads the manifest's snapshot and applies every delta after it.
    async fn snapshot_chain(
        &self,
        m: &Manifest,
        as_of: SystemTime,
    ) -> Result<(Revision, bool, usize), SyncError> {
        let s = &m.snapshot;
        let raw = self.fetch_file(&s.file, &s.sha256, s.size).await?;
        let (file, limit, bloom, revision, want) = (
            s.file.clone(),
            self.cfg.max_file_bytes,
            self.bloom,
            s.revision,
            s.state_checksum.clone(),
        );
        let rev = blocking(move || -> Result<Revision, SyncError> {
            let text = decompress(&file, &raw, limit)
                .map_err(|e| SyncError::new(Cause::Decompress, e.to_string()))?;
            let (mut rev, report) = parse_snapshot(&text, revision, "feed", bloom);
            if let Some(r) = report.rejected_lines.first() {
                return Err(SyncError::new(
                    Cause::Parse,
                    format!("{file}:{}: {}", r.line, r.reason),
                ));
            }
            if Checksum::from_hex(&want).map(|c| c.0) != Some(rev.checksum) {
                return Err(SyncError::new(
                    Cause::Checksum,
                    format!(
                        "{file}: state checksum {:032x}, manifest says {want}",
                        rev.checksum
                    ),
                ));
            }
            rev.as_of = as_of;
            Ok(rev)
        })
        .await??;
        if m.deltas.is_empty() {
            return Ok((rev, true, 0));
        }
        let rev = self.apply_deltas(Arc::new(rev), &m.deltas, as_of).await?;
        Ok((rev, true, m.deltas.len()))
    }

    async fn maybe_compact(&self, rev: Revision) -> Result<Revision, SyncError> {
        if rev.overlay_records() <= self.cfg.compact_after {
            return Ok(rev);
        }
        let t = Instant::now();
        let r = blocking(move || rev.compact()).await?;
        self.metrics.feed_compactions.inc();
        tracing::info!(
            event = "index_compacted",
            revision = r.revision,
            took_ms = t.elapsed().as_millis() as u64
        );
        Ok(r)
    }
}
