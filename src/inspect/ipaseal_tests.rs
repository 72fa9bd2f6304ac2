//! Unit tests of the binding rules on slices built in-test: CDHashes / CDHashes2 coverage of
//! alternate CodeDirectories, special slots against the package, and code pages.

use super::super::macho::code_signatures;
use super::super::testmacho::{code_directory, superblob, thin, wrap};
use super::*;

const INFO: &[u8] = b"<plist>the app's Info.plist</plist>";
const RESOURCES: &[u8] = b"<plist>the app's CodeResources</plist>";
const REQS: u32 = 0xfade_0c01;
const DATAOFF: usize = 5000;

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n @ 0..=127 => out.push(n as u8),
        n => {
            let len = (n as u32).to_be_bytes();
            let skip = len.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (4 - skip) as u8);
            out.extend_from_slice(&len[skip..]);
        }
    }
    out.extend_from_slice(content);
    out
}

fn attrs(list: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    let all: Vec<u8> = list
        .iter()
        .flat_map(|(oid, value)| der(0x30, &[der(0x06, oid), der(0x31, value)].concat()))
        .collect();
    der(0xa0, &all)
}

/// A CDHashes value: the plist `{cdhashes: [...]}` in an OCTET STRING.
fn cdhashes(list: &[Vec<u8>]) -> Vec<u8> {
    let mut d = plist::Dictionary::new();
    let arr = list.iter().map(|h| plist::Value::Data(h.clone())).collect();
    d.insert("cdhashes".into(), plist::Value::Array(arr));
    let mut xml = Vec::new();
    plist::Value::Dictionary(d).to_writer_xml(&mut xml).unwrap();
    der(0x04, &xml)
}

/// A CDHashes2 value: one `SEQUENCE { OID, OCTET STRING }` per (oid, hash).
fn cdhashes2(list: &[(&[u8], Vec<u8>)]) -> Vec<u8> {
    list.iter()
        .flat_map(|(oid, h)| der(0x30, &[der(0x06, oid), der(0x04, h)].concat()))
        .collect()
}

/// A thin slice signed with one CodeDirectory per hash type in `types` (slot 0, then
/// alternates), each sealing `info`, `resources` and the requirements blob `reqs`, and hashing
/// the slice's pages.
fn slice(types: &[HashType], info: Option<&[u8]>, resources: Option<&[u8]>) -> SliceSig {
    let reqs = wrap(REQS, b"designated");
    let blobs = |code: &[u8]| {
        let mut out: Vec<(u32, Vec<u8>)> = types
            .iter()
            .zip([0, 0x1000, 0x1001])
            .map(|(&ty, slot)| {
                (
                    slot,
                    code_directory(ty, &[info, Some(&reqs[..]), resources], code),
                )
            })
            .collect();
        out.push((2, reqs.clone()));
        out
    };
    // Blob sizes do not depend on the code's content: lay out once, then hash the real code.
    let code = thin(DATAOFF as u32, &superblob(&blobs(&[0; DATAOFF])))[..DATAOFF].to_vec();
    let m = thin(DATAOFF as u32, &superblob(&blobs(&code)));
    assert_eq!(m[..DATAOFF], code[..]);
    code_signatures(&m[..], 1 << 20, true)
        .unwrap()
        .pop()
        .unwrap()
}

/// A slice with a SHA-1 CodeDirectory and a SHA-256 alternate, both sealing the app.
fn dual() -> SliceSig {
    slice(
        &[HashType::Sha1, HashType::Sha256],
        Some(INFO),
        Some(RESOURCES),
    )
}

fn seal(pages: bool) -> AppSeal {
    AppSeal {
        info_plist: INFO.to_vec(),
        code_resources: Some(RESOURCES.to_vec()),
        resources_match: None,
        check_pages: pages,
    }
}

fn truncated(s: &SliceSig, slot: u32) -> Vec<u8> {
    codedir::parse(s.blob(slot).unwrap()).unwrap().cdhash()[..20].to_vec()
}

fn full(s: &SliceSig, slot: u32) -> Vec<u8> {
    codedir::parse(s.blob(slot).unwrap()).unwrap().cdhash()
}

#[test]
fn every_code_directory_listed_by_the_signed_cdhashes_binds() {
    let s = dual();
    let v1 = cdhashes(&[truncated(&s, 0), truncated(&s, 0x1000)]);
    let v2 = cdhashes2(&[(OID_SHA1, full(&s, 0)), (OID_SHA256, full(&s, 0x1000))]);
    for pages in [false, true] {
        assert!(seal(pages).binds(&s, Some(&attrs(&[(OID_CDHASHES, v1.clone())]))));
        assert!(seal(pages).binds(&s, Some(&attrs(&[(OID_CDHASHES2, v2.clone())]))));
        let both = attrs(&[(OID_CDHASHES, v1.clone()), (OID_CDHASHES2, v2.clone())]);
        assert!(seal(pages).binds(&s, Some(&both)));
    }
    // zsign: CDHashes lists both, CDHashes2 only the SHA-256 one; or CDHashes2 alone.
    let zsign = cdhashes2(&[(OID_SHA256, full(&s, 0x1000))]);
    let both = attrs(&[(OID_CDHASHES, v1.clone()), (OID_CDHASHES2, zsign.clone())]);
    assert!(seal(true).binds(&s, Some(&both)));
    assert!(seal(true).binds(&s, Some(&attrs(&[(OID_CDHASHES2, zsign)]))));
    let lone = slice(&[HashType::Sha256], Some(INFO), Some(RESOURCES));
    assert!(
        seal(true).binds(&lone, None),
        "one CodeDirectory: the CMS signs it"
    );
    assert!(seal(true).binds(&lone, Some(&attrs(&[]))));
}

#[test]
fn an_alternate_the_cms_does_not_list_is_not_bound() {
    let s = dual();
    let (a, b) = (truncated(&s, 0), truncated(&s, 0x1000));
    let no = |attr: &[u8]| !seal(false).binds(&s, Some(attr));
    assert!(!seal(false).binds(&s, None), "no signed attributes");
    assert!(no(&attrs(&[])), "neither attribute");
    assert!(no(&attrs(&[(
        OID_CDHASHES,
        cdhashes(std::slice::from_ref(&a))
    )])));
    assert!(no(&attrs(&[(
        OID_CDHASHES,
        cdhashes(&[b.clone(), a.clone()])
    )])));
    assert!(no(&attrs(&[(
        OID_CDHASHES,
        cdhashes(&[a.clone(), a.clone()])
    )])));
    assert!(no(&attrs(&[(OID_CDHASHES, der(0x04, b"not a plist"))])));
    let good = cdhashes(&[a.clone(), b.clone()]);
    let twice = attrs(&[(OID_CDHASHES, good.clone()), (OID_CDHASHES, good.clone())]);
    assert!(no(&twice), "an attribute twice");
    let only_slot0 = cdhashes2(&[(OID_SHA1, full(&s, 0))]);
    assert!(
        no(&attrs(&[(OID_CDHASHES2, only_slot0)])),
        "the alternate unlisted"
    );
    let wrong_alg = cdhashes2(&[(OID_SHA384, full(&s, 0x1000))]);
    assert!(no(&attrs(&[(OID_CDHASHES2, wrong_alg.clone())])));
    assert!(no(&attrs(&[
        (OID_CDHASHES, good.clone()),
        (OID_CDHASHES2, wrong_alg)
    ])));
    let extra = cdhashes2(&[(OID_SHA256, full(&s, 0x1000)), (OID_SHA384, vec![1; 48])]);
    assert!(no(&attrs(&[
        (OID_CDHASHES, good.clone()),
        (OID_CDHASHES2, extra)
    ])));
    let not_sequences = der(0x04, b"x");
    assert!(no(&attrs(&[
        (OID_CDHASHES, good),
        (OID_CDHASHES2, not_sequences)
    ])));
    assert!(no(&[0xa0, 0x05, 0x30]), "attributes that do not parse");
}

#[test]
fn special_slots_must_match_the_package() {
    let attr = |s: &SliceSig| attrs(&[(OID_CDHASHES, cdhashes(&[truncated(s, 0)]))]);
    let s = slice(&[HashType::Sha1], Some(INFO), Some(RESOURCES));
    assert!(seal(false).binds(&s, Some(&attr(&s))));

    let other_app = slice(
        &[HashType::Sha1],
        Some(b"another Info.plist"),
        Some(RESOURCES),
    );
    assert!(!seal(false).binds(&other_app, Some(&attr(&other_app))));
    let unsealed_info = slice(&[HashType::Sha1], None, Some(RESOURCES));
    assert!(!seal(false).binds(&unsealed_info, Some(&attr(&unsealed_info))));
    let other_resources = slice(&[HashType::Sha1], Some(INFO), Some(b"other"));
    assert!(!seal(false).binds(&other_resources, Some(&attr(&other_resources))));

    let no_file = AppSeal {
        code_resources: None,
        ..seal(false)
    };
    assert!(
        !no_file.binds(&s, Some(&attr(&s))),
        "sealed CodeResources missing"
    );
    let unsealed_resources = slice(&[HashType::Sha1], Some(INFO), None);
    let a = attr(&unsealed_resources);
    assert!(no_file.binds(&unsealed_resources, Some(&a)));
    assert!(seal(false).binds(&unsealed_resources, Some(&a)));

    let resources_differ = AppSeal {
        resources_match: Some(false),
        ..seal(false)
    };
    assert!(!resources_differ.binds(&s, Some(&attr(&s))));
    assert!(resources_differ.binds(&unsealed_resources, Some(&a)));
}

#[test]
fn a_sealed_component_must_match_its_blob() {
    let s = slice(&[HashType::Sha256], Some(INFO), Some(RESOURCES));
    let mut sb = s.superblob.to_vec();
    let at = sb.windows(10).position(|w| w == b"designated").unwrap();
    sb[at] ^= 1;
    let changed = SliceSig {
        superblob: sb.into(),
        ..s
    };
    assert!(!seal(false).binds(&changed, None));
}

#[test]
fn code_pages_are_compared_with_verify_digests() {
    for ty in [HashType::Sha1, HashType::Sha256, HashType::Sha256Truncated] {
        let s = slice(&[ty], Some(INFO), Some(RESOURCES));
        assert!(seal(true).binds(&s, None), "{ty:?}");
        let mut p = s.pages.clone().unwrap();
        p.len -= 1;
        let short = SliceSig {
            pages: Some(p),
            ..slice(&[ty], Some(INFO), Some(RESOURCES))
        };
        assert!(!seal(true).binds(&short, None));
        assert!(seal(false).binds(&short, None));
    }
    let sha384 = slice(&[HashType::Sha384], Some(INFO), Some(RESOURCES));
    assert!(seal(false).binds(&sha384, None));
    assert!(
        !seal(true).binds(&sha384, None),
        "no 4 KiB SHA-384 page list"
    );
    let unhashed = SliceSig {
        pages: None,
        ..slice(&[HashType::Sha1], Some(INFO), Some(RESOURCES))
    };
    assert!(!seal(true).binds(&unhashed, None));
}

#[test]
fn a_changed_code_page_is_not_bound() {
    let s = slice(&[HashType::Sha256], Some(INFO), Some(RESOURCES));
    let mut m = thin(DATAOFF as u32, &s.superblob);
    m[4500] ^= 0x40;
    let changed = code_signatures(&m[..], 1 << 20, true)
        .unwrap()
        .pop()
        .unwrap();
    assert!(!seal(true).binds(&changed, None));
    assert!(seal(false).binds(&changed, None));
}
