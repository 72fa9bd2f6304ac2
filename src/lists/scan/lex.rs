//! The tokens of JSON read at a position: whitespace, strings (escapes and surrogates
//! checked), numbers, literals, and a key with its colon.
//!
//! Owns the lexical rules of RFC 8259 as the scanner applies them; each function takes the body
//! and a position and returns the position after the token, so a caller's position stays in
//! a register. Must not: read outside the body (every access is checked), or accept a token
//! serde_json refuses.
//! Invariant: `Ok(j)` from a function called at `i` means `b[i..j]` is exactly one such token.

use super::strings::{non_digit, special};
use super::Fault;

/// The position after the whitespace at `i`.
#[inline(always)]
pub(super) fn ws_at(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A key at `i` (which must be a string), then whitespace and its colon: the position after
/// the colon.
#[inline(always)]
pub(super) fn key_at(b: &[u8], i: usize) -> Result<usize, Fault> {
    if b.get(i) != Some(&b'"') {
        return Err(Fault::Syntax);
    }
    let i = ws_at(b, string_end_at(b, i)?.0);
    if b.get(i) != Some(&b':') {
        return Err(Fault::Syntax);
    }
    Ok(i + 1)
}

/// The literal `lit` at `i`: the position after it.
#[inline(always)]
pub(super) fn literal_at(b: &[u8], i: usize, lit: &[u8]) -> Result<usize, Fault> {
    if b.get(i..).is_some_and(|r| r.starts_with(lit)) {
        Ok(i + lit.len())
    } else {
        Err(Fault::Syntax)
    }
}

/// The end of the run of digits at `i` (eight bytes at a time, then one).
#[inline(always)]
fn digits_at(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        match non_digit(chunk) {
            Some(at) => return i + at,
            None => i += 8,
        }
    }
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// A number at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
#[inline]
pub(super) fn number_at(b: &[u8], mut i: usize) -> Result<usize, Fault> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_at(b, i + 1),
        _ => return Err(Fault::Syntax),
    }
    if b.get(i) == Some(&b'.') {
        let j = digits_at(b, i + 1);
        if j == i + 1 {
            return Err(Fault::Syntax);
        }
        i = j;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let j = digits_at(b, i);
        if j == i {
            return Err(Fault::Syntax);
        }
        i = j;
    }
    Ok(i)
}

/// The string at `i` (its `"`): the position after its closing quote and whether it has
/// escapes; its escapes are checked and it may hold no control character (the body is UTF-8
/// already). Inline for the common string, whose first special byte is its closing quote.
#[inline(always)]
pub(super) fn string_end_at(b: &[u8], i: usize) -> Result<(usize, bool), Fault> {
    let i = i + 1;
    if let Some(at) = b.get(i..).and_then(special) {
        if b[i + at] == b'"' {
            return Ok((i + at + 1, false));
        }
    }
    string_rest_at(b, i)
}

/// `string_end_at` from the start of the content, for a string with escapes (or a bad one).
#[inline(never)]
fn string_rest_at(b: &[u8], mut i: usize) -> Result<(usize, bool), Fault> {
    let mut escaped = false;
    loop {
        let Some(at) = b.get(i..).and_then(special) else {
            return Err(Fault::Syntax);
        };
        i += at;
        match b[i] {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i = escape_at(b, i)?;
            }
            _ => return Err(Fault::Syntax),
        }
    }
}

/// One escape at `\`; a high surrogate must be followed by an escaped low one.
fn escape_at(b: &[u8], i: usize) -> Result<usize, Fault> {
    let c = b.get(i + 1).copied().ok_or(Fault::Syntax)?;
    let i = i + 2;
    match c {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(i),
        b'u' => {
            let u = hex_at(b, i)?;
            let i = i + 4;
            match u {
                0xD800..=0xDBFF => {
                    if b.get(i..i + 2) != Some(b"\\u") {
                        return Err(Fault::Encoding);
                    }
                    match hex_at(b, i + 2)? {
                        0xDC00..=0xDFFF => Ok(i + 6),
                        _ => Err(Fault::Encoding),
                    }
                }
                0xDC00..=0xDFFF => Err(Fault::Encoding),
                _ => Ok(i),
            }
        }
        _ => Err(Fault::Syntax),
    }
}

/// The four hex digits at `i`.
fn hex_at(b: &[u8], i: usize) -> Result<u32, Fault> {
    let h = b.get(i..i + 4).ok_or(Fault::Syntax)?;
    hex4(h).ok_or(Fault::Syntax)
}

/// The value of hex digits.
pub(super) fn hex4(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}
