//! One immutable index layer: the record arena, the id map (keyed hash → record offset), the
//! filing-number index, the optional bloom filter, and the `Builder` that makes it.
//!
//! Owns the hot lookup path and the layout decisions behind the memory budget (docs/architecture.md).
//! Must not: change after `Builder::finish`; a newer state is a new layer.
//! Invariant: `lookup` only returns offsets of records that list the (platform, id) asked for,
//! and `find_number` only the offset of the record carrying that number.

use super::load::RejectedLine;
use super::store::{self, Entities, RecordView};
use super::Stats;
use crate::filing::{index_key, FilingNumber, FilingRecord, Platform};
use bloomfilter::Bloom;
use dashmap::DashMap;
use smallvec::SmallVec;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

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
    /// 32-bit keys are already uniform; Fibonacci hashing spreads them over the high bits the
    /// map uses for shard selection and control tags.
    fn write_u32(&mut self, v: u32) {
        self.0 = (v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Keys are the top 32 bits of a keyed 64-bit hash: half the memory of 64-bit keys at 10M ids.
/// A collision only merges two ids' postings; every candidate is verified against the stored
/// id, so it can never produce a false match.
type Map = DashMap<u32, u32, BuildHasherDefault<PassThrough>>;

/// Postings with the top bit set point into the overflow table (an id listed by several filings).
const OVERFLOW: u32 = 1 << 31;

pub(crate) struct Base {
    pub(crate) blob: Vec<u8>,
    pub(crate) entities: Entities,
    map: Map,
    overflow: Vec<Box<[u32]>>,
    bloom: Option<Bloom<u32>>,
    hasher: ahash::RandomState,
    /// Offsets of the records, in input order.
    pub(crate) records: Vec<u32>,
    /// (keyed hash of the filing number, offset), sorted: the number index.
    numbers: Vec<(u32, u32)>,
    pub(crate) stats: Stats,
}

pub(crate) fn key_hash(hasher: &ahash::RandomState, platform: Platform, id: &str) -> u32 {
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
    (h.finish() >> 32) as u32
}

fn number_hash(hasher: &ahash::RandomState, n: &[u8; 8]) -> u32 {
    (hasher.hash_one(n) >> 32) as u32
}

impl Base {
    /// Offsets of every record listing `id` under `platform`, in input order.
    pub(crate) fn lookup(&self, platform: Platform, id: &str) -> SmallVec<[u32; 2]> {
        let mut out = SmallVec::new();
        let k = key_hash(&self.hasher, platform, id);
        if let Some(b) = &self.bloom {
            if !b.check(&k) {
                return out;
            }
        }
        let Some(posting) = self.map.get(&k).map(|v| *v) else {
            return out;
        };
        let fold = platform == Platform::Ios;
        let mut check = |off: u32| {
            if store::lists_id(&self.blob, off, platform, id.as_bytes(), fold) {
                out.push(off);
            }
        };
        if posting & OVERFLOW == 0 {
            check(posting);
        } else if let Some(list) = self.overflow.get((posting & !OVERFLOW) as usize) {
            list.iter().copied().for_each(check);
        }
        out
    }

    /// The offset of the record with this filing number.
    pub(crate) fn find_number(&self, n: &FilingNumber) -> Option<u32> {
        let bytes = n.to_bytes();
        let h = number_hash(&self.hasher, &bytes);
        let start = self.numbers.partition_point(|(k, _)| *k < h);
        self.numbers[start..]
            .iter()
            .take_while(|(k, _)| *k == h)
            .map(|(_, off)| *off)
            .find(|&off| self.blob.get(off as usize..off as usize + 8) == Some(&bytes[..]))
    }

    pub(crate) fn view(&self, off: u32) -> Option<RecordView<'_>> {
        RecordView::decode(&self.blob, off)
    }

    pub(crate) fn record(&self, off: u32) -> Option<FilingRecord> {
        self.view(off).map(|v| v.to_record(&self.entities))
    }

    pub(crate) fn has_bloom(&self) -> bool {
        self.bloom.is_some()
    }

    /// Rebuilds a layer from its encoded parts (a persisted cache that was checksummed when
    /// written): the id map, the number index and the stats are derived from `blob` again,
    /// with a fresh hash key. `records` are the offsets of the live records in `blob`.
    #[cfg_attr(not(test), allow(dead_code))] // the persisted cache (src/feed) is its user
    pub(crate) fn from_encoded(
        blob: Vec<u8>,
        entities: Entities,
        records: Vec<u32>,
        bloom: bool,
    ) -> Base {
        let mut b = Builder::new(0);
        let mut pairs = Vec::with_capacity(records.len() * 3 / 2);
        for &off in &records {
            Builder::hash_pairs_with(&b.hasher, &blob, off, &mut pairs);
        }
        b.blob = blob;
        b.records = records;
        b.pairs = pairs;
        b.entities = entities;
        b.finish(bloom)
    }

    /// The encoded parts `from_encoded` takes back: record arena, entity arena, live offsets.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn encoded_parts(&self) -> (&[u8], &Entities, &[u32]) {
        (&self.blob, &self.entities, &self.records)
    }
}

/// Per-record stats contribution (added for a layer's records, subtracted for tombstones).
pub(crate) fn count(stats: &mut Stats, v: &RecordView<'_>, sign: i64) {
    let add = |x: &mut u64, n: u64| *x = (*x as i64 + sign * n as i64) as u64;
    add(&mut stats.records, 1);
    for p in v.platforms() {
        add(
            &mut stats.records_by[p.platform as usize][v.status as usize],
            1,
        );
        let n = p.ids().count() as u64;
        add(&mut stats.ids_by[p.platform as usize], n);
        add(&mut stats.ids, n);
    }
}

/// Accumulates encoded segments and their (hash, offset) pairs, then builds a `Base`.
pub(crate) struct Builder {
    pub(crate) entities: Entities,
    hasher: ahash::RandomState,
    blob: Vec<u8>,
    pairs: Vec<(u32, u32)>,
    records: Vec<u32>,
    /// Filing number → line of its first occurrence (build time only).
    seen: std::collections::HashMap<[u8; 8], usize, ahash::RandomState>,
    duplicates: Vec<RejectedLine>,
    pub(crate) checksum: u128,
}

impl Builder {
    pub(crate) fn new(records_hint: usize) -> Builder {
        Builder::with_hasher(records_hint, ahash::RandomState::new())
    }

    pub(crate) fn with_hasher(records_hint: usize, hasher: ahash::RandomState) -> Builder {
        Builder {
            entities: Entities::default(),
            hasher,
            blob: Vec::new(),
            pairs: Vec::with_capacity(records_hint * 3 / 2),
            records: Vec::with_capacity(records_hint),
            seen: Default::default(),
            duplicates: Vec::new(),
            checksum: 0,
        }
    }

    pub(crate) fn hasher(&self) -> ahash::RandomState {
        self.hasher.clone()
    }

    /// The (key hash, offset) pairs of the record encoded at `off`; ids repeated within it count once.
    pub(crate) fn hash_pairs_with(
        hasher: &ahash::RandomState,
        blob: &[u8],
        off: u32,
        out: &mut Vec<(u32, u32)>,
    ) {
        let Some(v) = RecordView::decode(blob, off) else {
            return;
        };
        let first = out.len();
        for p in v.platforms() {
            for id in p.ids() {
                let k = key_hash(hasher, p.platform, &index_key(p.platform, id));
                if !out[first..].iter().any(|(h, _)| *h == k) {
                    out.push((k, off));
                }
            }
        }
    }

    /// Encodes and adds one record (no duplicate check beyond the filing number).
    pub(crate) fn push(&mut self, r: &FilingRecord, line: usize, digest: u128) {
        let e = self.entities.intern(&r.entity);
        let mut seg = Vec::new();
        store::push(&mut seg, r, e);
        let mut pairs = Vec::new();
        Self::hash_pairs_with(&self.hasher, &seg, 0, &mut pairs);
        self.add_segment(seg, pairs, vec![(r.number.to_bytes(), 0, line, digest)]);
    }

    /// Copies an already-encoded record from another layer, re-interning its entity.
    pub(crate) fn push_encoded(&mut self, from: &Base, off: u32, digest: u128) {
        let (Some(v), Some(len)) = (from.view(off), store::encoded_len(&from.blob, off)) else {
            return;
        };
        let e = self.entities.intern(from.entities.get(v.entity));
        let mut seg = from.blob[off as usize..off as usize + len].to_vec();
        store::set_entity(&mut seg, 0, e);
        let mut pairs = Vec::new();
        Self::hash_pairs_with(&self.hasher, &seg, 0, &mut pairs);
        let line = self.records.len() + 1;
        self.add_segment(seg, pairs, vec![(v.number.to_bytes(), 0, line, digest)]);
    }

    /// Appends an encoded segment whose offsets are relative to its own start. `numbers` lists
    /// each record's filing number, offset, source line and checksum digest; a number seen
    /// before is dropped and reported as a duplicate.
    pub(crate) fn add_segment(
        &mut self,
        seg: Vec<u8>,
        pairs: Vec<(u32, u32)>,
        numbers: Vec<([u8; 8], u32, usize, u128)>,
    ) {
        let base = self.blob.len() as u32;
        if self.blob.is_empty() {
            self.blob = seg;
        } else {
            self.blob.extend_from_slice(&seg);
        }
        let mut dropped = Vec::new();
        for (num, off, line, digest) in numbers {
            match self.seen.entry(num) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    dropped.push(off);
                    let shown = FilingNumber::from_bytes(&num)
                        .map(|n| n.to_string())
                        .unwrap_or_default();
                    self.duplicates.push(RejectedLine {
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
                    self.checksum = self.checksum.wrapping_add(digest);
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

    pub(crate) fn take_duplicates(&mut self) -> Vec<RejectedLine> {
        std::mem::take(&mut self.duplicates)
    }

    pub(crate) fn finish(mut self, bloom: bool) -> Base {
        self.entities.freeze();
        self.blob.shrink_to_fit();
        self.seen = Default::default();
        self.records.shrink_to_fit();
        let pairs = std::mem::take(&mut self.pairs);
        let (blob, records, hasher) = (&self.blob, &self.records, &self.hasher);
        // The id map and the number index + stats are independent: build them side by side.
        let ((map, overflow, bloom_f), (numbers, mut stats)) = std::thread::scope(|s| {
            let side = s.spawn(move || number_index(blob, records, hasher));
            let main = build_map(pairs, bloom);
            (main, side.join().expect("number index thread panicked"))
        });
        stats.entities = self.entities.len() as u64;
        stats.entity_bytes = self.entities.bytes() as u64;
        stats.store_bytes = self.blob.len() as u64;
        Base {
            blob: self.blob,
            entities: self.entities,
            map,
            overflow,
            bloom: bloom_f,
            hasher: self.hasher,
            records: self.records,
            numbers,
            stats,
        }
    }
}

type IdMap = (Map, Vec<Box<[u32]>>, Option<Bloom<u32>>);

/// The id map from (hash, offset) pairs: sorted so every key's postings are adjacent, one
/// insert per key, overflow lists for ids several filings list.
fn build_map(mut pairs: Vec<(u32, u32)>, bloom: bool) -> IdMap {
    pairs.sort_unstable();
    let map = Map::with_capacity_and_hasher(pairs.len(), Default::default());
    let mut overflow: Vec<Box<[u32]>> = Vec::new();
    let mut bloom_f = bloom.then(|| {
        Bloom::new_for_fp_rate(pairs.len().max(1), 0.01).expect("bloom parameters are valid")
    });
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        let k = group[0].0;
        let posting = if group.len() == 1 {
            group[0].1
        } else {
            overflow.push(group.iter().map(|p| p.1).collect());
            OVERFLOW | (overflow.len() - 1) as u32
        };
        map.insert(k, posting);
        if let Some(b) = bloom_f.as_mut() {
            b.set(&k);
        }
    }
    drop(pairs);
    map.shrink_to_fit();
    (map, overflow, bloom_f)
}

/// The sorted (number hash, offset) index and the stats of the records.
fn number_index(
    blob: &[u8],
    records: &[u32],
    hasher: &ahash::RandomState,
) -> (Vec<(u32, u32)>, Stats) {
    let mut numbers: Vec<(u32, u32)> = Vec::with_capacity(records.len());
    let mut stats = Stats::default();
    for &off in records {
        let Some(v) = RecordView::decode(blob, off) else {
            continue;
        };
        numbers.push((number_hash(hasher, &v.number.to_bytes()), off));
        count(&mut stats, &v, 1);
    }
    numbers.sort_unstable();
    (numbers, stats)
}
