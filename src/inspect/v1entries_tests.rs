//! Unit tests of the v1 entry checks: which digest is checked, stored and deflated entries
//! with and without a changed byte, entries missing from the manifest, the inflation bounds,
//! and apksig's own fixture whose SHA-1 digests are wrong but SHA-256 right.

use super::super::jarmf;
use super::super::testzip::build_zip_with;
use super::super::zipread;
use super::*;
use std::io::{Cursor, Write};

fn b64(alg: Alg, data: &[u8]) -> String {
    let mut h = Hasher::new(alg);
    h.update(data);
    base64::engine::general_purpose::STANDARD.encode(h.finish())
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A manifest with one section per (name, attribute lines).
fn manifest(sections: &[(&str, Vec<String>)]) -> String {
    let mut out = "Manifest-Version: 1.0\r\n\r\n".to_string();
    for (name, attrs) in sections {
        out.push_str(&format!("Name: {name}\r\n"));
        for a in attrs {
            out.push_str(&format!("{a}\r\n"));
        }
        out.push_str("\r\n");
    }
    out
}

/// `check` over `zip` with `mf` as MANIFEST.MF's text.
fn run(zip: &[u8], mf: &str, verify: bool) -> Result<bool, &'static str> {
    let mut src = Src::new(Cursor::new(zip)).unwrap();
    let limits = Limits {
        verify_digests: verify,
        ..Limits::default()
    };
    let archive = zipread::open(&mut src, &limits).unwrap();
    let sections = jarmf::parse(mf.as_bytes());
    let index: ManifestIndex<'_> = sections
        .iter()
        .skip(1)
        .filter_map(|s| Some((s.name()?, s)))
        .collect();
    check(&mut src, &archive, &index, &limits).map_err(|e| e.code())
}

const DEX: &[u8] = b"dex\n035\0 the classes of a small test app, deflated in the archive";
const TXT: &[u8] = b"a stored resource";

/// classes.dex deflated, res/a.txt stored, a directory and META-INF files (not covered), with
/// `dex` and `txt` as the members' data.
fn package(dex: &[u8], txt: &[u8]) -> Vec<u8> {
    let z = deflate(dex);
    build_zip_with(
        b"",
        &[
            ("classes.dex", &z, 8, dex.len() as u32),
            ("res/", b"", 0, 0),
            ("res/a.txt", txt, 0, txt.len() as u32),
            ("META-INF/MANIFEST.MF", b"not read here", 0, 13),
            ("META-INF/extra/notes.txt", b"not covered", 0, 11),
        ],
        b"",
    )
}

fn sha256_manifest() -> String {
    manifest(&[
        (
            "classes.dex",
            vec![format!("SHA-256-Digest: {}", b64(Alg::Sha256, DEX))],
        ),
        (
            "res/a.txt",
            vec![format!("SHA-256-Digest: {}", b64(Alg::Sha256, TXT))],
        ),
    ])
}

#[test]
fn stored_and_deflated_entries_match_and_one_changed_byte_does_not() {
    let mf = sha256_manifest();
    assert_eq!(run(&package(DEX, TXT), &mf, true), Ok(true));
    let mut txt = TXT.to_vec();
    txt[3] ^= 1;
    let mut dex = DEX.to_vec();
    dex[20] ^= 1;
    for changed in [package(DEX, &txt), package(&dex, TXT)] {
        assert_eq!(run(&changed, &mf, true), Ok(false));
        // Without hashing only the manifest is consulted: the genuine signer stays.
        assert_eq!(run(&changed, &mf, false), Ok(true));
    }
}

#[test]
fn an_entry_missing_from_the_manifest_or_without_a_digest_is_not_covered() {
    let only_dex = manifest(&[(
        "classes.dex",
        vec![format!("SHA-256-Digest: {}", b64(Alg::Sha256, DEX))],
    )]);
    let no_digest = format!("{only_dex}Name: res/a.txt\r\nX-Other: 1\r\n\r\n");
    for mf in [only_dex, no_digest] {
        for verify in [false, true] {
            assert_eq!(run(&package(DEX, TXT), &mf, verify), Ok(false), "{mf}");
        }
    }
}

#[test]
fn only_the_strongest_digest_present_is_checked() {
    let zip = package(DEX, TXT);
    let wrong_sha1 = "SHA1-Digest: AAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_string();
    let sections = |dex: Vec<String>| {
        manifest(&[
            ("classes.dex", dex),
            (
                "res/a.txt",
                vec![format!("sha-256-digest: {}", b64(Alg::Sha256, TXT))],
            ),
        ])
    };
    let right256 = format!("SHA-256-Digest: {}", b64(Alg::Sha256, DEX));
    let right512 = format!("SHA-512-Digest: {}", b64(Alg::Sha512, DEX));
    let wrong384 = format!("SHA-384-Digest: {}", b64(Alg::Sha384, TXT));
    // A wrong SHA-1 beside a right SHA-256: only SHA-256 is checked (API 18+).
    let mf = sections(vec![wrong_sha1.clone(), right256.clone()]);
    assert_eq!(run(&zip, &mf, true), Ok(true));
    // A wrong SHA-384 outranks a right SHA-256 and fails; SHA-512 outranks both.
    assert_eq!(
        run(
            &zip,
            &sections(vec![right256.clone(), wrong384.clone()]),
            true
        ),
        Ok(false)
    );
    assert_eq!(
        run(&zip, &sections(vec![wrong384, right512, wrong_sha1]), true),
        Ok(true)
    );
    // SHA-1 alone, spelled SHA1: checked; spelled SHA-1, or MD5: no digest from API 18 on.
    let sha1 = b64(Alg::Sha1, DEX);
    assert_eq!(
        run(&zip, &sections(vec![format!("SHA1-Digest: {sha1}")]), true),
        Ok(true)
    );
    for other in [format!("SHA-1-Digest: {sha1}"), "MD5-Digest: x".into()] {
        assert_eq!(run(&zip, &sections(vec![other]), false), Ok(false));
    }
}

#[test]
fn digests_are_base64_as_java_decodes_it() {
    let d = b64(Alg::Sha256, DEX);
    let decoded = |v: &str| {
        let text = format!("Name: x\nSHA-256-Digest: {v}\n");
        expected(&jarmf::parse(text.as_bytes())[0]).map(|(a, d)| (a, d.len()))
    };
    assert_eq!(decoded(&d), Some((Alg::Sha256, 32)));
    assert_eq!(decoded(d.trim_end_matches('=')), Some((Alg::Sha256, 32)));
    assert_eq!(decoded(&format!("{d} ")), None);
    assert_eq!(decoded("not base64!"), None);
}

#[test]
fn corrupt_or_wrongly_sized_deflate_data_does_not_match() {
    let mf = sha256_manifest();
    let z = deflate(DEX);
    let txt = ("res/a.txt", TXT, 0, TXT.len() as u32);
    let corrupt = build_zip_with(b"", &[("classes.dex", &[0xff; 40][..], 8, 66), txt], b"");
    assert_eq!(run(&corrupt, &mf, true), Ok(false));
    for size in [DEX.len() - 1, DEX.len() + 1] {
        let lying = build_zip_with(b"", &[("classes.dex", &z, 8, size as u32), txt], b"");
        assert_eq!(run(&lying, &mf, true), Ok(false), "size {size}");
    }
}

/// A deflated member whose directory size is small but whose stream inflates far beyond it:
/// no more than the directory's size comes out before the entry is called a mismatch.
#[test]
fn inflating_stops_at_the_directory_size() {
    let zeros = vec![0u8; 4 << 20];
    let z = deflate(&zeros);
    let zip = build_zip_with(b"", &[("big.bin", &z, 8, 1000)], b"");
    let mut src = Src::new(Cursor::new(&zip[..])).unwrap();
    let archive = zipread::open(&mut src, &Limits::default()).unwrap();
    let e = &archive.entries[0];
    let mut out = 0usize;
    let got = stream_entry(&mut src, e, e.size, &mut Scratch::default(), &mut |p| {
        out += p.len()
    });
    assert_eq!(got.unwrap(), Streamed::Beyond);
    assert!(out <= 1000, "{out} bytes came out");
    let mf = manifest(&[(
        "big.bin",
        vec![format!("SHA-256-Digest: {}", b64(Alg::Sha256, &zeros))],
    )]);
    assert_eq!(run(&zip, &mf, true), Ok(false));
}

fn entry(method: u16, comp_size: u64, size: u64) -> Entry {
    Entry {
        name: b"x".to_vec(),
        flags: 0,
        method,
        crc: 0,
        comp_size,
        size,
        lho: 0,
    }
}

#[test]
fn inflation_bounds_fail_closed_from_the_directory_alone() {
    let limits = Limits {
        max_package_bytes: 1 << 30,
        ..Limits::default()
    };
    let code = |entries: &[Entry], len: u64| {
        within_bounds(entries.iter(), len, &limits).map_err(|e| e.code())
    };
    let too_large = Err("package_too_large");
    // One entry beyond the package limit, stored or deflated at a plausible ratio.
    assert_eq!(
        code(&[entry(0, (1 << 30) + 1, (1 << 30) + 1)], 2 << 30),
        too_large
    );
    assert_eq!(
        code(&[entry(8, 1 << 28, (1 << 30) + 1)], 2 << 30),
        too_large
    );
    // Beyond deflate's 1032:1, whatever the method number says.
    assert_eq!(code(&[entry(8, 1000, 1_032_065)], 1 << 20), too_large);
    assert_eq!(code(&[entry(99, 1000, 1_032_064)], 1 << 20), Ok(()));
    // The total: 32 times the package plus 64 MiB.
    let honest = entry(8, 1 << 20, 500 << 20);
    assert_eq!(code(std::slice::from_ref(&honest), 16 << 20), Ok(()));
    assert_eq!(code(&[honest.clone(), honest], 16 << 20), too_large);
}

/// The bounds apply before anything is inflated, only when hashing.
#[test]
fn a_zip_bomb_header_is_package_too_large_with_digests_only() {
    let z = deflate(DEX);
    let zip = build_zip_with(b"", &[("classes.dex", &z, 8, 3 << 30)], b"");
    let mf = manifest(&[(
        "classes.dex",
        vec![format!("SHA-256-Digest: {}", b64(Alg::Sha256, DEX))],
    )]);
    assert_eq!(run(&zip, &mf, true), Err("package_too_large"));
    assert_eq!(run(&zip, &mf, false), Ok(true));
}

/// apksig's `v1-sha1-sha256-manifest-and-sf-with-sha1-wrong-in-manifest.apk`: every SHA-1
/// entry digest in MANIFEST.MF is wrong, every SHA-256 right; apksigner accepts it from API
/// 24 (only the strongest digest is checked). One changed byte of its stored resources.arsc
/// is then refused.
#[test]
fn apksig_fixture_with_wrong_sha1_and_right_sha256_entry_digests() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/fixtures/apksig/v1-sha1-sha256-manifest-and-sf-with-sha1-wrong-in-manifest.apk",
    );
    let Ok(bytes) = std::fs::read(&path) else {
        assert!(std::env::var_os("CI").is_none(), "no {}", path.display());
        return;
    };
    let verify = |bytes: &[u8]| {
        let mut src = Src::new(Cursor::new(bytes)).unwrap();
        let archive = zipread::open(&mut src, &Limits::default()).unwrap();
        let mf_entry = archive.find(b"META-INF/MANIFEST.MF").unwrap();
        let mf = super::super::zipentry::read_entry(&mut src, mf_entry, 1 << 20).unwrap();
        let sections = jarmf::parse(&mf.bytes);
        let index: ManifestIndex<'_> = sections
            .iter()
            .skip(1)
            .filter_map(|s| Some((s.name()?, s)))
            .collect();
        let arsc = archive.find(b"resources.arsc").unwrap().clone();
        let at = super::super::zipentry::data_offset(&mut src, &arsc).unwrap();
        let limits = Limits {
            verify_digests: true,
            ..Limits::default()
        };
        (
            check(&mut src, &archive, &index, &limits).unwrap(),
            arsc,
            at,
        )
    };
    let (ok, arsc, at) = verify(&bytes);
    assert!(ok);
    assert_eq!(arsc.method, 0);
    let mut changed = bytes.clone();
    changed[at as usize + 100] ^= 1;
    assert!(!verify(&changed).0);
}
