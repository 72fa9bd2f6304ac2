//! apksig's `.SF` rules as `jarsf::check` applies them.

use base64::Engine;

use super::super::cert::{digest, Hash};
use super::super::jarmf;
use super::*;

fn b64(h: Hash, data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest(h, data))
}

const MF: &[u8] = b"Manifest-Version: 1.0\n\nName: a.dex\nSHA-256-Digest: x\n\nName: b.png\nSHA-256-Digest: y\n\n";

/// The verdict on `sf` against `MF`, with no signing block present.
fn verdict(sf: &str) -> String {
    let sections = jarmf::parse(MF);
    let (main, named) = sections.split_first().unwrap();
    let by_name: ByName<'_> = named.iter().map(|s| (s.name().unwrap(), s)).collect();
    let sf_sections = jarmf::parse(sf.as_bytes());
    match check(&sf_sections, MF, Some(main), &by_name, &[]) {
        SfVerdict::Ignored => "ignored".into(),
        SfVerdict::Failed => "failed".into(),
        SfVerdict::Signs(names) => {
            let mut n: Vec<&str> = names.into_iter().collect();
            n.sort_unstable();
            n.join(",")
        }
    }
}

fn section(name: &str) -> &'static [u8] {
    let s = jarmf::parse(MF);
    let r = s
        .iter()
        .find(|x| x.name() == Some(name))
        .unwrap()
        .range
        .clone();
    &MF[r]
}

fn sf_sections(a: &str, b: &str) -> String {
    format!("Name: a.dex\n{a}\n\nName: b.png\n{b}\n\n")
}

#[test]
fn whole_manifest_digest_or_every_section() {
    let whole = format!(
        "Signature-Version: 1.0\nSHA-256-Digest-Manifest: {}\n\nName: a.dex\nSHA-256-Digest: junk\n\n",
        b64(Hash::Sha256, MF)
    );
    assert_eq!(verdict(&whole), "a.dex");
    let good = |h: Hash, attr: &str| {
        let a = format!("{attr}: {}", b64(h, section("a.dex")));
        let b = format!("{attr}: {}", b64(h, section("b.png")));
        format!(
            "Signature-Version: 1.0\nSHA-256-Digest-Manifest: wrong\n\n{}",
            sf_sections(&a, &b)
        )
    };
    assert_eq!(
        verdict(&good(Hash::Sha256, "SHA-256-Digest")),
        "a.dex,b.png"
    );
    assert_eq!(verdict(&good(Hash::Sha1, "SHA1-Digest")), "a.dex,b.png");
    // MD5 is not read on API 18+: a section naming only MD5 has no digest to check.
    assert_eq!(verdict(&good(Hash::Md5, "MD5-Digest")), "failed");
}

#[test]
fn only_the_strongest_section_digest_counts() {
    let a = format!(
        "SHA1-Digest: {}\nSHA-256-Digest: {}",
        b64(Hash::Sha1, b"wrong"),
        b64(Hash::Sha256, section("a.dex"))
    );
    let b = format!("SHA-256-Digest: {}", b64(Hash::Sha256, section("b.png")));
    let sf = format!("Signature-Version: 1.0\n\n{}", sf_sections(&a, &b));
    assert_eq!(verdict(&sf), "a.dex,b.png");
    let a = format!(
        "SHA1-Digest: {}\nSHA-256-Digest: {}",
        b64(Hash::Sha1, section("a.dex")),
        b64(Hash::Sha256, b"wrong")
    );
    let sf = format!("Signature-Version: 1.0\n\n{}", sf_sections(&a, &b));
    assert_eq!(verdict(&sf), "failed");
}

#[test]
fn ignored_signers() {
    assert_eq!(verdict("Created-By: x\n\n"), "ignored");
    assert_eq!(verdict(""), "ignored");
    let unnamed = "Signature-Version: 1.0\n\nX: 1\n\n";
    assert_eq!(verdict(unnamed), "ignored");
    let twice = "Signature-Version: 1.0\n\nName: a.dex\n\nName: a.dex\n\n";
    assert_eq!(verdict(twice), "ignored");
    // A section for an entry the manifest does not list: dropped even with a failing digest.
    let absent = "Signature-Version: 1.0\n\nName: a.dex\nSHA-256-Digest: x\n\nName: c\n\n";
    assert_eq!(verdict(absent), "ignored");
}

#[test]
fn main_attributes_and_stripping_fail_the_apk() {
    let main = format!(
        "Signature-Version: 1.0\nSHA-256-Digest-Manifest: {}\nSHA-256-Digest-Manifest-Main-Attributes: {}\n\n",
        b64(Hash::Sha256, MF),
        b64(Hash::Sha256, b"not the main section")
    );
    assert_eq!(verdict(&main), "failed");
    let main_ok = main.replace(
        &b64(Hash::Sha256, b"not the main section"),
        &b64(Hash::Sha256, b"Manifest-Version: 1.0\n\n"),
    );
    assert_eq!(verdict(&main_ok), "");
    let s = &jarmf::parse(b"Signature-Version: 1.0\nX-Android-APK-Signed: 2, 3\n\n")[0];
    assert!(stripped(s, &[V2_ID]));
    assert!(!stripped(s, &[V2_ID, V3_ID]));
    let none = &jarmf::parse(b"Signature-Version: 1.0\n\n")[0];
    assert!(!stripped(none, &[]));
    let sf = format!(
        "{}X-Android-APK-Signed: 2\n\n",
        &main_ok[..main_ok.len() - 1]
    );
    assert_eq!(verdict(&sf), "failed");
}

#[test]
fn signtool_files_use_the_old_names_and_bytes() {
    // Created-By signtool: the whole-manifest digest is "-Digest", main attributes are not
    // checked, and a section ending in two newlines is hashed without the second.
    let whole = format!(
        "Signature-Version: 1.0\nCreated-By: signtool 1\nSHA-256-Digest: {}\nSHA-256-Digest-Manifest-Main-Attributes: bad\n\n",
        b64(Hash::Sha256, MF)
    );
    assert_eq!(verdict(&whole), "");
    let short = |n: &str| {
        let s = section(n);
        b64(Hash::Sha256, &s[..s.len() - 1])
    };
    let sections = sf_sections(
        &format!("SHA-256-Digest: {}", short("a.dex")),
        &format!("SHA-256-Digest: {}", short("b.png")),
    );
    let sf = format!("Signature-Version: 1.0\nCreated-By: signtool 1\n\n{sections}");
    assert_eq!(verdict(&sf), "a.dex,b.png");
    let sf = format!("Signature-Version: 1.0\n\n{sections}");
    assert_eq!(verdict(&sf), "failed");
}
