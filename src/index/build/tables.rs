//! The tables a sealed `Builder` finishes into: the id table (with its overflow lists and
//! bloom filter) and the stats, and the radix sort both the id pairs and the number index use.
//!
//! Owns linear-time building: radix-sorted pairs, one pass to group them, temporaries that are
//! few large arrays the allocator returns to the system.
//! Must not: reorder records that share a key (the sort is stable: push order is kept).
//! Invariant: the id table has one slot per distinct key hash; a hash several records share
//! points at an overflow list of their offsets in push order.

use crate::index::base::{count, OVERFLOW};
use crate::index::filter::IdFilter;
use crate::index::store::RecordView;
use crate::index::table::Table;
use crate::index::Stats;

pub(super) type IdTable = (Table, Vec<u32>, Option<IdFilter>);

/// The id table from (hash, offset) pairs: one slot per distinct hash; a hash several records
/// share (an id several filings list, or a 32-bit collision) points at an overflow list
/// `[len, offsets...]` in `overflow`.
/// `pairs` sorted by key (as `seal` leaves them).
pub(super) fn id_table(pairs: Vec<(u32, u32)>, bloom: bool) -> IdTable {
    debug_assert!(pairs.windows(2).all(|w| w[0].0 <= w[1].0));
    let mut overflow: Vec<u32> = Vec::new();
    let mut entries: Vec<(u32, u32)> = Vec::with_capacity(pairs.len());
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        let k = group[0].0;
        let posting = if group.len() == 1 {
            group[0].1
        } else {
            let at = overflow.len() as u32;
            overflow.push(group.len() as u32);
            overflow.extend(group.iter().map(|p| p.1));
            OVERFLOW | at
        };
        entries.push((k, posting));
    }
    drop(pairs);
    overflow.shrink_to_fit();
    let filter = bloom.then(|| IdFilter::build(entries.len(), entries.iter().map(|e| e.0)));
    (Table::build(&entries), overflow, filter)
}

/// Stats of the records at `records`.
pub(super) fn stats_of(blob: &[u8], records: &[u32]) -> Stats {
    let mut stats = Stats::default();
    for v in records
        .iter()
        .filter_map(|&off| RecordView::decode(blob, off))
    {
        count(&mut stats, &v, 1);
    }
    stats
}

/// Builds at least this large (records, or id pairs) use a second thread for the sort and the
/// stats. Smaller ones, a delta's overlay among them, stay on one thread: a delta applies
/// while the gateway serves, and a second busy thread would take the other core from the
/// request workers (on two cores that doubled p99 during an apply).
pub(super) const PARALLEL_BUILD: usize = 1 << 20;

/// Stable LSD radix sort of `(key, value)` pairs by key: three passes of 11 bits, linear in
/// the length, one scratch array.
pub(super) fn radix_sort(v: &mut Vec<(u32, u32)>) {
    if v.len() < 256 {
        v.sort_by_key(|p| p.0);
        return;
    }
    let mut scratch = vec![(0u32, 0u32); v.len()];
    for shift in [0u32, 11, 22] {
        let mut counts = [0usize; 2048];
        for p in v.iter() {
            counts[(p.0 >> shift) as usize & 2047] += 1;
        }
        let mut at = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for &p in v.iter() {
            let d = (p.0 >> shift) as usize & 2047;
            scratch[counts[d]] = p;
            counts[d] += 1;
        }
        std::mem::swap(v, &mut scratch);
    }
}
