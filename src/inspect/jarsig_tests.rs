//! The v1 algorithm table and signer certificate rules of `jarsig`.

use super::*;

const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const MD5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05];

fn sha2(n: u8) -> Vec<u8> {
    [&[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02][..], &[n]].concat()
}

fn oid(prefix: &[u8], tail: &[u8]) -> Vec<u8> {
    [prefix, tail].concat()
}

#[test]
fn bare_key_oids_take_the_digest_algorithm() {
    let rsa = oid(OID_PKCS1, &[1]);
    assert_eq!(algorithm(MD5, &rsa), Some((Scheme::RsaPkcs1, Hash::Md5)));
    assert_eq!(
        algorithm(&sha2(4), &rsa),
        Some((Scheme::RsaPkcs1, Hash::Sha224))
    );
    assert_eq!(
        algorithm(&sha2(3), OID_EC_KEY),
        Some((Scheme::Ecdsa, Hash::Sha512))
    );
    let dsa = oid(OID_X957, &[1]);
    assert_eq!(algorithm(SHA1, &dsa), Some((Scheme::Dsa, Hash::Sha1)));
    assert_eq!(algorithm(&sha2(1), &dsa), Some((Scheme::Dsa, Hash::Sha256)));
    // DSA with SHA-384/SHA-512: supported on no API level from 23 up.
    assert_eq!(algorithm(&sha2(2), &dsa), None);
    assert_eq!(algorithm(&sha2(3), &dsa), None);
    // MD5 with DSA or ECDSA never verifies on Android.
    assert_eq!(algorithm(MD5, &dsa), None);
    assert_eq!(algorithm(MD5, OID_EC_KEY), None);
}

#[test]
fn combined_oids_must_name_the_digest_algorithm() {
    // sha*WithRSAEncryption used as the SignerInfo signature algorithm, as rsaEncryption.
    for (n, d, h) in [
        (4, MD5.to_vec(), Hash::Md5),
        (5, SHA1.to_vec(), Hash::Sha1),
        (11, sha2(1), Hash::Sha256),
        (12, sha2(2), Hash::Sha384),
        (13, sha2(3), Hash::Sha512),
        (14, sha2(4), Hash::Sha224),
    ] {
        let sig = oid(OID_PKCS1, &[n]);
        assert_eq!(algorithm(&d, &sig), Some((Scheme::RsaPkcs1, h)));
        // A different digest with a combined OID is supported only on API 21-23.
        let other = if h == Hash::Sha1 {
            sha2(1)
        } else {
            SHA1.to_vec()
        };
        assert_eq!(algorithm(&other, &sig), None);
    }
    assert_eq!(
        algorithm(SHA1, &oid(OID_X957, &[3])),
        Some((Scheme::Dsa, Hash::Sha1))
    );
    assert_eq!(
        algorithm(&sha2(4), &oid(OID_NIST_DSA, &[1])),
        Some((Scheme::Dsa, Hash::Sha224))
    );
    assert_eq!(algorithm(&sha2(2), &oid(OID_NIST_DSA, &[3])), None);
    assert_eq!(algorithm(&sha2(3), &oid(OID_NIST_DSA, &[4])), None);
    assert_eq!(
        algorithm(SHA1, &oid(OID_ECDSA, &[1])),
        Some((Scheme::Ecdsa, Hash::Sha1))
    );
    assert_eq!(
        algorithm(&sha2(2), &oid(OID_ECDSA, &[3, 3])),
        Some((Scheme::Ecdsa, Hash::Sha384))
    );
    assert_eq!(algorithm(&sha2(1), &oid(OID_ECDSA, &[3, 3])), None);
    // RSA-PSS (1.2.840.113549.1.1.10) and unknown digests: not in apksig's table.
    assert_eq!(algorithm(&sha2(1), &oid(OID_PKCS1, &[10])), None);
    assert_eq!(algorithm(&sha2(9), &oid(OID_PKCS1, &[1])), None);
}

fn cert_with(configure: impl FnOnce(&mut rcgen::CertificateParams)) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["x.example".into()]).unwrap();
    configure(&mut params);
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn key_usage_must_allow_signatures() {
    use rcgen::KeyUsagePurpose as K;
    assert!(usable_for_signing(&cert_with(|_| {})));
    for (usages, ok) in [
        (vec![K::DigitalSignature], true),
        (vec![K::ContentCommitment, K::KeyCertSign], true),
        (vec![K::KeyEncipherment], false),
        (vec![K::KeyCertSign, K::CrlSign], false),
    ] {
        let der = cert_with(|p| p.key_usages = usages.clone());
        assert_eq!(usable_for_signing(&der), ok, "{usages:?}");
    }
}

#[test]
fn unknown_critical_extensions_are_refused() {
    let ext = |critical: bool| {
        cert_with(|p| {
            let mut e = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
            e.set_criticality(critical);
            p.custom_extensions.push(e);
        })
    };
    assert!(usable_for_signing(&ext(false)));
    assert!(!usable_for_signing(&ext(true)));
    // A critical extension OpenJDK knows (basicConstraints) is fine.
    let ca = cert_with(|p| p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained));
    assert!(usable_for_signing(&ca));
}

#[test]
fn blocks_without_signed_data_have_no_signer() {
    let b = check(
        None,
        Some(b"Signature-Version: 1.0\n"),
        &mut Memo::default(),
    );
    assert!(b.cert.is_none() && !b.verified);
}
