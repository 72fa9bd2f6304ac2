//! Tests of the binding rules on the signed IPAs of `shared/fixtures/apps/ipa`, rebuilt in-test
//! as stored ZIPs: unchanged they keep their signer; with CFBundleIdentifier swapped, another
//! app's executable, CodeResources changed, and (with `verify_digests`) a resource or a code
//! page changed, they have no accepted signer while the `"ipa"` scheme still lists it.

use std::io::Cursor;
use std::path::PathBuf;

use super::super::testzip::build_zip;
use super::super::zipentry::read_entry;
use super::super::zipread::{self, Src};
use crate::inspect::{inspect_bytes, Limits, PackageIdentity};

/// A signed fixture: file, app prefix, executable, an offset inside the code of its last slice.
struct Signed {
    file: &'static str,
    prefix: &'static str,
    exe: &'static str,
    code_at: usize,
}

const SIGNED: &[Signed] = &[
    Signed {
        file: "icyleaf-iphone.ipa",
        prefix: "Payload/AppInfoDemo.app/",
        exe: "AppInfoDemo",
        code_at: 81_920 + 8_000,
    },
    Signed {
        file: "icyleaf-embedded.ipa",
        prefix: "Payload/Demo.app/",
        exe: "Demo",
        code_at: 8_000,
    },
    Signed {
        file: "fastlane-very-capable-app.ipa",
        prefix: "Payload/very-capable-app.app/",
        exe: "very-capable-app",
        code_at: 8_000,
    },
];
/// A resource every fixture's CodeResources lists.
const RESOURCE: &str = "Base.lproj/Main.storyboardc/Info.plist";

type Entries = Vec<(String, Vec<u8>)>;

fn fixture(name: &str) -> Option<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apps/ipa");
    match std::fs::read(dir.join(name)) {
        Ok(b) => Some(b),
        Err(e) if std::env::var_os("CI").is_some() => panic!("fixture {name}: {e}"),
        Err(_) => {
            let msg = format!("!!!!! IPA FIXTURE SKIPPED: {} !!!!!\n", dir.display());
            let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
            None
        }
    }
}

fn entries(ipa: &[u8]) -> Entries {
    let limits = Limits::default();
    let mut src = Src::new(Cursor::new(ipa)).unwrap();
    let archive = zipread::open(&mut src, &limits).unwrap();
    let mut out = Vec::new();
    for e in &archive.entries {
        let bytes = read_entry(&mut src, e, 1 << 30).unwrap().bytes;
        out.push((String::from_utf8(e.name.clone()).unwrap(), bytes));
    }
    out
}

/// The stored ZIP of `entries` with `name` changed by `f`.
fn rezip(entries: &Entries, name: &str, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut entries = entries.clone();
    let entry = entries.iter_mut().find(|(n, _)| n == name);
    f(&mut entry.unwrap_or_else(|| panic!("no {name}")).1);
    let list: Vec<(&str, &[u8])> = entries.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
    build_zip(b"", &list, b"")
}

fn inspect(z: &[u8], verify_digests: bool) -> PackageIdentity {
    let limits = Limits {
        verify_digests,
        ..Limits::default()
    };
    inspect_bytes(z, &limits).unwrap()
}

/// (accepted signers, certificates the "ipa" scheme lists).
fn signers(z: &[u8], verify_digests: bool) -> (usize, usize) {
    let id = inspect(z, verify_digests);
    let listed = id.schemes.iter().map(|s| s.certs.len()).sum();
    (id.accepted_signers.len(), listed)
}

/// Every signed fixture rebuilt with the entry `path` names changed by `f`, as (file, zip);
/// empty without fixtures.
fn mutated(
    path: impl Fn(&Signed) -> String,
    f: impl Fn(&Signed, &mut Vec<u8>),
) -> Vec<(&'static str, Vec<u8>)> {
    SIGNED
        .iter()
        .map_while(|s| {
            let ipa = fixture(s.file)?;
            Some((s.file, rezip(&entries(&ipa), &path(s), |b| f(s, b))))
        })
        .collect()
}

/// Asserts (accepted, listed) signers of every zip without and with `verify_digests`.
fn expect(zips: &[(&str, Vec<u8>)], without: (usize, usize), with: (usize, usize)) {
    for (file, z) in zips {
        assert_eq!(signers(z, false), without, "{file}");
        assert_eq!(signers(z, true), with, "{file} with verify_digests");
    }
}

fn info_plist(s: &Signed) -> String {
    format!("{}Info.plist", s.prefix)
}

#[test]
fn rebuilt_fixtures_keep_their_signers() {
    let unchanged = mutated(info_plist, |_, _| {});
    expect(&unchanged, (1, 1), (1, 1));
    let originals: Vec<_> = SIGNED
        .iter()
        .filter_map(|s| Some((s.file, fixture(s.file)?)))
        .collect();
    expect(&originals, (1, 1), (1, 1));
}

#[test]
fn a_swapped_bundle_id_has_no_accepted_signer() {
    let swapped = mutated(info_plist, |_, b| {
        let mut v = plist::Value::from_reader(Cursor::new(&b[..])).unwrap();
        let d = v.as_dictionary_mut().unwrap();
        d.insert("CFBundleIdentifier".into(), "com.attacker.copy".into());
        b.clear();
        v.to_writer_xml(&mut *b).unwrap();
    });
    for (_, z) in &swapped {
        assert_eq!(inspect(z, false).id, "com.attacker.copy");
    }
    expect(&swapped, (0, 1), (0, 1));
}

#[test]
fn another_apps_executable_has_no_accepted_signer() {
    let (Some(app), Some(donor)) = (
        fixture("fastlane-very-capable-app.ipa"),
        fixture("icyleaf-embedded.ipa"),
    ) else {
        return;
    };
    let donor = entries(&donor);
    let exe = &donor
        .iter()
        .find(|(n, _)| n == "Payload/Demo.app/Demo")
        .unwrap()
        .1;
    let z = rezip(
        &entries(&app),
        "Payload/very-capable-app.app/very-capable-app",
        |b| b.clone_from(exe),
    );
    for verify in [false, true] {
        assert_eq!(signers(&z, verify), (0, 1), "{verify}");
    }
}

#[test]
fn a_changed_code_resources_has_no_accepted_signer() {
    let path = |s: &Signed| format!("{}_CodeSignature/CodeResources", s.prefix);
    expect(&mutated(path, |_, b| b.push(b'\n')), (0, 1), (0, 1));
}

#[test]
fn a_changed_resource_has_no_accepted_signer_with_verify_digests() {
    let path = |s: &Signed| format!("{}{RESOURCE}", s.prefix);
    expect(&mutated(path, |_, b| b[0] ^= 1), (1, 1), (0, 1));
}

#[test]
fn a_changed_code_page_has_no_accepted_signer_with_verify_digests() {
    let path = |s: &Signed| format!("{}{}", s.prefix, s.exe);
    expect(&mutated(path, |s, b| b[s.code_at] ^= 1), (1, 1), (0, 1));
}
