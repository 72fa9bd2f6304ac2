//! The byte search under string scanning: where the next `"`, `\\` or control character is.
//!
//! Owns `special`, sixteen bytes at a time with vector compares (`wide`: SSE2 on x86-64, NEON
//! on aarch64, plain code elsewhere; `std::arch` itself needs an `unsafe` call site on this
//! toolchain even where SSE2 is baseline, and the crate forbids `unsafe`), and `non_digit`,
//! the end of a run of digits eight bytes at a time with SWAR on one `u64` word.
//! Must not: read outside the slice it is given, or miss a byte below 0x20.
//! Invariant: `special(b)` is the position of the first byte of `b` that is `"`, `\\` or
//! below 0x20, for every slice at every alignment and length (tests compare it with `naive`);
//! `non_digit(c)` is the position of the first byte of `c` outside `0`..=`9`.

use wide::u8x16;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// The special bytes of sixteen, as the low sixteen bits of a mask (bit `i` for byte `i`): one
/// compare for each of `"` and `\\`, and `min(c, 0x1f) == c` for the control characters.
#[inline(always)]
fn mask16(chunk: &[u8; 16]) -> u32 {
    let v = u8x16::new(*chunk);
    let hits = v.simd_eq(u8x16::splat(b'"'))
        | v.simd_eq(u8x16::splat(b'\\'))
        | v.min(u8x16::splat(0x1f)).simd_eq(v);
    hits.to_bitmask()
}

/// The position of the first `"`, `\\` or control character in `b`: sixteen bytes at a time
/// (`mask16`), then the rest copied into a block padded with a byte that is not special. Most
/// strings of a list end inside their first sixteen bytes, so the search usually exits its
/// loop on the first round.
#[inline(always)]
pub(super) fn special(b: &[u8]) -> Option<usize> {
    let mut chunks = b.chunks_exact(16);
    let mut at = 0;
    for chunk in chunks.by_ref() {
        let m = mask16(chunk.try_into().unwrap_or(&[0; 16]));
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
        at += 16;
    }
    let rest = chunks.remainder();
    let mut last = [b'a'; 16];
    last[..rest.len()].copy_from_slice(rest);
    let m = mask16(&last);
    (m != 0).then(|| at + m.trailing_zeros() as usize)
}

/// The position of the first byte of the eight in `chunk` that is not an ASCII digit. A byte
/// is a digit when its high nibble is 3 and stays 3 after adding 6; an addition that carries
/// out of a byte (0xfa and up, not a digit) only spoils the bytes above it, so the lowest
/// flagged byte is exact. The flag of a byte is then its bit 7 (`(x & 0x7f) + 0x7f | x`, which
/// cannot carry).
#[inline(always)]
pub(super) fn non_digit(chunk: &[u8]) -> Option<usize> {
    const NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const THREES: u64 = ONES * 0x30;
    const LOWS: u64 = ONES * 0x7f;
    let w = word(chunk);
    let off = ((w & NIBBLES) ^ THREES) | ((w.wrapping_add(ONES * 6) & NIBBLES) ^ THREES);
    let m = (((off & LOWS) + LOWS) | off) & HIGHS;
    (m != 0).then(|| (m.trailing_zeros() / 8) as usize)
}

/// The reference `special` is tested against: one byte at a time.
#[cfg(test)]
pub(super) fn naive(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)
}
