//! One JAR signature block (`META-INF/*.RSA|DSA|EC`) checked against its `.SF` the way
//! apksig's `V1SchemeVerifier` checks it for API level 24 and later.
//!
//! Owns: the digest and signature algorithm pairs a SignerInfo may use (apksig's
//! `OidConstants` table, the pairs supported on every level from 24 up), the SignerInfo's
//! certificate (issuer and serial only: apksig does not match a subjectKeyIdentifier), the
//! signer certificate rules (no unsupported critical extension, keyUsage allowing signatures),
//! and the choice of the first SignerInfo that verifies.
//! Must not: pick a certificate by position, or let a SignerInfo that apksig treats as a
//! broken block (unsupported algorithm, missing certificate, malformed signed attributes, an
//! unusable key) be skipped in favour of another.
//! Invariant: `Block::verified` is true only when every SignerInfo passed those rules and at
//! least one verified; `Block::cert` is then the first verified SignerInfo's certificate.

use super::ber;
use super::cert::{Hash, Memo, Scheme, Verdict};
use super::pkcs7::{self, SignedData, SignerInfo};

/// The verdict on one signature block.
#[derive(Debug, Default)]
pub struct Block {
    /// The certificate of the first verified SignerInfo; without a `.SF` (or when none
    /// verified) the first SignerInfo's issuer+serial match, for the structural listing.
    pub cert: Option<Vec<u8>>,
    pub verified: bool,
}

/// Checks a parsed block against the `.SF` bytes, or only finds its certificate without them.
pub fn check(sd: Option<&SignedData<'_>>, sf: Option<&[u8]>, memo: &mut Memo) -> Block {
    let Some(sd) = sd else {
        return Block::default();
    };
    let structural = sd
        .signers
        .iter()
        .find_map(|si| sd.cert_for(si))
        .map(<[u8]>::to_vec);
    let verified = sf.and_then(|sf| first_verified(sd, sf, memo));
    Block {
        verified: verified.is_some(),
        cert: verified.map(<[u8]>::to_vec).or(structural),
    }
}

/// apksig tries every SignerInfo (Android N and later) and keeps the first that verifies;
/// one that breaks a rule fails the whole block, whether before or after that one.
fn first_verified<'a>(sd: &SignedData<'a>, sf: &[u8], memo: &mut Memo) -> Option<&'a [u8]> {
    let mut first = None;
    for si in &sd.signers {
        match signer_info(sd, si, sf, memo) {
            Err(_) => return None,
            Ok(Some(cert)) => {
                first = first.or(Some(cert));
            }
            Ok(None) => {}
        }
    }
    first
}

/// One SignerInfo: `Ok(Some(cert))` verified, `Ok(None)` did not verify, `Err` broken.
fn signer_info<'a>(
    sd: &SignedData<'a>,
    si: &SignerInfo<'_>,
    sf: &[u8],
    memo: &mut Memo,
) -> Result<Option<&'a [u8]>, &'static str> {
    let (scheme, hash) = algorithm(si.digest_oid, si.sig_oid).ok_or("unsupported algorithm")?;
    if si.issuer_serial.is_none() {
        return Err("SignerInfo not identified by issuer and serial");
    }
    let cert = sd
        .cert_for(si)
        .ok_or("signing certificate not in the block")?;
    if !usable_for_signing(cert) {
        return Err("certificate not usable for signatures");
    }
    match pkcs7::check_signer(memo, sd, si, cert, sf, scheme, hash)? {
        Verdict::Good => Ok(Some(cert)),
        Verdict::Bad => Ok(None),
        Verdict::Unsupported => Err("key unusable with the signature algorithm"),
    }
}

const OID_PKCS1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
const OID_X957: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04];
const OID_NIST_DSA: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03];
const OID_EC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ECDSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04];

/// The signature a (digestAlgorithm, signatureAlgorithm) pair of a v1 SignerInfo names, if
/// apksig supports the pair on every API level from 24 up. A bare key-type OID (rsaEncryption,
/// id-dsa, id-ecPublicKey) takes the digest algorithm; a combined OID (sha256WithRSAEncryption,
/// dsa-with-sha256, ecdsa-with-SHA256, …) must name the same hash. DSA stops at SHA-256: apksig
/// supports DSA with SHA-384 or SHA-512 on no level from 23 up; MD5 goes with RSA only.
pub fn algorithm(digest_oid: &[u8], sig_oid: &[u8]) -> Option<(Scheme, Hash)> {
    let d = pkcs7::hash_of_digest_oid(digest_oid)?;
    let dsa_hash = matches!(d, Hash::Sha1 | Hash::Sha224 | Hash::Sha256);
    let (scheme, named) = match sig_oid {
        [p @ .., 1] if p == OID_PKCS1 => (Scheme::RsaPkcs1, None),
        [p @ .., n] if p == OID_PKCS1 => (Scheme::RsaPkcs1, Some(pkcs1_hash(*n)?)),
        [p @ .., 1] if p == OID_X957 && dsa_hash => (Scheme::Dsa, None),
        [p @ .., 3] if p == OID_X957 => (Scheme::Dsa, Some(Hash::Sha1)),
        [p @ .., n] if p == OID_NIST_DSA => (Scheme::Dsa, Some(nist_hash(*n)?)),
        OID_EC_KEY if d != Hash::Md5 => (Scheme::Ecdsa, None),
        [p @ .., 1] if p == OID_ECDSA => (Scheme::Ecdsa, Some(Hash::Sha1)),
        [p @ .., 3, n] if p == OID_ECDSA => (Scheme::Ecdsa, Some(ecdsa_hash(*n)?)),
        _ => return None,
    };
    let dsa_ok = scheme != Scheme::Dsa || dsa_hash;
    (named.is_none_or(|h| h == d) && dsa_ok).then_some((scheme, d))
}

fn pkcs1_hash(n: u8) -> Option<Hash> {
    Some(match n {
        4 => Hash::Md5,
        5 => Hash::Sha1,
        11 => Hash::Sha256,
        12 => Hash::Sha384,
        13 => Hash::Sha512,
        14 => Hash::Sha224,
        _ => return None,
    })
}

/// dsa-with-sha224 … dsa-with-sha512 (2.16.840.1.101.3.4.3.1–4).
fn nist_hash(n: u8) -> Option<Hash> {
    Some(match n {
        1 => Hash::Sha224,
        2 => Hash::Sha256,
        3 => Hash::Sha384,
        4 => Hash::Sha512,
        _ => return None,
    })
}

/// ecdsa-with-SHA224 … ecdsa-with-SHA512 (1.2.840.10045.4.3.1–4).
fn ecdsa_hash(n: u8) -> Option<Hash> {
    nist_hash(n)
}

/// Extensions OpenJDK parses (`sun.security.x509.OIDMap`): a critical extension outside this
/// list makes `hasUnsupportedCriticalExtension` true, and apksig then refuses the signer.
const KNOWN_EXTENSIONS: &[&[u8]] = &[
    &[0x55, 0x1d, 14],
    &[0x55, 0x1d, 15],
    &[0x55, 0x1d, 16],
    &[0x55, 0x1d, 17],
    &[0x55, 0x1d, 18],
    &[0x55, 0x1d, 19],
    &[0x55, 0x1d, 20],
    &[0x55, 0x1d, 21],
    &[0x55, 0x1d, 27],
    &[0x55, 0x1d, 28],
    &[0x55, 0x1d, 29],
    &[0x55, 0x1d, 30],
    &[0x55, 0x1d, 31],
    &[0x55, 0x1d, 32],
    &[0x55, 0x1d, 33],
    &[0x55, 0x1d, 35],
    &[0x55, 0x1d, 36],
    &[0x55, 0x1d, 37],
    &[0x55, 0x1d, 46],
    &[0x55, 0x1d, 54],
    &[0x60, 0x86, 0x48, 0x01, 0x86, 0xf8, 0x42, 0x01, 0x01], // Netscape cert type
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01],       // authorityInfoAccess
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0b],       // subjectInfoAccess
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x05], // OCSP no check
];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 15];

/// apksig's signer certificate rules: no critical extension OpenJDK does not know, and a
/// keyUsage extension, if present, with digitalSignature or nonRepudiation set.
pub fn usable_for_signing(cert: &[u8]) -> bool {
    let Some(exts) = extensions(cert) else {
        return true;
    };
    exts.iter().all(|&(oid, critical, value)| {
        (!critical || KNOWN_EXTENSIONS.contains(&oid))
            && (oid != OID_KEY_USAGE || signing_key_usage(value))
    })
}

/// One certificate extension: (extnID, critical, extnValue content).
type Extension<'a> = (&'a [u8], bool, &'a [u8]);

/// The extensions of a certificate; None without extensions.
fn extensions(cert: &[u8]) -> Option<Vec<Extension<'_>>> {
    let (c, _) = ber::expect(cert, ber::SEQUENCE)?;
    let (tbs, _) = ber::expect(c.content, ber::SEQUENCE)?;
    let wrapped = ber::children(tbs.content).find(|t| t.tag == 0xa3)?;
    let (list, _) = ber::expect(wrapped.content, ber::SEQUENCE)?;
    let mut out = Vec::new();
    for ext in ber::children(list.content) {
        let items = ber::all(ext.content)?;
        let (oid, critical, value) = match items.as_slice() {
            [oid, v] => (oid, false, v),
            [oid, c, v] if c.tag == 0x01 => (oid, c.content.iter().any(|&b| b != 0), v),
            _ => return None,
        };
        out.push((oid.content, critical, value.content));
    }
    Some(out)
}

/// A KeyUsage BIT STRING with bit 0 (digitalSignature) or bit 1 (nonRepudiation) set.
fn signing_key_usage(value: &[u8]) -> bool {
    ber::expect(value, 0x03)
        .and_then(|(bits, _)| bits.content.get(1).copied())
        .is_some_and(|first| first & 0xc0 != 0)
}

#[cfg(test)]
#[path = "jarsig_tests.rs"]
mod tests;
