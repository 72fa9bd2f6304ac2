//! The flat, immutable hash table behind a layer's id map: 32-bit keyed hash → 32-bit posting.
//!
//! Owns the slot layout and its lookup. Slots are 8 bytes (hash in the low half, posting in the
//! high half) grouped in 64-byte buckets, placed in hash order: every key sits at or after the
//! start of its home bucket (the hash scaled to the bucket count) and before every larger key.
//! A lookup reads from the home bucket until it meets an empty slot or a larger hash, so a miss
//! usually costs one cache line and a hit one line plus the record it verifies.
//! Must not: change after `build`, take a lock, or allocate on lookup.
//! Invariant: `for_each(h, f)` calls `f` with exactly the postings built under hash `h`, in build order.
//! Hashes are below `u32::MAX` (`base::key_hash`): the low half of an empty slot is larger
//! than every hash, so a scan tells a larger hash and an empty slot apart with one comparison.

use super::hugebuf::HugeBuf;

/// An unused slot. No built slot can equal it: postings never reach `u32::MAX`; and its low
/// half, `u32::MAX`, is above every hash.
const EMPTY: u64 = u64::MAX;
/// Slots per 64-byte bucket.
const BUCKET: usize = 8;
/// Empty slots after the last bucket, so every scan ends inside the table.
const TAIL: usize = BUCKET;

pub(crate) struct Table {
    slots: HugeBuf<u64>,
    buckets: u64,
}

impl Table {
    /// Builds from `(hash, posting)` entries sorted by hash, at most one entry per hash is not
    /// required (equal hashes keep their order). Hashes and postings must be below `u32::MAX`.
    pub(crate) fn build(entries: &[(u32, u32)]) -> Table {
        debug_assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0));
        debug_assert!(entries.last().is_none_or(|e| e.0 != u32::MAX));
        // ~0.8 load: most buckets keep a free slot, so scans rarely spill into the next line.
        let buckets = (entries.len() as u64 * 10)
            .div_ceil(BUCKET as u64 * 8)
            .max(1);
        let home = |h: u32| ((h as u64 * buckets) >> 32) as usize * BUCKET;
        // Sorted placement can spill past the last bucket: find where it ends, then fill.
        let end = entries
            .iter()
            .fold(0usize, |next, &(h, _)| next.max(home(h)) + 1);
        let mut slots = HugeBuf::filled(end.max(buckets as usize * BUCKET) + TAIL, EMPTY);
        let mut next = 0usize;
        for &(h, posting) in entries {
            debug_assert!(posting != u32::MAX);
            let at = next.max(home(h));
            slots[at] = (posting as u64) << 32 | h as u64;
            next = at + 1;
        }
        Table { slots, buckets }
    }

    /// Calls `f` with each posting stored under `h` (below `u32::MAX`), in build order.
    ///
    /// A bucket is judged whole, without a branch per slot. Its slots hold hashes in ascending
    /// order, empty ones (whose low half is above every hash) last, so the slots below `h`
    /// come first, then the matches, then the larger or empty ones: two counts of a compare
    /// each (a compare and an add with carry per slot) place the matches. The only branches
    /// that depend on the loaded line are "a match?" and "spills into the next bucket?", which
    /// a stream of lookups predicts well, so the CPU runs ahead into the next lookup while
    /// this one's miss is outstanding instead of stalling on a mispredicted scan exit.
    #[inline]
    pub(crate) fn for_each(&self, h: u32, mut f: impl FnMut(u32)) {
        let mut at = ((h as u64 * self.buckets) >> 32) as usize * BUCKET;
        // `TAIL` empty slots follow the last entry, so every scan meets an end in the slots.
        while let Some(bucket) = self.slots.get(at..at + BUCKET) {
            let (mut below, mut above) = (0usize, 0usize);
            for &s in bucket {
                below += ((s as u32) < h) as usize;
                above += (s as u32 > h) as usize;
            }
            for &s in bucket.get(below..BUCKET - above).unwrap_or_default() {
                f((s >> 32) as u32);
            }
            // A larger hash or an empty slot ends the scan.
            if above != 0 {
                return;
            }
            at += BUCKET;
        }
    }

    /// The postings stored under `h`, in build order.
    #[cfg(test)]
    fn get(&self, h: u32) -> Vec<u32> {
        let mut out = Vec::new();
        self.for_each(h, |p| out.push(p));
        out
    }

    /// Bytes the slots take.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[u32]) -> Table {
        let mut e: Vec<(u32, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        e.sort_by_key(|p| p.0);
        Table::build(&e)
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        let mut rng = 0x9E37_79B9u32;
        let keys: Vec<u32> = (0..50_000)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                rng.min(u32::MAX - 1)
            })
            .collect();
        let t = table(&keys);
        for (i, &k) in keys.iter().enumerate() {
            assert!(t.get(k).contains(&(i as u32)), "key {k} lost");
        }
        let present: std::collections::HashSet<u32> = keys.iter().copied().collect();
        for probe in (0..200_000u32).map(|i| i.wrapping_mul(2_654_435_761).min(u32::MAX - 1)) {
            if !present.contains(&probe) {
                assert_eq!(t.get(probe).len(), 0, "phantom posting for {probe}");
            }
        }
    }

    #[test]
    fn equal_hashes_keep_every_posting_in_order() {
        let top = u32::MAX - 1;
        let t = table(&[7, 7, 7, 3, top, top, 0]);
        assert_eq!(t.get(7), vec![0, 1, 2]);
        assert_eq!(t.get(3), vec![3]);
        assert_eq!(t.get(top), vec![4, 5]);
        assert_eq!(t.get(0), vec![6]);
        assert_eq!(t.get(8).len(), 0);
    }

    #[test]
    fn crowded_buckets_spill_forward_and_stay_findable() {
        // Every key in the same home bucket: 40 keys spill over five buckets.
        let keys: Vec<u32> = (0..40).collect();
        let t = table(&keys);
        for k in 0..40 {
            assert_eq!(t.get(k), vec![k]);
        }
        assert_eq!(t.get(40).len(), 0);
        assert_eq!(table(&[]).get(5).len(), 0);
    }
}
