//! X.500 Name equality as Java's `X500Principal.equals` decides it (the RFC 2253 canonical
//! form of OpenJDK's `X500Name`), which is how apksig matches a SignerInfo's issuer with a
//! certificate's issuer.
//!
//! Owns: comparing two DER Names. An attribute whose type has an RFC 2253 keyword (CN, C, L,
//! ST, O, OU, STREET, DC, UID) and whose value is a PrintableString or UTF8String compares as
//! text: runs of spaces collapsed, ends trimmed (Java `trim`), case folded (upper then lower),
//! NFKD-normalised. Every other attribute compares by its DER value. RDNs compare in order,
//! the attributes of a multi-valued RDN as a set.
//! Must not: build the canonical form for byte-identical names (the usual case), or panic.
//! Invariant: `same_name` is symmetric and true for identical bytes; a Name that does not
//! parse equals only its identical bytes.

use unicode_normalization::UnicodeNormalization;

use super::ber;

const PRINTABLE_STRING: u8 = 0x13;
const UTF8_STRING: u8 = 0x0c;

/// Attribute types with an RFC 2253 keyword, by DER OID content.
const KEYWORD_TYPES: &[&[u8]] = &[
    &[0x55, 0x04, 0x03],                                           // CN
    &[0x55, 0x04, 0x06],                                           // C
    &[0x55, 0x04, 0x07],                                           // L
    &[0x55, 0x04, 0x08],                                           // ST
    &[0x55, 0x04, 0x0a],                                           // O
    &[0x55, 0x04, 0x0b],                                           // OU
    &[0x55, 0x04, 0x09],                                           // STREET
    &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19], // DC
    &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01], // UID
];

/// Whether two DER Names (whole TLVs) are the same principal.
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    matches!((canonical(a), canonical(b)), (Some(x), Some(y)) if x == y)
}

/// One canonical string per attribute, grouped by RDN, each RDN's attributes sorted.
fn canonical(name: &[u8]) -> Option<Vec<Vec<String>>> {
    let (seq, rest) = ber::expect(name, ber::SEQUENCE)?;
    if !rest.is_empty() {
        return None;
    }
    ber::all(seq.content)?
        .into_iter()
        .map(|rdn| {
            if rdn.tag != ber::SET {
                return None;
            }
            let mut avas = ber::all(rdn.content)?
                .into_iter()
                .map(attribute)
                .collect::<Option<Vec<String>>>()?;
            avas.sort_unstable();
            Some(avas)
        })
        .collect()
}

fn attribute(ava: ber::Tlv<'_>) -> Option<String> {
    if ava.tag != ber::SEQUENCE {
        return None;
    }
    let [oid, value] = ber::all(ava.content)?[..] else {
        return None;
    };
    if oid.tag != ber::OID {
        return None;
    }
    let textual =
        KEYWORD_TYPES.contains(&oid.content) && matches!(value.tag, PRINTABLE_STRING | UTF8_STRING);
    let value = if textual {
        canonical_text(value.content)
    } else {
        format!("#{}", hex::encode(value.raw))
    };
    Some(format!("{}={value}", hex::encode(oid.content)))
}

/// The text form of a string value: only spaces collapse (they are the only whitespace
/// among the characters Java's canonicaliser groups), then Java's `trim` (every character up
/// to U+0020), case folding and NFKD.
fn canonical_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut collapsed = String::with_capacity(text.len());
    let mut previous_space = false;
    for c in text.chars() {
        if c == ' ' && previous_space {
            continue;
        }
        previous_space = c == ' ';
        collapsed.push(c);
    }
    let trimmed = collapsed.trim_matches(|c: char| c <= ' ');
    trimmed.to_uppercase().to_lowercase().nfkd().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    }

    /// A Name of single-attribute RDNs: (type OID content, value tag, value bytes).
    fn name(rdns: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
        let body: Vec<u8> = rdns
            .iter()
            .flat_map(|(oid, tag, v)| {
                let ava = tlv(0x30, &[tlv(0x06, oid), tlv(*tag, v)].concat());
                tlv(0x31, &ava)
            })
            .collect();
        tlv(0x30, &body)
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];

    #[test]
    fn string_types_spaces_and_case_do_not_matter() {
        let utf8 = name(&[(CN, UTF8_STRING, b"rsa-3072")]);
        let printable = name(&[(CN, PRINTABLE_STRING, b"RSA-3072")]);
        assert!(same_name(&utf8, &printable));
        let spaced = name(&[(CN, UTF8_STRING, b"  Acme   Corp ")]);
        assert!(same_name(
            &spaced,
            &name(&[(CN, PRINTABLE_STRING, b"acme corp")])
        ));
        // NFKD: the ligature "ﬁ" (U+FB01) is "fi".
        let ligature = name(&[(CN, UTF8_STRING, "\u{fb01}le".as_bytes())]);
        assert!(same_name(&ligature, &name(&[(CN, UTF8_STRING, b"file")])));
    }

    #[test]
    fn other_values_and_types_compare_as_der() {
        let ia5 = name(&[(CN, 0x16, b"x")]);
        assert!(!same_name(&ia5, &name(&[(CN, UTF8_STRING, b"x")])));
        // No RFC 2253 keyword for emailAddress: its value's bytes and tag decide.
        let a = name(&[(EMAIL, UTF8_STRING, b"A@x")]);
        assert!(!same_name(&a, &name(&[(EMAIL, UTF8_STRING, b"a@x")])));
        assert!(same_name(&a, &a.clone()));
        assert!(!same_name(
            &name(&[(CN, UTF8_STRING, b"a b")]),
            &name(&[(CN, UTF8_STRING, b"ab")])
        ));
    }

    #[test]
    fn rdn_order_counts_and_multi_valued_rdns_are_sets() {
        let o: &[u8] = &[0x55, 0x04, 0x0a];
        let ab = name(&[(CN, UTF8_STRING, b"a"), (o, UTF8_STRING, b"b")]);
        let ba = name(&[(o, UTF8_STRING, b"b"), (CN, UTF8_STRING, b"a")]);
        assert!(!same_name(&ab, &ba));
        let ava = |oid: &[u8], v: &[u8]| tlv(0x30, &[tlv(0x06, oid), tlv(UTF8_STRING, v)].concat());
        let one = tlv(0x30, &tlv(0x31, &[ava(CN, b"a"), ava(o, b"b")].concat()));
        let other = tlv(0x30, &tlv(0x31, &[ava(o, b"B"), ava(CN, b"A")].concat()));
        assert!(same_name(&one, &other));
    }

    #[test]
    fn malformed_names_equal_only_themselves() {
        let good = name(&[(CN, UTF8_STRING, b"a")]);
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(!same_name(&good, &trailing));
        assert!(same_name(b"\x30\x01", b"\x30\x01"));
        assert!(!same_name(b"\x30\x01", b"\x30\x02"));
    }
}
