//! Deltas over a shared base: `Revision::apply` builds the next revision's overlay (a small
//! layer of upserted records plus tombstones over base records) and maintains the state
//! checksum change by change; `with_overlay` puts a persisted overlay back on its base.
//!
//! Owns the overlay type and its construction, and the checksum arithmetic of a delta.
//! Must not: modify the revision it starts from (a failed apply changes nothing), or decode
//! a replaced record into owned strings just to hash it (the digest is written from the
//! encoded bytes, `canon.rs`).
//! Invariant: the new revision's checksum is the old one minus the digest of every record a
//! change replaces or removes plus the digest of every record it upserts, so it equals the
//! checksum of exactly the live records.

use super::base::{count, Base};
use super::build::Builder;
use super::canon::Canon;
use super::{record_digest, ApplyError, Change, Revision, Stats};
use crate::filing::FilingRecord;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

/// Base offsets removed or replaced by an overlay (probed by every lookup that hits the base).
pub(crate) type Tombstones = HashSet<u32, ahash::RandomState>;

pub(crate) struct Overlay {
    pub(crate) layer: Base,
    /// Base offsets removed or replaced by the overlay.
    pub(crate) tombstones: Tombstones,
}

/// Base stats minus the tombstoned records plus the overlay's.
fn layered_stats(base: &Base, layer: &Base, tomb: &Tombstones) -> Stats {
    let mut stats = base.stats.clone();
    for &off in tomb {
        if let Some(v) = base.view(off) {
            count(&mut stats, &v, -1);
        }
    }
    let (_, _, records) = layer.encoded_parts();
    for &off in records {
        if let Some(v) = layer.view(off) {
            count(&mut stats, &v, 1);
        }
    }
    stats.entities = base.stats.entities + layer.stats.entities;
    stats.entity_bytes = base.stats.entity_bytes + layer.stats.entity_bytes;
    stats.store_bytes = base.stats.store_bytes + layer.stats.store_bytes;
    stats.filter_bytes = base.stats.filter_bytes + layer.stats.filter_bytes;
    stats
}

/// The digest of the record encoded at `off` in `l`, from its bytes.
fn digest_at(canon: &mut Canon, l: &Base, off: u32) -> Option<u128> {
    let (_, entities, _) = l.encoded_parts();
    l.view(off).map(|v| canon.digest(&v, entities))
}

/// The next overlay layer: the old overlay's records that survive (copied as encoded bytes)
/// and the upserted records, each encoded into one segment so the build allocates per layer,
/// not per record.
fn build_layer<'r>(
    kept: Option<(&Base, &HashSet<u32, ahash::RandomState>)>,
    upserts: impl Iterator<Item = &'r FilingRecord>,
    hint: usize,
) -> Base {
    let mut b = Builder::new(hint);
    if let Some((l, dropped)) = kept {
        let (_, _, records) = l.encoded_parts();
        b.push_encoded(l, records.iter().copied().filter(|o| !dropped.contains(o)));
    }
    b.push_records(upserts.map(|r| (r, 0)));
    b.finish(false)
}

impl Revision {
    /// A new revision with `changes` applied in order, sharing this revision's base. Fails
    /// (and changes nothing) when a removal names a number this revision does not hold.
    pub fn apply(
        &self,
        revision: u64,
        changes: &[Change],
        as_of: SystemTime,
    ) -> Result<Revision, ApplyError> {
        let digests: Vec<u128> = changes
            .iter()
            .map(|c| match c {
                Change::Upsert(r) => record_digest(r.canonical_line().as_bytes()),
                Change::Remove(_) => 0,
            })
            .collect();
        self.apply_digested(revision, changes, &digests, as_of)
    }

    /// `apply` with the digest each upsert adds given by the caller (`digests[i]` belongs to
    /// `changes[i]`; ignored for removals): the digest of the record's canonical line, which a
    /// feed reader has as the exact bytes of the delta line. A wrong digest gives a wrong
    /// checksum, which the feed's signed state checksum then rejects.
    pub fn apply_digested(
        &self,
        revision: u64,
        changes: &[Change],
        digests: &[u128],
        as_of: SystemTime,
    ) -> Result<Revision, ApplyError> {
        let old_overlay = self.overlay.as_ref().map(|o| &o.layer);
        let mut tomb = self
            .overlay
            .as_ref()
            .map_or_else(Tombstones::default, |o| o.tombstones.clone());
        let mut dropped: HashSet<u32, ahash::RandomState> = HashSet::default();
        let mut added: Vec<Option<(&FilingRecord, u128)>> = Vec::with_capacity(changes.len());
        let mut added_at: HashMap<[u8; 8], usize, ahash::RandomState> =
            HashMap::with_capacity_and_hasher(changes.len(), Default::default());
        let mut canon = Canon::default();
        let mut checksum = self.checksum;
        for (c, &digest) in changes
            .iter()
            .zip(digests.iter().chain(std::iter::repeat(&0)))
        {
            let n = c.number();
            let old = if let Some(i) = added_at.remove(&n.to_bytes()) {
                added[i].take().map(|(_, d)| d)
            } else if let Some(off) = old_overlay
                .and_then(|l| l.find_number(&n))
                .filter(|o| !dropped.contains(o))
            {
                dropped.insert(off);
                old_overlay.and_then(|l| digest_at(&mut canon, l, off))
            } else if let Some(off) = self.base.find_number(&n).filter(|o| !tomb.contains(o)) {
                tomb.insert(off);
                digest_at(&mut canon, &self.base, off)
            } else {
                None
            };
            if let Some(d) = old {
                checksum = checksum.wrapping_sub(d);
            }
            match c {
                Change::Upsert(r) => {
                    checksum = checksum.wrapping_add(digest);
                    added_at.insert(n.to_bytes(), added.len());
                    added.push(Some((r, digest)));
                }
                Change::Remove(n) if old.is_none() => {
                    return Err(ApplyError::RemoveMissing(n.to_string()))
                }
                Change::Remove(_) => {}
            }
        }
        let records = added.iter().flatten().map(|(r, _)| *r);
        let kept = old_overlay.map(|l| (l, &dropped));
        let layer = build_layer(kept, records, added.len());
        Ok(self.layered(revision, as_of, checksum, layer, tomb))
    }

    /// This revision's base with `layer` over it and `tomb` removed from it.
    fn layered(
        &self,
        revision: u64,
        as_of: SystemTime,
        checksum: u128,
        layer: Base,
        tomb: Tombstones,
    ) -> Revision {
        let stats = layered_stats(&self.base, &layer, &tomb);
        let (_, _, records) = layer.encoded_parts();
        let overlay = (!records.is_empty() || !tomb.is_empty()).then(|| {
            Arc::new(Overlay {
                layer,
                tombstones: tomb,
            })
        });
        Revision {
            revision,
            as_of,
            source: self.source.clone(),
            checksum,
            base: self.base.clone(),
            base_revision: self.base_revision,
            base_checksum: self.base_checksum,
            overlay,
            stats,
        }
    }

    /// This base-only revision with a persisted overlay put back on it: `revision` and
    /// `checksum` are the ones recorded with the overlay. `None` when a tombstone is not the
    /// offset of a live base record (the overlay does not belong on this base).
    pub(crate) fn with_overlay(
        &self,
        revision: u64,
        checksum: u128,
        layer: Base,
        tombstones: &[u32],
    ) -> Option<Revision> {
        let mut tomb = Tombstones::default();
        tomb.reserve(tombstones.len());
        for &t in tombstones {
            let v = self.base.view(t)?;
            if self.base.find_number(&v.number) != Some(t) || !tomb.insert(t) {
                return None;
            }
        }
        Some(self.layered(revision, self.as_of, checksum, layer, tomb))
    }
}
