//! The generator's randomness: one keystream per kind of draw (domain) and one stream per
//! index, and the keyed bijections the ids are built from.
//!
//! Owns the domains and the mixing functions. A change to one kind of draw never shifts
//! another, and any index's draws are reachable in O(1).
//! Must not: read any state besides `(seed, domain, index)`.
//! Invariant: `mix64` is a bijection on u64 and `permute(_, m, _)` one on `0..m`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub(super) const D_META: u64 = 1;
pub(super) const D_GROUP: u64 = 2;
pub(super) const D_ENTITY: u64 = 3;
pub(super) const D_RECORD: u64 = 4;
pub(super) const D_ID: u64 = 5;
pub(super) const D_KEYS: u64 = 6;

pub(super) fn rng(seed: u64, domain: u64, index: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ domain.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(index);
    r
}

/// A bijection on u64 (the splitmix64 finaliser): xor-shifts and odd multiplies are invertible.
pub(super) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A keyed bijection on `0..m` (m ≤ 2^62): a keyed mix that is a bijection on the smallest
/// power of two ≥ m, cycle-walked until it lands below m (at most two rounds on average). A
/// permutation of the domain, so distinct inputs below m give distinct outputs.
pub(super) fn permute(x: u64, m: u64, key: u64) -> u64 {
    let bits = 64 - (m - 1).leading_zeros();
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let half = bits.div_ceil(2).max(1);
    let mut x = x;
    loop {
        // Each step is invertible modulo 2^bits: add, odd multiply, xor with a right shift.
        x = x.wrapping_add(key) & mask;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1) & mask;
        x ^= x >> half;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9 | 1) & mask;
        x ^= x >> half;
        if x < m {
            return x;
        }
    }
}

/// Per-seed keys of the id functions, one per use.
pub(super) fn key(seed: u64, which: u64) -> u64 {
    mix64(seed ^ mix64(D_KEYS << 32 | which))
}
