//! The id pre-filter: a blocked bloom filter over a layer's 32-bit id key hashes, which answers
//! "certainly not in this layer" for an unknown id without touching the id table.
//!
//! Owns the filter's layout: 64-byte blocks (one cache line, eight `u64` words); a key picks
//! one block and sets one bit in each of its eight words (the split-block scheme of Parquet's
//! bloom filters, with 64-bit words). A query reads one line and tests eight bits without a
//! branch, so a miss costs one cache access, and at ~10 bits per key the whole filter of a
//! 10M-id layer (12.5 MB) can stay in the L3 cache while the id table (100 MiB) cannot.
//! Must not: change after `build`, allocate on a query, or depend on anything but the key hash
//! (the table's hash is keyed per process, so the filter is too).
//! Invariant: `may_contain(k)` is true for every `k` passed to `build`; for other keys it is
//! false but for a false-positive rate of about 1%.

use super::hugebuf::HugeBuf;

/// Words per block: 8 × 64 bits = one 64-byte cache line.
const WORDS: usize = 8;
/// Bits of filter per key: ~1.2% false positives with eight bits per 512-bit block.
const BITS_PER_KEY: u64 = 10;
/// A filter this large goes on huge pages even though it is smaller than the id table: its
/// lines are read at random by every lookup, and on 4 KiB pages a 12.5 MB filter would span
/// more pages than the TLB holds.
const MAP_FROM: usize = 4 << 20;
/// Odd multipliers that spread the low key bits over each word (Parquet's SBBF salts).
const SALT: [u32; WORDS] = [
    0x47b6_137b,
    0x4497_4d91,
    0x8824_ad5b,
    0xa2b7_289d,
    0x7054_95c7,
    0x2df1_424b,
    0x9efc_4947,
    0x5c6b_fb31,
];

pub(crate) struct IdFilter {
    words: HugeBuf<u64>,
    blocks: u64,
}

/// The block index and the eight bit masks of key `k`. The key is a keyed hash already: its
/// top bits scaled to the block count pick the block (so keys in hash order, as the build
/// gets them, fill the filter front to back instead of at random), and one multiply mixes
/// all of it into the bits.
#[inline]
fn place(k: u32, blocks: u64) -> (usize, [u64; WORDS]) {
    let block = (k as u64 * blocks) >> 32;
    let lo = (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as u32 ^ k.rotate_left(16);
    let masks = SALT.map(|s| 1u64 << (lo.wrapping_mul(s) >> 26));
    (block as usize * WORDS, masks)
}

impl IdFilter {
    /// A filter holding every key of `keys` (`len` of them); fastest when they come sorted.
    pub(crate) fn build(len: usize, keys: impl Iterator<Item = u32>) -> IdFilter {
        let blocks = (len as u64 * BITS_PER_KEY)
            .div_ceil(64 * WORDS as u64)
            .max(1);
        let mut words = HugeBuf::zeroed_mapped_from(blocks as usize * WORDS, MAP_FROM);
        for k in keys {
            let (at, masks) = place(k, blocks);
            for (w, m) in words[at..at + WORDS].iter_mut().zip(masks) {
                *w |= m;
            }
        }
        IdFilter { words, blocks }
    }

    /// False only when `k` was certainly not built in.
    #[inline]
    pub(crate) fn may_contain(&self, k: u32) -> bool {
        let (at, masks) = place(k, self.blocks);
        let Some(block) = self.words.get(at..at + WORDS) else {
            return true;
        };
        // Every bit tested, then one branch: no early exit to mispredict.
        let missing = block
            .iter()
            .zip(masks)
            .fold(0u64, |acc, (&w, m)| acc | (m & !w));
        missing == 0
    }

    /// Bytes the filter takes.
    pub(crate) fn bytes(&self) -> usize {
        self.words.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u32, n: usize) -> Vec<u32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x
            })
            .collect()
    }

    #[test]
    fn every_built_key_is_found_and_few_others() {
        let inside = keys(0x9E37_79B9, 200_000);
        let f = IdFilter::build(inside.len(), inside.iter().copied());
        assert!(inside.iter().all(|&k| f.may_contain(k)), "a false negative");
        let set: std::collections::HashSet<u32> = inside.iter().copied().collect();
        let probes: Vec<u32> = keys(0x1234_5677, 400_000)
            .into_iter()
            .filter(|k| !set.contains(k))
            .collect();
        let fp = probes.iter().filter(|&&k| f.may_contain(k)).count();
        let rate = fp as f64 / probes.len() as f64;
        // ~1.2% expected at 10 bits per key; a broken spread (one bit per word, or every key
        // in a few blocks) lands far above this.
        assert!(rate < 0.02, "false-positive rate {rate}");
        assert!(rate > 0.0, "a filter this full must say maybe sometimes");
        assert_eq!(f.bytes(), 3907 * 64, "ceil(200k × 10 bits / 512) blocks");
    }

    #[test]
    fn an_empty_filter_holds_nothing_and_a_tiny_one_still_works() {
        let f = IdFilter::build(0, std::iter::empty());
        assert!(keys(7, 1000).into_iter().all(|k| !f.may_contain(k)));
        let f = IdFilter::build(1, [42u32].into_iter());
        assert!(f.may_contain(42));
        assert_eq!(f.bytes(), 64);
    }
}
