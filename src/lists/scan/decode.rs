//! The decoded text of a string the scanner accepted: escapes (`\n`, `\u00e9`, surrogate
//! pairs) replaced by the characters they stand for.
//!
//! Owns only decoding; the scanner has checked the escapes already (`lex.rs`).
//! Must not: run on a span the scanner did not accept as a string's content.
//! Invariant: `decode` returns the string serde_json would read for the same JSON string.

use super::lex::hex4;
use std::ops::Range;

/// Decodes the content of a string this scanner accepted (`raw` between the quotes).
pub fn decode(body: &[u8], raw: Range<usize>) -> Option<String> {
    let b = body.get(raw)?;
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..]
            .iter()
            .position(|&c| c == b'\\')
            .unwrap_or(b.len() - i);
        out.push_str(std::str::from_utf8(&b[i..i + run]).ok()?);
        i += run;
        if i >= b.len() {
            break;
        }
        let c = *b.get(i + 1)?;
        i += 2;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(b.get(i + 2..i + 6)?)?;
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        };
        out.push(ch);
    }
    Some(out)
}
