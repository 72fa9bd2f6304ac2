//! Tests of the HAP signing block with HAPs signed in-test (hapsign.rs): accepted signer,
//! tampering, malformed blocks, and no panic on truncation or any single-bit flip.

use super::hapsign::{self, Tamper, TestKey};
use super::*;
use crate::inspect::cert;
use crate::inspect::testzip::build_zip;
use crate::inspect::{inspect_bytes, PackageIdentity};

const MODULE: &[u8] =
    br#"{"app":{"bundleName":"com.example.signed","versionCode":7,"versionName":"7.0"}}"#;

fn unsigned() -> Vec<u8> {
    build_zip(
        b"",
        &[("module.json", MODULE), ("ets/modules.abc", &[7u8; 3000])],
        b"",
    )
}

fn limits(verify: bool) -> Limits {
    Limits {
        verify_digests: verify,
        ..Limits::default()
    }
}

fn run(b: &[u8], verify: bool) -> Result<PackageIdentity, &'static str> {
    inspect_bytes(b, &limits(verify)).map_err(|e| e.code())
}

fn verdict(b: &[u8], verify: bool) -> &'static str {
    match run(b, verify).and_then(|id| id.require_signed().map_err(|e| e.code())) {
        Ok(()) => "ok",
        Err(c) => c,
    }
}

#[test]
fn a_signed_hap_reports_its_signer_fingerprints() {
    let key = TestKey::new("hap signer");
    let hap = hapsign::sign(&unsigned(), &key, Tamper::None);
    for verify in [false, true] {
        let id = run(&hap, verify).unwrap();
        assert_eq!(id.id, "com.example.signed");
        assert_eq!(id.accepted_signers.len(), 1);
        let s = &id.accepted_signers[0].signer;
        assert_eq!(hex::encode(s.sha256.unwrap()), key.sha256_hex());
        assert_eq!(
            s.sha1.unwrap().to_vec(),
            cert::digest(cert::Hash::Sha1, &key.cert_der)
        );
        assert_eq!(
            s.md5.unwrap().to_vec(),
            cert::digest(cert::Hash::Md5, &key.cert_der)
        );
        assert_eq!(id.schemes[0].scheme, "hap");
        assert_eq!(id.require_signed().map_err(|e| e.code()), Ok(()));
        assert!(id.accepted_signers[0].subject.contains("hap signer"));
    }
    assert_eq!(verdict(&unsigned(), true), "unsigned");
}

#[test]
fn tampering_is_signature_invalid() {
    let key = TestKey::new("k");
    let bad_sig = hapsign::sign(&unsigned(), &key, Tamper::BadSignature);
    assert_eq!(verdict(&bad_sig, false), "signature_invalid");
    let wrong = hapsign::sign(&unsigned(), &key, Tamper::WrongDigest);
    assert_eq!(verdict(&wrong, true), "signature_invalid");
    // Without the digest pass only the SignedData signature is checked (docs/inspection.md).
    assert_eq!(verdict(&wrong, false), "ok");
    // An entry changed after signing: the content digest no longer matches.
    let mut changed = hapsign::sign(&unsigned(), &key, Tamper::None);
    let at = changed.windows(4).position(|w| w == [7, 7, 7, 7]).unwrap();
    changed[at] = 8;
    assert_eq!(verdict(&changed, true), "signature_invalid");
}

#[test]
fn malformed_blocks_are_signature_invalid_and_foreign_magic_is_unsigned() {
    let key = TestKey::new("k");
    let sd = hapsign::signed_data(&key, b"\x02\0\0\0\x01\0\0\0", Tamper::None);
    let cases: Vec<Vec<u8>> = vec![
        hapsign::block(&[(0x2000_0002, b"p")], 3), // no signature sub-block
        hapsign::block(&[(0x2000_0000, &sd), (0x2000_0000, &sd)], 3), // two of them
        hapsign::block(&[(0x1234_5678, b"x"), (0x2000_0000, &sd)], 3), // unknown type
        hapsign::block(&[(0x2000_0000, b"not pkcs7")], 3),
        hapsign::block(&[(0x2000_0000, &sd)], 3), // content without digests
    ];
    for (i, blk) in cases.iter().enumerate() {
        let hap = hapsign::insert(&unsigned(), blk);
        assert_eq!(verdict(&hap, false), "signature_invalid", "case {i}");
    }
    // Old magic with a version-3 head, and a sub-block reaching past the block.
    let mut blk = hapsign::block(&[(0x2000_0000, &sd)], 3);
    let n = blk.len();
    blk[n - 20..n - 4].copy_from_slice(b"HAP Sig Block 42");
    assert_eq!(
        verdict(&hapsign::insert(&unsigned(), &blk), false),
        "signature_invalid"
    );
    let mut blk = hapsign::block(&[(0x2000_0000, &sd)], 3);
    blk[4] = blk[4].wrapping_add(1);
    assert_eq!(
        verdict(&hapsign::insert(&unsigned(), &blk), false),
        "signature_invalid"
    );
    // A block size beyond the CD offset: its bytes belong to no entry and no block, which
    // strict ZIP refuses; read leniently, the block is malformed.
    let mut blk = hapsign::block(&[(0x2000_0000, &sd)], 3);
    blk[n - 28..n - 20].copy_from_slice(&u64::MAX.to_le_bytes());
    let hap = hapsign::insert(&unsigned(), &blk);
    assert_eq!(verdict(&hap, false), "package_ambiguous");
    assert_eq!(lax(&hap), "signature_invalid");
    // Something else (an APK Signing Block magic) before the CD is not a HAP block.
    let mut other = vec![0u8; 40];
    other[24..40].copy_from_slice(b"APK Sig Block 42");
    let hap = hapsign::insert(&unsigned(), &other);
    assert_eq!(verdict(&hap, false), "package_ambiguous");
    assert_eq!(lax(&hap), "unsigned");
}

/// `verdict` without strict ZIP.
fn lax(b: &[u8]) -> &'static str {
    let limits = Limits {
        strict_zip: false,
        ..limits(false)
    };
    let id = inspect_bytes(b, &limits).map_err(|e| e.code());
    match id.and_then(|id| id.require_signed().map_err(|e| e.code())) {
        Ok(()) => "ok",
        Err(c) => c,
    }
}

#[test]
fn the_old_magic_with_version_2_is_read() {
    let key = TestKey::new("old");
    let hap = hapsign::sign(&unsigned(), &key, Tamper::None);
    let at = hap
        .windows(16)
        .position(|w| w == b"<hap sign block>")
        .unwrap();
    let mut old = hap.clone();
    old[at..at + 16].copy_from_slice(b"HAP Sig Block 42");
    old[at + 16..at + 20].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(verdict(&old, true), "ok");
}

#[test]
fn an_oversized_block_is_package_too_large() {
    let key = TestKey::new("k");
    let hap = hapsign::sign(&unsigned(), &key, Tamper::None);
    let small = Limits {
        max_signature_bytes: 100,
        ..Limits::default()
    };
    assert_eq!(
        inspect_bytes(&hap, &small).unwrap_err().code(),
        "package_too_large"
    );
}

#[test]
fn content_digest_lists() {
    let mut b = vec![2, 0, 0, 0, 1, 0, 0, 0];
    b.extend_from_slice(&[10, 0, 0, 0, 1, 2, 0, 0, 2, 0, 0, 0, 0xaa, 0xbb]);
    assert_eq!(content_digests(&b), Some(vec![(0x201, &[0xaa, 0xbb][..])]));
    assert_eq!(content_digests(&b[..b.len() - 1]), None);
    assert_eq!(content_digests(&b[..8]), None);
    b[16] = 3; // inner length disagrees with the item length
    assert_eq!(content_digests(&b), None);
    assert_eq!(kind_of(0x105), Some(Kind::Sha256));
    assert_eq!(kind_of(0x202), Some(Kind::Sha384));
    assert_eq!(kind_of(0x204), None);
}

/// Offset of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn truncations_and_bit_flips_never_panic_and_signed_bytes_never_pass() {
    let key = TestKey::new("k");
    let zip = unsigned();
    let hap = hapsign::sign(&zip, &key, Tamper::None);
    let (cd, _) = (zip.len() - 22, ());
    let cd = u32::from_le_bytes(zip[cd + 16..cd + 20].try_into().unwrap()) as usize;
    let block_len = hap.len() - zip.len();
    for n in 0..hap.len() {
        let _ = run(&hap[..n], true);
    }
    // What a valid signature covers: the profile value, the signed content (digest list) and
    // the signature value (the last OCTET STRING before the 32-byte head).
    let profile = find(&hap, hapsign::PROFILE);
    let content = find(&hap, &[2, 0, 0, 0, 1, 0, 0, 0, 40, 0, 0, 0, 1, 2, 0, 0]);
    let head = cd + block_len - 32;
    let sig = (head - 80..head - 60)
        .find(|&k| hap[k] == 0x04 && usize::from(hap[k + 1]) == head - k - 2)
        .unwrap()
        + 2;
    let covered = |i: usize| {
        (profile..profile + hapsign::PROFILE.len()).contains(&i)
            || (content..content + 52).contains(&i)
            || (sig..head).contains(&i)
    };
    for i in cd.saturating_sub(64)..cd + block_len + 64 {
        for bit in [0x01u8, 0x80] {
            let mut m = hap.clone();
            m[i] ^= bit;
            let v = verdict(&m, true);
            if covered(i) {
                assert_ne!(
                    v,
                    "ok",
                    "flip at {i} (block {cd}..{}) passed",
                    cd + block_len
                );
            }
        }
    }
}
