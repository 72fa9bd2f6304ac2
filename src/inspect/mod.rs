//! Package inspection: identify an uploaded Android APK, iOS IPA or HarmonyOS HAP — its app id,
//! version and signing certificates — from the bytes alone.
//!
//! Owns: the public API (`inspect_bytes`, `inspect_reader`, `inspect_file`, `PackageIdentity`,
//! `Limits`, `InspectError`) and package-kind detection by content (never by file name);
//! `fuzzing` holds entry points for fuzz/ into the private readers, not API.
//! Must not: read whole packages (only the ZIP central directory, the manifest entry, signature
//! entries and the APK / HAP Signing Block — plus, for IPAs, a streamed pass over the main
//! executable and its CodeResources (with `Limits::verify_digests`, the resources it lists),
//! and with `Limits::verify_digests` one chunked hashing pass over an APK or HAP with a
//! signing block for its content digests, or one streamed pass over the entries a deciding v1
//! signature covers), expand entries beyond `Limits`, or panic on any input.
//! Invariant: every `PackageIdentity` has a non-empty `id`; `accepted_signers` is a subset of
//! the certificates listed in `schemes` (empty = unsigned or not accepted).

mod apk;
mod axml;
mod ber;
mod cert;
mod chunks;
mod codedir;
mod coderes;
mod digest;
mod error;
#[cfg(unix)]
mod filesrc;
#[doc(hidden)]
pub mod fuzzing;
mod hap;
mod hapsig;
mod ipa;
mod ipaseal;
mod jarmf;
mod jarsf;
mod jarsig;
mod macho;
mod pagehash;
mod pkcs7;
mod schemes;
mod sigblock;
mod sigverify;
#[cfg(test)]
mod testmacho;
#[cfg(test)]
mod testzip;
mod v1;
mod v1entries;
mod verity;
mod x500;
mod zipentry;
mod zipread;
mod zipstrict;

use std::io::{Read, Seek};

use serde_json::{json, Value};

pub use chunks::{chunk_sha256, ChunkDigests, DigestAid, ReadAt};
pub use error::InspectError;

use crate::filing::{Platform, Signer};

/// What kind of package was inspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    Apk,
    Ipa,
    Hap,
}

impl PackageKind {
    pub const ALL: [PackageKind; 3] = [PackageKind::Apk, PackageKind::Ipa, PackageKind::Hap];

    pub fn as_str(self) -> &'static str {
        match self {
            PackageKind::Apk => "apk",
            PackageKind::Ipa => "ipa",
            PackageKind::Hap => "hap",
        }
    }
}

/// One signing certificate: fingerprints over its DER encoding plus display fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertInfo {
    pub signer: Signer,
    pub subject: String,
    pub issuer: String,
    /// Serial number, lowercase hex without leading zero octets.
    pub serial_hex: String,
}

/// The certificates one signature scheme carries (structural: present, not necessarily valid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeSigners {
    /// "v1", "v2", "v3", "v31", "ipa" or "hap".
    pub scheme: &'static str,
    /// One signer certificate per signer, in file order.
    pub certs: Vec<CertInfo>,
}

/// The identity of an inspected package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageIdentity {
    pub kind: PackageKind,
    pub platform: Platform,
    /// Package name / CFBundleIdentifier / bundleName.
    pub id: String,
    /// versionCode / CFBundleVersion / versionCode.
    pub version_code: Option<String>,
    /// versionName / CFBundleShortVersionString / versionName.
    pub version_name: Option<String>,
    pub schemes: Vec<SchemeSigners>,
    /// The signer set the platform would accept; empty = unsigned or not accepted.
    pub accepted_signers: Vec<CertInfo>,
}

/// Resource limits. Exceeding one yields `package_too_large`; nothing is silently truncated.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest package accepted by `inspect_bytes` / `inspect_reader` / `inspect_file`; also
    /// the most decompressed bytes of IPA resources hashed under `verify_digests`.
    pub max_package_bytes: u64,
    /// Most central-directory entries.
    pub max_entries: usize,
    /// Largest central directory, in bytes.
    pub max_central_directory_bytes: u64,
    /// Largest decompressed AndroidManifest.xml / Info.plist / module.json / pack.info.
    pub max_manifest_bytes: u64,
    /// Largest APK or HAP Signing Block, and largest decompressed META-INF signature file.
    pub max_signature_bytes: u64,
    /// Largest decompressed IPA main executable scanned for its code signature.
    pub max_executable_bytes: u64,
    /// Most signers per scheme (apksig's limit is 10).
    pub max_signers: usize,
    /// Verify the content digests (docs/inspection.md "Content digests"): the APK Signature
    /// Scheme v2/v3 and HAP chunked digests (hashes the whole file), and when v1 decides the
    /// signers the MANIFEST.MF digest of every covered entry (streams those entries): a signer
    /// whose signed digests do not match the content is not accepted. For IPAs: the main
    /// executable's code pages and the resources its CodeResources lists (docs/inspection.md
    /// "iOS").
    pub verify_digests: bool,
    /// Refuse (`package_ambiguous`) a ZIP that common readers could read differently
    /// (`zipstrict.rs`, docs/inspection.md "Strict ZIP"). On by default and in every upload
    /// route; off only to study such archives (the fixture tests do).
    pub strict_zip: bool,
}

/// `Limits::verify_digests` by default: on, so that a signature copied from a genuine package
/// onto other content names no signer. It costs one hashing pass over the package, on every
/// core (28 ms for 100 MiB on the 2-core VM), less what an upload route hashed as the bytes
/// arrived; a v1-only package is inflated and hashed entry by entry (BENCHMARKS.md "Package
/// signers").
pub const DEFAULT_VERIFY_DIGESTS: bool = true;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_package_bytes: 4 << 30,
            max_entries: 250_000,
            max_central_directory_bytes: 64 << 20,
            max_manifest_bytes: 8 << 20,
            max_signature_bytes: 32 << 20,
            max_executable_bytes: 1 << 30,
            max_signers: 10,
            verify_digests: DEFAULT_VERIFY_DIGESTS,
            strict_zip: true,
        }
    }
}

/// Inspects a package held in memory.
pub fn inspect_bytes(bytes: &[u8], limits: &Limits) -> Result<PackageIdentity, InspectError> {
    inspect_reader(std::io::Cursor::new(bytes), limits)
}

/// Inspects a package from a seekable reader, reading only the parts named in the module docs.
pub fn inspect_reader<R: Read + Seek>(
    r: R,
    limits: &Limits,
) -> Result<PackageIdentity, InspectError> {
    inspect_aided(r, limits, DigestAid::default())
}

/// `inspect_reader` with help for the content-digest pass: `aid.reader` (the same bytes, for
/// hashing on every core) and `aid.prehashed` (chunk digests computed as the bytes arrived).
/// The result is the same as without them.
pub fn inspect_aided<R: Read + Seek>(
    r: R,
    limits: &Limits,
    aid: DigestAid,
) -> Result<PackageIdentity, InspectError> {
    let mut src = zipread::Src::new(r)?.with_aid(aid);
    if src.len() > limits.max_package_bytes {
        return Err(InspectError::PackageTooLarge("package"));
    }
    let archive = zipread::open(&mut src, limits)?;
    if limits.strict_zip {
        zipstrict::check(&mut src, &archive)?;
    }
    if archive.find(b"AndroidManifest.xml").is_some() {
        return apk::inspect(&mut src, &archive, limits);
    }
    if let Some(app) = ipa::main_app(&archive) {
        return ipa::inspect(&mut src, &archive, &app, limits);
    }
    if hap::is_hap(&archive) {
        return hap::inspect(&mut src, &archive, limits);
    }
    Err(missing_manifest_kind(&archive))
}

/// Tells "an app package without its manifest" from "not an app package".
fn missing_manifest_kind(archive: &zipread::Archive) -> InspectError {
    let android = archive.entries.iter().any(|e| {
        e.name == b"classes.dex" || e.name == b"resources.arsc" || e.name == b"META-INF/MANIFEST.MF"
    });
    if android || ipa::has_app_dir(archive) {
        InspectError::ManifestMissing("app package without its manifest")
    } else {
        InspectError::UnsupportedPackage("ZIP archive is not an APK, IPA or HAP")
    }
}

/// Inspects a package file.
pub fn inspect_file(
    path: &std::path::Path,
    limits: &Limits,
) -> Result<PackageIdentity, InspectError> {
    let f = std::fs::File::open(path).map_err(InspectError::Io)?;
    // Positional reads: every part the inspector reads is one `pread` of exactly its bytes,
    // and the content digests are hashed on every core through a second handle.
    #[cfg(unix)]
    {
        let aid = DigestAid {
            reader: Some(std::sync::Arc::new(f.try_clone()?)),
            prehashed: None,
        };
        inspect_aided(
            filesrc::PosFile::new(f).map_err(InspectError::Io)?,
            limits,
            aid,
        )
    }
    #[cfg(not(unix))]
    inspect_reader(std::io::BufReader::with_capacity(64 << 10, f), limits)
}

fn cert_json(c: &CertInfo) -> Value {
    json!({
        "md5": c.signer.md5.map(hex::encode),
        "sha1": c.signer.sha1.map(hex::encode),
        "sha256": c.signer.sha256.map(hex::encode),
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial_hex,
    })
}

impl PackageIdentity {
    /// JSON form: `{kind, platform, id, version_code, version_name, schemes: {name: [cert]},
    /// accepted_signers: [cert], signed}` with fingerprints as lowercase hex.
    pub fn to_json(&self) -> Value {
        let schemes: serde_json::Map<String, Value> = self
            .schemes
            .iter()
            .map(|s| {
                (
                    s.scheme.to_string(),
                    Value::Array(s.certs.iter().map(cert_json).collect()),
                )
            })
            .collect();
        json!({
            "kind": self.kind.as_str(),
            "platform": self.platform.as_str(),
            "id": self.id,
            "version_code": self.version_code,
            "version_name": self.version_name,
            "schemes": schemes,
            "accepted_signers": self.accepted_signers.iter().map(cert_json).collect::<Vec<_>>(),
            "signed": !self.accepted_signers.is_empty(),
        })
    }

    /// Human-readable multi-line summary.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "{} {} ({})\nversion: {} ({})\n",
            self.kind.as_str(),
            self.id,
            self.platform.as_str(),
            self.version_name.as_deref().unwrap_or("-"),
            self.version_code.as_deref().unwrap_or("-"),
        );
        for s in &self.schemes {
            for c in &s.certs {
                out.push_str(&format!(
                    "scheme {}: {} {}\n",
                    s.scheme,
                    hex_or_dash(c),
                    c.subject
                ));
            }
        }
        if self.accepted_signers.is_empty() {
            out.push_str("accepted signers: none\n");
        }
        for c in &self.accepted_signers {
            out.push_str(&format!(
                "accepted signer: sha256 {} md5 {}\n",
                hex_or_dash(c),
                c.signer.md5.map(hex::encode).unwrap_or_default()
            ));
        }
        out
    }

    /// `Ok` when the platform would accept a signer; else `unsigned` (no scheme present) or
    /// `signature_invalid` (schemes present, none accepted).
    pub fn require_signed(&self) -> Result<(), InspectError> {
        match (self.accepted_signers.is_empty(), self.schemes.is_empty()) {
            (false, _) => Ok(()),
            (true, true) => Err(InspectError::Unsigned),
            (true, false) => Err(InspectError::SignatureInvalid),
        }
    }
}

fn hex_or_dash(c: &CertInfo) -> String {
    c.signer
        .sha256
        .map(hex::encode)
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::testzip::build_zip;
    use super::*;

    fn code(files: &[(&str, &[u8])]) -> &'static str {
        match inspect_bytes(&build_zip(b"", files, b""), &Limits::default()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn kind_detection_by_content() {
        assert_eq!(code(&[]), "unsupported_package");
        assert_eq!(code(&[("readme.txt", b"x")]), "unsupported_package");
        assert_eq!(code(&[("classes.dex", b"dex")]), "manifest_missing");
        assert_eq!(code(&[("Payload/A.app/A", b"bin")]), "manifest_missing");
        assert_eq!(
            code(&[("AndroidManifest.xml", b"junk")]),
            "manifest_invalid"
        );
        assert_eq!(
            code(&[("Payload/A.app/Info.plist", b"junk")]),
            "manifest_invalid"
        );
        let hap = br#"{"app":{"bundleName":"com.example.x","versionCode":2,"versionName":"2.0"}}"#;
        let id = inspect_bytes(
            &build_zip(b"", &[("module.json", hap)], b""),
            &Limits::default(),
        );
        let id = id.unwrap();
        assert_eq!(
            (id.kind, id.id.as_str()),
            (PackageKind::Hap, "com.example.x")
        );
        assert_eq!(id.require_signed().unwrap_err().code(), "unsigned");
        assert_eq!(id.to_json()["kind"], "hap");
        assert!(id.render_text().contains("com.example.x"));
        assert_eq!(
            inspect_bytes(b"hello", &Limits::default())
                .unwrap_err()
                .code(),
            "package_unreadable"
        );
    }

    #[test]
    fn limits_are_enforced() {
        let z = build_zip(b"", &[("module.json", &[b' '; 4096])], b"");
        let small = Limits {
            max_manifest_bytes: 100,
            ..Limits::default()
        };
        assert_eq!(
            inspect_bytes(&z, &small).unwrap_err().code(),
            "package_too_large"
        );
        let tiny = Limits {
            max_package_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            inspect_bytes(&z, &tiny).unwrap_err().code(),
            "package_too_large"
        );
    }
}
