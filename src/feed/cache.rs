//! The gateway's local copy of its applied feed state, for a warm restart with the feed down.
//!
//! Layout of `feed.cache_dir`: `base-<revision>-<checksum>.bin`, the base layer of the
//! applied revision as encoded in memory (`index::persist`: record arena, entity arena, live
//! offsets, checksummed); `overlay-<revision>-<checksum>.bin`, the records and tombstones the
//! deltas since that base put over it (absent when there are none); and `state.json` (the
//! applied revision, its state checksum and `complete_as_of`, and the two files with the
//! revision and checksum each holds), written last, atomically (temp file + rename). A new
//! base (a snapshot load or a compaction) writes a new base file; a delta rewrites only the
//! overlay file, whose size follows the changes since the base. Files `state.json` no longer
//! names are removed after it is committed, so a crash at any point leaves the previous state
//! intact. A restore reads two files and rebuilds the id maps: no NDJSON is parsed.
//! Must not: publish a cached state whose file checksums, revisions or state checksums do
//! not match what `state.json` records (such a cache is unusable: the gateway syncs).
//! Invariant: a restore yields exactly the revision and state checksum that were committed.

use super::format::Checksum;
use super::publish::write_atomic;
use crate::index::{persist, Revision};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The `state.json` format this build writes and reads.
pub const STATE_FORMAT: u32 = 2;

/// One index file and the (revision, state checksum) it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachedFile {
    pub file: String,
    pub revision: u64,
    pub checksum: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheState {
    pub format: u32,
    pub revision: u64,
    pub checksum: String,
    pub complete_as_of: String,
    pub base: CachedFile,
    pub overlay: Option<CachedFile>,
}

#[derive(Clone)]
pub struct Cache {
    pub dir: PathBuf,
}

fn err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

fn file_name(kind: &str, revision: u64, checksum: u128) -> String {
    format!("{kind}-{revision:010}-{:08x}.bin", (checksum >> 96) as u32)
}

/// A file name `state.json` may name: one of ours, inside the cache directory.
fn ours(name: &str) -> bool {
    (name.starts_with("base-") || name.starts_with("overlay-"))
        && name.ends_with(".bin")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Cache {
    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Persists `rev`: its base file unless `prev` already holds that base, its overlay file,
    /// then `state.json`, then removes the files nothing names any more. Blocking.
    pub fn save(
        &self,
        rev: &Revision,
        prev: Option<&CacheState>,
        complete_as_of: &str,
    ) -> Result<CacheState, String> {
        let (base_rev, base_sum) = rev.base_key();
        let base_hex = Checksum(base_sum).to_hex();
        let reuse = prev
            .map(|p| &p.base)
            .filter(|b| b.revision == base_rev && b.checksum == base_hex)
            .filter(|b| self.dir.join(&b.file).is_file())
            .cloned();
        let base = match reuse {
            Some(b) => b,
            None => {
                let file = file_name("base", base_rev, base_sum);
                let p = self.dir.join(&file);
                persist::save_base(rev, &p).map_err(|e| e.to_string())?;
                CachedFile {
                    file,
                    revision: base_rev,
                    checksum: base_hex,
                }
            }
        };
        let file = file_name("overlay", rev.revision, rev.checksum);
        let overlay = persist::save_overlay(rev, &self.dir.join(&file))
            .map_err(|e| e.to_string())?
            .then(|| CachedFile {
                file,
                revision: rev.revision,
                checksum: Checksum(rev.checksum).to_hex(),
            });
        let state = CacheState {
            format: STATE_FORMAT,
            revision: rev.revision,
            checksum: Checksum(rev.checksum).to_hex(),
            complete_as_of: complete_as_of.to_string(),
            base,
            overlay,
        };
        let bytes = serde_json::to_vec_pretty(&state).map_err(|e| e.to_string())?;
        write_atomic(&self.state_path(), &bytes).map_err(|e| e.to_string())?;
        self.remove_unnamed(&state);
        Ok(state)
    }

    /// Removes cache files `state` does not name, and the NDJSON cache of older builds.
    fn remove_unnamed(&self, state: &CacheState) {
        let keep = [Some(&state.base), state.overlay.as_ref()];
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let named = keep.iter().flatten().any(|f| f.file == name);
            if (ours(&name) && !named) || name == "snapshot.ndjson" {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.join("deltas"));
    }

    /// Rebuilds the cached state. `Ok(None)`: no cache. Blocking: call off the async threads.
    pub fn restore(
        &self,
        bloom: bool,
    ) -> Result<Option<(Revision, CacheState, SystemTime)>, String> {
        let sp = self.state_path();
        if !sp.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&sp).map_err(|e| err(&sp, e))?;
        let state: CacheState = serde_json::from_slice(&bytes)
            .map_err(|e| err(&sp, format!("{e} (not a state.json this build writes)")))?;
        if state.format != STATE_FORMAT {
            return Err(err(
                &sp,
                format!("format {}, this build reads {STATE_FORMAT}", state.format),
            ));
        }
        let files = std::iter::once(&state.base).chain(state.overlay.as_ref());
        if let Some(f) = files.clone().find(|f| !ours(&f.file)) {
            return Err(err(&sp, format!("{:?} is not a cache file name", f.file)));
        }
        let base = self.dir.join(&state.base.file);
        let overlay = state.overlay.as_ref().map(|o| self.dir.join(&o.file));
        let mut rev =
            persist::restore(&base, overlay.as_deref(), bloom).map_err(|e| e.to_string())?;
        let (base_rev, base_sum) = rev.base_key();
        expect(&base, base_rev, base_sum, &state.base)?;
        if state.overlay.is_none() {
            // A delta that changed nothing moves the revision on without an overlay.
            rev.revision = state.revision;
        }
        if let Some(o) = &state.overlay {
            expect(
                overlay.as_deref().unwrap_or(&sp),
                rev.revision,
                rev.checksum,
                o,
            )?;
        }
        let top = CachedFile {
            file: String::new(),
            revision: state.revision,
            checksum: state.checksum.clone(),
        };
        expect(&sp, rev.revision, rev.checksum, &top)?;
        let as_of =
            humantime::parse_rfc3339_weak(&state.complete_as_of).unwrap_or(std::time::UNIX_EPOCH);
        rev.as_of = as_of;
        Ok(Some((rev, state, as_of)))
    }
}

/// The restored (revision, checksum) must be the recorded one.
fn expect(p: &Path, revision: u64, checksum: u128, want: &CachedFile) -> Result<(), String> {
    match Checksum::from_hex(&want.checksum) {
        Some(Checksum(w)) if w == checksum && revision == want.revision => Ok(()),
        _ => Err(err(
            p,
            format!(
                "holds revision {revision} with state checksum {checksum:032x}, state.json records revision {} with {}",
                want.revision, want.checksum
            ),
        )),
    }
}
