//! The apksig corpus (`shared/fixtures/apksig`: AOSP apksig's test APKs) against apksigner:
//! every APK's `accepted_signers` equals MANIFEST.json's `platform_signers_sha256`.
//!
//! Owns: the agreement check with content digests verified (`Limits::verify_digests`), and
//! what changes without them (only the `*-digest-mismatch` files).
//! Must not: pass silently without the corpus under CI (`CI` set → a missing corpus fails).
//! Invariant: every disagreement with the ground truth is listed in `DEVIATIONS` with the
//! reason the ground truth is wrong there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use icpgate::inspect::{inspect_file, Limits};
use serde_json::Value;

/// Files where apksigner's recorded verdict is proven wrong, with the signers reported instead
/// and the proof (docs/inspection.md "Deviation from ground truth"). None: the RSA-PSS files,
/// which apksigner could not check here, carry AOSP's expectation in MANIFEST.json already.
const DEVIATIONS: &[(&str, &[&str], &str)] = &[];

fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ICPGATE_APKSIG_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apksig"),
    };
    if dir.join("MANIFEST.json").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("apksig corpus not found at {} and CI is set", dir.display());
    }
    // Written to stderr directly so the test harness does not capture (hide) it.
    let msg = format!(
        "!!!!! APKSIG CORPUS SKIPPED: {} not found (set ICPGATE_APKSIG_FIXTURES) !!!!!\n",
        dir.display()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    None
}

fn manifest(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let v: Value = serde_json::from_str(&text).expect("MANIFEST.json parses");
    v["fixtures"].as_array().expect("fixtures array").clone()
}

/// The SHA-256 of each accepted signer; a package that does not inspect has none.
fn accepted(path: &Path, limits: &Limits) -> BTreeSet<String> {
    let Ok(id) = inspect_file(path, limits) else {
        return BTreeSet::new();
    };
    id.accepted_signers
        .iter()
        .map(|c| hex::encode(c.signer.sha256.expect("sha256 is always computed")))
        .collect()
}

fn expected(f: &Value) -> BTreeSet<String> {
    let file = f["file"].as_str().unwrap_or_default();
    if let Some((_, signers, _)) = DEVIATIONS.iter().find(|d| d.0 == file) {
        return signers.iter().map(|s| s.to_string()).collect();
    }
    f["platform_signers_sha256"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `(file, expected, got)` for every file that disagrees under `limits`.
fn disagreements(dir: &Path, limits: &Limits) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    let fixtures = manifest(dir);
    assert!(fixtures.len() >= 200, "only {} fixtures", fixtures.len());
    fixtures
        .iter()
        .filter_map(|f| {
            let file = f["file"].as_str().expect("file name");
            let (want, got) = (expected(f), accepted(&dir.join(file), limits));
            (want != got).then(|| (file.to_string(), want, got))
        })
        .collect()
}

#[test]
fn every_apk_gets_the_signers_apksigner_reports() {
    let Some(dir) = fixtures_dir() else { return };
    let limits = Limits {
        verify_digests: true,
        ..Limits::default()
    };
    let bad = disagreements(&dir, &limits);
    let report: Vec<String> = bad
        .iter()
        .map(|(f, want, got)| format!("{f}: expected {want:?}, got {got:?}"))
        .collect();
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        report.join("\n")
    );
    for (file, _, why) in DEVIATIONS {
        assert!(
            dir.join(file).is_file(),
            "deviation {file} ({why}) names no fixture"
        );
    }
}

/// Without content-digest verification, a signing block over other content still names its
/// genuine signer (docs/inspection.md "Caveats"): exactly the `*-digest-mismatch` files differ.
#[test]
fn without_digest_verification_only_digest_mismatch_files_differ() {
    let Some(dir) = fixtures_dir() else { return };
    let off = Limits {
        verify_digests: false,
        ..Limits::default()
    };
    let bad = disagreements(&dir, &off);
    let files: Vec<&str> = bad.iter().map(|b| b.0.as_str()).collect();
    assert!(
        files.iter().all(|f| f.contains("-digest-mismatch")),
        "{files:?}"
    );
    assert!(
        !files.is_empty(),
        "the digest-mismatch files are accepted without verification"
    );
}
