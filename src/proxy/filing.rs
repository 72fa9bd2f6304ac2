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
/// stack, so the header value is the one allocation.
pub(crate) fn filing_value(numbers: &[FilingNumber]) -> Option<HeaderValue> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out: smallvec::SmallVec<[u8; 256]> = smallvec::SmallVec::new();
    for (i, n) in numbers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        for &b in n.text().as_bytes() {
            if escaped(b) {
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            } else {
                out.push(b);
            }
        }
    }
    HeaderValue::from_bytes(&out).ok()
}
