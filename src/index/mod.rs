//! The in-memory filing index: `(platform, identifier)` → the set of filings that list it.
//!
//! Owns `Revision` (one immutable, fully built generation of the index) and `Index` (the handle
//! requests read from, which publishes a new revision atomically with `ArcSwap`).
//! Must not: block a request on a load or a sync, or ever answer a lookup from a half-built
//! revision.
//! Invariant: a lookup only returns records that really list the (platform, id) asked for: the
//! map is keyed by a 64-bit keyed hash, and every candidate is verified against the stored id.

mod load;
pub mod store;

pub use load::{load_snapshot, parse_snapshot, LoadError, LoadReport, RejectedLine};

use crate::filing::{index_key, FilingNumber, FilingRecord, Platform, Status};
use arc_swap::ArcSwap;
use bloomfilter::Bloom;
use dashmap::DashMap;
use smallvec::SmallVec;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::SystemTime;
use store::{Entities, RecordView};

/// Map keys are already uniformly distributed 64-bit hashes; hashing them again is waste.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type Map = DashMap<u64, u32, BuildHasherDefault<PassThrough>>;

/// Postings with the top bit set point into the overflow table (a key listed by several filings).
const OVERFLOW: u32 = 1 << 31;

/// One filing that lists the id asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub number: FilingNumber,
    pub status: Status,
    /// Offset of the record in its revision's store (for signer checks and record output).
    pub offset: u32,
}

/// The result of a lookup: every filing listing the id, in snapshot order.
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
    pub store_bytes: u64,
}

/// One immutable generation of the index.
pub struct Revision {
    pub revision: u64,
    /// When this revision's data was last confirmed current (load or sync time).
    pub as_of: SystemTime,
    pub source: String,
    blob: Vec<u8>,
    entities: Entities,
    map: Map,
    overflow: Vec<Box<[u32]>>,
    bloom: Option<Bloom<u64>>,
    hasher: ahash::RandomState,
    records: Vec<u32>,
    pub stats: Stats,
}

impl Revision {
    /// Builds a revision from validated records (single-threaded; see `load` for the parallel
    /// snapshot path).
    pub fn from_records(
        revision: u64,
        source: &str,
        records: &[FilingRecord],
        bloom: bool,
    ) -> Revision {
        let mut b = Builder::new(records.len());
        let mut blob = Vec::new();
        let mut pairs = Vec::new();
        let mut numbers = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            let e = b.entities.intern(&r.entity);
            let off = store::push(&mut blob, r, e);
            b.hash_pairs(r, off, &mut pairs);
            numbers.push((r.number.to_bytes(), off, i + 1));
        }
        b.add_segment(blob, pairs, numbers);
        b.finish(revision, source, bloom)
    }

    fn key_hash(hasher: &ahash::RandomState, platform: Platform, id: &str) -> u64 {
        let mut h = hasher.build_hasher();
        h.write_u8(platform as u8);
        if platform == Platform::Ios {
            // Case-fold without allocating: bundle ids are at most 255 bytes.
            let mut buf = [0u8; 256];
            let n = id.len().min(256);
            for (d, s) in buf.iter_mut().zip(id.as_bytes()) {
                *d = s.to_ascii_lowercase();
            }
            h.write(&buf[..n]);
        } else {
            h.write(id.as_bytes());
        }
        h.write_u8(0xff);
        h.finish()
    }

    fn id_matches(platform: Platform, stored: &str, asked: &str) -> bool {
        if platform == Platform::Ios {
            stored.eq_ignore_ascii_case(asked)
        } else {
            stored == asked
        }
    }

    /// Every filing that lists `id` under `platform`. Never allocates for up to two filings.
    pub fn lookup(&self, platform: Platform, id: &str) -> Hits {
        let mut hits = Hits::new();
        let k = Self::key_hash(&self.hasher, platform, id);
        if let Some(b) = &self.bloom {
            if !b.check(&k) {
                return hits;
            }
        }
        let Some(posting) = self.map.get(&k).map(|v| *v) else {
            return hits;
        };
        let mut check = |off: u32| {
            let Some(v) = RecordView::decode(&self.blob, off) else {
                return;
            };
            let listed = v
                .platform(platform)
                .is_some_and(|p| p.ids().any(|s| Self::id_matches(platform, s, id)));
            if listed {
                hits.push(Hit {
                    number: v.number,
                    status: v.status,
                    offset: off,
                });
            }
        };
        if posting & OVERFLOW == 0 {
            check(posting);
        } else if let Some(list) = self.overflow.get((posting & !OVERFLOW) as usize) {
            list.iter().copied().for_each(check);
        }
        hits
    }

    /// The platforms other than `platform` (of the same family) under which `id` is filed.
    pub fn filed_elsewhere(&self, platform: Platform, id: &str) -> Option<Platform> {
        platform
            .siblings()
            .iter()
            .copied()
            .filter(|&p| p != platform)
            .find(|&p| !self.lookup(p, id).is_empty())
    }

    pub fn view(&self, offset: u32) -> Option<RecordView<'_>> {
        RecordView::decode(&self.blob, offset)
    }

    pub fn record(&self, offset: u32) -> Option<FilingRecord> {
        self.view(offset).map(|v| v.to_record(&self.entities))
    }

    pub fn entity(&self, id: u32) -> &str {
        self.entities.get(id)
    }

    /// What `/v1/lookup` and `icpgate lookup` print: every filing for the id, in wire form.
    pub fn lookup_report(&self, platform: Platform, id: &str) -> serde_json::Value {
        let hits = self.lookup(platform, id);
        let filings: Vec<serde_json::Value> = hits
            .iter()
            .filter_map(|h| self.record(h.offset))
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

    /// Every record of this revision, in snapshot order.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'_>> + '_ {
        self.records
            .iter()
            .filter_map(|&o| RecordView::decode(&self.blob, o))
    }

    pub fn has_bloom(&self) -> bool {
        self.bloom.is_some()
    }

    /// An empty revision 0: what the gateway holds before any load.
    pub fn empty() -> Revision {
        Builder::new(0).finish(0, "empty", false)
    }
}

/// Accumulates encoded segments and their (hash, offset) pairs, then builds the map.
pub(crate) struct Builder {
    pub(crate) entities: Entities,
    hasher: ahash::RandomState,
    blob: Vec<u8>,
    pairs: Vec<(u64, u32)>,
    /// Offsets of the accepted records, in input order.
    records: Vec<u32>,
    /// Filing number → line of its first occurrence (build time only).
    seen: std::collections::HashMap<[u8; 16], usize, ahash::RandomState>,
    duplicates: Vec<load::RejectedLine>,
}

impl Builder {
    pub(crate) fn new(records_hint: usize) -> Builder {
        Builder {
            entities: Entities::default(),
            hasher: ahash::RandomState::new(),
            blob: Vec::new(),
            pairs: Vec::with_capacity(records_hint * 3 / 2),
            records: Vec::with_capacity(records_hint),
            seen: Default::default(),
            duplicates: Vec::new(),
        }
    }

    pub(crate) fn hasher(&self) -> ahash::RandomState {
        self.hasher.clone()
    }

    /// The (key hash, local offset) pairs of one record; ids repeated within it count once.
    pub(crate) fn hash_pairs_with(
        hasher: &ahash::RandomState,
        r: &FilingRecord,
        off: u32,
        out: &mut Vec<(u64, u32)>,
    ) {
        for p in &r.platforms {
            for id in &p.ids {
                let k = Revision::key_hash(hasher, p.platform, &index_key(p.platform, id));
                if !out
                    .iter()
                    .rev()
                    .take_while(|(_, o)| *o == off)
                    .any(|(h, _)| *h == k)
                {
                    out.push((k, off));
                }
            }
        }
    }

    fn hash_pairs(&self, r: &FilingRecord, off: u32, out: &mut Vec<(u64, u32)>) {
        Self::hash_pairs_with(&self.hasher, r, off, out)
    }

    /// Appends an encoded segment whose offsets are relative to its own start. `numbers` lists
    /// each record's filing number, offset and source line; a number seen before is dropped
    /// and reported as a duplicate.
    pub(crate) fn add_segment(
        &mut self,
        seg: Vec<u8>,
        pairs: Vec<(u64, u32)>,
        numbers: Vec<([u8; 16], u32, usize)>,
    ) {
        let base = self.blob.len() as u32;
        if self.blob.is_empty() {
            self.blob = seg;
        } else {
            self.blob.extend_from_slice(&seg);
        }
        let mut dropped = Vec::new();
        for (num, off, line) in numbers {
            match self.seen.entry(num) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    dropped.push(off);
                    let shown = FilingNumber::from_bytes(&num)
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    self.duplicates.push(load::RejectedLine {
                        line,
                        reason: format!(
                            "duplicate filing number {shown} (first on line {})",
                            first.get()
                        ),
                    });
                }
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(line);
                    self.records.push(off + base);
                }
            }
        }
        self.pairs.extend(
            pairs
                .into_iter()
                .filter(|(_, o)| dropped.binary_search(o).is_err())
                .map(|(k, o)| (k, o + base)),
        );
    }

    pub(crate) fn take_duplicates(&mut self) -> Vec<load::RejectedLine> {
        std::mem::take(&mut self.duplicates)
    }

    pub(crate) fn finish(mut self, revision: u64, source: &str, bloom: bool) -> Revision {
        self.entities.freeze();
        self.blob.shrink_to_fit();
        // Sort so that every key's postings are adjacent: one insert per key, overflow built here.
        self.pairs.sort_unstable();
        let map = Map::with_capacity_and_hasher(self.pairs.len(), Default::default());
        let mut overflow: Vec<Box<[u32]>> = Vec::new();
        let mut bloom_f = bloom.then(|| {
            Bloom::new_for_fp_rate(self.pairs.len().max(1), 0.01)
                .expect("bloom parameters are valid")
        });
        let mut i = 0;
        while i < self.pairs.len() {
            let k = self.pairs[i].0;
            let mut j = i + 1;
            while j < self.pairs.len() && self.pairs[j].0 == k {
                j += 1;
            }
            let posting = if j - i == 1 {
                self.pairs[i].1
            } else {
                overflow.push(self.pairs[i..j].iter().map(|p| p.1).collect());
                OVERFLOW | (overflow.len() - 1) as u32
            };
            map.insert(k, posting);
            if let Some(b) = bloom_f.as_mut() {
                b.set(&k);
            }
            i = j;
        }
        drop(std::mem::take(&mut self.pairs));
        map.shrink_to_fit();
        self.seen = Default::default();
        self.records.shrink_to_fit();
        let mut stats = Stats::default();
        for &off in &self.records {
            let Some(v) = RecordView::decode(&self.blob, off) else {
                continue;
            };
            stats.records += 1;
            for p in v.platforms() {
                stats.records_by[p.platform as usize][v.status as usize] += 1;
                let n = p.ids().count() as u64;
                stats.ids_by[p.platform as usize] += n;
                stats.ids += n;
            }
        }
        stats.entities = self.entities.len() as u64;
        stats.store_bytes = self.blob.len() as u64;
        Revision {
            revision,
            as_of: SystemTime::now(),
            source: source.to_string(),
            blob: self.blob,
            entities: self.entities,
            map,
            overflow,
            bloom: bloom_f,
            hasher: self.hasher,
            records: self.records,
            stats,
        }
    }
}

/// The live index: the revision requests read, swapped atomically on reload or sync.
pub struct Index {
    current: ArcSwap<Revision>,
    loaded: std::sync::atomic::AtomicBool,
}

impl Index {
    pub fn new(initial: Revision) -> Index {
        let loaded = initial.revision > 0;
        Index {
            current: ArcSwap::from_pointee(initial),
            loaded: loaded.into(),
        }
    }

    /// The current revision. Requests hold it for their whole decision: one revision each.
    pub fn current(&self) -> Arc<Revision> {
        self.current.load_full()
    }

    /// Publishes `rev`; requests that start after this see it.
    pub fn publish(&self, rev: Revision) {
        self.current.store(Arc::new(rev));
        self.loaded
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// True once any revision has been published (what `/readyz` reports).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(std::sync::atomic::Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::record::parse_line;

    fn rec(number: &str, status: &str, platform: &str, id: &str, md5: &str) -> FilingRecord {
        parse_line(&format!(
            r#"{{"number":"{number}","status":"{status}","entity":"e{number}","app_name":"a","platforms":[{{"platform":"{platform}","ids":["{id}"],"signers":[{{"md5":"{md5}"}}]}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn lookups_find_every_filing_for_a_shared_id() {
        let recs = vec![
            rec(
                "京ICP备12345678号-1A",
                "active",
                "android",
                "com.a.b",
                &"11".repeat(16),
            ),
            rec(
                "沪ICP备2023123456号-2A",
                "revoked",
                "android",
                "com.a.b",
                &"22".repeat(16),
            ),
            rec(
                "粤ICP备2023000001号-1A",
                "active",
                "ios",
                "Com.Foo.Bar",
                &"33".repeat(16),
            ),
        ];
        for bloom in [false, true] {
            let r = Revision::from_records(7, "test", &recs, bloom);
            let hits = r.lookup(Platform::Android, "com.a.b");
            assert_eq!(hits.len(), 2);
            assert_eq!(hits[0].status, Status::Active);
            assert_eq!(hits[1].status, Status::Revoked);
            assert!(r.lookup(Platform::Ios, "com.a.b").is_empty());
            assert!(r.lookup(Platform::Android, "com.a.c").is_empty());
            assert_eq!(r.lookup(Platform::Ios, "com.foo.BAR").len(), 1);
            assert_eq!(
                r.filed_elsewhere(Platform::Harmony, "com.a.b"),
                Some(Platform::Android)
            );
            assert_eq!(r.filed_elsewhere(Platform::Wechat, "com.a.b"), None);
            assert_eq!(r.stats.records, 3);
            assert_eq!(r.stats.ids_by[Platform::Android as usize], 2);
            assert_eq!(
                r.stats.records_by[Platform::Android as usize][Status::Revoked as usize],
                1
            );
            assert_eq!(r.record(hits[1].offset).unwrap(), recs[1]);
        }
    }

    #[test]
    fn publish_swaps_whole_revisions() {
        let idx = Index::new(Revision::empty());
        assert!(!idx.is_loaded());
        let old = idx.current();
        idx.publish(Revision::from_records(
            2,
            "t",
            &[rec(
                "京ICP备12345678号-1A",
                "active",
                "android",
                "com.a.b",
                &"11".repeat(16),
            )],
            false,
        ));
        assert!(idx.is_loaded());
        assert!(old.lookup(Platform::Android, "com.a.b").is_empty());
        assert_eq!(idx.current().lookup(Platform::Android, "com.a.b").len(), 1);
    }
}
