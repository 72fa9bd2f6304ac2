//! `Builder`: encoded records in, one immutable `Base` layer out.
//!
//! Owns the build tail of every load, delta and compaction: stitching encoded segments into
//! the arena (one copy, straight into its final huge-page mapping), dropping repeated filing
//! numbers (found by sorting, not by a hash set that would leave ~400 MB of freed chunks in the
//! allocator at 10M records), and the id table and number index (radix-sorted, so the build
//! is linear and its temporaries are few large arrays the allocator returns to the system).
//! Must not: be observable before `finish`; a half-built layer is never published.
//! Invariant: the layer holds every pushed record whose filing number was not pushed before,
//! in push order, and `checksum` (after `take_duplicates` or `finish`) is the sum of their
//! digests.

mod seal;
mod tables;

use super::base::{key_hash, number_hash, Base, Keys};
use super::hugebuf::HugeBuf;
use super::numbers::NumberIndex;
use super::store::{self, Entities, RecordView};
use crate::filing::{FilingRecord, Platform};
use tables::{id_table, stats_of, PARALLEL_BUILD};

impl Base {
    /// Rebuilds a layer from its encoded parts (a persisted cache, checksummed when it is
    /// written): the id map, the number index and the stats are derived from `blob` again,
    /// with a fresh hash key. `records` are the offsets of the live records in `blob`.
    pub(crate) fn from_encoded(
        blob: HugeBuf<u8>,
        entities: Entities,
        records: Vec<u32>,
        bloom: bool,
    ) -> Base {
        Builder::from_arena(blob, entities, records).finish(bloom)
    }
}

/// A line of the snapshot that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedLine {
    pub line: usize,
    pub reason: String,
}

/// Accumulates encoded segments and their (hash, offset) pairs, then builds a `Base`.
pub(crate) struct Builder {
    pub(crate) entities: Entities,
    hasher: Keys,
    /// Encoded segments not yet stitched into `blob`, and the arena length they end at.
    segments: Vec<Vec<u8>>,
    len: usize,
    blob: HugeBuf<u8>,
    /// (id key hash, record offset), in push order; sorted by key (stably) once sealed.
    pairs: Vec<(u32, u32)>,
    pairs_sorted: bool,
    /// Per pushed record, in push order: offset, source line, checksum digest.
    records: Vec<u32>,
    lines: Vec<u32>,
    digests: Vec<u128>,
    /// (filing-number hash, record offset); sorted and free of repeats once sealed.
    numbers: Vec<(u32, u32)>,
    sealed: bool,
    duplicates: Vec<RejectedLine>,
    /// Sum of the kept records' digests (exact once sealed).
    pub(crate) checksum: u128,
}

impl Builder {
    pub(crate) fn new(records_hint: usize) -> Builder {
        Builder::with_hasher(records_hint, Keys::new())
    }

    pub(crate) fn with_hasher(records_hint: usize, hasher: Keys) -> Builder {
        Builder {
            entities: Entities::default(),
            hasher,
            segments: Vec::new(),
            len: 0,
            blob: HugeBuf::default(),
            pairs: Vec::with_capacity(records_hint * 3 / 2),
            pairs_sorted: true,
            records: Vec::with_capacity(records_hint),
            lines: Vec::with_capacity(records_hint),
            digests: Vec::with_capacity(records_hint),
            numbers: Vec::with_capacity(records_hint),
            sealed: false,
            duplicates: Vec::new(),
            checksum: 0,
        }
    }

    /// A builder over an already-stitched arena whose live records are at `records` (a
    /// persisted layer): pairs and numbers are derived from the arena with a fresh hash key.
    pub(crate) fn from_arena(blob: HugeBuf<u8>, entities: Entities, records: Vec<u32>) -> Builder {
        let mut b = Builder::new(0);
        // Hashing every id is the bulk of a warm start: one slice of the records per core.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16);
        let chunk = records.len().div_ceil(threads).max(1);
        let (hasher, arena) = (&b.hasher, &blob[..]);
        let parts: Vec<Hashed> = std::thread::scope(|s| {
            let handles: Vec<_> = records
                .chunks(chunk)
                .map(|part| s.spawn(move || hash_records(hasher, arena, part)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("hashing thread panicked"))
                .collect()
        });
        b.pairs_sorted = false;
        for (pairs, numbers) in parts {
            b.pairs.extend(pairs);
            b.numbers.extend(numbers);
        }
        b.lines = (1..=records.len() as u32).collect();
        b.digests = vec![0; records.len()];
        b.records = records;
        b.blob = blob;
        b.len = b.blob.len();
        b.entities = entities;
        b
    }

    pub(crate) fn hasher(&self) -> Keys {
        self.hasher.clone()
    }

    /// The (key hash, offset) pairs of the record encoded at `off`; ids repeated within it count once.
    pub(crate) fn hash_pairs_with(hasher: &Keys, blob: &[u8], off: u32, out: &mut Vec<(u32, u32)>) {
        if let Some(v) = RecordView::decode(blob, off) {
            let ids = v
                .platforms()
                .flat_map(|p| p.ids().map(move |id| (p.platform, id)));
            push_pairs(hasher, ids, off, out);
        }
    }

    /// Encodes `records` (each with its checksum digest) into one segment and adds it; a
    /// record's line is its position among all records pushed.
    pub(crate) fn push_records<'r>(
        &mut self,
        records: impl IntoIterator<Item = (&'r FilingRecord, u128)>,
    ) {
        // Sized for the records the builder was made for (about 100 bytes each encoded), so a
        // delta's layer is not copied again and again as its segment grows.
        let room = self.records.capacity() - self.records.len();
        let mut seg = Vec::with_capacity(room * 100);
        let (mut pairs, mut numbers) = (Vec::with_capacity(room * 3 / 2), Vec::with_capacity(room));
        for (r, digest) in records {
            let e = self.entities.intern(&r.entity);
            let off = store::push(&mut seg, r, e);
            Self::hash_pairs_with(&self.hasher, &seg, off, &mut pairs);
            let line = self.records.len() + numbers.len() + 1;
            numbers.push((r.number.to_bytes(), off, line, digest));
        }
        let _ = self.add_segment(seg, pairs, numbers);
    }

    /// Copies the records at `offsets` of another layer as encoded bytes into one segment
    /// (entities re-interned) and adds it: a compaction or an overlay rebuild allocates per
    /// layer, not per record.
    pub(crate) fn push_encoded(&mut self, from: &Base, offsets: impl IntoIterator<Item = u32>) {
        let (mut seg, mut pairs, mut numbers) = (Vec::new(), Vec::new(), Vec::new());
        for off in offsets {
            let (Some(v), Some(len)) = (from.view(off), store::encoded_len(&from.blob, off)) else {
                continue;
            };
            let at = seg.len();
            seg.extend_from_slice(&from.blob[off as usize..off as usize + len]);
            let e = self.entities.intern(from.entities.get(v.entity));
            store::set_entity(&mut seg, at, e);
            Self::hash_pairs_with(&self.hasher, &seg, at as u32, &mut pairs);
            let line = self.records.len() + numbers.len() + 1;
            numbers.push((v.number.to_bytes(), at as u32, line, 0));
        }
        let _ = self.add_segment(seg, pairs, numbers);
    }

    /// Appends an encoded segment whose offsets are relative to its own start. `numbers` lists
    /// each record's filing number, offset, source line and checksum digest, in segment order;
    /// a number pushed before is dropped and reported as a duplicate when the builder seals.
    /// When the segment fits in the room `reserve_arena` made, it is copied straight into the
    /// arena and its buffer handed back (emptied) for the caller to reuse.
    pub(crate) fn add_segment(
        &mut self,
        mut seg: Vec<u8>,
        pairs: Vec<(u32, u32)>,
        numbers: Vec<([u8; 8], u32, usize, u128)>,
    ) -> Option<Vec<u8>> {
        let base = self.len as u32;
        self.len += seg.len();
        let mut spare = None;
        if self.segments.is_empty() && self.blob.try_extend(&seg) {
            seg.clear();
            spare = Some(seg);
        } else if !seg.is_empty() {
            self.segments.push(seg);
        }
        self.sealed = false;
        for (num, off, line, digest) in numbers {
            self.records.push(off + base);
            self.lines.push(line.min(u32::MAX as usize) as u32);
            self.digests.push(digest);
            self.numbers
                .push((number_hash(&self.hasher, &num), off + base));
            self.checksum = self.checksum.wrapping_add(digest);
        }
        self.pairs_sorted &= pairs.is_empty();
        self.pairs
            .extend(pairs.into_iter().map(|(k, o)| (k, o + base)));
        spare
    }

    /// Makes room for `bytes` of encoded records in the final arena before any is added, so
    /// segments are copied in as they come (during a load, beside the parsing) and sealing
    /// has nothing left to stitch. Too small a room only means the rest is stitched at the end.
    pub(crate) fn reserve_arena(&mut self, bytes: usize) {
        if self.len == 0 && self.segments.is_empty() {
            self.blob = HugeBuf::with_capacity(bytes);
        }
    }

    /// Repeated filing numbers found so far (seals the builder; `checksum` is exact after).
    pub(crate) fn take_duplicates(&mut self) -> Vec<RejectedLine> {
        self.seal();
        std::mem::take(&mut self.duplicates)
    }

    pub(crate) fn finish(mut self, bloom: bool) -> Base {
        let t = std::time::Instant::now();
        self.seal();
        let sealed = t.elapsed();
        self.entities.freeze();
        // Only the duplicate check needed these.
        (self.lines, self.digests) = (Vec::new(), Vec::new());
        self.records.shrink_to_fit();
        let pairs = std::mem::take(&mut self.pairs);
        let (blob, records) = (&self.blob, &self.records);
        // The id table and the stats are independent: build them side by side.
        let ((ids, overflow, bloom_f), mut stats) = if records.len() < PARALLEL_BUILD {
            (id_table(pairs, bloom), stats_of(blob, records))
        } else {
            std::thread::scope(|s| {
                let side = s.spawn(move || stats_of(blob, records));
                let main = id_table(pairs, bloom);
                (main, side.join().expect("stats thread panicked"))
            })
        };
        tracing::debug!(
            records = self.records.len(),
            seal_ms = sealed.as_millis() as u64,
            tables_ms = (t.elapsed() - sealed).as_millis() as u64,
            "index build tail (arena, number sort and duplicates; then id table beside stats)"
        );
        let numbers = std::mem::take(&mut self.numbers);
        stats.entities = self.entities.len() as u64;
        stats.entity_bytes = self.entities.bytes() as u64;
        stats.store_bytes = self.blob.len() as u64;
        let numbers = NumberIndex::new(numbers);
        stats.map_bytes = (ids.bytes() + 4 * overflow.len() + numbers.bytes()) as u64;
        stats.filter_bytes = bloom_f.as_ref().map_or(0, |f| f.bytes()) as u64;
        Base {
            blob: self.blob,
            entities: self.entities,
            ids,
            overflow,
            bloom: bloom_f,
            hasher: self.hasher,
            records: self.records,
            numbers,
            stats,
        }
    }
}

/// Appends `(key_hash(platform, id), off)` for each listed id, an id listed twice in one
/// record once. `key_hash` folds iOS case itself, so ids are hashed as listed.
pub(crate) fn push_pairs<'a>(
    hasher: &Keys,
    ids: impl Iterator<Item = (Platform, &'a str)>,
    off: u32,
    out: &mut Vec<(u32, u32)>,
) {
    let first = out.len();
    for (platform, id) in ids {
        let k = key_hash(hasher, platform, id);
        if !out[first..].iter().any(|(h, _)| *h == k) {
            out.push((k, off));
        }
    }
}

/// (id key hash, offset) pairs and (number hash, offset) entries of some records.
type Hashed = (Vec<(u32, u32)>, Vec<(u32, u32)>);

/// The id pairs and number-index entries of the records at `offsets` in `blob`.
fn hash_records(hasher: &Keys, blob: &[u8], offsets: &[u32]) -> Hashed {
    let mut pairs = Vec::with_capacity(offsets.len() * 3 / 2);
    let mut numbers = Vec::with_capacity(offsets.len());
    for &off in offsets {
        Builder::hash_pairs_with(hasher, blob, off, &mut pairs);
        if let Some(n) = blob.get(off as usize..off as usize + 8) {
            let n: &[u8; 8] = n.try_into().expect("8 bytes");
            numbers.push((number_hash(hasher, n), off));
        }
    }
    (pairs, numbers)
}

#[cfg(test)]
mod tests {
    use super::tables::radix_sort;
    use super::*;

    #[test]
    fn a_number_repeated_many_times_keeps_its_first_record_only() {
        let line = |n: &str, id: &str| {
            crate::filing::record::parse_line(&format!(
                r#"{{"number":"{n}","status":"active","entity":"e","app_name":"a","platforms":[{{"platform":"android","ids":["{id}"]}}]}}"#
            ))
            .unwrap()
        };
        let mut b = Builder::new(0);
        let other = line("京ICP备12345678号-2A", "com.other.app");
        b.push_records([(&other, 5)]);
        let repeats: Vec<FilingRecord> = (0..20_000)
            .map(|i| line("京ICP备12345678号-1A", &format!("com.a.n{i}")))
            .collect();
        b.push_records(repeats.iter().map(|r| (r, 1)));
        let dups = b.take_duplicates();
        assert_eq!(dups.len(), 19_999);
        assert!(
            dups.iter().all(|d| d.reason.contains("(first on line 2)")),
            "{:?}",
            dups[0]
        );
        assert_eq!(b.checksum, 6);
        let base = b.finish(false);
        assert_eq!(base.stats.records, 2);
        assert_eq!(
            base.lookup(crate::filing::Platform::Android, "com.a.n0")
                .len(),
            1
        );
        assert!(base
            .lookup(crate::filing::Platform::Android, "com.a.n1")
            .is_empty());
    }

    #[test]
    fn radix_sort_is_a_stable_sort_by_key() {
        let mut x = 12345u32;
        let mut v: Vec<(u32, u32)> = (0..10_000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 3000 * 1_400_000, i)
            })
            .collect();
        let mut want = v.clone();
        want.sort_by_key(|p| p.0);
        radix_sort(&mut v);
        assert_eq!(v, want);
    }
}
