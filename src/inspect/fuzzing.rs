//! Entry points for fuzz/, not API: one function per package reader, each taking arbitrary
//! bytes, running the reader on them and checking the reader's stated invariants.
//!
//! Owns: feeding bytes to the private readers of `inspect` (ZIP, AXML, plist and HAP JSON
//! manifests, JAR manifests, Mach-O code signatures, BER / PKCS#7 / X.509, the APK and HAP
//! signing blocks and their signer blocks) the way the inspection does.
//! Must not: be used outside fuzz/ (it is `#[doc(hidden)]` and may change with any reader),
//! or panic: a broken invariant is returned as `Err` for the fuzz target to report.
//! Invariant: every function returns `Ok(())` unless a reader broke one of its own invariants.

use std::io::Cursor;

use super::cert::{self, Memo};
use super::hapsig::{self, Found};
use super::sigblock::{self, V2_ID, V31_ID, V3_ID};
use super::zipentry::read_entry;
use super::zipread::{self, Src};
use super::{axml, ber, digest, hap, ipa, jarmf, jarsig, macho, pkcs7, schemes, zipstrict, Limits};

/// Largest decompressed entry or executable the fuzz entry points read: small, so that a
/// lying size field costs the fuzzer little time.
const CAP: u64 = 1 << 20;

/// Limits with every size cap at `CAP` and digests on.
fn limits() -> Limits {
    Limits {
        max_manifest_bytes: CAP,
        max_signature_bytes: CAP,
        max_executable_bytes: CAP,
        max_central_directory_bytes: CAP,
        verify_digests: true,
        ..Limits::default()
    }
}

/// The ZIP reader: the end record, the central directory, the strict-ZIP checks and every
/// entry's data (stored or inflated), each within `CAP`.
pub fn zip_entries(data: &[u8]) -> Result<(), String> {
    let limits = limits();
    let Ok(mut src) = Src::new(Cursor::new(data)) else {
        return Ok(());
    };
    let Ok(archive) = zipread::open(&mut src, &limits) else {
        return Ok(());
    };
    if archive.entries.len() > limits.max_entries {
        return Err(format!("{} entries", archive.entries.len()));
    }
    let _ = zipstrict::check(&mut src, &archive);
    for e in &archive.entries {
        if let Ok(got) = read_entry(&mut src, e, CAP) {
            if got.bytes.len() as u64 > CAP {
                return Err(format!("entry of {} bytes past the cap", got.bytes.len()));
            }
        }
    }
    Ok(())
}

/// The binary AndroidManifest.xml reader.
pub fn axml(data: &[u8]) -> Result<(), String> {
    let _ = axml::parse(data);
    Ok(())
}

/// The text manifests: Info.plist (XML or binary), module.json / pack.info, and the JAR
/// manifest format of META-INF/MANIFEST.MF and *.SF.
pub fn manifests(data: &[u8]) -> Result<(), String> {
    let _ = ipa::read_plist(data);
    if let Ok((id, _, _)) = hap::read_manifest(data) {
        if id.is_empty() {
            return Err("HAP manifest with an empty bundleName".into());
        }
    }
    for s in jarmf::parse(data) {
        if s.range.end > data.len() || s.range.start > s.range.end {
            return Err(format!("section range {:?} outside the input", s.range));
        }
        let _ = s.name();
        let _ = s.digest_matches("-Digest", data);
    }
    Ok(())
}

/// The Mach-O code signature reader, then each slice's CMS checked over its CodeDirectory as
/// the IPA reader does.
pub fn macho(data: &[u8]) -> Result<(), String> {
    let Ok(slices) = macho::code_signatures(data, CAP, true) else {
        return Ok(());
    };
    let mut memo = Memo::default();
    for s in &slices {
        if s.cms.len() > data.len() || s.code_directory.len() > data.len() {
            return Err("signature blob longer than the executable".into());
        }
        signed_data(&s.cms[..], Some(&s.code_directory[..]), &mut memo)?;
    }
    Ok(())
}

/// The BER reader over the whole item tree, the PKCS#7 SignedData reader with each signer
/// verified over the embedded content, and the certificate readers on the input itself.
pub fn pkcs7(data: &[u8]) -> Result<(), String> {
    ber_tree(data, 0)?;
    let mut memo = Memo::default();
    signed_data(data, None, &mut memo)?;
    certificate(data, &mut memo);
    Ok(())
}

/// Walks every item under `b`; checks each item lies inside its input.
fn ber_tree(mut b: &[u8], depth: usize) -> Result<(), String> {
    while let Some((t, rest)) = ber::read(b) {
        if t.raw.len() + rest.len() != b.len() || t.content.len() > t.raw.len() {
            return Err(format!("BER item {t:?} does not split its input"));
        }
        if t.tag & 0x20 != 0 && depth < 40 {
            ber_tree(t.content, depth + 1)?;
        }
        b = rest;
    }
    Ok(())
}

/// Parses SignedData, finds each signer's certificate and verifies it over `content` (or the
/// embedded content), as the v1, IPA and HAP readers do.
fn signed_data(b: &[u8], content: Option<&[u8]>, memo: &mut Memo) -> Result<(), String> {
    let Some(sd) = pkcs7::parse(b) else {
        return Ok(());
    };
    let msg = content.or(sd.content).unwrap_or_default();
    for si in &sd.signers {
        let Some(c) = sd.cert_for(si) else { continue };
        if !sd.certs.contains(&c) {
            return Err("signer certificate not among the SignedData certificates".into());
        }
        let _ = pkcs7::verify_signer(&sd, si, c, msg);
    }
    // The v1 reading of the same block: every SignerInfo as apksig checks a JAR signature.
    let _ = jarsig::check(Some(&sd), Some(msg), memo);
    for c in &sd.certs {
        certificate(c, memo);
    }
    Ok(())
}

/// Every certificate reader on `der`.
fn certificate(der: &[u8], memo: &mut Memo) {
    let _ = memo.info(der);
    let _ = cert::issuer_serial(der);
    let _ = cert::subject_key_id(der);
    let _ = memo.spki(der);
}

/// The APK Signing Block ending at the end of `data` (as if the central directory followed),
/// then its v2, v3 and v3.1 blocks with signatures verified.
pub fn apk_signing_block(data: &[u8]) -> Result<(), String> {
    let limits = limits();
    let Ok(mut src) = Src::new(Cursor::new(data)) else {
        return Ok(());
    };
    let Ok(Some(block)) = sigblock::find(&mut src, data.len() as u64, &limits) else {
        return Ok(());
    };
    let mut memo = Memo::default();
    for (id, v3) in [(V2_ID, false), (V3_ID, true), (V31_ID, true)] {
        let Some(value) = block.get(id) else { continue };
        let parsed = schemes::parse(value, v3, limits.max_signers, true, &mut memo);
        if parsed.signers.len() > limits.max_signers {
            return Err(format!("{} signers past the limit", parsed.signers.len()));
        }
        for s in &parsed.signers {
            for c in s.certs.iter().chain(&s.lineage) {
                certificate(c, &mut memo);
            }
        }
    }
    Ok(())
}

/// The HAP signing block ending at the end of `data`, then its signer with the content
/// digests checked over the bytes before the block.
pub fn hap_signing_block(data: &[u8]) -> Result<(), String> {
    let limits = limits();
    let len = data.len() as u64;
    let Ok(mut src) = Src::new(Cursor::new(data)) else {
        return Ok(());
    };
    let Ok(Found::Block(block)) = hapsig::find(&mut src, len, &limits) else {
        return Ok(());
    };
    let sigs = block
        .subs
        .iter()
        .filter(|(t, _)| *t == hapsig::SIGNATURE_ID);
    if sigs.count() != 1 {
        return Err("HAP block without exactly one signature sub-block".into());
    }
    let at = digest::Layout {
        sig_block: block.start,
        cd: len,
        eocd: len,
    };
    let _ = hapsig::signer(&mut src, &block, Some(&at), &limits);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testzip::build_zip;
    use super::*;

    type EntryPoint = fn(&[u8]) -> Result<(), String>;
    const ALL: [EntryPoint; 7] = [
        zip_entries,
        axml,
        manifests,
        macho,
        pkcs7,
        apk_signing_block,
        hap_signing_block,
    ];

    #[test]
    fn entry_points_hold_their_invariants_on_small_inputs() {
        let hap = br#"{"app":{"bundleName":"com.example.x","versionCode":2}}"#;
        let zip = build_zip(b"", &[("module.json", hap), ("a", b"x")], b"");
        let mut sig_block = 24u64.to_le_bytes().to_vec();
        sig_block.extend_from_slice(&24u64.to_le_bytes());
        sig_block.extend_from_slice(b"APK Sig Block 42");
        let inputs: [&[u8]; 7] = [
            b"",
            &zip,
            hap,
            b"Manifest-Version: 1.0\r\n\r\nName: a\r\nSHA-256-Digest: x\r\n",
            &[0x30, 0x80, 0x30, 0x80, 0x02, 0x01, 0x05, 0, 0, 0, 0],
            &[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 1, 0, 0, 0, 0],
            &sig_block,
        ];
        for input in inputs {
            for f in ALL {
                assert_eq!(f(input), Ok(()), "{input:?}");
            }
        }
        let got = hap::read_manifest(hap).ok().map(|m| m.0);
        assert_eq!(got.as_deref(), Some("com.example.x"));
    }
}
