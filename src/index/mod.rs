//! The in-memory filing index: `(platform, identifier)` → the set of filings that list it.
//!
//! Owns `Revision` (one immutable generation of the index: a large base layer plus, after
//! deltas, a small overlay of upserted records and tombstones over the base) and `Index` (the
//! handle requests read from, which publishes revisions atomically with `ArcSwap`).
//! Must not: block a request on a load, a delta or a compaction, or ever answer a lookup from a
//! half-applied revision.
//! Invariant: a lookup returns exactly the live records (base minus tombstones, plus overlay)
//! that list the (platform, id) asked for; `checksum` is the feed state checksum of exactly
//! those live records.

mod base;
mod build;
mod canon;
mod filter;
mod hugebuf;
mod load;
mod numbers;
mod overlay;
pub mod persist;
pub mod store;
mod table;

pub use load::{load_snapshot, parse_snapshot, LoadError, LoadReport, RejectedLine};

use crate::filing::{FilingNumber, FilingRecord, Platform, Status};
use arc_swap::ArcSwap;
use base::Base;
use build::Builder;
use overlay::Overlay;
use smallvec::SmallVec;
use std::sync::Arc;
use std::time::SystemTime;
use store::RecordView;

/// Which layer of a revision a record lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    Base,
    Overlay,
}

/// One filing that lists the id asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub number: FilingNumber,
    pub status: Status,
    pub layer: Layer,
    /// Offset of the record in its layer's store.
    pub offset: u32,
}

/// The result of a lookup: every filing listing the id.
pub type Hits = SmallVec<[Hit; 2]>;

/// Counts kept per revision for `/v1/status` and the metrics.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Stats {
    pub records: u64,
    pub ids: u64,
    /// `records_by[platform][status]`: filings listing that platform, by status.
    pub records_by: [[u64; 4]; 10],
    pub ids_by: [u64; 10],
    pub entities: u64,
    /// Bytes of the entity-name arena (names plus 4-byte ends).
    pub entity_bytes: u64,
    pub store_bytes: u64,
    /// Bytes of the id table, its overflow lists and the number index.
    pub map_bytes: u64,
    /// Bytes of the id pre-filter (`index.bloom`; 0 without it).
    pub filter_bytes: u64,
}

/// One change of a delta.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add the record, replacing any record with its number.
    Upsert(FilingRecord),
    /// Remove the record with this number.
    Remove(FilingNumber),
}

impl Change {
    pub fn number(&self) -> FilingNumber {
        match self {
            Change::Upsert(r) => r.number,
            Change::Remove(n) => *n,
        }
    }
}

/// A delta that does not fit the revision it is applied to (the state has drifted).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("delta removes {0}, which this revision does not hold")]
    RemoveMissing(String),
}

/// The digest a record adds to the state checksum: XXH3-128 of its canonical line.
pub fn record_digest(canonical_line: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(canonical_line)
}

/// One immutable generation of the index.
pub struct Revision {
    pub revision: u64,
    /// When this revision's data was last confirmed current (load time, or the feed's
    /// `complete_as_of`).
    pub as_of: SystemTime,
    pub source: String,
    /// Feed state checksum (sum of record digests mod 2^128).
    pub checksum: u128,
    base: Arc<Base>,
    /// The revision and checksum the base layer was built at (a snapshot, or a compaction).
    base_revision: u64,
    base_checksum: u128,
    overlay: Option<Arc<Overlay>>,
    pub stats: Stats,
}

impl Revision {
    fn from_base(revision: u64, source: &str, base: Base, checksum: u128) -> Revision {
        let stats = base.stats.clone();
        Revision {
            revision,
            as_of: SystemTime::now(),
            source: source.to_string(),
            checksum,
            base: Arc::new(base),
            base_revision: revision,
            base_checksum: checksum,
            overlay: None,
            stats,
        }
    }

    /// The revision and state checksum of the base layer this revision shares: equal keys
    /// mean the same base state, so a cache need not write it again.
    pub fn base_key(&self) -> (u64, u128) {
        (self.base_revision, self.base_checksum)
    }

    /// Builds a revision from validated records (single-threaded; `parse_snapshot` is the
    /// parallel path for files). A repeated filing number keeps its first record.
    pub fn from_records(
        revision: u64,
        source: &str,
        records: &[FilingRecord],
        bloom: bool,
    ) -> Revision {
        let mut b = Builder::new(records.len());
        b.push_records(
            records
                .iter()
                .map(|r| (r, record_digest(r.canonical_line().as_bytes()))),
        );
        b.take_duplicates();
        let checksum = b.checksum;
        Revision::from_base(revision, source, b.finish(bloom), checksum)
    }

    /// An empty revision 0: what the gateway holds before any load.
    pub fn empty() -> Revision {
        Revision::from_base(0, "empty", Builder::new(0).finish(false), 0)
    }

    fn hit(layer: Layer, l: &Base, off: u32) -> Option<Hit> {
        let (number, status) = store::head(&l.blob, off)?;
        Some(Hit {
            number,
            status,
            layer,
            offset: off,
        })
    }

    /// Every live filing that lists `id` under `platform`. Never allocates for up to two.
    pub fn lookup(&self, platform: Platform, id: &str) -> Hits {
        let mut hits = Hits::new();
        self.each_hit(platform, id, |h| hits.push(h));
        hits
    }

    /// Calls `found` with every live filing that lists `id` under `platform`, in `lookup`'s
    /// order (base, then overlay): `lookup` without a vector to fill.
    #[inline]
    pub fn each_hit(&self, platform: Platform, id: &str, mut found: impl FnMut(Hit)) {
        let base = &self.base;
        match &self.overlay {
            None => base.each_match(platform, id, |o| {
                if let Some(h) = Self::hit(Layer::Base, base, o) {
                    found(h);
                }
            }),
            Some(ov) => {
                base.each_match(platform, id, |o| {
                    if !ov.tombstones.contains(&o) {
                        if let Some(h) = Self::hit(Layer::Base, base, o) {
                            found(h);
                        }
                    }
                });
                ov.layer.each_match(platform, id, |o| {
                    if let Some(h) = Self::hit(Layer::Overlay, &ov.layer, o) {
                        found(h);
                    }
                });
            }
        }
    }

    /// A platform of the same family (app platforms, or mini-program hosts) under which `id`
    /// is filed, when it is not filed under `platform`. A host whose fixed-length grammar the
    /// id does not fit is skipped without a lookup: no record can list it there (records are
    /// validated per platform before they are indexed), and a WeChat AppID fits no other
    /// host's grammar. App siblings are looked up without that check: their dotted-name
    /// grammars cost more to check than the lookup they would save (BENCHMARKS.md, "Index").
    ///
    /// The siblings are asked in one batch per layer (`Base::first_listing`): with the filter
    /// on and no sibling listing the id, their filter reads overlap, so the check costs about
    /// one access's latency per layer instead of one per sibling.
    pub fn filed_elsewhere(&self, platform: Platform, id: &str) -> Option<Platform> {
        let hosts: smallvec::SmallVec<[Platform; 8]>;
        let asked = match platform.other_siblings() {
            apps if !platform.is_mini_program_host() => apps,
            others => {
                hosts = others
                    .iter()
                    .copied()
                    .filter(|&p| crate::filing::id::fits(p, id))
                    .collect();
                &hosts[..]
            }
        };
        let first = match &self.overlay {
            None => self.base.first_listing(asked, id, |_| true),
            Some(ov) => {
                let base = self
                    .base
                    .first_listing(asked, id, |o| !ov.tombstones.contains(&o));
                let over = ov.layer.first_listing(asked, id, |_| true);
                base.into_iter().chain(over).min()
            }
        };
        first.map(|i| asked[i])
    }

    fn layer(&self, l: Layer) -> Option<&Base> {
        match l {
            Layer::Base => Some(&self.base),
            Layer::Overlay => self.overlay.as_deref().map(|o| &o.layer),
        }
    }

    /// The encoded view of a hit's record.
    pub fn view(&self, hit: &Hit) -> Option<RecordView<'_>> {
        self.layer(hit.layer)?.view(hit.offset)
    }

    /// The full record behind a hit.
    pub fn record(&self, hit: &Hit) -> Option<FilingRecord> {
        self.layer(hit.layer)?.record(hit.offset)
    }

    /// The live record with this filing number.
    pub fn find(&self, n: &FilingNumber) -> Option<Hit> {
        if let Some(ov) = &self.overlay {
            if let Some(off) = ov.layer.find_number(n) {
                return Self::hit(Layer::Overlay, &ov.layer, off);
            }
            return self
                .base
                .find_number(n)
                .filter(|o| !ov.tombstones.contains(o))
                .and_then(|o| Self::hit(Layer::Base, &self.base, o));
        }
        self.base
            .find_number(n)
            .and_then(|o| Self::hit(Layer::Base, &self.base, o))
    }

    /// Every live record, base first then overlay, decoded.
    pub fn records(&self) -> impl Iterator<Item = FilingRecord> + '_ {
        let tomb = self.overlay.as_ref().map(|o| &o.tombstones);
        let base = self
            .base
            .records
            .iter()
            .filter(move |o| tomb.is_none_or(|t| !t.contains(o)))
            .filter_map(|&o| self.base.record(o));
        let over = self
            .overlay
            .iter()
            .flat_map(|ov| ov.layer.records.iter().filter_map(|&o| ov.layer.record(o)));
        base.chain(over)
    }

    /// Records in the overlay (what a compaction would fold into the base).
    pub fn overlay_records(&self) -> usize {
        self.overlay
            .as_ref()
            .map_or(0, |o| o.layer.records.len() + o.tombstones.len())
    }

    pub fn has_bloom(&self) -> bool {
        self.base.has_bloom()
    }

    /// The same state folded into one new base (slow: runs off the async threads).
    pub fn compact(&self) -> Revision {
        let mut b = Builder::new(self.stats.records as usize);
        let tomb = self.overlay.as_ref().map(|o| &o.tombstones);
        let live = self
            .base
            .records
            .iter()
            .copied()
            .filter(|o| tomb.is_none_or(|t| !t.contains(o)));
        b.push_encoded(&self.base, live);
        if let Some(ov) = &self.overlay {
            b.push_encoded(&ov.layer, ov.layer.records.iter().copied());
        }
        let mut rev = Revision::from_base(
            self.revision,
            &self.source,
            b.finish(self.base.has_bloom()),
            self.checksum,
        );
        rev.as_of = self.as_of;
        rev
    }

    /// What `/v1/lookup` and `icpgate lookup` print: every filing for the id, in wire form.
    pub fn lookup_report(&self, platform: Platform, id: &str) -> serde_json::Value {
        let hits = self.lookup(platform, id);
        let filings: Vec<serde_json::Value> = hits
            .iter()
            .filter_map(|h| self.record(h))
            .map(|r| serde_json::to_value(r.to_wire()).unwrap_or_default())
            .collect();
        serde_json::json!({
            "platform": platform.as_str(),
            "id": id,
            "index_revision": self.revision,
            "filed": hits.iter().any(|h| h.status == Status::Active),
            "filings": filings,
            "filed_elsewhere": if hits.is_empty() { self.filed_elsewhere(platform, id).map(|p| p.as_str()) } else { None },
        })
    }
}

/// The live index: the revision requests read, swapped atomically on reload or sync, and how
/// fresh its data is.
pub struct Index {
    current: ArcSwap<Revision>,
    loaded: std::sync::atomic::AtomicBool,
    /// Unix seconds up to which the served data is known complete.
    as_of: std::sync::atomic::AtomicU64,
    /// Set while serving a cached revision no source has confirmed since start.
    unconfirmed: std::sync::atomic::AtomicBool,
    /// Wakes `wait_loaded` callers when the first revision is published.
    first_load: tokio::sync::Notify,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Index {
    pub fn new(initial: Revision) -> Index {
        let loaded = initial.revision > 0;
        // No data yet is infinitely old: stale until something is published.
        let as_of = if loaded { unix(initial.as_of) } else { 0 };
        Index {
            current: ArcSwap::from_pointee(initial),
            loaded: loaded.into(),
            as_of: as_of.into(),
            unconfirmed: false.into(),
            first_load: tokio::sync::Notify::new(),
        }
    }

    /// Records that the served data is known complete up to `as_of` (a sync that found nothing
    /// new still confirms it); clears the unconfirmed mark.
    pub fn confirm(&self, as_of: SystemTime) {
        self.as_of
            .store(unix(as_of), std::sync::atomic::Ordering::Release);
        self.unconfirmed
            .store(false, std::sync::atomic::Ordering::Release);
    }

    /// Marks the served revision as not yet confirmed by its source (a warm start from cache).
    pub fn mark_unconfirmed(&self) {
        self.unconfirmed
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_unconfirmed(&self) -> bool {
        self.unconfirmed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// How old the served data is.
    pub fn age(&self) -> std::time::Duration {
        let secs = self.as_of.load(std::sync::atomic::Ordering::Acquire);
        SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap_or_default()
    }

    /// Stale: unconfirmed since start, or older than `budget`.
    pub fn is_stale(&self, budget: std::time::Duration) -> bool {
        self.is_unconfirmed() || self.age() > budget
    }

    /// The current revision. Requests hold it for their whole decision: one revision each.
    pub fn current(&self) -> Arc<Revision> {
        self.current.load_full()
    }

    /// Publishes `rev` (and its `as_of`); requests that start after this see it.
    pub fn publish(&self, rev: Revision) {
        // The revision first, its time second: a request that reads the time and then the
        // revision between the two stores sees the previous time with the new revision (at worst
        // judged staler than it is), never a fresh time with an old revision.
        let as_of = unix(rev.as_of);
        self.current.store(Arc::new(rev));
        self.as_of
            .store(as_of, std::sync::atomic::Ordering::Release);
        let first = !self.loaded.swap(true, std::sync::atomic::Ordering::AcqRel);
        if first {
            self.first_load.notify_waiters();
        }
    }

    /// True once any revision has been published (what `/readyz` reports).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Returns once `is_loaded` is true: at once if a revision is already published, else
    /// when the first one is (what `serve` waits for before telling systemd it is ready).
    pub async fn wait_loaded(&self) {
        let notified = self.first_load.notified();
        tokio::pin!(notified);
        // Registered before the check, so a publish between the check and the await wakes it.
        notified.as_mut().enable();
        if self.is_loaded() {
            return;
        }
        notified.await;
    }
}

#[cfg(test)]
mod tests;
