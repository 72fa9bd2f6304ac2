//! X.509 certificates: fingerprints, display names, issuer/serial identity and signature checks.
//!
//! Owns: turning DER certificate bytes into `CertInfo`, and verifying a signature with the
//! certificate's (or a raw SubjectPublicKeyInfo's) key through `ring`.
//! Must not: trust or chain certificates (Android and iOS app signing certs are self-asserted;
//! identity is the fingerprint), or fail on names with unprintable characters.
//! Invariant: fingerprints are always over the exact input bytes; `Verdict::Unsupported` is
//! returned, never `Bad`, when the algorithm or key size is outside what `ring` implements.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

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

/// Outcome of a signature check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Good,
    Bad,
    /// Algorithm, curve or key size not implemented here (e.g. DSA): not checked.
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

/// `CertInfo` for DER bytes; names are empty when the certificate does not parse.
pub fn cert_info(der: &[u8]) -> CertInfo {
    let mut info = CertInfo {
        signer: signer_of(der),
        subject: String::new(),
        issuer: String::new(),
        serial_hex: String::new(),
    };
    if let Some((_, serial)) = issuer_serial(der) {
        info.serial_hex = hex::encode(ber::strip_int(serial));
    }
    if let Ok((_, c)) = X509Certificate::from_der(der) {
        info.subject = name_string(c.subject());
        info.issuer = name_string(c.issuer());
    }
    info
}

fn name_string(n: &x509_parser::x509::X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for attr in n.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        let key = short_name(&oid).map_or(oid.clone(), str::to_string);
        let val = match attr.as_str() {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(attr.attr_value().data).into_owned(),
        };
        parts.push(format!("{key}={val}"));
    }
    parts.join(", ")
}

/// RFC 4514 / keytool short names of common attribute types.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "EMAILADDRESS",
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

/// The DER SubjectPublicKeyInfo of a certificate.
pub fn spki_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    Some(c.public_key().raw.to_vec())
}

/// Verifies `sig` over `msg` with the key in DER SubjectPublicKeyInfo `spki`.
pub fn verify(spki: &[u8], scheme: Scheme, h: Hash, msg: &[u8], sig: &[u8]) -> Verdict {
    let Ok((_, info)) = SubjectPublicKeyInfo::from_der(spki) else {
        return Verdict::Bad;
    };
    let alg = match ring_alg(&info, scheme, h) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let key = info.subject_public_key.data.as_ref();
    match ring::signature::UnparsedPublicKey::new(alg, key).verify(msg, sig) {
        Ok(()) => Verdict::Good,
        Err(_) => Verdict::Bad,
    }
}

type Alg = &'static dyn ring::signature::VerificationAlgorithm;

/// The ring algorithm for key + scheme + hash; `Err(Bad)` when the key type contradicts the
/// scheme, `Err(Unsupported)` when ring has no such algorithm.
fn ring_alg(info: &SubjectPublicKeyInfo<'_>, scheme: Scheme, h: Hash) -> Result<Alg, Verdict> {
    use ring::signature as s;
    match info.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            let big = bits >= 2048;
            if !(1024..=8192).contains(&bits) {
                return Err(Verdict::Unsupported);
            }
            Ok(match (scheme, h) {
                (Scheme::RsaPss, Hash::Sha256) if big => &s::RSA_PSS_2048_8192_SHA256,
                (Scheme::RsaPss, Hash::Sha512) if big => &s::RSA_PSS_2048_8192_SHA512,
                (Scheme::RsaPss, _) => return Err(Verdict::Unsupported),
                (Scheme::ByKey | Scheme::RsaPkcs1, h) => match h {
                    Hash::Sha1 => &s::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                    Hash::Sha256 => &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    Hash::Sha384 if big => &s::RSA_PKCS1_2048_8192_SHA384,
                    Hash::Sha512 => &s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                    _ => return Err(Verdict::Unsupported),
                },
                _ => return Err(Verdict::Bad),
            })
        }
        Ok(PublicKey::EC(_)) => match scheme {
            Scheme::ByKey | Scheme::Ecdsa => ec_alg(info, h).ok_or(Verdict::Unsupported),
            _ => Err(Verdict::Bad),
        },
        Ok(PublicKey::DSA(_)) => match scheme {
            Scheme::ByKey | Scheme::Dsa => Err(Verdict::Unsupported),
            _ => Err(Verdict::Bad),
        },
        _ => Err(Verdict::Unsupported),
    }
}

fn ec_alg(info: &SubjectPublicKeyInfo<'_>, h: Hash) -> Option<Alg> {
    use ring::signature as s;
    let curve = info
        .algorithm
        .parameters
        .as_ref()?
        .as_oid()
        .ok()?
        .to_id_string();
    Some(match (curve.as_str(), h) {
        ("1.2.840.10045.3.1.7", Hash::Sha256) => &s::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.3.1.7", Hash::Sha384) => &s::ECDSA_P256_SHA384_ASN1,
        ("1.3.132.0.34", Hash::Sha256) => &s::ECDSA_P384_SHA256_ASN1,
        ("1.3.132.0.34", Hash::Sha384) => &s::ECDSA_P384_SHA384_ASN1,
        _ => return None,
    })
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
    }

    #[test]
    fn ecdsa_signature_verifies_and_tampering_fails() {
        let (der, key) = self_signed();
        let spki = spki_of(&der).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = key.serialize_der();
        let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        let kp = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &pkcs8, &rng).unwrap();
        let sig = kp.sign(&rng, b"message").unwrap();
        assert_eq!(
            verify(&spki, Scheme::ByKey, Hash::Sha256, b"message", sig.as_ref()),
            Verdict::Good
        );
        assert_eq!(
            verify(&spki, Scheme::ByKey, Hash::Sha256, b"messagf", sig.as_ref()),
            Verdict::Bad
        );
        assert_eq!(
            verify(&spki, Scheme::ByKey, Hash::Sha1, b"message", sig.as_ref()),
            Verdict::Unsupported
        );
        assert_eq!(
            verify(b"junk", Scheme::ByKey, Hash::Sha256, b"m", b"s"),
            Verdict::Bad
        );
    }
}
