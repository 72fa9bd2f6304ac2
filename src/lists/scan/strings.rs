//! The byte search under string scanning: where the next `"`, `\\` or control character is.
//!
//! Owns `special`, eight bytes at a time with SWAR on a `u64`. (`std::arch`'s SSE2 compares
//! would need an `unsafe` call site on this toolchain even where SSE2 is baseline, and the
//! crate forbids `unsafe`.)
//! Must not: read outside the slice it is given, or miss a byte below 0x20.
//! Invariant: `special(b)` is the position of the first byte of `b` that is `"`, `\\` or
//! below 0x20, for every slice at every alignment and length (tests compare it with `naive`).

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// True for the bytes a string scan stops at.
#[inline]
fn is_special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// The position of the first `"`, `\\` or control character in `b`. Eight bytes at a time:
/// in each of the three byte tests (`x - 0x01.. & !x & 0x80..` on a word where the wanted
/// bytes are zero) the lowest flagged byte is exact, and false flags only appear above a true
/// one, so the lowest flag of their union is the first special byte.
#[inline]
pub(super) fn special(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(chunk) = b.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        let m = zero(w ^ (ONES * b'"' as u64))
            | zero(w ^ (ONES * b'\\' as u64))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    b[at..].iter().position(|&c| is_special(c)).map(|p| at + p)
}

/// The reference `special` is tested against: one byte at a time.
#[cfg(test)]
pub(super) fn naive(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| is_special(c))
}
