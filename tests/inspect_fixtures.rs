//! Fixture tests for `icpgate::inspect` against `shared/fixtures/apps/MANIFEST.json`.
//!
//! Owns: checking every fixture's kind, id, versions, per-scheme certificates, accepted signers
//! and documented error codes; the no-panic mutation sweep; timing prints.
//! Must not: silently pass without fixtures under CI (`CI` set → missing fixtures fail).
//! Invariant: every deviation from MANIFEST ground truth is listed in `DEVIATIONS` with a reason.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use icpgate::inspect::{inspect_bytes, inspect_file, Limits, PackageIdentity, PackageKind};
use serde_json::Value;

#[path = "upload_support/hapsign.rs"]
mod hapsign;

/// Fixtures that must fail, with the documented error code.
const ERRORS: &[(&str, &str)] = &[
    ("apk/apksig-empty-unsigned.apk", "unsupported_package"),
    ("apk/androguard-CertChain.apk", "manifest_missing"),
    ("ipa/fastlane-no-app-bundle.ipa", "unsupported_package"),
    ("ipa/fastlane-not-an-ipa.ipa", "package_unreadable"),
    ("axml/AndroidManifestWrongFilesize.xml", "manifest_invalid"),
];

/// Fixtures built as ZIP constructions that common readers read differently: refused with
/// `package_ambiguous` under the default (strict) limits, and still checked against their
/// ground truth with `strict_zip` off (docs/inspection.md "Strict ZIP").
const AMBIGUOUS: &[&str] = &[
    "apk/apkinspector-minimal_SIZE_ExtraField.apk",
    "apk/apksig-mismatched-compression-method.apk",
    "apk/apksig-v1v2v3-lineage-invalid-zip.apk",
    "apk/apksig-v2-only-apk-sig-block-size-mismatch.apk",
    "apk/apksig-v2-only-garbage-between-cd-and-eocd.apk",
    "apk/apksig-v2-only-truncated-cd.apk",
    "apk/apksig-v2-only-wrong-apk-sig-block-magic.apk",
    "apk/fdroid-janus.apk",
];

/// The same for the apksig corpus (`../shared/fixtures/apksig`), which has no other test here.
const AMBIGUOUS_APKSIG: &[&str] = &[
    "v1v2v3-with-rsa-2048-lineage-3-signers-no-sig-block.apk",
    "v3-only-with-ecdsa-sha512-p384-wrong-apk-sig-block-magic.apk",
    "v3-only-with-rsa-pkcs1-sha512-8192-digest-mismatch.apk",
];

/// Fixtures MANIFEST.json calls unsigned that carry a HAP signing block, with the signer
/// certificate's (sha256, sha1, md5) as openssl reports them (docs/inspection.md "HarmonyOS
/// signatures": `openssl pkcs7 -inform DER -print_certs` on the 0x20000000 sub-block, the
/// SignerInfo's issuer+serial, `openssl cms -verify -noverify`), independent of icpgate.
const HAP_SIGNED: &[(&str, [&str; 3])] = &[(
    "hap/icyleaf-harmony.hap",
    [
        "8abdff0344e75c7ca09d56e0778548281e26bedce139b348a716d5db13790a52",
        "49653f18b4e7489e681957fb1e0859f5d1cb091b",
        "6d81041a05cccc4c43ae8caad719d86d",
    ],
)];

/// Deliberate deviations from `platform_signers_sha256` (see docs/inspection.md).
const DEVIATIONS: &[(&str, &[&str], &str)] = &[(
    "apk/apksig-v2-only-rsa-pss-sha256-2048.apk",
    &["fb5dbd3c669af9fc236c6991e6387b7f11ff0590997f22d0f5c74ff40e04fca8"],
    "RSA-PSS v2 signature and content digest verify; the recorded apksigner run (OpenJDK \
     without a 'SHA256withRSA/PSS' provider) could not check it. Android accepts it.",
)];

fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ICPGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apps"),
    };
    if dir.join("MANIFEST.json").is_file() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("fixtures not found at {} and CI is set", dir.display());
    }
    // Written to stderr directly so the test harness does not capture (hide) it.
    let msg = format!(
        "!!!!! FIXTURES SKIPPED: {} not found (set ICPGATE_FIXTURES) !!!!!\n",
        dir.display()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    None
}

fn manifest(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let v: Value = serde_json::from_str(&text).expect("MANIFEST.json parses");
    v["fixtures"].as_array().expect("fixtures array").clone()
}

/// A stored-only ZIP holding `data` as AndroidManifest.xml (how standalone AXML is tested).
fn wrap_axml(data: &[u8]) -> Vec<u8> {
    let name = b"AndroidManifest.xml";
    let mut z = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd_off = z.len() as u32;
    let mut cd = b"PK\x01\x02\x14\0\x14\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
    cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
    cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
    cd.extend_from_slice(&[0; 16]);
    cd.extend_from_slice(name);
    z.extend_from_slice(&cd);
    z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\0\x01\0");
    z.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    z.extend_from_slice(&cd_off.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

fn opt_str(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn sha(list: impl IntoIterator<Item = String>) -> Vec<String> {
    list.into_iter().collect()
}

fn scheme_sha(id: &PackageIdentity, scheme: &str) -> Vec<String> {
    id.schemes
        .iter()
        .filter(|s| s.scheme == scheme)
        .flat_map(|s| {
            s.certs
                .iter()
                .map(|c| hex::encode(c.signer.sha256.unwrap()))
        })
        .collect()
}

fn accepted_set(id: &PackageIdentity) -> BTreeSet<String> {
    id.accepted_signers
        .iter()
        .map(|c| hex::encode(c.signer.sha256.unwrap()))
        .collect()
}

/// Expected per-scheme signer sha256 lists of an APK fixture.
fn expected_schemes(e: &Value) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for name in e["schemes_present"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap().to_string();
        let list = e["certs"][&name].as_array().cloned().unwrap_or_default();
        let certs = if name == "v1" {
            sha(list
                .iter()
                .filter(|c| c["has_sf"] == true)
                .map(|c| c["sha256"].as_str().unwrap().into()))
        } else {
            sha(list
                .iter()
                .filter_map(|s| s["certs"][0]["sha256"].as_str().map(String::from)))
        };
        out.push((name, certs));
    }
    out
}

fn check_fingerprints(file: &str, id: &PackageIdentity, e: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let all: Vec<_> = id.schemes.iter().flat_map(|s| &s.certs).collect();
    let mut walk = vec![e];
    while let Some(v) = walk.pop() {
        match v {
            Value::Object(m) => {
                if let (Some(s), Some(m5), Some(s1)) =
                    (m.get("sha256"), m.get("md5"), m.get("sha1"))
                {
                    if let Some(c) = all.iter().find(|c| {
                        Some(hex::encode(c.signer.sha256.unwrap())) == s.as_str().map(String::from)
                    }) {
                        if Some(hex::encode(c.signer.md5.unwrap()).as_str()) != m5.as_str()
                            || Some(hex::encode(c.signer.sha1.unwrap()).as_str()) != s1.as_str()
                        {
                            errs.push(format!("{file}: md5/sha1 mismatch for {s}"));
                        }
                    }
                }
                walk.extend(m.values());
            }
            Value::Array(a) => walk.extend(a),
            _ => {}
        }
    }
    errs
}

/// `platform_signers_sha256` (null = empty), or the documented deviation.
fn expected_accepted(file: &str, e: &Value) -> BTreeSet<String> {
    match DEVIATIONS.iter().find(|d| d.0 == file) {
        Some(d) => d.1.iter().map(|s| s.to_string()).collect(),
        None => e["platform_signers_sha256"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s.as_str().unwrap().to_string())
            .collect(),
    }
}

fn check_apk(file: &str, id: &PackageIdentity, e: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            errs.push(format!("{file}: {what}: got {got} want {want}"));
        }
    };
    eq(
        "kind",
        format!("{:?}", id.kind),
        format!("{:?}", PackageKind::Apk),
    );
    eq(
        "id",
        id.id.clone(),
        e["package"].as_str().unwrap_or("").into(),
    );
    eq(
        "version_code",
        format!("{:?}", id.version_code),
        format!("{:?}", opt_str(&e["version_code"])),
    );
    eq(
        "version_name",
        format!("{:?}", id.version_name),
        format!("{:?}", opt_str(&e["version_name"])),
    );
    let want = expected_schemes(e);
    let got_names: Vec<&str> = id.schemes.iter().map(|s| s.scheme).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| n.as_str()).collect();
    eq(
        "schemes",
        format!("{got_names:?}"),
        format!("{want_names:?}"),
    );
    for (name, certs) in &want {
        eq(
            &format!("{name} certs"),
            format!("{:?}", scheme_sha(id, name)),
            format!("{certs:?}"),
        );
    }
    let want_acc = expected_accepted(file, e);
    eq(
        "accepted",
        format!("{:?}", accepted_set(id)),
        format!("{want_acc:?}"),
    );
    errs.extend(check_fingerprints(file, id, e));
    errs
}

fn check_ipa(file: &str, id: &PackageIdentity, e: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            errs.push(format!("{file}: {what}: got {got} want {want}"));
        }
    };
    eq("kind", format!("{:?}", id.kind), "Ipa".into());
    eq(
        "id",
        id.id.clone(),
        e["bundle_id"].as_str().unwrap_or("").into(),
    );
    eq(
        "version_code",
        format!("{:?}", id.version_code),
        format!("{:?}", opt_str(&e["build"])),
    );
    eq(
        "version_name",
        format!("{:?}", id.version_name),
        format!("{:?}", opt_str(&e["version"])),
    );
    let mut want: Vec<String> = Vec::new();
    for s in e["code_signature"]["slices"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let c = s["signer_cert"]["sha256"].as_str().unwrap().to_string();
        if !want.contains(&c) {
            want.push(c);
        }
    }
    eq(
        "ipa certs",
        format!("{:?}", scheme_sha(id, "ipa")),
        format!("{want:?}"),
    );
    eq(
        "accepted",
        format!("{:?}", accepted_set(id)),
        format!("{:?}", want.into_iter().collect::<BTreeSet<_>>()),
    );
    errs.extend(check_fingerprints(file, id, e));
    errs
}

fn check_hap(file: &str, id: &PackageIdentity, e: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let got = (
        id.kind,
        id.id.clone(),
        id.version_code.clone(),
        id.version_name.clone(),
    );
    let want = (
        PackageKind::Hap,
        e["bundle_name"].as_str().unwrap_or("").to_string(),
        opt_str(&e["version_code"]),
        opt_str(&e["version_name"]),
    );
    if got != want {
        errs.push(format!("{file}: got {got:?} want {want:?}"));
    }
    if let Some((_, want)) = HAP_SIGNED.iter().find(|(f, _)| *f == file) {
        let got: Vec<[String; 3]> = id
            .accepted_signers
            .iter()
            .map(|c| {
                let s = &c.signer;
                [
                    s.sha256.map(hex::encode),
                    s.sha1.map(hex::encode),
                    s.md5.map(hex::encode),
                ]
                .map(Option::unwrap_or_default)
            })
            .collect();
        if got != [want.map(String::from)] || scheme_sha(id, "hap") != [want[0]] {
            errs.push(format!("{file}: HAP signer {got:?}, openssl says {want:?}"));
        }
    } else if e["signed"] == false && (!id.schemes.is_empty() || !id.accepted_signers.is_empty()) {
        errs.push(format!("{file}: unsigned HAP reported signers"));
    }
    errs
}

fn check_axml(file: &str, id: &PackageIdentity, e: &Value) -> Vec<String> {
    let got = (
        id.id.clone(),
        id.version_code.clone(),
        id.version_name.clone(),
    );
    let want = (
        e["package"].as_str().unwrap_or("").to_string(),
        opt_str(&e["version_code"]),
        opt_str(&e["version_name"]),
    );
    if got == want {
        Vec::new()
    } else {
        vec![format!("{file}: got {got:?} want {want:?}")]
    }
}

fn load(dir: &std::path::Path, f: &Value) -> (String, String, Vec<u8>) {
    let file = f["file"].as_str().unwrap().to_string();
    let kind = f["kind"].as_str().unwrap().to_string();
    let mut bytes = std::fs::read(dir.join(&file)).expect("fixture readable");
    if kind == "axml" {
        bytes = wrap_axml(&bytes);
    }
    (file, kind, bytes)
}

#[test]
fn every_fixture_matches_ground_truth() {
    let Some(dir) = fixtures_dir() else { return };
    let lax = Limits {
        strict_zip: false,
        ..Limits::default()
    };
    let mut errs = Vec::new();
    let mut checked = 0;
    for f in manifest(&dir) {
        let (file, kind, bytes) = load(&dir, &f);
        let e = &f["expected"];
        let strict = inspect_bytes(&bytes, &Limits::default());
        let ambiguous = AMBIGUOUS.contains(&file.as_str());
        let result = match strict {
            Err(err) if ambiguous && err.code() == "package_ambiguous" => {
                inspect_bytes(&bytes, &lax)
            }
            other if ambiguous => {
                errs.push(format!(
                    "{file}: want package_ambiguous, got {:?}",
                    other.map(|i| i.id).map_err(|e| e.code())
                ));
                continue;
            }
            other => other,
        };
        if let Some((_, code)) = ERRORS.iter().find(|x| x.0 == file) {
            match result {
                Err(err) if err.code() == *code => {}
                other => errs.push(format!(
                    "{file}: want error {code}, got {:?}",
                    other.map(|i| i.id)
                )),
            }
            checked += 1;
            continue;
        }
        let id = match result {
            Ok(id) => id,
            Err(err) => {
                errs.push(format!("{file}: unexpected error {} ({err})", err.code()));
                continue;
            }
        };
        errs.extend(match kind.as_str() {
            "apk" => check_apk(&file, &id, e),
            "ipa" => check_ipa(&file, &id, e),
            "hap" => check_hap(&file, &id, e),
            _ => check_axml(&file, &id, e),
        });
        checked += 1;
    }
    assert!(
        errs.is_empty(),
        "{} mismatches:\n{}",
        errs.len(),
        errs.join("\n")
    );
    assert!(checked >= 84, "only {checked} fixtures checked");
}

/// Every APK of the apksig corpus inspects exactly as without strict ZIP, except the listed
/// constructions, which are `package_ambiguous`.
#[test]
fn strict_zip_changes_only_the_ambiguous_apksig_corpus_files() {
    let Some(dir) = fixtures_dir() else { return };
    let corpus = dir.join("../apksig");
    let Ok(list) = std::fs::read_dir(&corpus) else {
        assert!(std::env::var_os("CI").is_none(), "no {}", corpus.display());
        return;
    };
    let lax = Limits {
        strict_zip: false,
        ..Limits::default()
    };
    let (mut checked, mut refused) = (0, Vec::new());
    for f in list {
        let path = f.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".apk") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let strict = inspect_bytes(&bytes, &Limits::default()).map_err(|e| e.code());
        let before = inspect_bytes(&bytes, &lax).map_err(|e| e.code());
        if AMBIGUOUS_APKSIG.contains(&name.as_str()) {
            assert_eq!(strict.err(), Some("package_ambiguous"), "{name}");
            refused.push(name);
        } else {
            assert_eq!(strict, before, "{name}");
        }
        checked += 1;
    }
    assert_eq!(refused.len(), AMBIGUOUS_APKSIG.len(), "{refused:?}");
    assert!(checked > 200, "only {checked} apksig files");
}

#[test]
fn timing_per_fixture_set() {
    let Some(dir) = fixtures_dir() else { return };
    let limits = Limits::default();
    let mut sets: std::collections::BTreeMap<String, (usize, std::time::Duration)> =
        Default::default();
    for f in manifest(&dir) {
        let file = f["file"].as_str().unwrap();
        let folder = file.split('/').next().unwrap().to_string();
        let t = Instant::now();
        let _ = inspect_file(&dir.join(file), &limits);
        let slot = sets.entry(folder).or_default();
        slot.0 += 1;
        slot.1 += t.elapsed();
    }
    for (set, (n, d)) in sets {
        eprintln!(
            "timing: {set}: {n} files in {d:?} ({:?}/file, inspect_file)",
            d / n as u32
        );
    }
}

/// Writes a stored ZIP: AndroidManifest.xml (`manifest`) then `filler` zero bytes as an asset.
fn write_big_apk(path: &std::path::Path, manifest: &[u8], filler: u64) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let entries: [(&[u8], u64); 2] = [
        (b"AndroidManifest.xml", manifest.len() as u64),
        (b"assets/big.bin", filler),
    ];
    let (mut off, mut cd) = (0u64, Vec::new());
    for (i, (name, len)) in entries.iter().enumerate() {
        let mut lfh = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        lfh.extend_from_slice(&(*len as u32).to_le_bytes());
        lfh.extend_from_slice(&(*len as u32).to_le_bytes());
        lfh.extend_from_slice(&(name.len() as u16).to_le_bytes());
        lfh.extend_from_slice(&[0, 0]);
        lfh.extend_from_slice(name);
        let mut rec = b"PK\x01\x02\x14\0".to_vec();
        rec.extend_from_slice(&lfh[4..30]);
        rec.extend_from_slice(&[0; 10]);
        rec.extend_from_slice(&(off as u32).to_le_bytes());
        rec.extend_from_slice(name);
        cd.extend_from_slice(&rec);
        w.write_all(&lfh).unwrap();
        if i == 0 {
            w.write_all(manifest).unwrap();
        } else {
            let chunk = vec![0u8; 1 << 20];
            let mut left = *len;
            while left > 0 {
                let n = left.min(chunk.len() as u64);
                w.write_all(&chunk[..n as usize]).unwrap();
                left -= n;
            }
        }
        off += lfh.len() as u64 + len;
    }
    w.write_all(&cd).unwrap();
    w.write_all(b"PK\x05\x06\0\0\0\0\x02\0\x02\0").unwrap();
    w.write_all(&(cd.len() as u32).to_le_bytes()).unwrap();
    w.write_all(&(off as u32).to_le_bytes()).unwrap();
    w.write_all(&[0, 0]).unwrap();
}

#[test]
fn hundred_megabyte_unsigned_apk_is_identified() {
    let Some(dir) = fixtures_dir() else { return };
    let axml = std::fs::read(dir.join("axml/AndroidManifest-Chinese.xml")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.apk");
    write_big_apk(&path, &axml, 100 << 20);
    let t = Instant::now();
    let id = inspect_file(&path, &Limits::default()).unwrap();
    let took = t.elapsed();
    eprintln!("timing: 100 MiB APK identified in {took:?} (inspect_file)");
    assert_eq!(id.id, "com.hotel");
    assert!(id.accepted_signers.is_empty());
}

/// Deterministic xorshift for mutation positions.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn mutated_fixtures_never_panic() {
    let Some(dir) = fixtures_dir() else { return };
    // verify_digests on: the content-digest pass must survive mutated layouts too.
    let limits = Limits {
        max_executable_bytes: 64 << 20,
        verify_digests: true,
        ..Limits::default()
    };
    let mut calls = 0usize;
    for f in manifest(&dir) {
        let (_, _, bytes) = load(&dir, &f);
        let n = bytes.len();
        if n == 0 {
            continue;
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ n as u64;
        let rounds = if n > 200_000 { 12 } else { 40 };
        // truncations: spread over the file and dense near the end (EOCD / CD / signing block)
        for i in 0..rounds {
            let cut = if i % 2 == 0 {
                n * i / rounds
            } else {
                n.saturating_sub(1 + (next(&mut seed) as usize % 4096.min(n)))
            };
            let _ = inspect_bytes(&bytes[..cut], &limits);
            calls += 1;
        }
        // byte flips: anywhere, and concentrated in the last 8 KiB
        for i in 0..rounds {
            let mut m = bytes.clone();
            let span = if i % 2 == 0 { n } else { n.min(8192) };
            for _ in 0..1 + i % 4 {
                let pos = n - span + next(&mut seed) as usize % span;
                m[pos] ^= (next(&mut seed) as u8) | 1;
            }
            let _ = inspect_bytes(&m, &limits);
            calls += 1;
        }
    }
    eprintln!("mutation sweep: {calls} inspect_bytes calls, no panic");
}

/// A v2/v3-signed fixture changed after signing (one byte of the first entry's local header,
/// the file stays readable): the signatures over the signed data still verify, the content
/// digests do not. With `verify_digests` no signer is accepted; without it the genuine signer
/// is reported (the documented trade-off).
#[test]
fn entry_modified_after_signing_is_refused_when_digests_are_verified() {
    let Some(dir) = fixtures_dir() else { return };
    for name in [
        "apk/apksig-golden-aligned-v1v2v3-out.apk",
        "apk/apksig-v2-only-max-sized-eocd-comment.apk",
    ] {
        let mut bytes = std::fs::read(dir.join(name)).unwrap();
        let on = Limits {
            verify_digests: true,
            ..Limits::default()
        };
        let off = Limits {
            verify_digests: false,
            ..Limits::default()
        };
        let intact = inspect_bytes(&bytes, &on).unwrap();
        assert!(
            !intact.accepted_signers.is_empty(),
            "{name}: intact accepted"
        );
        assert_eq!(&bytes[0..4], b"PK\x03\x04");
        bytes[10] ^= 0x01; // last-modified time of the first entry
        let on_id = inspect_bytes(&bytes, &on).unwrap();
        assert_eq!(on_id.id, intact.id);
        assert!(
            on_id.accepted_signers.is_empty(),
            "{name}: modified entry must not be accepted with verify_digests"
        );
        assert_eq!(
            on_id.require_signed().unwrap_err().code(),
            "signature_invalid"
        );
        let off_id = inspect_bytes(&bytes, &off).unwrap();
        assert_eq!(off_id.accepted_signers, intact.accepted_signers, "{name}");
    }
}

/// Every fixture's digests are intact (apksigner's ground truth), so verifying them must not
/// change any accepted signer set: the v2/v3 and HAP content digests, and for the v1-only
/// fixtures (v1 decides) every covered entry's MANIFEST.MF digest.
#[test]
fn digest_verification_keeps_every_fixture_verdict() {
    let Some(dir) = fixtures_dir() else { return };
    let on = Limits {
        verify_digests: true,
        ..Limits::default()
    };
    let off = Limits {
        verify_digests: false,
        ..Limits::default()
    };
    let (mut checked, mut v1_decided) = (0, Vec::new());
    for f in manifest(&dir) {
        if f["kind"] != "apk" {
            continue;
        }
        let (_, _, bytes) = load(&dir, &f);
        if let (Ok(a), Ok(b)) = (inspect_bytes(&bytes, &on), inspect_bytes(&bytes, &off)) {
            assert_eq!(a.accepted_signers, b.accepted_signers, "{}", f["file"]);
            checked += 1;
            if !a.accepted_signers.is_empty() && a.schemes.iter().all(|s| s.scheme == "v1") {
                v1_decided.push(f["file"].to_string());
            }
        }
    }
    assert!(checked > 40, "only {checked} APK fixtures inspected");
    assert!(
        v1_decided.len() >= 8,
        "only {} v1-only fixtures accepted: {v1_decided:?}",
        v1_decided.len()
    );
}

/// The shared HAP (signed by DevEco with a Huawei development certificate) verifies with the
/// content digest on; its block stripped, it is unsigned; re-signed in-test (hapsign.rs) the
/// signer is the test certificate (all three fingerprints); a change after signing is refused
/// with digests verified; no mutation of the signed files panics.
#[test]
fn the_shared_hap_stripped_and_re_signed_reports_each_signer() {
    use sha2::Digest;
    let Some(dir) = fixtures_dir() else { return };
    let original = std::fs::read(dir.join("hap/icyleaf-harmony.hap")).unwrap();
    for verify in [false, true] {
        let limits = Limits {
            verify_digests: verify,
            ..Limits::default()
        };
        let id = inspect_bytes(&original, &limits).unwrap();
        let sha = id.accepted_signers.first().and_then(|c| c.signer.sha256);
        assert_eq!(sha.map(hex::encode).as_deref(), Some(HAP_SIGNED[0].1[0]));
    }
    let mut changed = original.clone();
    changed[10] ^= 1;
    let on_limits = Limits {
        verify_digests: true,
        ..Limits::default()
    };
    let c = inspect_bytes(&changed, &on_limits).unwrap();
    assert_eq!(c.require_signed().unwrap_err().code(), "signature_invalid");
    let unsigned = hapsign::strip(&original);
    assert!(unsigned.len() < original.len());
    let key = hapsign::TestKey::new("fixture signer");
    let signed = hapsign::sign(&unsigned, &key, hapsign::Tamper::None);
    let on = Limits {
        verify_digests: true,
        ..Limits::default()
    };
    let before = inspect_bytes(&unsigned, &on).unwrap();
    assert_eq!(before.require_signed().unwrap_err().code(), "unsigned");
    let id = inspect_bytes(&signed, &on).unwrap();
    assert_eq!(
        (&id.id, &id.version_code),
        (&before.id, &before.version_code)
    );
    let s = &id.accepted_signers[0].signer;
    assert_eq!(hex::encode(s.sha256.unwrap()), key.sha256_hex());
    assert_eq!(
        s.sha1.unwrap().to_vec(),
        sha1::Sha1::digest(&key.cert_der).to_vec()
    );
    assert_eq!(
        s.md5.unwrap().to_vec(),
        md5::Md5::digest(&key.cert_der).to_vec()
    );
    assert_eq!(
        id.to_json()["schemes"]["hap"][0]["sha256"],
        key.sha256_hex()
    );
    let mut changed = signed.clone();
    changed[10] ^= 1; // first entry's modification time
    let c = inspect_bytes(&changed, &on).unwrap();
    assert_eq!(c.require_signed().unwrap_err().code(), "signature_invalid");
    let wrong = hapsign::sign(&unsigned, &key, hapsign::Tamper::WrongDigest);
    let w = inspect_bytes(&wrong, &on).unwrap();
    assert_eq!(w.require_signed().unwrap_err().code(), "signature_invalid");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for file in [&signed, &original] {
        let n = file.len();
        // the last 24 KiB hold the signing block, the CD and the EOCD of both files
        for i in 0..300 {
            let cut = n - 1 - next(&mut seed) as usize % (24 << 10);
            let _ = inspect_bytes(&file[..cut], &on);
            let mut m = file.clone();
            for _ in 0..1 + i % 3 {
                let pos = n - 1 - next(&mut seed) as usize % (24 << 10);
                m[pos] ^= (next(&mut seed) as u8) | 1;
            }
            let _ = inspect_bytes(&m, &on);
        }
    }
}
