//! Minimal BER/DER TLV reader (definite and indefinite lengths) for PKCS#7/CMS and X.509.
//!
//! Owns: splitting bytes into tag-length-value items. Hand-written because the iOS code
//! signature CMS uses BER indefinite lengths that strict DER crates (`der`, `cms`) reject.
//! Must not: recurse deeper than `MAX_DEPTH`, read outside the input slice, or panic.
//! Invariant: every returned slice is a sub-slice of the input; `raw` = header + content (+ EOC).

const MAX_DEPTH: usize = 32;

/// One TLV item.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The first identifier octet (class, constructed bit and low tag number).
    pub tag: u8,
    /// The content octets (without the end-of-contents marker for indefinite lengths).
    pub content: &'a [u8],
    /// The whole encoding of the item.
    pub raw: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const OID: u8 = 0x06;
pub const OCTET_STRING: u8 = 0x04;

/// Reads one item at the start of `b`; returns it and the rest.
pub fn read(b: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    read_depth(b, 0)
}

fn read_depth(b: &[u8], depth: usize) -> Option<(Tlv<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return None;
    }
    let tag = *b.first()?;
    let mut p = 1;
    if tag & 0x1f == 0x1f {
        // High tag number form: skip the base-128 continuation octets.
        while *b.get(p)? & 0x80 != 0 {
            p += 1;
        }
        p += 1;
    }
    let l0 = *b.get(p)?;
    p += 1;
    if l0 == 0x80 {
        if tag & 0x20 == 0 {
            return None; // indefinite length is only valid for constructed encodings
        }
        let start = p;
        loop {
            if b.get(p..p + 2)? == [0, 0] {
                let content = b.get(start..p)?;
                let raw = b.get(..p + 2)?;
                return Some((Tlv { tag, content, raw }, b.get(p + 2..)?));
            }
            let (_, rest) = read_depth(b.get(p..)?, depth + 1)?;
            p = b.len() - rest.len();
        }
    }
    let (len, n) = definite_len(l0, b.get(p..)?)?;
    p += n;
    let end = p.checked_add(len)?;
    let content = b.get(p..end)?;
    Some((
        Tlv {
            tag,
            content,
            raw: b.get(..end)?,
        },
        b.get(end..)?,
    ))
}

/// A definite length from its first octet `l0` and the following octets `rest`:
/// (length, octets consumed after `l0`).
fn definite_len(l0: u8, rest: &[u8]) -> Option<(usize, usize)> {
    if l0 & 0x80 == 0 {
        return Some((usize::from(l0), 0));
    }
    let n = usize::from(l0 & 0x7f);
    if n == 0 || n > 8 {
        return None;
    }
    let v = rest
        .get(..n)?
        .iter()
        .fold(0u64, |v, &b| (v << 8) | u64::from(b));
    Some((usize::try_from(v).ok()?, n))
}

/// Iterates over the items inside a constructed value's content.
pub fn children(content: &[u8]) -> Children<'_> {
    Children { rest: content }
}

pub struct Children<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Children<'a> {
    type Item = Tlv<'a>;
    fn next(&mut self) -> Option<Tlv<'a>> {
        let (t, rest) = read(self.rest)?;
        self.rest = rest;
        Some(t)
    }
}

/// Reads one item and checks its tag.
pub fn expect(b: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    let (t, rest) = read(b)?;
    (t.tag == tag).then_some((t, rest))
}

/// Every item of a constructed value's content; None unless the items fill it exactly.
pub fn all(content: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let (t, r) = read(rest)?;
        out.push(t);
        rest = r;
    }
    Some(out)
}

/// Whether two INTEGER contents are the same signed value (as Java's `BigInteger.equals`):
/// redundant sign-extension octets do not count.
pub fn same_int(a: &[u8], b: &[u8]) -> bool {
    fn minimal(mut v: &[u8]) -> &[u8] {
        while let [first, second, ..] = v {
            let redundant =
                (*first == 0 && second & 0x80 == 0) || (*first == 0xff && second & 0x80 != 0);
            if !redundant {
                break;
            }
            v = &v[1..];
        }
        v
    }
    minimal(a) == minimal(b)
}

/// An INTEGER's content without redundant leading zero octets (at least one octet kept).
pub fn strip_int(mut v: &[u8]) -> &[u8] {
    while v.len() > 1 && v[0] == 0 {
        v = &v[1..];
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_compare_as_signed_values() {
        assert!(same_int(&[0x00, 0x80], &[0x00, 0x00, 0x80]));
        assert!(same_int(&[0xff, 0x80], &[0x80]));
        assert!(same_int(&[0x05], &[0x00, 0x05]));
        // 0x00 0xff is 255, 0xff is -1.
        assert!(!same_int(&[0x00, 0xff], &[0xff]));
        assert!(!same_int(&[0x01], &[0x02]));
    }

    #[test]
    fn definite_and_long_lengths() {
        let (t, rest) = read(&[0x04, 0x02, 0xaa, 0xbb, 0xff]).unwrap();
        assert_eq!(
            (t.tag, t.content, rest),
            (0x04, &[0xaa, 0xbb][..], &[0xff][..])
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend_from_slice(&[7; 0x80]);
        assert_eq!(read(&long).unwrap().0.content.len(), 0x80);
    }

    #[test]
    fn indefinite_lengths_nest() {
        // SEQUENCE(indef) { SEQUENCE(indef) { INTEGER 5 } } then trailing byte
        let b = [0x30, 0x80, 0x30, 0x80, 0x02, 0x01, 0x05, 0, 0, 0, 0, 0x09];
        let (t, rest) = read(&b).unwrap();
        assert_eq!(rest, &[0x09]);
        let inner: Vec<_> = children(t.content).collect();
        assert_eq!(inner.len(), 1);
        let ints: Vec<_> = children(inner[0].content).collect();
        assert_eq!(ints[0].content, &[5]);
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        assert!(read(&[]).is_none());
        assert!(read(&[0x04, 0x05, 1]).is_none());
        assert!(read(&[0x04, 0x80, 0, 0]).is_none());
        assert!(read(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_none());
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert!(read(&deep).is_none());
        assert_eq!(strip_int(&[0, 0, 1]), &[1]);
        assert!(all(&[0x02, 0x01, 0x05, 0x04]).is_none());
        assert_eq!(
            all(&[0x02, 0x01, 0x05, 0x05, 0x00]).map(|v| v.len()),
            Some(2)
        );
        assert_eq!(strip_int(&[0]), &[0]);
    }
}
