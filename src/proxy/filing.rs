//! The filing header's value: the filing numbers of an allowed request, percent-encoded.
//!
//! Owns the encoding every forwarded request and every `filing_on_response` answer carries.
//! Must not: decide which numbers are sent (that is the policy).
//! Invariant: the value is printable ASCII without `,` inside a number, so any HTTP stack
//! carries it and splits it on `,` into exactly the numbers.

use crate::filing::FilingNumber;
use http::HeaderValue;

/// Whether a filing header byte is percent-encoded: controls, space, `"`, `%`, `,` (the list
/// separator) and every byte of a non-ASCII character. Filing numbers travel as percent-encoded
/// UTF-8 so any HTTP stack can carry them.
fn escaped(b: u8) -> bool {
    !(0x21..0x7f).contains(&b) || matches!(b, b'"' | b'%' | b',')
}

/// The filing header's value: the numbers, percent-encoded, comma-separated. Encoded on the
/// stack (each number into a fixed buffer, then appended whole), so the header value is the
/// one allocation.
pub(crate) fn filing_value(numbers: &[FilingNumber]) -> Option<HeaderValue> {
    let mut out: smallvec::SmallVec<[u8; 256]> = smallvec::SmallVec::new();
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mut buf = [0u8; ENCODED_MAX];
        let len = encode(n.text().as_bytes(), &mut buf);
        out.extend_from_slice(&buf[..len]);
    }
    HeaderValue::from_bytes(&out).ok()
}

/// The longest encoded number: every byte of the longest text escaped.
const ENCODED_MAX: usize = 3 * crate::filing::number::TEXT_MAX;

/// Percent-encodes `text` into `out`; returns the length written. `text` is at most
/// `TEXT_MAX` bytes, so `out` always has room.
fn encode(text: &[u8], out: &mut [u8; ENCODED_MAX]) -> usize {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut len = 0;
    for &b in text.iter().take(crate::filing::number::TEXT_MAX) {
        if escaped(b) {
            out[len] = b'%';
            out[len + 1] = HEX[usize::from(b >> 4)];
            out[len + 2] = HEX[usize::from(b & 15)];
            len += 3;
        } else {
            out[len] = b;
            len += 1;
        }
    }
    len
}
