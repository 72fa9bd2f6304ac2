//! Every algorithm path of `sigverify`: a key made here signs, the signature verifies, a
//! tampered message or signature is `Bad`, and what is outside the table is `Unsupported`.

use std::sync::OnceLock;

use p256::ecdsa::signature::hazmat::{PrehashSigner, RandomizedPrehashSigner};
use rand::rngs::OsRng;

use super::*;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn uint(v: &[u8]) -> Vec<u8> {
    let v = ber::strip_int(v);
    let mut c = Vec::with_capacity(v.len() + 1);
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        c.push(0);
    }
    c.extend_from_slice(v);
    tlv(ber::INTEGER, &c)
}

/// SubjectPublicKeyInfo from an algorithm OID, its parameters (DER) and the key bits.
fn spki_der(oid: &[u8], params: &[u8], key: &[u8]) -> Vec<u8> {
    let alg = tlv(
        ber::SEQUENCE,
        &[tlv(ber::OID, oid), params.to_vec()].concat(),
    );
    let bits = tlv(0x03, &[&[0u8][..], key].concat());
    tlv(ber::SEQUENCE, &[alg, bits].concat())
}

const ALL: [Hash; 6] = [
    Hash::Md5,
    Hash::Sha1,
    Hash::Sha224,
    Hash::Sha256,
    Hash::Sha384,
    Hash::Sha512,
];

/// Good for the message, Bad for another message and for a flipped signature byte.
fn assert_verifies(spki: &[u8], scheme: Scheme, h: Hash, sig: &[u8]) {
    assert_eq!(
        verify(spki, scheme, h, b"message", sig),
        Verdict::Good,
        "{h:?}"
    );
    assert_eq!(
        verify(spki, scheme, h, b"messagf", sig),
        Verdict::Bad,
        "{h:?}"
    );
    let mut flipped = sig.to_vec();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    assert_eq!(
        verify(spki, scheme, h, b"message", &flipped),
        Verdict::Bad,
        "{h:?}"
    );
}

fn rsa_1024() -> &'static (rsa::RsaPrivateKey, Vec<u8>) {
    static KEY: OnceLock<(rsa::RsaPrivateKey, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
        let public = rsa::traits::PublicKeyParts::n(&key).to_bytes_be();
        let e = rsa::traits::PublicKeyParts::e(&key).to_bytes_be();
        let body = tlv(ber::SEQUENCE, &[uint(&public), uint(&e)].concat());
        let spki = spki_der(OID_RSA, &[0x05, 0x00], &body);
        (key, spki)
    })
}

#[test]
fn rsa_pkcs1_every_hash_at_1024_bits() {
    // SHA-1/SHA-256/SHA-512 go through ring, MD5/SHA-224/SHA-384 (ring: 2048+) through `rsa`.
    let (key, spki) = rsa_1024();
    for h in ALL {
        let sig = key.sign(pkcs1_scheme(h), &digest(h, b"message")).unwrap();
        assert_verifies(spki, Scheme::ByKey, h, &sig);
        assert_verifies(spki, Scheme::RsaPkcs1, h, &sig);
        assert_eq!(
            verify(spki, Scheme::RsaPss, h, b"message", &sig),
            Verdict::Bad
        );
    }
    assert!(ring_rsa(1024, false, Hash::Sha384).is_none());
    assert!(ring_rsa(1024, false, Hash::Sha256).is_some());
}

#[test]
fn rsa_pkcs1_reencoding_with_other_exponents_and_lengths() {
    // Exponents 3 and 17 exercise the square-and-multiply's other bit patterns; 1032 bits is
    // a modulus that is not a whole number of 64-bit words.
    for (bits, exp) in [(1024, 3u64), (1032, 17), (768, 65537)] {
        let e = rsa::BigUint::from(exp);
        let key = rsa::RsaPrivateKey::new_with_exp(&mut OsRng, bits, &e).unwrap();
        let n = rsa::traits::PublicKeyParts::n(&key).clone();
        let hashed = digest(Hash::Sha224, b"message");
        let sig = key.sign(pkcs1_scheme(Hash::Sha224), &hashed).unwrap();
        assert!(pkcs1_verify(
            &n,
            &e,
            &hashed,
            pkcs1_scheme(Hash::Sha224),
            &sig
        ));
        let other = digest(Hash::Sha224, b"messagf");
        assert!(!pkcs1_verify(
            &n,
            &e,
            &other,
            pkcs1_scheme(Hash::Sha224),
            &sig
        ));
        // The same digest under another DigestInfo, a short signature, and s >= n fail.
        let sha256 = pkcs1_scheme(Hash::Sha256);
        assert!(!pkcs1_verify(&n, &e, &hashed, sha256, &sig));
        assert!(!pkcs1_verify(
            &n,
            &e,
            &hashed,
            pkcs1_scheme(Hash::Sha224),
            &sig[1..]
        ));
        let too_big = vec![0xff; sig.len()];
        assert!(!pkcs1_verify(
            &n,
            &e,
            &hashed,
            pkcs1_scheme(Hash::Sha224),
            &too_big
        ));
    }
}

#[test]
fn rsa_pss_below_2048_bits() {
    let (key, spki) = rsa_1024();
    for h in [Hash::Sha256, Hash::Sha384] {
        let sig = key
            .sign_with_rng(&mut OsRng, pss_scheme(h), &digest(h, b"message"))
            .unwrap();
        assert_verifies(spki, Scheme::RsaPss, h, &sig);
        assert_eq!(
            verify(spki, Scheme::RsaPkcs1, h, b"message", &sig),
            Verdict::Bad
        );
    }
}

#[test]
fn rsa_sizes_outside_the_table_are_unsupported() {
    // A 16392-bit modulus (above BoringSSL's 16384) and a 504-bit one: refused before any
    // arithmetic.
    for n_len in [2049, 63] {
        let mut n = vec![0xc5; n_len];
        n[n_len - 1] |= 1;
        let body = tlv(ber::SEQUENCE, &[uint(&n), uint(&[1, 0, 1])].concat());
        let spki = spki_der(OID_RSA, &[0x05, 0x00], &body);
        let sig = vec![1; n_len];
        assert_eq!(
            verify(&spki, Scheme::ByKey, Hash::Sha256, b"m", &sig),
            Verdict::Unsupported
        );
    }
    assert_eq!(bit_len(&[0, 0, 0x01, 0xff]), 9);
}

fn ec_spki(curve: &[u8], point: &[u8]) -> Vec<u8> {
    spki_der(OID_EC, &tlv(ber::OID, curve), point)
}

#[test]
fn ecdsa_p256_every_hash() {
    // SHA-256/SHA-384 through ring, the rest as prehashes through `p256`.
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let spki = ec_spki(P256, point.as_bytes());
    for h in ALL {
        let z = left_pad(&digest(h, b"message"), 32);
        let sig: p256::ecdsa::Signature = key.sign_prehash(&z).unwrap();
        assert_verifies(&spki, Scheme::Ecdsa, h, sig.to_der().as_bytes());
    }
}

#[test]
fn ecdsa_p384_every_hash() {
    let key = p384::ecdsa::SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let spki = ec_spki(P384, point.as_bytes());
    for h in ALL {
        let z = left_pad(&digest(h, b"message"), 48);
        let sig: p384::ecdsa::Signature = key.sign_prehash(&z).unwrap();
        assert_verifies(&spki, Scheme::ByKey, h, sig.to_der().as_bytes());
    }
}

#[test]
fn ecdsa_p521_every_hash() {
    let key = p521::ecdsa::SigningKey::random(&mut OsRng);
    let point = p521::ecdsa::VerifyingKey::from(&key).to_encoded_point(false);
    let spki = ec_spki(P521, point.as_bytes());
    for h in ALL {
        let z = left_pad(&digest(h, b"message"), 66);
        let sig: p521::ecdsa::Signature = key.sign_prehash_with_rng(&mut OsRng, &z).unwrap();
        assert_verifies(&spki, Scheme::Ecdsa, h, sig.to_der().as_bytes());
    }
}

#[test]
fn ecdsa_keys_outside_the_table_are_unsupported() {
    let key = p256::ecdsa::SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let sig: p256::ecdsa::Signature = key.sign_prehash(&digest(Hash::Sha256, b"m")).unwrap();
    let der = sig.to_der();
    let secp256k1 = [0x2b, 0x81, 0x04, 0x00, 0x0a];
    for spki in [
        ec_spki(&secp256k1, point.as_bytes()),
        spki_der(OID_EC, &[0x05, 0x00], point.as_bytes()),
        ec_spki(P521, &[4, 1, 2, 3]),
    ] {
        assert_eq!(
            verify(&spki, Scheme::ByKey, Hash::Sha1, b"m", der.as_bytes()),
            Verdict::Unsupported
        );
    }
    let spki = ec_spki(P256, point.as_bytes());
    for scheme in [Scheme::RsaPkcs1, Scheme::RsaPss, Scheme::Dsa] {
        let v = verify(&spki, scheme, Hash::Sha256, b"m", der.as_bytes());
        assert_eq!(v, Verdict::Unsupported);
    }
    let v = verify(&spki, Scheme::Ecdsa, Hash::Sha1, b"m", b"\x30\x00");
    assert_eq!(v, Verdict::Bad);
}

fn dsa_1024() -> &'static (dsa::SigningKey, Vec<u8>) {
    static KEY: OnceLock<(dsa::SigningKey, Vec<u8>)> = OnceLock::new();
    KEY.get_or_init(|| {
        // The size old APKs use (v1-only-with-dsa-*-1024 in the apksig corpus), and the one
        // whose parameters a debug build generates in seconds.
        #[allow(deprecated)]
        let size = dsa::KeySize::DSA_1024_160;
        let components = dsa::Components::generate(&mut OsRng, size);
        let key = dsa::SigningKey::generate(&mut OsRng, components);
        let c = key.verifying_key().components();
        let params = [uint(&c.p().to_bytes_be()), uint(&c.q().to_bytes_be())].concat();
        let params = tlv(
            ber::SEQUENCE,
            &[params, uint(&c.g().to_bytes_be())].concat(),
        );
        let y = uint(&key.verifying_key().y().to_bytes_be());
        let spki = spki_der(OID_DSA, &params, &y);
        (key, spki)
    })
}

fn dsa_der(sig: &dsa::Signature) -> Vec<u8> {
    let body = [uint(&sig.r().to_bytes_be()), uint(&sig.s().to_bytes_be())].concat();
    tlv(ber::SEQUENCE, &body)
}

#[test]
fn dsa_every_hash() {
    // Hashes longer than q (160 bits) are truncated to q's length.
    let (key, spki) = dsa_1024();
    for h in ALL {
        let sig: dsa::Signature = key.sign_prehash(&digest(h, b"message")).unwrap();
        assert_verifies(spki, Scheme::Dsa, h, &dsa_der(&sig));
        assert_verifies(spki, Scheme::ByKey, h, &dsa_der(&sig));
        assert_eq!(
            verify(spki, Scheme::Ecdsa, h, b"message", &dsa_der(&sig)),
            Verdict::Unsupported
        );
    }
}

#[test]
fn dsa_malformed_signatures_and_oversized_keys() {
    let (key, spki) = dsa_1024();
    let sig: dsa::Signature = key.sign_prehash(&digest(Hash::Sha1, b"m")).unwrap();
    let good = dsa_der(&sig);
    assert_eq!(
        verify(spki, Scheme::Dsa, Hash::Sha1, b"m", &good),
        Verdict::Good
    );
    let trailing = [good.clone(), vec![0]].concat();
    let r = uint(&sig.r().to_bytes_be());
    let three = tlv(ber::SEQUENCE, &[r.clone(), r.clone(), r].concat());
    let negative = tlv(ber::SEQUENCE, &[tlv(2, &[0x80]), tlv(2, &[1])].concat());
    for bad in [trailing, three, negative, b"\x30\x00".to_vec()] {
        let v = verify(spki, Scheme::Dsa, Hash::Sha1, b"m", &bad);
        assert_eq!(v, Verdict::Bad);
    }
    // p of 4096 bits: refused before the key's validity check.
    let p = vec![0xff; 512];
    let q = vec![0xff; 20];
    let params = tlv(ber::SEQUENCE, &[uint(&p), uint(&q), uint(&[2])].concat());
    let big = spki_der(OID_DSA, &params, &uint(&[3]));
    let v = verify(&big, Scheme::Dsa, Hash::Sha1, b"m", &good);
    assert_eq!(v, Verdict::Unsupported);
}

#[test]
fn unknown_and_malformed_keys_are_unsupported() {
    let ed25519 = [0x2b, 0x65, 0x70];
    for spki in [
        b"junk".to_vec(),
        spki_der(&ed25519, &[], &[1; 32]),
        spki_der(OID_RSA, &[0x05, 0x00], b"not a sequence"),
    ] {
        for scheme in [Scheme::ByKey, Scheme::RsaPkcs1, Scheme::Ecdsa, Scheme::Dsa] {
            let v = verify(&spki, scheme, Hash::Sha256, b"m", b"s");
            assert_eq!(v, Verdict::Unsupported);
        }
    }
}

#[test]
fn ring_path_p256_with_a_certificate_key() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec!["x.example".into()]).unwrap();
    let der = params.self_signed(&key).unwrap().der().to_vec();
    let spki = super::super::cert::spki_of(&der).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
    let kp = ring::signature::EcdsaKeyPair::from_pkcs8(alg, &key.serialize_der(), &rng).unwrap();
    let sig = kp.sign(&rng, b"message").unwrap();
    assert_verifies(&spki, Scheme::ByKey, Hash::Sha256, sig.as_ref());
    // The same signature under another hash is simply bad, not unsupported.
    let v = verify(&spki, Scheme::ByKey, Hash::Sha1, b"message", sig.as_ref());
    assert_eq!(v, Verdict::Bad);
}
