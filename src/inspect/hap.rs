//! HarmonyOS HAP identity from `module.json` (stage model) or `pack.info`.
//!
//! Owns: reading `app.bundleName`, `app.versionCode`, `app.versionName` (module.json) or
//! `summary.app.bundleName` / `summary.app.version.{code,name}` (pack.info).
//! Must not: read other entries (the signing block is read by `hapsig`, plus its content
//! digest pass when `Limits::verify_digests` is set).
//! Invariant: a returned identity has a non-empty bundleName; `schemes` is empty only for a
//! HAP without a signing block, and holds a "hap" scheme (possibly without certificate) when
//! a block is present; `accepted_signers` is that certificate only if hapsig accepts it.

use std::io::{Read, Seek};

use serde_json::Value;

use super::cert::cert_info;
use super::digest;
use super::error::InspectError;
use super::hapsig::{self, Found};
use super::zipentry::read_entry;
use super::zipread::{Archive, Src};
use super::{CertInfo, Limits, PackageIdentity, PackageKind, SchemeSigners};
use crate::filing::Platform;

/// True when the archive carries a HAP manifest.
pub fn is_hap(archive: &Archive) -> bool {
    archive.find(b"module.json").is_some() || archive.find(b"pack.info").is_some()
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// (bundleName, versionCode, versionName) from module.json or pack.info JSON.
fn fields(v: &Value) -> (Option<String>, Option<String>, Option<String>) {
    let app = &v["app"];
    if !app.is_null() {
        return (
            text(&app["bundleName"]),
            text(&app["versionCode"]),
            text(&app["versionName"]),
        );
    }
    let app = &v["summary"]["app"];
    (
        text(&app["bundleName"]),
        text(&app["version"]["code"]),
        text(&app["version"]["name"]),
    )
}

/// (bundleName, versionCode, versionName) of a module.json or pack.info; the bundleName is
/// never empty.
pub fn read_manifest(
    bytes: &[u8],
) -> Result<(String, Option<String>, Option<String>), InspectError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|_| InspectError::ManifestInvalid("module.json is not JSON"))?;
    let (id, code, name) = fields(&v);
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or(InspectError::ManifestInvalid("no app.bundleName"))?;
    Ok((id, code, name))
}

/// Inspects a HAP.
pub fn inspect<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
) -> Result<PackageIdentity, InspectError> {
    let entry = archive
        .find(b"module.json")
        .or_else(|| archive.find(b"pack.info"))
        .ok_or(InspectError::ManifestMissing("module.json"))?;
    let bytes = read_entry(src, entry, limits.max_manifest_bytes)?.bytes;
    let (id, code, name) = read_manifest(&bytes)?;
    let (schemes, accepted_signers) = signers(src, archive, limits)?;
    Ok(PackageIdentity {
        kind: PackageKind::Hap,
        platform: Platform::Harmony,
        id,
        version_code: code,
        version_name: name,
        schemes,
        accepted_signers,
    })
}

/// The "hap" scheme and the accepted signer from the HAP signing block, if any.
fn signers<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    limits: &Limits,
) -> Result<(Vec<SchemeSigners>, Vec<CertInfo>), InspectError> {
    let block = match hapsig::find(src, archive.cd_offset, limits)? {
        Found::Absent => return Ok((Vec::new(), Vec::new())),
        Found::Malformed => {
            let scheme = SchemeSigners {
                scheme: "hap",
                certs: Vec::new(),
            };
            return Ok((vec![scheme], Vec::new()));
        }
        Found::Block(b) => b,
    };
    let at = digest::Layout {
        sig_block: block.start,
        cd: archive.cd_offset,
        eocd: archive.eocd_offset,
    };
    // Without an exact layout nothing is accepted, so the digest pass would be wasted.
    let check = (limits.verify_digests && archive.layout_ok).then_some(&at);
    let s = hapsig::signer(src, &block, check, limits)?;
    let info = s.cert.as_deref().map(cert_info);
    let accepted = match &info {
        Some(i) if s.accepted && archive.layout_ok => vec![i.clone()],
        _ => Vec::new(),
    };
    let scheme = SchemeSigners {
        scheme: "hap",
        certs: info.into_iter().collect(),
    };
    Ok((vec![scheme], accepted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_json_and_pack_info() {
        let m: Value = serde_json::json!({"app": {"bundleName": "com.a.b", "versionCode": 1000000, "versionName": "1.0.0"}});
        assert_eq!(
            fields(&m),
            (
                Some("com.a.b".into()),
                Some("1000000".into()),
                Some("1.0.0".into())
            )
        );
        let p: Value = serde_json::json!({"summary": {"app": {"bundleName": "com.c.d", "version": {"code": 3, "name": "3.0"}}}});
        assert_eq!(
            fields(&p),
            (Some("com.c.d".into()), Some("3".into()), Some("3.0".into()))
        );
        assert_eq!(fields(&Value::Null), (None, None, None));
    }
}
