//! Signature verification by algorithm: which implementation checks a key, scheme and hash.
//!
//! Owns: reading a DER SubjectPublicKeyInfo (RSA, DSA, EC on P-256/P-384/P-521) and sending
//! each combination to `ring` where ring implements it — RSA PKCS#1 v1.5 1024–8192 bits with
//! SHA-1/SHA-256/SHA-512 (SHA-384 from 2048 bits), RSA-PSS 2048–8192 bits, ECDSA P-256/P-384
//! with SHA-256/SHA-384, the paths nearly every APK takes — and to the RustCrypto crates for
//! the rest Android verifies: RSA of 512–16384 bits with any hash (PKCS#1 v1.5 by re-encoding
//! over the `rsa` crate's big integers, PSS through `rsa`), `dsa` (p up to 3072 bits),
//! `p256`/`p384` with other hashes and `p521` (prehash verification).
//! Must not: report `Good` for a combination it did not check, do work that grows without
//! bound with attacker-chosen key sizes (sizes are checked before any arithmetic), or panic.
//! Invariant: `Verdict::Unsupported` is returned for a key, curve, size or scheme outside the
//! table above, and callers count only `Good` as verified.

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pss::Pss;
use rsa::traits::SignatureScheme;

use super::ber;
use super::cert::{digest, Hash, Scheme, Verdict};

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// RSA moduli verified outside ring: Android's BoringSSL verifies up to 16384 bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 512..=16384;
/// DSA primes: FIPS 186 sizes up to 3072 bits (what Java, and so apksig, verifies).
const DSA_P_MAX_BITS: usize = 3072;

/// A SubjectPublicKeyInfo's parts, borrowed from its DER.
struct Spki<'a> {
    alg: &'a [u8],
    params: Option<ber::Tlv<'a>>,
    /// The subjectPublicKey BIT STRING's bits (unused-bits octet removed).
    key: &'a [u8],
}

fn spki(der: &[u8]) -> Option<Spki<'_>> {
    let (seq, _) = ber::expect(der, ber::SEQUENCE)?;
    let mut it = ber::children(seq.content);
    let alg = it.next().filter(|t| t.tag == ber::SEQUENCE)?;
    let bits = it.next().filter(|t| t.tag == 0x03)?;
    let mut a = ber::children(alg.content);
    let oid = a.next().filter(|t| t.tag == ber::OID)?;
    let key = match bits.content.split_first()? {
        (0, key) => key,
        _ => return None,
    };
    Some(Spki {
        alg: oid.content,
        params: a.next(),
        key,
    })
}

/// Verifies `sig` over `msg` with the key in DER SubjectPublicKeyInfo `spki_der`.
pub fn verify(spki_der: &[u8], scheme: Scheme, h: Hash, msg: &[u8], sig: &[u8]) -> Verdict {
    let Some(k) = spki(spki_der) else {
        return Verdict::Unsupported;
    };
    match (k.alg, scheme) {
        (OID_RSA, Scheme::ByKey | Scheme::RsaPkcs1) => rsa_verify(&k, false, h, msg, sig),
        (OID_RSA, Scheme::RsaPss) => rsa_verify(&k, true, h, msg, sig),
        (OID_EC, Scheme::ByKey | Scheme::Ecdsa) => ec_verify(&k, h, msg, sig),
        (OID_DSA, Scheme::ByKey | Scheme::Dsa) => dsa_verify(&k, h, msg, sig),
        _ => Verdict::Unsupported,
    }
}

fn verdict(ok: bool) -> Verdict {
    if ok {
        Verdict::Good
    } else {
        Verdict::Bad
    }
}

type RingAlg = &'static dyn ring::signature::VerificationAlgorithm;

fn ring_verify(alg: RingAlg, key: &[u8], msg: &[u8], sig: &[u8]) -> Verdict {
    verdict(
        ring::signature::UnparsedPublicKey::new(alg, key)
            .verify(msg, sig)
            .is_ok(),
    )
}

/// Significant bits of a big-endian unsigned integer.
fn bit_len(v: &[u8]) -> usize {
    let v = ber::strip_int(v);
    match v.first() {
        Some(&b) => v.len() * 8 - b.leading_zeros() as usize,
        None => 0,
    }
}

/// The two INTEGERs of an RSAPublicKey: (modulus, exponent).
fn rsa_parts(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let (seq, _) = ber::expect(key, ber::SEQUENCE)?;
    let mut it = ber::children(seq.content);
    let n = it.next().filter(|t| t.tag == ber::INTEGER)?;
    let e = it.next().filter(|t| t.tag == ber::INTEGER)?;
    Some((n.content, e.content))
}

fn ring_rsa(bits: usize, pss: bool, h: Hash) -> Option<RingAlg> {
    use ring::signature as s;
    if !(1024..=8192).contains(&bits) {
        return None;
    }
    let big = bits >= 2048;
    Some(match (pss, h) {
        (true, Hash::Sha256) if big => &s::RSA_PSS_2048_8192_SHA256,
        (true, Hash::Sha384) if big => &s::RSA_PSS_2048_8192_SHA384,
        (true, Hash::Sha512) if big => &s::RSA_PSS_2048_8192_SHA512,
        (false, Hash::Sha1) => &s::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
        (false, Hash::Sha256) => &s::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
        (false, Hash::Sha384) if big => &s::RSA_PKCS1_2048_8192_SHA384,
        (false, Hash::Sha512) => &s::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
        _ => return None,
    })
}

fn rsa_verify(k: &Spki<'_>, pss: bool, h: Hash, msg: &[u8], sig: &[u8]) -> Verdict {
    let Some((n, e)) = rsa_parts(k.key) else {
        return Verdict::Unsupported;
    };
    let bits = bit_len(n);
    if let Some(alg) = ring_rsa(bits, pss, h) {
        return ring_verify(alg, k.key, msg, sig);
    }
    if !RSA_BITS.contains(&bits) || !RSA_EXPONENT_BITS.contains(&bit_len(e)) {
        return Verdict::Unsupported;
    }
    let (n, e) = (
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(e),
    );
    let hashed = digest(h, msg);
    if !pss {
        return verdict(pkcs1_verify(&n, &e, &hashed, pkcs1_scheme(h), sig));
    }
    let Ok(key) = rsa::RsaPublicKey::new_with_max_size(n, e, *RSA_BITS.end()) else {
        return Verdict::Unsupported;
    };
    verdict(pss_scheme(h).verify(&key, &hashed, sig).is_ok())
}

/// Public exponents accepted outside ring: 2 to 2^33 − 1 (the `rsa` crate's range).
const RSA_EXPONENT_BITS: std::ops::RangeInclusive<usize> = 2..=33;

/// RSA PKCS#1 v1.5 verification by re-encoding (RFC 8017 §8.2.2): `sig^e mod n` must equal
/// `00 01 FF…FF 00 ‖ DigestInfo prefix ‖ hash`, with a signature as long as the modulus.
fn pkcs1_verify(
    n: &rsa::BigUint,
    e: &rsa::BigUint,
    hashed: &[u8],
    scheme: Pkcs1v15Sign,
    sig: &[u8],
) -> bool {
    let k = n.bits().div_ceil(8);
    let t_len = scheme.prefix.len() + hashed.len();
    let s = rsa::BigUint::from_bytes_be(sig);
    if sig.len() != k || &s >= n || k < t_len + 11 {
        return false;
    }
    let mut expected = vec![0xff; k];
    expected[0] = 0;
    expected[1] = 1;
    expected[k - t_len - 1] = 0;
    expected[k - t_len..k - hashed.len()].copy_from_slice(&scheme.prefix);
    expected[k - hashed.len()..].copy_from_slice(hashed);
    // The integer's big-endian bytes lack the encoding's leading zero octet.
    expected.get(1..) == Some(&public_op(&s, e, n).to_bytes_be()[..])
}

/// `s^e mod n` (`s < n`, `e ≥ 2`) by square-and-multiply over the exponent's bits: for a
/// public exponent that is some 17 multiplications, where the `rsa` crate's windowed
/// Montgomery `modpow` makes about a hundred for any one-word exponent (each several hundred
/// microseconds at 16384 bits).
fn public_op(s: &rsa::BigUint, e: &rsa::BigUint, n: &rsa::BigUint) -> rsa::BigUint {
    let bits: Vec<bool> = e
        .to_bytes_be()
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
        .skip_while(|&bit| !bit)
        .collect();
    let mut acc = s.clone();
    for &bit in bits.iter().skip(1) {
        acc = &acc * &acc % n;
        if bit {
            acc = acc * s % n;
        }
    }
    acc
}

fn pkcs1_scheme(h: Hash) -> Pkcs1v15Sign {
    match h {
        Hash::Md5 => Pkcs1v15Sign::new::<md5::Md5>(),
        Hash::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
        Hash::Sha224 => Pkcs1v15Sign::new::<sha2::Sha224>(),
        Hash::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
    }
}

/// PSS with MGF1 of the same hash and a salt as long as the digest (APK Signature Scheme v2).
fn pss_scheme(h: Hash) -> Pss {
    match h {
        Hash::Md5 => Pss::new::<md5::Md5>(),
        Hash::Sha1 => Pss::new::<sha1::Sha1>(),
        Hash::Sha224 => Pss::new::<sha2::Sha224>(),
        Hash::Sha256 => Pss::new::<sha2::Sha256>(),
        Hash::Sha384 => Pss::new::<sha2::Sha384>(),
        Hash::Sha512 => Pss::new::<sha2::Sha512>(),
    }
}

fn ec_verify(k: &Spki<'_>, h: Hash, msg: &[u8], sig: &[u8]) -> Verdict {
    use ring::signature as s;
    let Some(curve) = k.params.filter(|p| p.tag == ber::OID).map(|p| p.content) else {
        return Verdict::Unsupported;
    };
    let ring_alg: Option<RingAlg> = match (curve, h) {
        (P256, Hash::Sha256) => Some(&s::ECDSA_P256_SHA256_ASN1),
        (P256, Hash::Sha384) => Some(&s::ECDSA_P256_SHA384_ASN1),
        (P384, Hash::Sha256) => Some(&s::ECDSA_P384_SHA256_ASN1),
        (P384, Hash::Sha384) => Some(&s::ECDSA_P384_SHA384_ASN1),
        _ => None,
    };
    if let Some(alg) = ring_alg {
        return ring_verify(alg, k.key, msg, sig);
    }
    let z = digest(h, msg);
    match curve {
        P256 => prehashed(
            p256::ecdsa::VerifyingKey::from_sec1_bytes(k.key).ok(),
            p256::ecdsa::Signature::from_der(sig).ok(),
            &left_pad(&z, 32),
        ),
        P384 => prehashed(
            p384::ecdsa::VerifyingKey::from_sec1_bytes(k.key).ok(),
            p384::ecdsa::Signature::from_der(sig).ok(),
            &left_pad(&z, 48),
        ),
        P521 => prehashed(
            p521::ecdsa::VerifyingKey::from_sec1_bytes(k.key).ok(),
            p521::ecdsa::Signature::from_der(sig).ok(),
            &left_pad(&z, 66),
        ),
        _ => Verdict::Unsupported,
    }
}

/// A digest shorter than the curve's field, zero-extended on the left: the same integer
/// (ECDSA's bits2int), in the length the RustCrypto prehash check accepts. Longer digests
/// are passed as they are (the check keeps their leftmost field-size bytes).
fn left_pad(z: &[u8], field: usize) -> Vec<u8> {
    let mut out = vec![0; field.saturating_sub(z.len())];
    out.extend_from_slice(z);
    out
}

/// A prehash check; a key that does not decode is unusable, a signature that does not is bad.
fn prehashed<K: PrehashVerifier<S>, S>(key: Option<K>, sig: Option<S>, z: &[u8]) -> Verdict {
    match (key, sig) {
        (None, _) => Verdict::Unsupported,
        (Some(_), None) => Verdict::Bad,
        (Some(key), Some(sig)) => verdict(key.verify_prehash(z, &sig).is_ok()),
    }
}

fn dsa_verify(k: &Spki<'_>, h: Hash, msg: &[u8], sig: &[u8]) -> Verdict {
    let Some(key) = dsa_key(k) else {
        return Verdict::Unsupported;
    };
    let Some(sig) = dsa_signature(sig) else {
        return Verdict::Bad;
    };
    verdict(key.verify_prehash(&digest(h, msg), &sig).is_ok())
}

/// The DSA key of an SPKI whose domain parameters have FIPS 186 sizes (p ≤ 3072 bits, q of
/// 160, 224 or 256 bits), checked before the key's own validity check (a modular
/// exponentiation in p).
fn dsa_key(k: &Spki<'_>) -> Option<dsa::VerifyingKey> {
    let params = k.params.filter(|p| p.tag == ber::SEQUENCE)?;
    let mut it = ber::children(params.content);
    let mut int = || {
        it.next()
            .filter(|t| t.tag == ber::INTEGER)
            .map(|t| t.content)
    };
    let (p, q, g) = (int()?, int()?, int()?);
    let (y, _) = ber::expect(k.key, ber::INTEGER)?;
    if bit_len(p) > DSA_P_MAX_BITS || ![160, 224, 256].contains(&bit_len(q)) {
        return None;
    }
    let big = dsa::BigUint::from_bytes_be;
    let components = dsa::Components::from_components(big(p), big(q), big(g)).ok()?;
    dsa::VerifyingKey::from_components(components, big(y.content)).ok()
}

/// A DER `SEQUENCE { r INTEGER, s INTEGER }` DSA signature with non-negative values (a set
/// top bit without a leading zero octet is a negative INTEGER).
fn dsa_signature(sig: &[u8]) -> Option<dsa::Signature> {
    let (seq, rest) = ber::expect(sig, ber::SEQUENCE)?;
    let items: Vec<ber::Tlv<'_>> = ber::children(seq.content).collect();
    let [r, s] = items.as_slice() else {
        return None;
    };
    let unsigned = |t: &ber::Tlv<'_>| {
        t.tag == ber::INTEGER && t.content.first().is_some_and(|b| b & 0x80 == 0)
    };
    if !rest.is_empty() || !unsigned(r) || !unsigned(s) {
        return None;
    }
    let big = dsa::BigUint::from_bytes_be;
    dsa::Signature::from_components(big(r.content), big(s.content)).ok()
}

#[cfg(test)]
#[path = "sigverify_tests.rs"]
mod tests;
