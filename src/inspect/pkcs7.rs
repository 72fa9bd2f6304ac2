//! PKCS#7 / CMS SignedData (BER or DER): certificates bag and SignerInfos, plus verifying a
//! SignerInfo against detached content.
//!
//! Owns: the SignedData structure walk, signer-certificate selection by issuer+serial (names
//! and serials compared as Java compares them) or subjectKeyIdentifier, and apksig's rules for
//! signed attributes (each attribute once, contentType and messageDigest present with one
//! value of the right type, both matching).
//! Must not: pick a signer certificate by position in the bag (the fdroid issue-1128 attack),
//! or accept a SignerInfo whose messageDigest attribute does not match the content.
//! Invariant: `SignedData::certs` holds sub-slices of the input in file order.

use super::ber::{self, Tlv};
use super::cert::{self, Hash, Scheme, Verdict};
use super::sigverify;
use super::x500;

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const OID_CONTENT_TYPE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03];
const OID_MESSAGE_DIGEST: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04];

/// A parsed SignedData.
pub struct SignedData<'a> {
    pub certs: Vec<&'a [u8]>,
    pub signers: Vec<SignerInfo<'a>>,
    /// encapContentInfo.eContentType (OID content octets).
    pub content_type: &'a [u8],
    /// encapContentInfo.eContent (the OCTET STRING's content; None when detached). A
    /// constructed (BER-segmented) OCTET STRING is not joined: it is reported as None.
    pub content: Option<&'a [u8]>,
}

/// One SignerInfo.
pub struct SignerInfo<'a> {
    /// IssuerAndSerialNumber: (issuer Name TLV, serial content) or None for SKI-identified.
    pub issuer_serial: Option<(&'a [u8], &'a [u8])>,
    pub ski: Option<&'a [u8]>,
    pub digest_oid: &'a [u8],
    /// The `[0] IMPLICIT` signed attributes, whole encoding.
    pub signed_attrs: Option<&'a [u8]>,
    pub sig_oid: &'a [u8],
    pub signature: &'a [u8],
}

/// Parses a ContentInfo wrapping SignedData.
pub fn parse(b: &[u8]) -> Option<SignedData<'_>> {
    let (ci, _) = ber::expect(b, ber::SEQUENCE)?;
    let mut it = ber::children(ci.content);
    let oid = it.next().filter(|t| t.tag == ber::OID)?;
    if oid.content != OID_SIGNED_DATA {
        return None;
    }
    let explicit = it.next().filter(|t| t.tag == 0xa0)?;
    let (sd, _) = ber::expect(explicit.content, ber::SEQUENCE)?;
    let mut it = ber::children(sd.content);
    let _version = it.next()?;
    let _digest_algs = it.next()?;
    let encap = it.next().filter(|t| t.tag == ber::SEQUENCE)?;
    let mut encap_items = ber::children(encap.content);
    let content_type = encap_items.next()?.content;
    let content = encap_items
        .next()
        .filter(|t| t.tag == 0xa0)
        .and_then(|t| ber::expect(t.content, ber::OCTET_STRING))
        .map(|(o, _)| o.content);
    let mut certs = Vec::new();
    let mut signers = Vec::new();
    for t in it {
        match t.tag {
            0xa0 => certs.extend(ber::children(t.content).map(|c| c.raw)),
            ber::SET => signers.extend(ber::children(t.content).filter_map(parse_signer)),
            _ => {}
        }
    }
    Some(SignedData {
        certs,
        signers,
        content_type,
        content,
    })
}

fn parse_signer(t: Tlv<'_>) -> Option<SignerInfo<'_>> {
    let mut it = ber::children(t.content).peekable();
    let _version = it.next()?;
    let sid = it.next()?;
    let (issuer_serial, ski) = match sid.tag {
        ber::SEQUENCE => {
            let mut s = ber::children(sid.content);
            let issuer = s.next()?;
            let serial = s.next().filter(|x| x.tag == ber::INTEGER)?;
            (Some((issuer.raw, serial.content)), None)
        }
        0x80 => (None, Some(sid.content)),
        _ => return None,
    };
    let digest_oid = first_oid(it.next()?)?;
    let signed_attrs = match it.peek() {
        Some(x) if x.tag == 0xa0 => it.next().map(|x| x.raw),
        _ => None,
    };
    let sig_oid = first_oid(it.next()?)?;
    let signature = it.next().filter(|x| x.tag == ber::OCTET_STRING)?.content;
    Some(SignerInfo {
        issuer_serial,
        ski,
        digest_oid,
        signed_attrs,
        sig_oid,
        signature,
    })
}

fn first_oid(alg: Tlv<'_>) -> Option<&[u8]> {
    ber::children(alg.content)
        .next()
        .filter(|t| t.tag == ber::OID)
        .map(|t| t.content)
}

impl<'a> SignedData<'a> {
    /// The certificate a SignerInfo names, never by position.
    pub fn cert_for(&self, si: &SignerInfo<'_>) -> Option<&'a [u8]> {
        self.certs.iter().copied().find(|c| matches_sid(c, si))
    }
}

/// Issuer and serial as Java compares them (`X500Principal` and `BigInteger` equality), or the
/// subjectKeyIdentifier.
fn matches_sid(der: &[u8], si: &SignerInfo<'_>) -> bool {
    if let Some((issuer, serial)) = si.issuer_serial {
        return cert::issuer_serial(der)
            .is_some_and(|(ci, cs)| ber::same_int(cs, serial) && x500::same_name(ci, issuer));
    }
    match (si.ski, cert::subject_key_id(der)) {
        (Some(a), Some(b)) => a == b.as_slice(),
        _ => false,
    }
}

/// Hash named by a digest-algorithm OID.
pub fn hash_of_digest_oid(oid: &[u8]) -> Option<Hash> {
    const SHA2: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];
    match oid {
        [0x2b, 0x0e, 0x03, 0x02, 0x1a] => Some(Hash::Sha1),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05] => Some(Hash::Md5),
        [p @ .., n] if p == SHA2 => match n {
            1 => Some(Hash::Sha256),
            2 => Some(Hash::Sha384),
            3 => Some(Hash::Sha512),
            4 => Some(Hash::Sha224),
            _ => None,
        },
        _ => None,
    }
}

/// The hash a combined signature OID implies (sha256WithRSA, ecdsa-with-SHA256, …), if any.
fn hash_of_sig_oid(oid: &[u8]) -> Option<Hash> {
    const PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];
    match oid {
        [p @ .., n] if p == PKCS1 => [
            (4, Hash::Md5),
            (5, Hash::Sha1),
            (11, Hash::Sha256),
            (12, Hash::Sha384),
            (13, Hash::Sha512),
            (14, Hash::Sha224),
        ]
        .iter()
        .find(|(k, _)| k == n)
        .map(|(_, h)| *h),
        [p @ .., 1] if p == ECDSA => Some(Hash::Sha1),
        [p @ .., 3, n] if p == ECDSA => [
            (1, Hash::Sha224),
            (2, Hash::Sha256),
            (3, Hash::Sha384),
            (4, Hash::Sha512),
        ]
        .iter()
        .find(|(k, _)| k == n)
        .map(|(_, h)| *h),
        _ => None,
    }
}

/// Verifies one SignerInfo over detached `content` with `cert_der`'s key, the signature
/// algorithm taken from its OIDs (the signature OID's hash, else the digest's, with the key's
/// own scheme). Any problem `check_signer` reports fails the SignerInfo.
pub fn verify_signer(
    sd: &SignedData<'_>,
    si: &SignerInfo<'_>,
    cert_der: &[u8],
    content: &[u8],
) -> Verdict {
    let Some(dh) = hash_of_digest_oid(si.digest_oid) else {
        return Verdict::Unsupported;
    };
    let sh = hash_of_sig_oid(si.sig_oid).unwrap_or(dh);
    let mut memo = cert::Memo::default();
    check_signer(&mut memo, sd, si, cert_der, content, Scheme::ByKey, sh).unwrap_or(Verdict::Bad)
}

/// Checks one SignerInfo over detached `content` as apksig does (`V1SchemeVerifier`): with
/// signed attributes, contentType must equal the SignedData's eContentType and messageDigest
/// the content's digest (either differing: `Bad`), and the signature covers the attributes
/// re-tagged as SET; without, it covers the content. `Err` is what apksig treats as a broken
/// signature block rather than a SignerInfo that does not verify: a digest algorithm it does
/// not know, a certificate without a usable key, or signed attributes that do not parse, repeat
/// an attribute, hold several values or a value of the wrong type, or lack contentType or
/// messageDigest; and a check past the inspection's budget (`Memo::spend_check`).
pub fn check_signer(
    memo: &mut cert::Memo,
    sd: &SignedData<'_>,
    si: &SignerInfo<'_>,
    cert_der: &[u8],
    content: &[u8],
    scheme: Scheme,
    sig_hash: Hash,
) -> Result<Verdict, &'static str> {
    let dh = hash_of_digest_oid(si.digest_oid).ok_or("unknown digest algorithm")?;
    if !memo.spend_check() {
        return Err("too many signatures to check");
    }
    let spki = memo.spki(cert_der).ok_or("certificate does not parse")?;
    let Some(attrs) = si.signed_attrs else {
        return Ok(sigverify::verify(
            spki,
            scheme,
            sig_hash,
            content,
            si.signature,
        ));
    };
    if !attrs_match(attrs, sd.content_type, &cert::digest(dh, content))? {
        return Ok(Verdict::Bad);
    }
    let mut msg = attrs.to_vec();
    if let Some(first) = msg.first_mut() {
        *first = ber::SET;
    }
    Ok(sigverify::verify(
        spki,
        scheme,
        sig_hash,
        &msg,
        si.signature,
    ))
}

/// apksig's `SignedAttributes`: Ok(false) when contentType or messageDigest differs.
fn attrs_match(attrs: &[u8], content_type: &[u8], digest: &[u8]) -> Result<bool, &'static str> {
    const MALFORMED: &str = "malformed signed attributes";
    let (t, _) = ber::read(attrs).ok_or(MALFORMED)?;
    let mut seen: Vec<&[u8]> = Vec::new();
    let (mut ct, mut md) = (None, None);
    for attr in ber::all(t.content).ok_or(MALFORMED)? {
        let [oid, set] = ber::all(attr.content).ok_or(MALFORMED)?[..] else {
            return Err(MALFORMED);
        };
        if attr.tag != ber::SEQUENCE || oid.tag != ber::OID || set.tag != ber::SET {
            return Err(MALFORMED);
        }
        if seen.contains(&oid.content) {
            return Err("duplicate signed attribute");
        }
        seen.push(oid.content);
        let values = ber::all(set.content).ok_or(MALFORMED)?;
        if oid.content == OID_CONTENT_TYPE {
            ct = Some(values);
        } else if oid.content == OID_MESSAGE_DIGEST {
            md = Some(values);
        }
    }
    let ct = single(ct, ber::OID)?.ok_or("no content type in signed attributes")?;
    if ct != content_type {
        return Ok(false);
    }
    let md = single(md, ber::OCTET_STRING)?.ok_or("no message digest in signed attributes")?;
    Ok(md == digest)
}

/// The content of an attribute's only value, which must have `tag`; None when the attribute
/// is absent or has no value.
fn single<'a>(values: Option<Vec<Tlv<'a>>>, tag: u8) -> Result<Option<&'a [u8]>, &'static str> {
    match values.as_deref() {
        None | Some([]) => Ok(None),
        Some([v]) if v.tag == tag => Ok(Some(v.content)),
        Some([_]) => Err("signed attribute value of the wrong type"),
        Some(_) => Err("signed attribute with several values"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oid_tables() {
        assert_eq!(
            hash_of_digest_oid(&[0x2b, 0x0e, 0x03, 0x02, 0x1a]),
            Some(Hash::Sha1)
        );
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        assert_eq!(hash_of_digest_oid(&sha256), Some(Hash::Sha256));
        let rsa256 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 11];
        assert_eq!(hash_of_sig_oid(&rsa256), Some(Hash::Sha256));
        let rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 1];
        assert_eq!(hash_of_sig_oid(&rsa), None);
        let ec384 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
        assert_eq!(hash_of_sig_oid(&ec384), Some(Hash::Sha384));
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    }

    /// `[0] IMPLICIT` signed attributes from (type OID, values).
    fn attrs(list: &[(&[u8], Vec<Vec<u8>>)]) -> Vec<u8> {
        let body: Vec<u8> = list
            .iter()
            .flat_map(|(oid, values)| {
                let set = tlv(ber::SET, &values.concat());
                tlv(ber::SEQUENCE, &[tlv(ber::OID, oid), set].concat())
            })
            .collect();
        tlv(0xa0, &body)
    }

    const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];

    #[test]
    fn signed_attributes_as_apksig_reads_them() {
        let ct = || vec![tlv(ber::OID, DATA)];
        let md = |d: &[u8]| vec![tlv(ber::OCTET_STRING, d)];
        let check = |a: &[u8]| attrs_match(a, DATA, b"dd");
        let good = attrs(&[(OID_CONTENT_TYPE, ct()), (OID_MESSAGE_DIGEST, md(b"dd"))]);
        assert_eq!(check(&good), Ok(true));
        // A value that differs fails this SignerInfo only.
        let other = attrs(&[(OID_CONTENT_TYPE, ct()), (OID_MESSAGE_DIGEST, md(b"xx"))]);
        assert_eq!(check(&other), Ok(false));
        let signed_data_type = vec![tlv(ber::OID, OID_SIGNED_DATA)];
        let wrong_ct = attrs(&[
            (OID_CONTENT_TYPE, signed_data_type),
            (OID_MESSAGE_DIGEST, md(b"dd")),
        ]);
        assert_eq!(check(&wrong_ct), Ok(false));
        // Broken attributes fail the whole block.
        for broken in [
            attrs(&[
                (OID_MESSAGE_DIGEST, md(b"dd")),
                (OID_MESSAGE_DIGEST, md(b"dd")),
            ]),
            attrs(&[(OID_MESSAGE_DIGEST, md(b"dd"))]),
            attrs(&[(OID_CONTENT_TYPE, vec![]), (OID_MESSAGE_DIGEST, md(b"dd"))]),
            attrs(&[(OID_CONTENT_TYPE, ct())]),
            attrs(&[
                (OID_CONTENT_TYPE, [ct(), ct()].concat()),
                (OID_MESSAGE_DIGEST, md(b"dd")),
            ]),
            attrs(&[
                (OID_CONTENT_TYPE, md(b"dd")),
                (OID_MESSAGE_DIGEST, md(b"dd")),
            ]),
            attrs(&[(OID_CONTENT_TYPE, ct()), (OID_MESSAGE_DIGEST, ct())]),
            good[..good.len() - 1].to_vec(),
            tlv(
                0xa0,
                &[tlv(ber::SEQUENCE, &tlv(ber::OID, DATA)), vec![0x04]].concat(),
            ),
        ] {
            assert!(check(&broken).is_err(), "{broken:02x?}");
        }
    }

    #[test]
    fn a_check_past_the_budget_breaks_the_block() {
        let sd = SignedData {
            certs: Vec::new(),
            signers: Vec::new(),
            content_type: DATA,
            content: None,
        };
        let si = SignerInfo {
            issuer_serial: None,
            ski: None,
            digest_oid: &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
            signed_attrs: None,
            sig_oid: &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            signature: b"sig",
        };
        let mut memo = cert::Memo::default();
        let check = |memo: &mut cert::Memo| {
            check_signer(
                memo,
                &sd,
                &si,
                b"not a certificate",
                b"c",
                Scheme::ByKey,
                Hash::Sha256,
            )
        };
        assert_eq!(check(&mut memo), Err("certificate does not parse"));
        while memo.spend_check() {}
        assert_eq!(check(&mut memo), Err("too many signatures to check"));
    }

    #[test]
    fn garbage_is_not_signed_data() {
        assert!(parse(b"").is_none());
        assert!(parse(&[0x30, 0x03, 0x06, 0x01, 0x00]).is_none());
    }
}
