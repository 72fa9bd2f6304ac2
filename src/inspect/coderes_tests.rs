//! Unit tests of CodeResources checking on archives built in-test: hashes, optional paths,
//! version-1 envelopes, malformed envelopes, symlinks, nested code and the streaming budget.

use plist::{Dictionary, Value};

use super::super::testmacho::{code_directory, superblob, thin};
use super::super::testzip::build_zip;
use super::super::zipread;
use super::*;

const APP: &str = "Payload/A.app/";

fn sha256(b: &[u8]) -> Value {
    Value::Data(HashType::Sha256.digest(b))
}

fn dict(pairs: &[(&str, Value)]) -> Value {
    let mut d = Dictionary::new();
    for (k, v) in pairs {
        d.insert((*k).to_string(), v.clone());
    }
    Value::Dictionary(d)
}

/// CodeResources XML with `section` ("files2" or "files") holding `entries`.
fn envelope(section: &str, entries: &[(&str, Value)]) -> Vec<u8> {
    let mut xml = Vec::new();
    dict(&[(section, dict(entries))])
        .to_writer_xml(&mut xml)
        .unwrap();
    xml
}

/// `verify` over an app holding `files` (paths below the app) and `code_resources`.
fn check(
    files: &[(&str, &[u8])],
    code_resources: &[u8],
    limits: &Limits,
) -> Result<bool, InspectError> {
    let named: Vec<(String, &[u8])> = files
        .iter()
        .map(|(n, d)| (format!("{APP}{n}"), *d))
        .collect();
    let list: Vec<(&str, &[u8])> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let z = build_zip(b"", &list, b"");
    let mut src = Src::new(Cursor::new(&z[..])).unwrap();
    let archive = zipread::open(&mut src, limits).unwrap();
    verify(&mut src, &archive, APP, code_resources, limits)
}

fn ok(files: &[(&str, &[u8])], code_resources: &[u8]) -> bool {
    check(files, code_resources, &Limits::default()).unwrap()
}

#[test]
fn listed_files_must_match_their_hash2() {
    let files: &[(&str, &[u8])] = &[("a.nib", b"nib"), ("Base.lproj/b", b"bee")];
    let cr = envelope(
        "files2",
        &[
            ("a.nib", dict(&[("hash2", sha256(b"nib"))])),
            (
                "Base.lproj/b",
                dict(&[
                    ("hash", Value::Data(vec![0; 20])),
                    ("hash2", sha256(b"bee")),
                ]),
            ),
        ],
    );
    assert!(ok(files, &cr), "hash2 preferred over hash");
    assert!(!ok(&[("a.nib", b"nib"), ("Base.lproj/b", b"bea")], &cr));
    assert!(!ok(&[("a.nib", b"nib")], &cr), "a required file missing");
    let optional = envelope(
        "files2",
        &[(
            "gone",
            dict(&[("hash2", sha256(b"x")), ("optional", Value::Boolean(true))]),
        )],
    );
    assert!(ok(&[], &optional));
    assert!(
        !ok(&[("gone", b"y")], &optional),
        "present optional files are checked"
    );
    let sha1_only = envelope(
        "files2",
        &[(
            "a",
            dict(&[("hash", Value::Data(HashType::Sha1.digest(b"1")))]),
        )],
    );
    assert!(ok(&[("a", b"1")], &sha1_only));
    assert!(!ok(&[("a", b"2")], &sha1_only));
}

#[test]
fn version_one_envelopes_hash_with_sha1() {
    let cr = envelope("files", &[("a", Value::Data(HashType::Sha1.digest(b"1")))]);
    assert!(ok(&[("a", b"1")], &cr));
    assert!(!ok(&[("a", b"x")], &cr));
    let both = {
        let mut xml = Vec::new();
        dict(&[
            ("files", dict(&[("a", Value::Data(vec![0; 20]))])),
            ("files2", dict(&[("a", dict(&[("hash2", sha256(b"1"))]))])),
        ])
        .to_writer_xml(&mut xml)
        .unwrap();
        xml
    };
    assert!(ok(&[("a", b"1")], &both), "files2 wins over files");
}

#[test]
fn malformed_envelopes_are_not_verified() {
    assert!(!ok(&[], b"not a plist"));
    assert!(!ok(&[], &envelope("rules2", &[])));
    assert!(ok(&[], &envelope("files2", &[])));
    for bad in [
        Value::String("x".into()),
        dict(&[]),
        dict(&[("hash2", Value::String("x".into()))]),
        dict(&[
            ("hash2", sha256(b"1")),
            ("optional", Value::String("yes".into())),
        ]),
        dict(&[("symlink", Value::Boolean(true))]),
    ] {
        assert!(!ok(&[("a", b"1")], &envelope("files2", &[("a", bad)])));
    }
}

#[test]
fn symlinks_are_compared_by_target() {
    let cr = envelope(
        "files2",
        &[("l", dict(&[("symlink", Value::String("t/x".into()))]))],
    );
    assert!(ok(&[("l", b"t/x")], &cr));
    assert!(!ok(&[("l", b"t/y")], &cr));
    assert!(!ok(&[], &cr));
}

#[test]
fn nested_code_is_sealed_by_its_cdhash() {
    let cd = code_directory(HashType::Sha1, &[Some(b"plist")], b"code");
    let alt = code_directory(HashType::Sha256, &[Some(b"plist")], b"code");
    let exe = thin(64, &superblob(&[(0, cd.clone()), (0x1000, alt.clone())]));
    let chosen = HashType::Sha256.digest(&alt)[..20].to_vec();
    let info = b"<plist><dict><key>CFBundleExecutable</key><string>F</string></dict></plist>";
    let bundle: &[(&str, &[u8])] = &[
        ("Frameworks/F.framework/Info.plist", info),
        ("Frameworks/F.framework/F", &exe),
    ];
    let seal = |h: Vec<u8>| {
        envelope(
            "files2",
            &[(
                "Frameworks/F.framework",
                dict(&[
                    ("cdhash", Value::Data(h)),
                    ("requirement", Value::String("r".into())),
                ]),
            )],
        )
    };
    assert!(ok(bundle, &seal(chosen.clone())));
    let slot0 = HashType::Sha1.digest(&cd);
    assert!(
        !ok(bundle, &seal(slot0)),
        "the CD hash of the CodeDirectory the loader picks"
    );
    assert!(
        !ok(&bundle[..1], &seal(chosen.clone())),
        "executable missing"
    );
    let dylib = envelope(
        "files2",
        &[(
            "Frameworks/l.dylib",
            dict(&[("cdhash", Value::Data(chosen.clone()))]),
        )],
    );
    assert!(ok(&[("Frameworks/l.dylib", &exe)], &dylib));
    assert!(!ok(&[("Frameworks/l.dylib", b"not mach-o")], &dylib));
}

#[test]
fn large_entries_are_streamed_within_the_budget() {
    let big: Vec<u8> = (0..(3u32 << 19)).map(|i| (i % 251) as u8).collect();
    let cr = envelope("files2", &[("big", dict(&[("hash2", sha256(&big))]))]);
    assert!(ok(&[("big", &big)], &cr));
    let mut changed = big.clone();
    changed[1 << 20] ^= 1;
    assert!(!ok(&[("big", &changed)], &cr));
    let tight = Limits {
        max_package_bytes: big.len() as u64 - 1,
        ..Limits::default()
    };
    assert!(matches!(
        check(&[("big", &big)], &cr, &tight),
        Err(InspectError::PackageTooLarge(_))
    ));
}
