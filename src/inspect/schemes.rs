//! APK Signature Scheme v2 / v3 / v3.1 blocks: signers, certificates, SDK ranges, lineage.
//!
//! Owns: parsing one scheme's value from the signing block and the per-signer checks apksig
//! makes without reading the APK contents: at least one certificate, certificate public key ==
//! signer public key, signature algorithm lists consistent, the signed-data signatures
//! apksig selects (`signatures_to_verify`) verify, v3 SDK range consistent, lineage ends at
//! the signer, v2 stripping protection.
//! Must not: hash the APK contents (the content digests it records are checked by
//! `digest.rs` from `apk.rs` when `Limits::verify_digests` is set).
//! Invariant: `problem == None` means every check above passed; a signature whose algorithm
//! `sigverify` cannot check (`Verdict::Unsupported`) fails like a bad one.

use super::cert::{Hash, Memo, Scheme, Verdict};
use super::sigblock::{lp, lp_items, u32_at};
use super::sigverify;

const ATTR_LINEAGE: u32 = 0x3ba0_6f8c;
const ATTR_STRIPPING: u32 = 0xbeef_f00d;

/// One signer of a v2/v3/v3.1 block.
#[derive(Debug, Default)]
pub struct SchemeSigner {
    /// certificates[0] is the signer; the rest are its chain, as stored.
    pub certs: Vec<Vec<u8>>,
    pub min_sdk: u32,
    pub max_sdk: u32,
    /// Proof-of-rotation lineage, oldest first (v3/v3.1 only).
    pub lineage: Vec<Vec<u8>>,
    /// Scheme ids the v2 stripping-protection attribute says must be present.
    pub required_schemes: Vec<u32>,
    /// The signed content digests: (signature algorithm id, digest).
    pub digests: Vec<(u32, Vec<u8>)>,
    /// Why apksig would reject this signer.
    pub problem: Option<&'static str>,
}

/// A parsed scheme block.
#[derive(Debug, Default)]
pub struct SchemeBlock {
    pub signers: Vec<SchemeSigner>,
    /// Block-level failure (unparseable, no signers, too many signers).
    pub problem: Option<&'static str>,
}

impl SchemeBlock {
    /// True when the block and all its signers pass.
    pub fn valid(&self) -> bool {
        self.problem.is_none() && self.signers.iter().all(|s| s.problem.is_none())
    }
}

/// Parses the value of a v2 (`v3 == false`) or v3/v3.1 pair. With `verify == false` only the
/// structure is read (certificates, SDK range, attributes; no signature or lineage check):
/// for blocks whose verdict is never used (v3.1, which apksigner 31 does not consult).
pub fn parse(
    value: &[u8],
    v3: bool,
    max_signers: usize,
    verify: bool,
    memo: &mut Memo,
) -> SchemeBlock {
    let items = lp(value).and_then(|(signers, _)| lp_items(signers));
    let Some(items) = items else {
        return SchemeBlock {
            signers: Vec::new(),
            problem: Some("malformed signer list"),
        };
    };
    let mut block = SchemeBlock::default();
    if items.is_empty() {
        block.problem = Some("no signers");
    } else if items.len() > max_signers {
        block.problem = Some("too many signers");
        return block;
    }
    for item in items {
        block.signers.push(
            parse_signer(item, v3, verify, memo).unwrap_or_else(|| SchemeSigner {
                problem: Some("malformed signer"),
                ..SchemeSigner::default()
            }),
        );
    }
    block
}

fn parse_signer(b: &[u8], v3: bool, verify: bool, memo: &mut Memo) -> Option<SchemeSigner> {
    let (signed, rest) = lp(b)?;
    let (mut min_sdk, mut max_sdk, mut rest) = (0, u32::MAX, rest);
    if v3 {
        let (a, r) = u32_at(rest)?;
        let (z, r) = u32_at(r)?;
        (min_sdk, max_sdk, rest) = (a, z, r);
    }
    let (sigs, rest) = lp(rest)?;
    let (pubkey, _) = lp(rest)?;
    let (digests, srest) = lp(signed)?;
    let (certs, srest) = lp(srest)?;
    let mut s = SchemeSigner {
        certs: lp_items(certs)?.into_iter().map(<[u8]>::to_vec).collect(),
        min_sdk,
        max_sdk,
        ..SchemeSigner::default()
    };
    let attrs = if v3 {
        let (a, r) = u32_at(srest)?;
        let (z, r) = u32_at(r)?;
        if (a, z) != (min_sdk, max_sdk) || a > z {
            s.problem = Some("SDK range differs between signer and signed data");
        }
        lp(r)?.0
    } else {
        lp(srest)?.0
    };
    s.digests = alg_list(digests)
        .unwrap_or_default()
        .into_iter()
        .map(|(alg, d)| (alg, d.to_vec()))
        .collect();
    read_attrs(&mut s, attrs, verify, memo)?;
    if verify {
        s.problem = s
            .problem
            .or_else(|| check(&s, signed, digests, sigs, pubkey, memo));
    }
    Some(s)
}

fn read_attrs(s: &mut SchemeSigner, attrs: &[u8], verify: bool, memo: &mut Memo) -> Option<()> {
    for attr in lp_items(attrs)? {
        let (id, val) = u32_at(attr)?;
        if id == ATTR_STRIPPING {
            s.required_schemes.push(u32_at(val)?.0);
        } else if id == ATTR_LINEAGE {
            match parse_lineage(val, verify, memo) {
                Some(l) => s.lineage = l,
                None => s.problem = Some("malformed lineage"),
            }
        }
    }
    Some(())
}

/// Lineage nodes: signed data (cert, alg) signed by the previous node's key. Returns certs.
fn parse_lineage(val: &[u8], verify: bool, memo: &mut Memo) -> Option<Vec<Vec<u8>>> {
    let (_version, mut rest) = u32_at(val)?;
    let mut certs: Vec<Vec<u8>> = Vec::new();
    let mut last_alg = 0;
    while !rest.is_empty() {
        let (node, r) = lp(rest)?;
        rest = r;
        let (signed, nr) = lp(node)?;
        let (_flags, nr) = u32_at(nr)?;
        let (alg, nr) = u32_at(nr)?;
        let (sig, _) = lp(nr)?;
        let (cert_der, _) = lp(signed)?;
        // Each node is signed by the previous node's key with the previous node's algorithm.
        if let Some(prev) = certs.last().filter(|_| verify) {
            if !memo.spend_check() {
                return None;
            }
            let spki = memo.spki(prev)?;
            if verify_alg(spki, last_alg, signed, sig)? != Verdict::Good {
                return None;
            }
        }
        certs.push(cert_der.to_vec());
        last_alg = alg;
    }
    Some(certs)
}

fn check(
    s: &SchemeSigner,
    signed: &[u8],
    digests: &[u8],
    sigs: &[u8],
    pk: &[u8],
    memo: &mut Memo,
) -> Option<&'static str> {
    let Some(first) = s.certs.first() else {
        return Some("no certificates");
    };
    if memo.spki(first) != Some(pk) {
        return Some("certificate public key differs from signer public key");
    }
    if s.lineage.last().is_some_and(|l| l != first) {
        return Some("lineage does not end at the signer certificate");
    }
    let sig_list = alg_list(sigs)?;
    let dig_list = alg_list(digests)?;
    let mut a: Vec<u32> = sig_list.iter().map(|x| x.0).collect();
    let mut b: Vec<u32> = dig_list.iter().map(|x| x.0).collect();
    a.sort_unstable();
    b.sort_unstable();
    if a.is_empty() || a != b {
        return Some("signature and digest algorithm lists differ");
    }
    let chosen = signatures_to_verify(&sig_list, s.max_sdk);
    if chosen.is_empty() {
        return Some("no supported signature algorithm");
    }
    // Identical signature bytes under the same padding and hash, key and message (RSA PKCS#1
    // v1.5 is deterministic: 0x0103 and its verity twin 0x0421 usually carry the same bytes)
    // have the same verdict: computed once.
    let mut done: Vec<((Scheme, Hash), &[u8], Verdict)> = Vec::with_capacity(chosen.len());
    for (alg, sig) in chosen {
        let Some(kind) = alg_kind(alg) else { continue };
        let v = match done.iter().find(|(k, s, _)| *k == kind && *s == sig) {
            Some(&(_, _, v)) => v,
            None if !memo.spend_check() => return Some("too many signatures to check"),
            None => sigverify::verify(pk, kind.0, kind.1, signed, sig),
        };
        if v != Verdict::Good {
            return Some("signature did not verify");
        }
        done.push((kind, sig, v));
    }
    None
}

/// apksig's `getSignaturesToVerify` (ApkSigningBlockUtils): of the signatures with a known
/// algorithm whose minimum platform is within the signer's range, the strongest per minimum
/// platform (API 24 for the chunked digests, 28 for verity), ties going to the first; only
/// those are verified, as on the device. Returned in file order.
fn signatures_to_verify<'a>(sigs: &[(u32, &'a [u8])], max_sdk: u32) -> Vec<(u32, &'a [u8])> {
    let mut best: Vec<(u32, u32, &[u8], usize)> = Vec::with_capacity(2); // (sdk, alg, sig, at)
    for (at, &(alg, sig)) in sigs.iter().enumerate() {
        let Some((sdk, rank)) = alg_sdk_rank(alg) else {
            continue;
        };
        if sdk > max_sdk {
            continue;
        }
        match best.iter_mut().find(|b| b.0 == sdk) {
            Some(b) if alg_sdk_rank(b.1).is_some_and(|(_, r)| rank > r) => *b = (sdk, alg, sig, at),
            Some(_) => {}
            None => best.push((sdk, alg, sig, at)),
        }
    }
    best.sort_by_key(|b| b.3);
    best.into_iter().map(|b| (b.1, b.2)).collect()
}

/// (minimum platform, content-digest strength) of a known algorithm, as apksig's
/// `SignatureAlgorithm` and `compareContentDigestAlgorithm` order them: chunked SHA-256 <
/// verity SHA-256 < chunked SHA-512.
fn alg_sdk_rank(alg: u32) -> Option<(u32, u8)> {
    Some(match alg {
        0x0101 | 0x0103 | 0x0201 | 0x0301 => (24, 0),
        0x0102 | 0x0104 | 0x0202 => (24, 2),
        0x0421 | 0x0423 | 0x0425 => (28, 1),
        _ => return None,
    })
}

/// `(algorithm id, value)` of each `u32 len | u32 alg | lp value` record; None if malformed.
fn alg_list(b: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    lp_items(b)?
        .into_iter()
        .map(|rec| {
            let (alg, r) = u32_at(rec)?;
            Some((alg, lp(r)?.0))
        })
        .collect()
}

/// Verifies with an APK signature algorithm id; None for unknown ids (apksig skips them).
fn verify_alg(spki: &[u8], alg: u32, msg: &[u8], sig: &[u8]) -> Option<Verdict> {
    let (scheme, h) = alg_kind(alg)?;
    Some(sigverify::verify(spki, scheme, h, msg, sig))
}

/// The padding and hash of an APK signature algorithm id; None for unknown ids.
fn alg_kind(alg: u32) -> Option<(Scheme, Hash)> {
    Some(match alg {
        0x0101 => (Scheme::RsaPss, Hash::Sha256),
        0x0102 => (Scheme::RsaPss, Hash::Sha512),
        0x0103 | 0x0421 => (Scheme::RsaPkcs1, Hash::Sha256),
        0x0104 => (Scheme::RsaPkcs1, Hash::Sha512),
        0x0201 | 0x0423 => (Scheme::Ecdsa, Hash::Sha256),
        0x0202 => (Scheme::Ecdsa, Hash::Sha512),
        0x0301 | 0x0425 => (Scheme::Dsa, Hash::Sha256),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lpv(v: &[u8]) -> Vec<u8> {
        let mut o = (v.len() as u32).to_le_bytes().to_vec();
        o.extend_from_slice(v);
        o
    }

    #[test]
    fn empty_and_malformed_blocks() {
        assert_eq!(
            parse(&lpv(&[]), false, 10, true, &mut Memo::default()).problem,
            Some("no signers")
        );
        assert!(parse(&[1, 2], false, 10, true, &mut Memo::default())
            .problem
            .is_some());
        let one = lpv(&lpv(&[0xde, 0xad]));
        let b = parse(&one, true, 10, true, &mut Memo::default());
        assert_eq!(b.signers.len(), 1);
        assert!(!b.valid());
    }

    #[test]
    fn only_the_strongest_signature_per_minimum_platform_is_verified() {
        let algs = |v: Vec<(u32, &[u8])>| v.into_iter().map(|x| x.0).collect::<Vec<_>>();
        let all = MAX_SDK;
        // Different minimum platforms (24, 28): both, in file order.
        let s: [(u32, &[u8]); 2] = [(0x0103, b"a"), (0x0421, b"a")];
        assert_eq!(algs(signatures_to_verify(&s, all)), [0x0103, 0x0421]);
        // Same platform: SHA-512 beats SHA-256 whatever the order; a tie keeps the first.
        let s: [(u32, &[u8]); 3] = [(0x0201, b"e"), (0x0104, b"r"), (0x0103, b"s")];
        assert_eq!(algs(signatures_to_verify(&s, all)), [0x0104]);
        let s: [(u32, &[u8]); 2] = [(0x0201, b"e"), (0x0103, b"r")];
        assert_eq!(algs(signatures_to_verify(&s, all)), [0x0201]);
        // Unknown ids are skipped; verity is out of range for a signer that stops before 28.
        let s: [(u32, &[u8]); 3] = [(0x9999, b"x"), (0x0421, b"v"), (0x0103, b"r")];
        assert_eq!(algs(signatures_to_verify(&s, 27)), [0x0103]);
        assert!(signatures_to_verify(&[(0x0421, b"v")], 27).is_empty());
    }

    const MAX_SDK: u32 = i32::MAX as u32;

    #[test]
    fn signer_without_certificates_is_rejected() {
        // signed data: digests [] , certs [], attrs []
        let signed = [lpv(&[]), lpv(&[]), lpv(&[])].concat();
        let signer = [lpv(&signed), lpv(&[]), lpv(b"pk")].concat();
        let b = parse(&lpv(&lpv(&signer)), false, 10, true, &mut Memo::default());
        assert_eq!(b.signers[0].problem, Some("no certificates"));
    }
}
