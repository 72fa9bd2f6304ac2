//! The gateway's local copy of its applied feed state, for a warm restart with the feed down.
//!
//! Layout of `feed.cache_dir`: `snapshot.ndjson` (the decompressed snapshot, canonical lines),
//! `deltas/<name>` (delta files as fetched), and `state.json` (revisions and state checksums of
//! the snapshot and of each delta, the applied revision and its `complete_as_of`), which is
//! written last, atomically (temp file + rename): a crash leaves the previous state intact.
//! Must not: publish a cached state whose checksums do not verify.
//! Invariant: restoring replays exactly the chain `state.json` lists and checks every checksum.

use super::format::{decompress, parse_delta_line, Checksum};
use super::publish::write_atomic;
use crate::index::{parse_snapshot, Revision};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CachedStep {
    pub file: String,
    pub revision: u64,
    pub checksum: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CacheState {
    pub revision: u64,
    pub complete_as_of: String,
    pub snapshot: CachedStep,
    pub deltas: Vec<CachedStep>,
}

pub struct Cache {
    pub dir: PathBuf,
}

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

impl Cache {
    /// Replaces the cached snapshot (and drops cached deltas).
    pub fn write_snapshot(&self, decompressed: &[u8]) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(self.dir.join("deltas"));
        let p = self.dir.join("snapshot.ndjson");
        write_atomic(&p, decompressed).map_err(|e| e.to_string())
    }

    pub fn write_delta(&self, name: &str, compressed: &[u8]) -> Result<String, String> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let file = format!("deltas/{base}");
        write_atomic(&self.dir.join(&file), compressed).map_err(|e| e.to_string())?;
        Ok(file)
    }

    pub fn commit(&self, state: &CacheState) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
        write_atomic(&self.dir.join("state.json"), &bytes).map_err(|e| e.to_string())
    }

    /// Rebuilds the cached state. `Ok(None)`: no cache. Blocking: call off the async threads.
    pub fn restore(
        &self,
        bloom: bool,
        limit: u64,
    ) -> Result<Option<(Revision, CacheState, SystemTime)>, String> {
        let sp = self.dir.join("state.json");
        if !sp.exists() {
            return Ok(None);
        }
        let state: CacheState =
            serde_json::from_slice(&std::fs::read(&sp).map_err(|e| err(&sp, e))?)
                .map_err(|e| err(&sp, e))?;
        let snap = self.dir.join(&state.snapshot.file);
        let text = std::fs::read(&snap).map_err(|e| err(&snap, e))?;
        let (mut rev, report) = parse_snapshot(&text, state.snapshot.revision, "feed cache", bloom);
        drop(text);
        if let Some(r) = report.rejected_lines.first() {
            return Err(format!("{}:{}: {}", snap.display(), r.line, r.reason));
        }
        expect(&snap, rev.checksum, &state.snapshot.checksum)?;
        let as_of =
            humantime::parse_rfc3339_weak(&state.complete_as_of).unwrap_or(std::time::UNIX_EPOCH);
        for d in &state.deltas {
            let p = self.dir.join(&d.file);
            let raw = std::fs::read(&p).map_err(|e| err(&p, e))?;
            let text = decompress(&d.file, &raw, limit).map_err(|e| e.to_string())?;
            let changes = String::from_utf8_lossy(&text)
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    parse_delta_line(l).map_err(|e| format!("{}:{}: {e}", p.display(), i + 1))
                })
                .collect::<Result<Vec<_>, _>>()?;
            rev = rev
                .apply(d.revision, &changes, as_of)
                .map_err(|e| err(&p, e))?;
            expect(&p, rev.checksum, &d.checksum)?;
        }
        if rev.revision != state.revision {
            return Err(err(
                &sp,
                format!(
                    "chain ends at revision {}, state says {}",
                    rev.revision, state.revision
                ),
            ));
        }
        rev.as_of = as_of;
        Ok(Some((rev, state, as_of)))
    }
}

fn expect(p: &Path, got: u128, want: &str) -> Result<(), String> {
    match Checksum::from_hex(want) {
        Some(Checksum(w)) if w == got => Ok(()),
        _ => Err(err(
            p,
            format!(
                "state checksum {:032x} does not match the recorded {want}",
                got
            ),
        )),
    }
}
