//! Differential test against apksigner: for every APK under `../shared/fixtures/apksig` and
//! `../shared/fixtures/apps/apk`, icpgate's accepted signer set (digests verified) must be the
//! set of signer certificates Debian's `apksigner verify --print-certs -v` prints.
//!
//! Owns: running apksigner (two processes at a time) the way the apksig MANIFEST.json `oracle`
//! field describes — a default run and, when that fails, a run with `--min-sdk-version 24`;
//! nothing accepted when both fail — parsing the SHA-256 of each signer certificate it prints,
//! and comparing that set with `inspect_file`'s `accepted_signers` (none when icpgate refuses
//! the file; an ambiguous ZIP, refused by the strict ZIP checks, is compared as read with those
//! checks off). It also compares each live
//! verdict with the verdict recorded in the MANIFEST files and prints the differences, which
//! checks this runner against the recorded runs.
//! Must not: hold expectations of its own. Where apksigner cannot verify a file on this JDK
//! (no RSASSA-PSS provider in OpenJDK 17: `NoSuchAlgorithmException`) the expectation is the
//! apksig MANIFEST's recorded AOSP expectation for the same bytes, said so in the output; a
//! file with neither is listed as not compared.
//! Invariant: the test passes only when every compared file agrees; without apksigner or the
//! fixtures it is skipped, except under CI (`CI` set), where it fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use icpgate::inspect::{inspect_file, Limits};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A set of certificate SHA-256 fingerprints, lowercase hex.
type Certs = BTreeSet<String>;

/// apksigner's answer for one file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Oracle {
    /// The signers it prints (empty: both runs fail), and the run that printed them.
    Verdict(Certs, &'static str),
    /// It cannot verify this file on this JDK; the line that says why.
    CannotRun(String),
}

/// One APK and what the fixture MANIFEST files recorded for it.
struct Fixture {
    path: PathBuf,
    /// Path under `../shared/fixtures`, for messages.
    name: String,
    /// `platform_signers_sha256` as recorded (`null` and `[]` both mean none).
    recorded: Certs,
    /// The apksig MANIFEST's recorded expectation for the same bytes, with its `oracle` field.
    apksig_record: Option<(Certs, String)>,
}

fn skip(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{why} and CI is set");
    // Written to stderr directly so the test harness does not capture (hide) it.
    let msg = format!("!!!!! APKSIGNER DIFFERENTIAL TEST SKIPPED: {why} !!!!!\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
}

fn on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn certs(v: &Value) -> Certs {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

fn manifest(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let v: Value = serde_json::from_str(&text).expect("MANIFEST.json parses");
    v["fixtures"].as_array().expect("fixtures array").clone()
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read fixture")))
}

/// Every APK of both folders, with the recorded verdicts.
fn fixtures(root: &Path) -> Vec<Fixture> {
    let mut by_sha = BTreeMap::new();
    let mut out = Vec::new();
    for f in manifest(&root.join("apksig")) {
        let file = f["file"].as_str().expect("file").to_string();
        let record = (
            certs(&f["platform_signers_sha256"]),
            f["oracle"].as_str().unwrap_or_default().to_string(),
        );
        out.push((format!("apksig/{file}"), record.0.clone()));
        by_sha.insert(f["sha256"].as_str().unwrap_or_default().to_string(), record);
    }
    for f in manifest(&root.join("apps")) {
        let file = f["file"].as_str().expect("file");
        if file.ends_with(".apk") {
            let recorded = certs(&f["expected"]["platform_signers_sha256"]);
            out.push((format!("apps/{file}"), recorded));
        }
    }
    out.into_iter()
        .map(|(name, recorded)| {
            let path = root.join(&name);
            let apksig_record = by_sha.get(&sha256_of(&path)).cloned();
            Fixture {
                path,
                name,
                recorded,
                apksig_record,
            }
        })
        .collect()
}

/// What one apksigner run says: the signers printed on success, or the failure.
enum Run {
    Verified(Certs),
    Failed,
    NoProvider(String),
}

fn run(apksigner: &Path, file: &Path, extra: &[&str]) -> Run {
    let out = Command::new(apksigner)
        .args(["verify", "--print-certs", "-v"])
        .args(extra)
        .arg(file)
        .output()
        .expect("apksigner runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    if let Some(line) = stdout
        .lines()
        .chain(stderr.lines())
        .find(|l| l.contains("NoSuchAlgorithmException"))
    {
        return Run::NoProvider(line.trim().to_string());
    }
    if !out.status.success() {
        return Run::Failed;
    }
    // "Signer #1 certificate SHA-256 digest: <hex>" (not the "public key" lines).
    let signers = stdout
        .lines()
        .filter(|l| l.starts_with("Signer #"))
        .filter_map(|l| l.split_once(" certificate SHA-256 digest: "))
        .map(|(_, hex)| hex.trim().to_string())
        .collect();
    Run::Verified(signers)
}

/// The oracle: a default run, else a run with `--min-sdk-version 24`, else nothing accepted.
fn oracle(apksigner: &Path, file: &Path) -> Oracle {
    for (extra, label) in [
        (&[][..], "default"),
        (&["--min-sdk-version", "24"][..], "min-sdk-24"),
    ] {
        match run(apksigner, file, extra) {
            Run::Verified(s) => return Oracle::Verdict(s, label),
            Run::NoProvider(why) => return Oracle::CannotRun(why),
            Run::Failed => {}
        }
    }
    Oracle::Verdict(Certs::new(), "rejects")
}

/// Runs the oracle over every fixture, two apksigner processes at a time.
fn oracles(apksigner: &Path, all: &[Fixture]) -> Vec<Oracle> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; all.len()]);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = all.get(i) else { break };
                let o = oracle(apksigner, &f.path);
                results.lock().expect("results lock")[i] = Some(o);
            });
        }
    });
    let results = results.into_inner().expect("results lock");
    results
        .into_iter()
        .map(|o| o.expect("every fixture ran"))
        .collect()
}

/// icpgate's accepted signers with digests verified, and a note when it refuses the file: an
/// error accepts no signer. A file refused as an ambiguous ZIP is read again with `strict_zip`
/// off, so that its signature reading is compared too (docs/inspection.md "Strict ZIP").
fn icpgate(path: &Path) -> (Certs, Option<String>) {
    let accepted = |strict_zip| {
        let limits = Limits {
            verify_digests: true,
            strict_zip,
            ..Default::default()
        };
        inspect_file(path, &limits).map(|id| {
            id.accepted_signers
                .iter()
                .filter_map(|c| c.signer.sha256.map(hex::encode))
                .collect::<Certs>()
        })
    };
    match accepted(true) {
        Ok(c) => (c, None),
        Err(e) if e.code() == "package_ambiguous" => match accepted(false) {
            Ok(c) => (
                c,
                Some("package_ambiguous; read with strict_zip off".into()),
            ),
            Err(e) => (
                Certs::new(),
                Some(format!("package_ambiguous, then {}", e.code())),
            ),
        },
        Err(e) => (Certs::new(), Some(e.code().to_string())),
    }
}

fn show(c: &Certs) -> String {
    if c.is_empty() {
        "none".into()
    } else {
        let short: Vec<_> = c.iter().map(|h| h.get(..16).unwrap_or(h)).collect();
        short.join(",")
    }
}

/// The expectation for one file: apksigner's verdict, or the recorded AOSP expectation when
/// apksigner cannot run. None: neither exists.
fn expectation(f: &Fixture, o: &Oracle, notes: &mut Vec<String>) -> Option<(Certs, String)> {
    match o {
        Oracle::Verdict(c, label) => Some((c.clone(), format!("apksigner {label}"))),
        Oracle::CannotRun(why) => match &f.apksig_record {
            Some((c, oracle)) => {
                notes.push(format!(
                    "{}: apksigner cannot run ({why}); expectation from apksig MANIFEST.json \
                     ({oracle}): {}",
                    f.name,
                    show(c)
                ));
                Some((c.clone(), format!("MANIFEST {oracle}")))
            }
            None => {
                notes.push(format!(
                    "{}: apksigner cannot run ({why}) and no AOSP expectation is recorded for \
                     these bytes: not compared",
                    f.name
                ));
                None
            }
        },
    }
}

/// Live verdicts that differ from the recorded ones (the runner's own check).
fn recorded_differences(all: &[Fixture], got: &[Oracle]) -> Vec<String> {
    all.iter()
        .zip(got)
        .filter_map(|(f, o)| match (o, &f.recorded) {
            (Oracle::Verdict(c, label), r) if c != r => Some(format!(
                "{}: live apksigner ({label}) {} vs recorded {}",
                f.name,
                show(c),
                show(r)
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn accepted_signers_match_apksigner() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    if !root.join("apksig/MANIFEST.json").is_file() || !root.join("apps/MANIFEST.json").is_file() {
        return skip(&format!("fixtures not found under {}", root.display()));
    }
    let Some(apksigner) = on_path("apksigner") else {
        return skip("apksigner is not on PATH");
    };
    let all = fixtures(&root);
    let started = Instant::now();
    let got = oracles(&apksigner, &all);
    eprintln!(
        "apksigner: {} files in {:.1} s (2 processes)",
        all.len(),
        started.elapsed().as_secs_f64()
    );
    let differences = recorded_differences(&all, &got);
    eprintln!(
        "live apksigner verdicts that differ from MANIFEST.json: {}",
        differences.len()
    );
    for d in &differences {
        eprintln!("  {d}");
    }
    let (mut notes, mut disagreements, mut compared) = (Vec::new(), Vec::new(), 0);
    for (f, o) in all.iter().zip(&got) {
        let Some((want, source)) = expectation(f, o, &mut notes) else {
            continue;
        };
        compared += 1;
        let (have, refused) = icpgate(&f.path);
        if have != want {
            let refused = refused.map(|r| format!(" (error {r})")).unwrap_or_default();
            disagreements.push(format!(
                "{}: {source} {} vs icpgate {}{refused}",
                f.name,
                show(&want),
                show(&have)
            ));
        }
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {compared} APKs: icpgate's accepted signers differ from apksigner's:\n  {}",
        disagreements.len(),
        disagreements.join("\n  ")
    );
    eprintln!("{compared} APKs agree with apksigner");
}
