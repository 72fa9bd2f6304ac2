//! Unit tests of CodeDirectory parsing: fields and slots, every hash type, malformed blobs
//! (truncations and bad fields, without panic), and the directory set of a slice.

use super::super::testmacho::{code_directory, superblob, thin, wrap};
use super::*;
use crate::inspect::macho::code_signatures;

fn slice(blobs: &[(u32, Vec<u8>)]) -> SliceSig {
    let m = thin(64, &superblob(blobs));
    code_signatures(&m[..], 1 << 20, false)
        .unwrap()
        .pop()
        .unwrap()
}

#[test]
fn fields_and_slots_of_a_code_directory() {
    let code = vec![7u8; 5000];
    let raw = code_directory(
        HashType::Sha256,
        &[Some(b"plist"), None, Some(b"res")],
        &code,
    );
    let cd = parse(&raw).unwrap();
    assert_eq!(cd.hash_type, HashType::Sha256);
    assert_eq!(
        (cd.page_shift, cd.code_limit, cd.scattered),
        (12, 5000, false)
    );
    assert_eq!((cd.n_special(), cd.n_code()), (3, 2));
    assert_eq!(cd.special(1), Some(&HashType::Sha256.digest(b"plist")[..]));
    assert_eq!(cd.special(2), None, "all zeros is absent");
    assert_eq!(cd.special(3), Some(&HashType::Sha256.digest(b"res")[..]));
    assert_eq!((cd.special(0), cd.special(4)), (None, None));
    let mut want = HashType::Sha256.digest(&code[..4096]);
    want.extend(HashType::Sha256.digest(&code[4096..]));
    assert_eq!(cd.code_slots(), &want[..]);
    assert_eq!(cd.cdhash(), HashType::Sha256.digest(&raw));
}

#[test]
fn hash_types_have_their_sizes() {
    for (ty, size) in [
        (HashType::Sha1, 20),
        (HashType::Sha256, 32),
        (HashType::Sha256Truncated, 20),
        (HashType::Sha384, 48),
    ] {
        assert_eq!(ty.digest(b"x").len(), size);
        assert_eq!(ty.size(), size);
        assert!(parse(&code_directory(ty, &[Some(b"p")], b"c")).is_some());
    }
    assert_eq!(
        HashType::Sha256Truncated.digest(b"x"),
        HashType::Sha256.digest(b"x")[..20]
    );
}

#[test]
fn malformed_directories_are_refused_without_panic() {
    let raw = code_directory(HashType::Sha1, &[Some(b"p"), Some(b"r")], &[1; 9000]);
    for cut in 0..raw.len() {
        let mut short = raw[..cut].to_vec();
        if let Some(len) = short.get_mut(4..8) {
            len.copy_from_slice(&(cut as u32).to_be_bytes());
        }
        assert!(parse(&short).is_none(), "{cut}");
    }
    let set = |at: usize, v: &[u8]| {
        let mut b = raw.clone();
        b[at..at + v.len()].copy_from_slice(v);
        parse(&b).is_none()
    };
    assert!(set(0, &[0, 0, 0, 0]), "magic");
    assert!(set(8, &0x10000u32.to_be_bytes()), "version too old");
    assert!(set(8, &0x30000u32.to_be_bytes()), "version too new");
    assert!(set(16, &u32::MAX.to_be_bytes()), "hashOffset past the end");
    assert!(
        set(16, &20u32.to_be_bytes()),
        "special slots over the header"
    );
    assert!(set(24, &u32::MAX.to_be_bytes()), "nSpecialSlots");
    assert!(set(28, &u32::MAX.to_be_bytes()), "nCodeSlots");
    assert!(set(36, &[32]), "hashSize not the type's");
    assert!(set(37, &[9]), "unknown hashType");
    assert!(!set(44, &[0, 0, 0, 1]), "scatter parses");
    let mut scattered = raw.clone();
    scattered[47] = 1;
    assert!(parse(&scattered).unwrap().scattered);
    let mut big = raw.clone();
    big[56..64].copy_from_slice(&(1u64 << 33).to_be_bytes());
    assert_eq!(parse(&big).unwrap().code_limit, 1 << 33);
}

#[test]
fn directories_in_slot_order_and_the_chosen_one() {
    let sha1 = code_directory(HashType::Sha1, &[Some(b"p")], b"code");
    let sha256 = code_directory(HashType::Sha256, &[Some(b"p")], b"code");
    let s = slice(&[(0, sha1.clone()), (0x1000, sha256.clone())]);
    let dirs = directories(&s).unwrap();
    let types: Vec<_> = dirs.iter().map(|d| d.hash_type).collect();
    assert_eq!(types, vec![HashType::Sha1, HashType::Sha256]);
    assert_eq!(chosen(&dirs).unwrap().raw, &sha256[..]);

    let gap = slice(&[(0, sha1.clone()), (0x1001, sha256.clone())]);
    assert_eq!(
        directories(&gap).unwrap().len(),
        1,
        "alternates stop at a gap"
    );
    let dup = slice(&[(0, sha1.clone()), (0x1000, sha1.clone())]);
    assert!(directories(&dup).is_none(), "two of one hash type");
    let bad = slice(&[(0, sha1.clone()), (0x1000, wrap(0xfade_0c02, b"junk"))]);
    assert!(directories(&bad).is_none());
    assert!(
        directories(&slice(&[(0x1000, sha256)])).is_none(),
        "no slot 0"
    );
}
