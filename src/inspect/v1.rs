//! APK Signature Scheme v1 (JAR signing): signers, their certificates, and apksig's checks
//! that need only META-INF files and the central directory.
//!
//! Owns: pairing `META-INF/*.RSA|DSA|EC` with a `.SF` (a block without `.SF` is no signer),
//! reading the signature files, and combining the verdicts of `jarsig` (each block against its
//! `.SF`) and `jarsf` (each `.SF` against MANIFEST.MF) with the manifest and central-directory
//! rules (sections name existing entries once; every entry is signed by the same signers); the
//! covered entries' manifest digests (and, with `Limits::verify_digests`, their data) are
//! `v1entries`' part of the same decision.
//! Must not: read entries outside META-INF/ itself (`v1entries` streams them).
//! Invariant: `structural` lists one certificate per paired signer, in central-directory
//! order; `accepted` is `Some` only when every check passed.

use std::collections::{HashMap, HashSet};

use ahash::RandomState;
use std::io::{Read, Seek};

use super::cert::Memo;
use super::error::InspectError;
use super::jarmf::{self, Section};
use super::jarsf::{self, ByName, SfVerdict};
use super::jarsig;
use super::pkcs7;
use super::v1entries;
use super::zipentry::read_entry;
use super::zipread::{Archive, Entry, Src};
use super::Limits;

/// The v1 outcome.
#[derive(Debug, Default)]
pub struct V1 {
    /// Signer certificate (DER) of each paired signer, in CD order.
    pub structural: Vec<Vec<u8>>,
    /// Certificates of the signers apksig would report, or None when v1 does not verify.
    pub accepted: Option<Vec<Vec<u8>>>,
}

struct Signer {
    cert: Option<Vec<u8>>,
    verified: bool,
    sf: Vec<u8>,
}

/// Analyses the JAR signature. `decide`: whether v1 can decide the accepted signers (no v2/v3
/// block and a target SDK below 30, see `apk::accepted`); when false only the structural
/// signer certificates are computed and the `.SF` files and `MANIFEST.MF` are not read
/// (apksig would not consult them), unless a block has several SignerInfos (then the first
/// one that verifies over its `.SF` names the certificate, as in apksig).
pub fn analyze<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
    found_schemes: &[u32],
    decide: bool,
    memo: &mut Memo,
) -> Result<V1, InspectError> {
    let pairs: Vec<_> = pairs(archive)
        .into_iter()
        .take(limits.max_signers.saturating_add(1))
        .collect();
    let mut blocks = Vec::with_capacity(pairs.len());
    for (block, _) in &pairs {
        blocks.push(read_entry(src, block, limits.max_signature_bytes)?);
    }
    let viable = decide
        && !pairs.is_empty()
        && pairs.len() <= limits.max_signers
        && !archive.duplicates
        && mf_prefix_ok(src, archive, limits);
    let mut signers = Vec::with_capacity(pairs.len());
    for ((_, sf), block) in pairs.iter().zip(&blocks) {
        let sd = pkcs7::parse(&block.bytes);
        let several = sd.as_ref().is_some_and(|sd| sd.signers.len() > 1);
        let sf_data = if viable || several {
            Some(read_entry(src, sf, limits.max_signature_bytes)?)
        } else {
            None
        };
        let anomalous = block.anomalous || sf_data.as_ref().is_some_and(|d| d.anomalous);
        let mut s = signer(sd, sf_data.map(|d| d.bytes), memo);
        s.verified &= !anomalous;
        signers.push(s);
    }
    let structural = signers.iter().filter_map(|s| s.cert.clone()).collect();
    let accepted = if viable {
        accept(src, archive, limits, &signers, found_schemes)?
    } else {
        None
    };
    Ok(V1 {
        structural,
        accepted,
    })
}

/// Bytes of MANIFEST.MF inflated for the early check below, done only for manifests larger
/// than `MF_EARLY_CHECK_FROM` (smaller ones cost little more to check in full).
const MF_PREFIX: u64 = 8 << 10;
const MF_EARLY_CHECK_FROM: u64 = 64 << 10;

/// A cheap early rejection: the complete sections in the first `MF_PREFIX` bytes of
/// MANIFEST.MF must each name an existing, not yet named entry — the same rule `accept`
/// applies to the whole manifest, so `false` here means `accept` would refuse too (stripped
/// APKs carry manifests of hundreds of KiB naming entries that are gone). A missing or
/// unreadable manifest is left to `accept`.
fn mf_prefix_ok<R: Read + Seek>(src: &mut Src<R>, archive: &Archive, limits: &Limits) -> bool {
    let Some(e) = archive.find(b"META-INF/MANIFEST.MF") else {
        return true;
    };
    if e.size <= MF_EARLY_CHECK_FROM {
        return true;
    }
    let want = MF_PREFIX.min(limits.max_signature_bytes);
    let Ok(prefix) = super::zipentry::read_prefix(src, e, want) else {
        return true;
    };
    let sections = jarmf::parse(&prefix);
    let cd_names = cd_names(archive);
    let mut seen = HashSet::with_hasher(RandomState::new());
    // Unless the whole entry was read, only sections that ended (blank line) before the last
    // two bytes are final: a cut line or a CR whose LF was cut off could still change.
    let complete = sections
        .iter()
        .skip(1)
        .filter(|s| (prefix.len() as u64) < want || s.range.end + 2 <= prefix.len());
    for s in complete {
        let Some(n) = s.name() else { return false };
        if !cd_names.contains(n.as_bytes()) || !seen.insert(n) {
            return false;
        }
    }
    true
}

/// (signature block, signature file) entries; blocks without a .SF are not signers.
fn pairs(archive: &Archive) -> Vec<(&Entry, &Entry)> {
    archive
        .entries
        .iter()
        .filter(|e| e.name.starts_with(b"META-INF/"))
        .filter_map(|e| {
            let n = &e.name;
            let dot = n.iter().rposition(|&c| c == b'.')?;
            if !matches!(&n[dot..], b".RSA" | b".DSA" | b".EC") {
                return None;
            }
            let mut sf = n[..dot].to_vec();
            sf.extend_from_slice(b".SF");
            Some((e, archive.find(&sf)?))
        })
        .collect()
}

/// The signer of one block: with its `.SF`, apksig's verdict and the first SignerInfo that
/// verifies (`jarsig`); without, the first SignerInfo that names a present certificate
/// (structural only).
fn signer(sd: Option<pkcs7::SignedData<'_>>, sf: Option<Vec<u8>>, memo: &mut Memo) -> Signer {
    let block = jarsig::check(sd.as_ref(), sf.as_deref(), memo);
    Signer {
        cert: block.cert,
        verified: block.verified,
        sf: sf.unwrap_or_default(),
    }
}

fn accept<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
    signers: &[Signer],
    found: &[u32],
) -> Result<Option<Vec<Vec<u8>>>, InspectError> {
    let Some(mf_entry) = archive.find(b"META-INF/MANIFEST.MF") else {
        return Ok(None);
    };
    if archive.duplicates || signers.iter().any(|s| !s.verified) {
        return Ok(None);
    }
    let mf_data = read_entry(src, mf_entry, limits.max_signature_bytes)?;
    if mf_data.anomalous {
        return Ok(None);
    }
    let mf = mf_data.bytes;
    let sections = jarmf::parse(&mf);
    let (main, named) = sections
        .split_first()
        .map_or((None, &[][..]), |(m, r)| (Some(m), r));
    let cd_names = cd_names(archive);
    let Some(by_name) = manifest_index(named, &cd_names) else {
        return Ok(None);
    };
    let sf_sections: Vec<Vec<Section<'_>>> = signers.iter().map(|s| jarmf::parse(&s.sf)).collect();
    // The signers apksig keeps (an ignored one neither signs nor fails the APK), and the
    // entry names each signs.
    let (mut kept, mut sf_names) = (Vec::new(), Vec::new());
    for (i, sections) in sf_sections.iter().enumerate() {
        match jarsf::check(sections, &mf, main, &by_name, found) {
            SfVerdict::Failed => return Ok(None),
            SfVerdict::Ignored => {}
            SfVerdict::Signs(names) => {
                kept.push(i);
                sf_names.push(names);
            }
        }
    }
    let Some(idx) = covering_signers(archive, &by_name, &sf_names) else {
        return Ok(None);
    };
    if !v1entries::check(src, archive, &by_name, limits)? {
        return Ok(None);
    }
    Ok(Some(
        idx.into_iter()
            .filter_map(|i| signers.get(*kept.get(i)?)?.cert.clone())
            .collect(),
    ))
}

/// The central directory's entry names (ahash: these sets are built and probed once per
/// entry, and SipHash was a visible part of the v1 checks).
type Names<'a> = HashSet<&'a [u8], RandomState>;

fn cd_names(archive: &Archive) -> Names<'_> {
    let mut names = HashSet::with_capacity_and_hasher(archive.entries.len(), RandomState::new());
    names.extend(archive.entries.iter().map(|e| e.name.as_slice()));
    names
}

/// Name → section; None unless every section is named, unique, and names an existing entry.
fn manifest_index<'a>(named: &'a [Section<'a>], cd_names: &Names<'_>) -> Option<ByName<'a>> {
    let mut map = HashMap::with_capacity_and_hasher(named.len(), RandomState::new());
    for s in named {
        let n = s.name()?;
        if !cd_names.contains(n.as_bytes()) || map.insert(n, s).is_some() {
            return None;
        }
    }
    Some(map)
}

/// All entries outside META-INF/ must have a manifest section and be signed by the same
/// non-empty set of signers; an APK with no such entry has no signer (apksig).
fn covering_signers(
    archive: &Archive,
    manifest: &ByName<'_>,
    sf_names: &[HashSet<&str, RandomState>],
) -> Option<Vec<usize>> {
    let mut set: Option<Vec<usize>> = None;
    for e in &archive.entries {
        if e.name.starts_with(b"META-INF/") || e.name.ends_with(b"/") {
            continue;
        }
        let name = String::from_utf8_lossy(&e.name);
        if !manifest.contains_key(name.as_ref()) {
            return None;
        }
        let who: Vec<usize> = (0..sf_names.len())
            .filter(|&i| sf_names[i].contains(name.as_ref()))
            .collect();
        if who.is_empty() || set.as_ref().is_some_and(|s| *s != who) {
            return None;
        }
        set = Some(who);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_signature_block_has_no_cert() {
        let s = signer(
            pkcs7::parse(b"\x30\x03\x02\x01\x01"),
            Some(b"Signature-Version: 1.0\n".to_vec()),
            &mut Memo::default(),
        );
        assert!(s.cert.is_none() && !s.verified);
    }
}
