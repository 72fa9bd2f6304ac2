//! Package fixtures for the upload tests, with their ground truth from tools other than
//! icpgate: own APKs built by `tests/fixtures-src/make-apks.sh` (fingerprints from
//! `apksigner verify --print-certs`), and `../shared/fixtures/apps` (MANIFEST.json).
//!
//! Missing tools or fixtures: under `CI` the test fails; locally it says so loudly on stderr
//! (past the test harness's capture) and the test returns early.
#![allow(dead_code)]

pub mod hapsign;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn loud(msg: &str) {
    let line = format!("!!!!! {msg} !!!!!\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Fails under CI, else prints a loud skip notice.
fn missing(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} (CI is set: install it, see .ci/run)");
    }
    loud(&format!("UPLOAD FIXTURES SKIPPED: {what}"));
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The APKs built from source by make-apks.sh.
pub struct Own {
    pub dir: PathBuf,
    pub package: &'static str,
    /// sha256 / sha1 / md5 of the signer of signed.apk and resigned.apk, per apksigner.
    pub signed: [String; 3],
    pub resigned: [String; 3],
}

impl Own {
    pub fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }
}

fn certs_of(path: &Path) -> [String; 3] {
    let text = std::fs::read_to_string(path).unwrap();
    let get = |alg: &str| {
        text.lines()
            .find_map(|l| l.split_once(&format!("certificate {alg} digest: ")))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {alg} in {}:\n{text}", path.display()))
    };
    [get("SHA-256"), get("SHA-1"), get("MD5")]
}

fn build_own() -> Option<Own> {
    build_apks("own-apks", &[])
}

/// make-apks.sh's output with `env` set for it (e.g. `SIGN_FLAGS`, `FILLER_BYTES`), built
/// into a fresh `tag`-named directory of the target tmp dir.
pub fn build_apks(tag: &str, env: &[(&str, &str)]) -> Option<Own> {
    for tool in ["python3", "zipalign", "apksigner"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing(&format!("{tool} not installed (apt-get install {tool})"));
            return None;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-src/make-apks.sh");
    // Built once per test binary run, into the target tmp dir (not the source tree); builds
    // of earlier runs are removed once they are an hour old.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|a| a.as_secs() > 3600));
        if old
            && e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{tag}-"))
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let dir = tmp.join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let out = Command::new("bash")
        .arg(&script)
        .arg(&dir)
        .envs(env.iter().copied())
        .output()
        .expect("run make-apks.sh");
    assert!(
        out.status.success(),
        "make-apks.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(Own {
        signed: certs_of(&dir.join("signed.certs")),
        resigned: certs_of(&dir.join("resigned.certs")),
        dir,
        package: "cn.icpgate.demo",
    })
}

/// The own APK fixtures, built on first use.
pub fn own() -> Option<&'static Own> {
    static OWN: OnceLock<Option<Own>> = OnceLock::new();
    OWN.get_or_init(build_own).as_ref()
}

/// A fixture from `../shared/fixtures/apps` with its MANIFEST entry.
pub struct Shared {
    pub bytes: Vec<u8>,
    pub expected: Value,
}

fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("ICPGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apps"),
    };
    if dir.join("MANIFEST.json").is_file() {
        return Some(dir);
    }
    missing(&format!(
        "{} not found (set ICPGATE_FIXTURES)",
        dir.display()
    ));
    None
}

/// Reads a shared fixture and its ground truth.
pub fn shared(file: &str) -> Option<Shared> {
    let dir = shared_dir()?;
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap()).unwrap();
    let entry = manifest["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} not in MANIFEST.json"))
        .clone();
    let bytes = std::fs::read(dir.join(file)).unwrap();
    assert_eq!(sha256_hex(&bytes), entry["sha256"], "{file} changed");
    Some(Shared {
        bytes,
        expected: entry["expected"].clone(),
    })
}

/// One snapshot line: a filing of `id` on `platform` listing these signer digests
/// (`("sha256", hex)`, `("sha1", hex)`, `("md5", hex)`).
pub fn record(
    number: &str,
    status: &str,
    platform: &str,
    id: &str,
    signers: &[&[(&str, &str)]],
) -> String {
    let signers: Vec<String> = signers
        .iter()
        .map(|s| {
            let fields: Vec<String> = s.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!(
        r#"{{"number":"{number}","status":"{status}","entity":"实体{number}","app_name":"A","platforms":[{{"platform":"{platform}","ids":["{id}"],"signers":[{}]}}]}}"#,
        signers.join(",")
    )
}

/// A multipart/form-data body: text fields, then the file part.
pub fn multipart(
    boundary: &str,
    fields: &[(&str, &str)],
    file_field: &str,
    file: &[u8],
) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"app.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(file);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// The bundle name of the test-signed HAPs (hapsign.rs) and the harmony filing that lists
/// the signer `hap_key()`.
pub const SIGNED_HAP_ID: &str = "cn.icpgate.hapdemo";
pub const SIGNED_HAP_FILING: &str = "京ICP备2024000006号-1A";

/// The test key a harmony filing lists, generated once per test binary run.
pub fn hap_key() -> &'static hapsign::TestKey {
    static KEY: OnceLock<hapsign::TestKey> = OnceLock::new();
    KEY.get_or_init(|| hapsign::TestKey::new("icpgate hap demo"))
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// `zip` (no comment) with one more stored entry `name`, inserted before the APK Signing Block
/// (or the central directory) and appended to the directory: a second `AndroidManifest.xml`
/// that readers taking the last entry of a name see, while the signing block stays intact.
pub fn with_extra_entry(zip: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let e = zip.len() - 22;
    assert_eq!(&zip[e..e + 4], b"PK\x05\x06", "no comment expected");
    let (cd_size, cd_off) = (le32(zip, e + 12) as usize, le32(zip, e + 16) as usize);
    let at = if &zip[cd_off - 16..cd_off] == b"APK Sig Block 42" {
        cd_off - 8 - u64::from_le_bytes(zip[cd_off - 24..cd_off - 16].try_into().unwrap()) as usize
    } else {
        cd_off
    };
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let mut fixed = vec![20, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    fixed.extend_from_slice(&crc.sum().to_le_bytes());
    fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    fixed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    fixed.extend_from_slice(&(name.len() as u16).to_le_bytes());
    let mut lfh = b"PK\x03\x04".to_vec();
    lfh.extend_from_slice(&fixed);
    lfh.extend_from_slice(&[0, 0]);
    lfh.extend_from_slice(name.as_bytes());
    lfh.extend_from_slice(data);
    let mut rec = b"PK\x01\x02\x14\x00".to_vec();
    rec.extend_from_slice(&fixed);
    rec.extend_from_slice(&[0; 12]);
    rec.extend_from_slice(&(at as u32).to_le_bytes());
    rec.extend_from_slice(name.as_bytes());
    let mut out = zip[..at].to_vec();
    out.extend_from_slice(&lfh);
    out.extend_from_slice(&zip[at..e]);
    out.extend_from_slice(&rec);
    let mut eocd = zip[e..].to_vec();
    let count = u16::from_le_bytes([eocd[10], eocd[11]]) + 1;
    eocd[8..10].copy_from_slice(&count.to_le_bytes());
    eocd[10..12].copy_from_slice(&count.to_le_bytes());
    eocd[12..16].copy_from_slice(&((cd_size + rec.len()) as u32).to_le_bytes());
    eocd[16..20].copy_from_slice(&((cd_off + lfh.len()) as u32).to_le_bytes());
    out.extend_from_slice(&eocd);
    out
}

/// `zip` (no comment) with `comment` as its EOCD comment.
pub fn with_comment(zip: &[u8], comment: &[u8]) -> Vec<u8> {
    let mut out = zip.to_vec();
    let n = out.len();
    out[n - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
    out
}
