//! The filing-number index of a layer: (keyed hash of the number, record offset) pairs
//! sorted by hash, with a directory from the top bits of a hash to the first pair of its
//! bucket.
//!
//! Owns finding the candidates for a number hash. A binary search over 7M sorted pairs
//! touches ~23 cache lines, most of them cold; the directory makes it two reads (the
//! directory slot, then a bucket of ~4 pairs, usually one cache line). A delta replacing
//! 100k records asks it 100k times.
//! Must not: decide which candidate is the number (the caller verifies against the record).
//! Invariant: `candidates(h)` yields exactly the offsets paired with hash `h`, in the order
//! they were sorted.

/// About this many pairs per directory bucket.
const PER_BUCKET: usize = 4;

#[derive(Default)]
pub(crate) struct NumberIndex {
    pairs: Vec<(u32, u32)>,
    /// `dir[b]` is the index of the first pair whose hash has top bits `b`; `dir[len]` ends it.
    dir: Vec<u32>,
    shift: u32,
}

impl NumberIndex {
    /// From pairs sorted by hash.
    pub(crate) fn new(pairs: Vec<(u32, u32)>) -> NumberIndex {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 <= w[1].0));
        let buckets = (pairs.len() / PER_BUCKET).max(1).next_power_of_two();
        let bits = buckets.trailing_zeros();
        let shift = 32 - bits;
        let mut dir = Vec::with_capacity(buckets + 1);
        let mut at = 0usize;
        for b in 0..buckets as u64 {
            while at < pairs.len() && ((pairs[at].0 as u64) >> shift) < b {
                at += 1;
            }
            dir.push(at as u32);
        }
        dir.push(pairs.len() as u32);
        NumberIndex { pairs, dir, shift }
    }

    /// The offsets paired with hash `h`.
    pub(crate) fn candidates(&self, h: u32) -> impl Iterator<Item = u32> + '_ {
        let b = ((h as u64) >> self.shift) as usize;
        let (lo, hi) = match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, 0),
        };
        let bucket = &self.pairs[lo..hi];
        let start = bucket.partition_point(|(k, _)| *k < h);
        bucket[start..]
            .iter()
            .take_while(move |(k, _)| *k == h)
            .map(|(_, off)| *off)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Heap bytes held.
    pub(crate) fn bytes(&self) -> usize {
        8 * self.pairs.len() + 4 * self.dir.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_are_exactly_the_pairs_of_a_hash() {
        let mut x = 0x9e37_79b9u32;
        let mut pairs: Vec<(u32, u32)> = (0..5_000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Some hashes repeat, some sit at the ends of the range.
                let h = match i % 97 {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 12345,
                    _ => x,
                };
                (h, i)
            })
            .collect();
        pairs.sort_by_key(|p| p.0);
        for n in [0usize, 1, 3, 5_000] {
            let idx = NumberIndex::new(pairs[..n].to_vec());
            assert_eq!(idx.len(), n);
            for &(h, _) in pairs.iter().chain(&[(7, 0), (u32::MAX - 1, 0)]) {
                let want: Vec<u32> = pairs[..n]
                    .iter()
                    .filter(|p| p.0 == h)
                    .map(|p| p.1)
                    .collect();
                let got: Vec<u32> = idx.candidates(h).collect();
                assert_eq!(got, want, "hash {h} of {n}");
            }
        }
    }
}
