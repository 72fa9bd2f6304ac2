//! Android APK identity: manifest fields, per-scheme signers, and the signer set apksig
//! (31.x, default run or `--min-sdk-version 24`) would report.
//!
//! Owns: combining v1/v2/v3/v3.1 results into `PackageIdentity` and the acceptance rules
//! (documented in docs/inspection.md "Android acceptance").
//! Must not: read APK entries other than AndroidManifest.xml, META-INF signature files and the
//! signing block (except, when `verify_digests` is set, the content-digest pass of `digest.rs`
//! and, when v1 decides, `v1entries.rs`' pass over the entries the JAR signature covers).
//! Invariant: `accepted_signers` is empty whenever apksig would refuse the package under the
//! rules implemented here; `schemes` lists only schemes with at least one certificate.

use std::io::{Read, Seek};

use super::axml::{self, Manifest};
use super::cert::Memo;
use super::digest;
use super::error::InspectError;
use super::schemes::{self, SchemeBlock, SchemeSigner};
use super::sigblock::{self, SigningBlock, V2_ID, V31_ID, V3_ID};
use super::v1;
use super::verity;
use super::zipentry::read_entry;
use super::zipread::{Archive, Src};
use super::{CertInfo, Limits, PackageIdentity, PackageKind, SchemeSigners};
use crate::filing::Platform;

const SDK_P: u32 = 28;
const SDK_R: u32 = 30;

/// Reads the APK's manifest from the archive and parses it.
fn manifest<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
) -> Result<(Manifest, bool), InspectError> {
    let entry = archive
        .find(b"AndroidManifest.xml")
        .ok_or(InspectError::ManifestMissing("AndroidManifest.xml"))?;
    let data = read_entry(src, entry, limits.max_manifest_bytes)?;
    let m = axml::parse(&data.bytes).map_err(InspectError::ManifestInvalid)?;
    Ok((m, data.anomalous))
}

/// Inspects an archive already known to contain AndroidManifest.xml.
pub fn inspect<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
) -> Result<PackageIdentity, InspectError> {
    let (m, anomalous) = manifest(src, archive, limits)?;
    let id = m.package.clone().filter(|p| !p.is_empty());
    let id = id.ok_or(InspectError::ManifestInvalid(
        "manifest has no package attribute",
    ))?;
    let block = sigblock::find(src, archive.cd_offset, limits)?.unwrap_or_default();
    // A ZIP layout apksig rejects, or a manifest only readable by a rule apksig does not apply,
    // accepts no signer whatever the signatures say (`accepted` is never consulted): apksig
    // fails on these before it verifies any v2/v3 signature, so here their v2/v3 blocks are
    // parsed structurally only.
    let decidable = archive.layout_ok && !anomalous;
    let mut memo = Memo::default();
    let Blocks {
        mut v2,
        mut v3,
        v31,
        v2_consulted,
    } = blocks(&block, &m, limits, decidable, &mut memo);
    if limits.verify_digests && archive.layout_ok && (v2.is_some() || v3.is_some()) {
        let at = digest::Layout {
            sig_block: block.start,
            cd: archive.cd_offset,
            eocd: archive.eocd_offset,
        };
        check_digests(src, &at, [v2.as_mut(), v3.as_mut()])?;
    }
    let v1 = v1_signers(src, archive, limits, &block, &m, &mut memo)?;
    let infos = &mut memo;
    let schemes = listed(
        infos,
        &v1.structural,
        [("v2", &v2), ("v3", &v3), ("v31", &v31)],
    );
    let accepted = if !decidable {
        Vec::new()
    } else {
        accepted(
            &m,
            v1.accepted,
            v2.as_ref().filter(|_| v2_consulted),
            v3.as_ref(),
        )
    };
    Ok(PackageIdentity {
        kind: PackageKind::Apk,
        platform: Platform::Android,
        id,
        version_code: m.version_code,
        version_name: m.version_name,
        schemes,
        accepted_signers: accepted.iter().map(|d| infos.info(d)).collect(),
    })
}

/// The v1 (JAR) signers; v1 decides only when the signing block has no v2 or v3 block and
/// the package may be accepted on v1 alone (`v1_may_decide`).
fn v1_signers<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
    block: &SigningBlock,
    m: &Manifest,
    memo: &mut Memo,
) -> Result<v1::V1, InspectError> {
    let found: Vec<u32> = [V2_ID, V3_ID]
        .into_iter()
        .filter(|i| block.get(*i).is_some())
        .collect();
    let decide = found.is_empty() && v1_may_decide(m);
    v1::analyze(src, archive, limits, &found, decide, memo)
}

/// The v2, v3 and v3.1 blocks of the signing block, each verified only where apksig's verdict
/// can depend on it, and whether apksig consults v2.
struct Blocks {
    v2: Option<SchemeBlock>,
    v3: Option<SchemeBlock>,
    v31: Option<SchemeBlock>,
    v2_consulted: bool,
}

/// Reads the v3, v3.1 and v2 blocks (in that order). With `decidable` false they are parsed
/// structurally only.
fn blocks(
    block: &SigningBlock,
    m: &Manifest,
    limits: &Limits,
    decidable: bool,
    memo: &mut Memo,
) -> Blocks {
    let mut parse = |id, v3, verify| {
        block
            .get(id)
            .map(|v| schemes::parse(v, v3, limits.max_signers, verify, memo))
    };
    // v3.1 is listed structurally only: apksigner 31 does not consult it (see `accepted`).
    let (v3, v31) = (parse(V3_ID, true, decidable), parse(V31_ID, true, false));
    // apksig (ApkVerifier) verifies v2 only when the minimum SDK is below 28 (P) or no v3
    // block was found. The ground truth's second run (--min-sdk-version 24) does consult v2,
    // and decides when the first fails: when v3 does not name the newest-platform signer.
    // Otherwise v2 is listed structurally only.
    let v3_decides = v3
        .as_ref()
        .is_some_and(|b| b.valid() && newest(b).is_some());
    let v2_consulted = !v3_decides || m.min_sdk.unwrap_or(1) < SDK_P;
    // A v2 block whose stripping protection names an absent v3 accepts no signer whatever its
    // signatures say (`accepted`): its structure is all that is needed.
    let v2_plain = parse(V2_ID, false, false);
    let stripped = v3.is_none() && v2_plain.as_ref().is_some_and(names_v3);
    let v2 = if v2_consulted && decidable && !stripped {
        parse(V2_ID, false, true)
    } else {
        v2_plain
    };
    Blocks {
        v2,
        v3,
        v31,
        v2_consulted,
    }
}

/// The signers each scheme lists, structurally: v1's, then each v2/v3/v3.1 block's first
/// certificates; a scheme without signers is left out.
fn listed(
    infos: &mut Memo,
    v1: &[Vec<u8>],
    blocks: [(&'static str, &Option<SchemeBlock>); 3],
) -> Vec<SchemeSigners> {
    let mut schemes = Vec::new();
    push_scheme(&mut schemes, infos, "v1", v1.iter().map(Vec::as_slice));
    for (name, b) in blocks {
        if let Some(b) = b {
            push_scheme(
                &mut schemes,
                infos,
                name,
                b.signers
                    .iter()
                    .filter_map(|s| s.certs.first().map(Vec::as_slice)),
            );
        }
    }
    schemes
}

/// Marks every v2/v3 signer whose signed content digests are not all verified: each digest
/// of a known algorithm (chunked SHA-256/512, verity) must equal the file's, and at least one
/// must be checked. Digests of unknown algorithms are skipped, as apksig never selects them.
fn check_digests<R: Read + Seek>(
    src: &mut Src<R>,
    at: &digest::Layout,
    blocks: [Option<&mut SchemeBlock>; 2],
) -> Result<(), InspectError> {
    let mut blocks: Vec<&mut SchemeBlock> = blocks.into_iter().flatten().collect();
    let listed = || {
        blocks
            .iter()
            .flat_map(|b| &b.signers)
            .flat_map(|s| &s.digests)
    };
    let mut kinds = Vec::new();
    for k in listed().filter_map(|(alg, _)| digest::kind_of(*alg)) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let computed = if kinds.is_empty() {
        Vec::new()
    } else {
        digest::compute(src, at, &kinds)?
    };
    let verity = if listed().any(|(alg, _)| verity::is_verity(*alg)) {
        let reader = src.aid().reader.clone();
        verity::digest(src, at, reader.as_deref())?
    } else {
        None
    };
    for s in blocks.iter_mut().flat_map(|b| b.signers.iter_mut()) {
        let verdicts: Vec<bool> = s
            .digests
            .iter()
            .filter_map(|(alg, d)| {
                if verity::is_verity(*alg) {
                    return Some(verity.as_ref() == Some(d));
                }
                let k = digest::kind_of(*alg)?;
                Some(computed.iter().any(|(c, v)| *c == k && v == d))
            })
            .collect();
        if verdicts.is_empty() || verdicts.contains(&false) {
            s.problem = s.problem.or(Some("content digest does not match the APK"));
        }
    }
    Ok(())
}

fn push_scheme<'a>(
    out: &mut Vec<SchemeSigners>,
    infos: &mut Memo,
    scheme: &'static str,
    certs: impl Iterator<Item = &'a [u8]>,
) {
    let certs: Vec<CertInfo> = certs.map(|d| infos.info(d)).collect();
    if !certs.is_empty() {
        out.push(SchemeSigners { scheme, certs });
    }
}

/// apksig's reported signers: v3 (newest-platform signer) if v3 verifies and covers the
/// newest platform, else v2's signers, else — only when no v2/v3 block exists — v1's.
fn accepted(
    m: &Manifest,
    v1: Option<Vec<Vec<u8>>>,
    v2: Option<&SchemeBlock>,
    v3: Option<&SchemeBlock>,
) -> Vec<Vec<u8>> {
    if v2.is_none() && v3.is_none() {
        return if v1_may_decide(m) {
            v1.unwrap_or_default()
        } else {
            Vec::new()
        };
    }
    if let Some(b) = v2 {
        if !b.valid() || (v3.is_none() && names_v3(b)) {
            return Vec::new();
        }
    }
    if let Some(b) = v3 {
        if !b.valid() {
            return Vec::new();
        }
        if let Some(newest) = newest(b) {
            if v2.is_some_and(|v2| !v2_matches_v3(v2, b)) {
                return Vec::new();
            }
            return newest.certs.first().cloned().into_iter().collect();
        }
    }
    v2.map(|b| {
        b.signers
            .iter()
            .filter_map(|s| s.certs.first().cloned())
            .collect()
    })
    .unwrap_or_default()
}

/// Whether a package with no v2/v3 block can be accepted on its v1 signature: targetSdkVersion
/// (else minSdkVersion) below 30 (Android 11 refuses v1-only), and no targetSandboxVersion
/// above 1 (Android 8 and later require v2 or newer for those).
fn v1_may_decide(m: &Manifest) -> bool {
    let target = m.target_sdk.or(m.min_sdk).unwrap_or(1);
    target < SDK_R && m.target_sandbox.unwrap_or(1) <= 1
}

/// Whether a v2 signer's stripping-protection attribute requires the v3 scheme.
fn names_v3(v2: &SchemeBlock) -> bool {
    v2.signers
        .iter()
        .flat_map(|s| &s.required_schemes)
        .any(|&id| id == 3)
}

/// The v3 signer for the newest platform (maxSdk 0x7fffffff; the highest minSdk of those).
fn newest(v3: &SchemeBlock) -> Option<&SchemeSigner> {
    v3.signers
        .iter()
        .filter(|s| s.max_sdk >= i32::MAX as u32)
        .max_by_key(|s| s.min_sdk)
}

/// With both v2 and v3, v2 must have one signer: the oldest v3 identity (lineage root or the
/// lowest-SDK v3 signer).
fn v2_matches_v3(v2: &SchemeBlock, v3: &SchemeBlock) -> bool {
    let [only] = v2.signers.as_slice() else {
        return false;
    };
    let Some(first) = v3.signers.iter().min_by_key(|s| s.min_sdk) else {
        return false;
    };
    let oldest = first.lineage.first().or(first.certs.first());
    only.certs.first() == oldest
}
