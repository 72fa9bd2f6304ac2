//! X.509 certificates: fingerprints, display names, issuer/serial identity and signature checks.
//!
//! Owns: turning DER certificate bytes into `CertInfo`, `Memo` (which parses and fingerprints
//! each certificate of one inspection once), and the vocabulary of signature checks (`Hash`,
//! `Scheme`, `Verdict`, `digest`); the checks themselves are `sigverify.rs`.
//! Must not: trust or chain certificates (Android and iOS app signing certs are self-asserted;
//! identity is the fingerprint), fail on names with unprintable characters, or keep anything
//! between inspections.
//! Invariant: fingerprints are always over the exact input bytes.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::nom::Parser;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificateParser};

use super::ber;
use super::CertInfo;
use crate::filing::Signer;

/// Hash functions named by signature formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The padding/scheme of a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// RSA PKCS#1 v1.5, ECDSA (ASN.1) or DSA, chosen by the key type (PKCS#7 SignerInfo).
    ByKey,
    RsaPkcs1,
    RsaPss,
    Ecdsa,
    Dsa,
}

/// Outcome of a signature check. Only `Good` means verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// The signature does not verify under a usable key and algorithm.
    Bad,
    /// The key or algorithm cannot be used: a key type, curve, size or scheme outside what
    /// `sigverify` implements, a key that does not decode, or a key that does not fit the
    /// scheme. Not verified (Android fails such a signer too).
    Unsupported,
}

/// Digest of `data` with `h`.
pub fn digest(h: Hash, data: &[u8]) -> Vec<u8> {
    match h {
        Hash::Md5 => Md5::digest(data).to_vec(),
        Hash::Sha1 => Sha1::digest(data).to_vec(),
        Hash::Sha224 => sha2::Sha224::digest(data).to_vec(),
        Hash::Sha256 => Sha256::digest(data).to_vec(),
        Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
        Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
    }
}

/// MD5, SHA-1 and SHA-256 of the DER certificate.
pub fn signer_of(der: &[u8]) -> Signer {
    Signer {
        md5: Some(Md5::digest(der).into()),
        sha1: Some(Sha1::digest(der).into()),
        sha256: Some(Sha256::digest(der).into()),
    }
}

/// Parses a certificate without decoding the contents of its extensions: what `Memo` and
/// `cert_info` read (key, names) is outside them, and x509-parser accepts or rejects the same
/// certificates either way (a deep-parse failure only marks that extension `ParseError`).
fn parse_shallow(der: &[u8]) -> Option<X509Certificate<'_>> {
    let mut p = X509CertificateParser::new().with_deep_parse_extensions(false);
    p.parse(der).ok().map(|(_, c)| c)
}

/// `CertInfo` for DER bytes; names are empty when the certificate does not parse.
pub fn cert_info(der: &[u8]) -> CertInfo {
    let names = parse_shallow(der).map(|c| (name_string(c.subject()), name_string(c.issuer())));
    info_with(der, names)
}

fn info_with(der: &[u8], names: Option<(String, String)>) -> CertInfo {
    let (subject, issuer) = names.unwrap_or_default();
    CertInfo {
        signer: signer_of(der),
        subject,
        issuer,
        serial_hex: issuer_serial(der)
            .map(|(_, serial)| hex::encode(ber::strip_int(serial)))
            .unwrap_or_default(),
    }
}

/// The certificates one inspection meets, each parsed with x509-parser at most once (the
/// same certificate usually signs v1, v2 and v3, heads the lineage and is the accepted
/// signer) and fingerprinted at most once; and the signature checks it has made, bounded by
/// `MAX_SIGNATURE_CHECKS`. Lives inside one `inspect_*` call: nothing is kept between
/// packages.
#[derive(Default)]
pub struct Memo {
    seen: Vec<Seen>,
    checks: usize,
}

/// Signature checks one package may cost. A real APK makes a few dozen at most (ten signers
/// per scheme, two signatures each, a short rotation lineage, one v1 SignerInfo per block);
/// beyond this every check fails, so a package stuffed with thousands of SignerInfos or
/// lineage nodes over slow keys (RSA-16384, DSA-3072: milliseconds each) is refused in bounded
/// time instead of costing seconds of CPU.
pub const MAX_SIGNATURE_CHECKS: usize = 256;

struct Seen {
    der: Vec<u8>,
    /// SubjectPublicKeyInfo and (subject, issuer); None when x509-parser rejects the DER.
    parsed: Option<(Vec<u8>, (String, String))>,
    info: Option<CertInfo>,
}

impl Memo {
    fn seen(&mut self, der: &[u8]) -> &mut Seen {
        let at = match self.seen.iter().position(|s| s.der == der) {
            Some(at) => at,
            None => {
                let parsed = parse_shallow(der).map(|c| {
                    let names = (name_string(c.subject()), name_string(c.issuer()));
                    (c.public_key().raw.to_vec(), names)
                });
                self.seen.push(Seen {
                    der: der.to_vec(),
                    parsed,
                    info: None,
                });
                self.seen.len() - 1
            }
        };
        &mut self.seen[at]
    }

    /// The DER SubjectPublicKeyInfo of a certificate; None when x509-parser rejects it.
    pub fn spki(&mut self, der: &[u8]) -> Option<&[u8]> {
        self.seen(der).parsed.as_ref().map(|(k, _)| k.as_slice())
    }

    /// Counts one signature check; false once `MAX_SIGNATURE_CHECKS` have been made (the
    /// check must then fail).
    pub fn spend_check(&mut self) -> bool {
        self.checks += 1;
        self.checks <= MAX_SIGNATURE_CHECKS
    }

    /// The same as `cert_info(der)`.
    pub fn info(&mut self, der: &[u8]) -> CertInfo {
        let s = self.seen(der);
        if s.info.is_none() {
            s.info = Some(info_with(der, s.parsed.as_ref().map(|(_, n)| n.clone())));
        }
        s.info.clone().unwrap_or_else(|| cert_info(der))
    }
}

fn name_string(n: &x509_parser::x509::X509Name<'_>) -> String {
    let mut out = String::new();
    for attr in n.iter_attributes() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        match short_name(attr.attr_type().as_bytes()) {
            Some(key) => out.push_str(key),
            None => out.push_str(&attr.attr_type().to_id_string()),
        }
        out.push('=');
        match attr.as_str() {
            Ok(s) => out.push_str(s),
            Err(_) => out.push_str(&String::from_utf8_lossy(attr.attr_value().data)),
        }
    }
    out
}

/// RFC 4514 / keytool short names of common attribute types, by DER OID content.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    const UID: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01];
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "SERIALNUMBER",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "STREET",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        UID => "UID",
        DC => "DC",
        EMAIL => "EMAILADDRESS",
        _ => return None,
    })
}

/// The raw issuer Name (full TLV) and serial INTEGER content of a certificate, via the BER
/// reader so that matching works even for certificates x509-parser rejects.
pub fn issuer_serial(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (cert, _) = ber::expect(der, ber::SEQUENCE)?;
    let (tbs, _) = ber::expect(cert.content, ber::SEQUENCE)?;
    let mut it = ber::children(tbs.content).peekable();
    if it.peek()?.tag == 0xa0 {
        it.next();
    }
    let serial = it.next().filter(|t| t.tag == ber::INTEGER)?;
    let _sig_alg = it.next()?;
    let issuer = it.next().filter(|t| t.tag == ber::SEQUENCE)?;
    Some((issuer.raw, serial.content))
}

/// The subjectKeyIdentifier extension value of a certificate.
pub fn subject_key_id(der: &[u8]) -> Option<Vec<u8>> {
    use x509_parser::extensions::ParsedExtension;
    let (_, c) = X509Certificate::from_der(der).ok()?;
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

/// The DER SubjectPublicKeyInfo of a certificate (what `Memo::spki` keeps).
#[cfg(test)]
pub fn spki_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    Some(c.public_key().raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (Vec<u8>, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["x.example".into()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.der().to_vec(), key)
    }

    #[test]
    fn fingerprints_names_and_serial() {
        let (der, _) = self_signed();
        let info = cert_info(&der);
        assert_eq!(
            info.signer.sha256.unwrap().to_vec(),
            digest(Hash::Sha256, &der)
        );
        assert!(info.subject.contains("CN="), "{}", info.subject);
        assert!(!info.serial_hex.is_empty());
        assert!(issuer_serial(&der).is_some());
        assert!(cert_info(b"garbage").subject.is_empty());
        let mut memo = Memo::default();
        for _ in 0..2 {
            assert_eq!(memo.info(&der), info);
            assert_eq!(memo.spki(&der).map(<[u8]>::to_vec), spki_of(&der));
            assert_eq!(memo.info(b"garbage"), cert_info(b"garbage"));
            assert_eq!(memo.spki(b"garbage"), None);
        }
    }

    #[test]
    fn signature_checks_are_bounded_per_inspection() {
        let mut memo = Memo::default();
        assert!((0..MAX_SIGNATURE_CHECKS).all(|_| memo.spend_check()));
        assert!(!memo.spend_check());
        assert!(Memo::default().spend_check());
    }
}
