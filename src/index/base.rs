//! One immutable index layer: the record arena, the id table (keyed hash → record offset), the
//! filing-number index and the optional bloom filter (`Builder`, in build.rs, makes it).
//!
//! Owns the hot lookup path and the layout decisions behind the memory budget (docs/architecture.md).
//! Must not: change after `Builder::finish`; a newer state is a new layer.
//! Invariant: `lookup` only returns offsets of records that list the (platform, id) asked for,
//! and `find_number` only the offset of the record carrying that number.

use super::filter::IdFilter;
use super::hugebuf::HugeBuf;
use super::numbers::NumberIndex;
use super::store::{self, Entities, RecordView};
use super::table::Table;
use super::Stats;
use crate::filing::{FilingNumber, FilingRecord, Platform};
use std::hash::{BuildHasher, Hasher};

/// Postings with the top bit set point into the overflow lists (an id listed by several
/// filings, or two ids whose 32-bit key hashes collide).
pub(crate) const OVERFLOW: u32 = 1 << 31;

pub(crate) struct Base {
    pub(crate) blob: HugeBuf<u8>,
    pub(crate) entities: Entities,
    /// Key hash (the top 32 bits of a keyed 64-bit hash of platform and id) → posting. A
    /// collision only merges two ids' postings: every candidate is verified against the stored
    /// id, so it can never produce a false match.
    pub(crate) ids: Table,
    /// Overflow lists, back to back: `[len, offset...]`.
    pub(crate) overflow: Vec<u32>,
    /// The blocked bloom pre-filter over the id table's key hashes (`index.bloom`).
    pub(crate) bloom: Option<IdFilter>,
    pub(crate) hasher: Keys,
    /// Offsets of the records, in input order.
    pub(crate) records: Vec<u32>,
    /// The number index: (keyed hash of the filing number, offset).
    pub(crate) numbers: NumberIndex,
    pub(crate) stats: Stats,
}

/// A layer's hash keys: one keyed hasher per platform for ids, with the platform already
/// written (so a lookup starts from its state instead of hashing the platform byte), and the
/// keyed state filing numbers hash with. Never persisted: a layer built or restored draws a
/// fresh key (`Keys::new`), so the hash function is this process's choice alone.
#[derive(Clone)]
pub(crate) struct Keys {
    state: ahash::RandomState,
    ids: [ahash::AHasher; Platform::ALL.len()],
}

impl Keys {
    pub(crate) fn new() -> Keys {
        let state = ahash::RandomState::new();
        let ids = Platform::ALL.map(|p| {
            let mut h = state.build_hasher();
            h.write_u8(p as u8);
            h
        });
        Keys { state, ids }
    }
}

/// The 32-bit key hash of (`platform`, `id`): the platform's keyed hasher over the id's bytes
/// (ASCII-lowercased for iOS). The id's length is hashed with its bytes (ahash's `write`), so
/// no two ids of one platform are written alike. Never `u32::MAX`, the one hash the id table
/// cannot hold (its empty slot reads as it): that hash is taken as `u32::MAX - 1`.
#[inline]
pub(crate) fn key_hash(keys: &Keys, platform: Platform, id: &str) -> u32 {
    let mut h = keys.ids[platform as usize].clone();
    if platform == Platform::Ios && id.bytes().any(|b| b.is_ascii_uppercase()) {
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
    ((h.finish() >> 32) as u32).min(u32::MAX - 1)
}

pub(crate) fn number_hash(keys: &Keys, n: &[u8; 8]) -> u32 {
    (keys.state.hash_one(n) >> 32) as u32
}

impl Base {
    /// Offsets of every record listing `id` under `platform`, in input order (for tests;
    /// the request path uses `each_match`).
    #[cfg(test)]
    pub(crate) fn lookup(&self, platform: Platform, id: &str) -> Vec<u32> {
        let mut out = Vec::new();
        self.each_match(platform, id, |off| out.push(off));
        out
    }

    /// Calls `found` with the offset of every record listing `id` under `platform`, in input
    /// order: the hot path, with nothing to collect or move between the table and the caller.
    #[inline]
    pub(crate) fn each_match(&self, platform: Platform, id: &str, found: impl FnMut(u32)) {
        let k = key_hash(&self.hasher, platform, id);
        if self.may_contain(k) {
            self.each_keyed(k, platform, id, found);
        }
    }

    /// False only when no id with key hash `k` is in this layer (always true without a filter).
    #[inline]
    fn may_contain(&self, k: u32) -> bool {
        self.bloom.as_ref().is_none_or(|f| f.may_contain(k))
    }

    /// The index in `platforms` of the first platform under which a record that `live`
    /// accepts lists `id`. Batched for the sibling check of an id that missed: every key hash
    /// first, then every pre-filter line (independent loads the CPU overlaps, where one lookup
    /// after another would wait for each line in turn), then the table only where the filter
    /// passed.
    pub(crate) fn first_listing(
        &self,
        platforms: &[Platform],
        id: &str,
        live: impl Fn(u32) -> bool,
    ) -> Option<usize> {
        const BATCH: usize = 8;
        for (c, chunk) in platforms.chunks(BATCH).enumerate() {
            let mut keys = [0u32; BATCH];
            for (k, &p) in keys.iter_mut().zip(chunk) {
                *k = key_hash(&self.hasher, p, id);
            }
            let mut pass = 0u32;
            for (i, &k) in keys[..chunk.len()].iter().enumerate() {
                pass |= (self.may_contain(k) as u32) << i;
            }
            while pass != 0 {
                let i = pass.trailing_zeros() as usize;
                pass &= pass - 1;
                let mut listed = false;
                self.each_keyed(keys[i], chunk[i], id, |off| listed |= live(off));
                if listed {
                    return Some(c * BATCH + i);
                }
            }
        }
        None
    }

    /// `each_match` past the key hash and the filter.
    #[inline]
    fn each_keyed(&self, k: u32, platform: Platform, id: &str, mut found: impl FnMut(u32)) {
        let fold = platform == Platform::Ios;
        let id = id.as_bytes();
        self.ids.for_each(k, |posting| {
            if posting & OVERFLOW == 0 {
                if store::lists_id(&self.blob, posting, platform, id, fold) {
                    found(posting);
                }
                return;
            }
            let at = (posting & !OVERFLOW) as usize;
            let len = self.overflow.get(at).map_or(0, |&n| n as usize);
            let list = self.overflow.get(at + 1..at + 1 + len).unwrap_or_default();
            for &off in list {
                if store::lists_id(&self.blob, off, platform, id, fold) {
                    found(off);
                }
            }
        });
    }

    /// The offset of the record with this filing number.
    pub(crate) fn find_number(&self, n: &FilingNumber) -> Option<u32> {
        let bytes = n.to_bytes();
        let h = number_hash(&self.hasher, &bytes);
        self.numbers
            .candidates(h)
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

    /// The encoded parts `from_encoded` takes back: record arena, entity arena, live offsets.
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
        let n = p.id_count() as u64;
        add(&mut stats.ids_by[p.platform as usize], n);
        add(&mut stats.ids, n);
    }
}
