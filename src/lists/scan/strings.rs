//! The byte search under string scanning: where the next `"`, `\\` or control character is.
//!
//! Owns `special`, sixteen bytes at a time with SWAR on two `u64` words, and `non_digit`, the
//! end of a run of digits eight bytes at a time. (`std::arch`'s SSE2 compares
//! would need an `unsafe` call site on this toolchain even where SSE2 is baseline, and the
//! crate forbids `unsafe`.)
//! Must not: read outside the slice it is given, or miss a byte below 0x20.
//! Invariant: `special(b)` is the position of the first byte of `b` that is `"`, `\\` or
//! below 0x20, for every slice at every alignment and length (tests compare it with `naive`);
//! `non_digit(c)` is the position of the first byte of `c` outside `0`..=`9`.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// True for the bytes a string scan stops at.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Flags the special bytes of the eight in `w` (little-endian): in each of the three byte
/// tests (`x - 0x01.. & !x & 0x80..` on a word where the wanted bytes are zero) the lowest
/// flagged byte is exact, and false flags only appear above a true one, so the lowest flag of
/// their union is the first special byte.
#[inline(always)]
fn flags(w: u64) -> u64 {
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    zero(w ^ (ONES * b'"' as u64))
        | zero(w ^ (ONES * b'\\' as u64))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    u64::from_le_bytes(w)
}

/// The position of the first `"`, `\\` or control character in `b`: sixteen bytes (two
/// words, flags joined into one `u128`, so the lowest flag is still the first special byte)
/// at a time, then eight, then one. Most strings of a list end inside their first sixteen
/// bytes, so the search usually exits its loop on the first round.
#[inline(always)]
pub(super) fn special(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = b.get(at..at + 16) {
        let m = (flags(word(&chunk[8..])) as u128) << 64 | flags(word(&chunk[..8])) as u128;
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 16;
    }
    if let Some(chunk) = b.get(at..at + 8) {
        let m = flags(word(chunk));
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    b[at..].iter().position(|&c| is_special(c)).map(|p| at + p)
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
    b.iter().position(|&c| is_special(c))
}
