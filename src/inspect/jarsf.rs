//! One JAR signature file (`.SF`) against MANIFEST.MF, as apksig's `V1SchemeVerifier`
//! (`verifySigFileAgainstManifest`) checks it for API level 24 and later.
//!
//! Owns: what becomes of a signer whose `.SF` is read — dropped (`Ignored`), failing the APK
//! (`Failed`), or signing a set of entry names — by these rules: `Signature-Version` present;
//! no `X-Android-APK-Signed` naming an absent v2/v3 block; the whole-manifest digest, else each
//! section's digest; the main-attributes digest when present; the digest checked being the
//! strongest one named (`jarmf::Section::digest_to_verify`); `Created-By` containing
//! "signtool" selecting that tool's attribute names and section bytes.
//! Must not: read entry contents (per-entry digests of MANIFEST.MF are not verified here) or
//! decide between signers (v1.rs does, over all kept signers).
//! Invariant: `Signs` is returned only when every section digest apksig would check matched.

use std::collections::{HashMap, HashSet};

use ahash::RandomState;

use super::jarmf::Section;
use super::sigblock::{V2_ID, V3_ID};

/// The manifest's named sections by entry name.
pub type ByName<'a> = HashMap<&'a str, &'a Section<'a>, RandomState>;

/// apksig's verdict on one signer's `.SF`.
#[derive(Debug)]
pub enum SfVerdict<'s> {
    /// The signer is dropped and neither signs nor fails the APK: no `Signature-Version`, a
    /// section without a name or named twice, or a section naming no manifest section.
    Ignored,
    /// The APK fails: a stripped v2/v3 signature, or a digest apksig checks does not match.
    Failed,
    /// The entry names the signer signs.
    Signs(HashSet<&'s str, RandomState>),
}

/// Checks the parsed `.SF` `sections` against the manifest bytes `mf`, its main section and
/// its named sections; `found` lists the signing-block ids present.
pub fn check<'s>(
    sections: &'s [Section<'_>],
    mf: &[u8],
    main: Option<&Section<'_>>,
    named: &ByName<'_>,
    found: &[u32],
) -> SfVerdict<'s> {
    let Some((sf_main, sf_named)) = sections.split_first() else {
        return SfVerdict::Ignored;
    };
    if sf_main.get("Signature-Version").is_none() {
        return SfVerdict::Ignored;
    }
    if stripped(sf_main, found) {
        return SfVerdict::Failed;
    }
    let signtool = sf_main
        .get("Created-By")
        .is_some_and(|c| c.contains("signtool"));
    let suffix = if signtool {
        "-Digest"
    } else {
        "-Digest-Manifest"
    };
    // A whole-manifest digest that differs is only a warning: the sections decide then.
    let whole = sf_main.digest_matches(suffix, mf) == Some(true);
    if !signtool {
        let main_bytes = main.and_then(|m| mf.get(m.range.clone()));
        let checked =
            main_bytes.and_then(|b| sf_main.digest_matches("-Digest-Manifest-Main-Attributes", b));
        if checked == Some(false) {
            return SfVerdict::Failed;
        }
    }
    let mut names = HashSet::with_capacity_and_hasher(sf_named.len(), RandomState::new());
    let (mut ignored, mut failed) = (false, false);
    for s in sf_named {
        let Some(name) = s.name() else {
            return SfVerdict::Ignored;
        };
        if !names.insert(name) {
            return SfVerdict::Ignored;
        }
        if whole {
            continue;
        }
        match named.get(name) {
            None => ignored = true,
            Some(m) => {
                let bytes = section_bytes(mf, m, signtool);
                failed |= s.digest_matches("-Digest", bytes) != Some(true);
            }
        }
    }
    match (ignored, failed) {
        (true, _) => SfVerdict::Ignored,
        (false, true) => SfVerdict::Failed,
        (false, false) => SfVerdict::Signs(names),
    }
}

/// A manifest section's bytes as hashed for its `.SF` digest: signtool's digests leave out
/// the second newline of a section ending in two.
fn section_bytes<'m>(mf: &'m [u8], m: &Section<'_>, signtool: bool) -> &'m [u8] {
    let bytes = mf.get(m.range.clone()).unwrap_or_default();
    if signtool && bytes.ends_with(b"\n\n") {
        bytes.get(..bytes.len() - 1).unwrap_or(bytes)
    } else {
        bytes
    }
}

/// `X-Android-APK-Signed` names a v2/v3 scheme that is absent: the signature was stripped.
fn stripped(sf_main: &Section<'_>, found: &[u32]) -> bool {
    let Some(v) = sf_main.get("X-Android-APK-Signed") else {
        return false;
    };
    v.split(',')
        .filter_map(|t| t.trim().parse::<u32>().ok())
        .any(|id| {
            let block_id = match id {
                2 => V2_ID,
                3 => V3_ID,
                _ => return false,
            };
            !found.contains(&block_id)
        })
}

#[cfg(test)]
#[path = "jarsf_tests.rs"]
mod tests;
