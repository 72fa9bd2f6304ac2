//! iOS IPA identity: the main app bundle's Info.plist and its executable's code-signing
//! certificate(s).
//!
//! Owns: choosing the main app (`Payload/<name>.app/`, possibly under one top folder; nested
//! `PlugIns/*.appex` and `Watch/*.app` bundles are never the app), reading Info.plist (XML or
//! binary, via the `plist` crate), and the signer of each Mach-O slice's CMS.
//! Must not: trust the file name, or read entries other than Info.plist, the executable and
//! what `ipaseal.rs` reads (CodeResources; with `verify_digests` the resources it lists).
//! Invariant: `accepted_signers` holds the distinct signer certificates whose CMS signature
//! over the CodeDirectory verifies in some slice whose CodeDirectories seal this app
//! (`ipaseal.rs`).

use std::io::{Cursor, Read, Seek};

use super::cert::{cert_info, Verdict};
use super::error::InspectError;
use super::ipaseal::AppSeal;
use super::macho;
use super::pkcs7;
use super::zipentry::{open_entry, read_entry};
use super::zipread::{Archive, Src};
use super::{Limits, PackageIdentity, PackageKind, SchemeSigners};
use crate::filing::Platform;

/// The main app bundle: its directory prefix (ending in ".app/").
pub struct AppDir {
    pub prefix: String,
}

/// Splits `[top/]Payload/<x>.app/<rest>` into (prefix, rest); None for other paths.
fn app_prefix(name: &str) -> Option<(&str, &str)> {
    let payload = if name.starts_with("Payload/") {
        0
    } else {
        let slash = name.find('/')?;
        if !name[slash + 1..].starts_with("Payload/") || name.starts_with("__MACOSX/") {
            return None;
        }
        slash + 1
    };
    let after = payload + "Payload/".len();
    let app_end = name[after..].find(".app/")? + after + ".app/".len();
    let app_name = &name[after..app_end - 1];
    if app_name.contains('/') || app_name == ".app" {
        return None;
    }
    Some((&name[..app_end], &name[app_end..]))
}

/// The first main app that has an Info.plist, preferring a root-level `Payload/`.
pub fn main_app(archive: &Archive) -> Option<AppDir> {
    let mut nested: Option<String> = None;
    for e in &archive.entries {
        let name = String::from_utf8_lossy(&e.name);
        if let Some((prefix, "Info.plist")) = app_prefix(&name) {
            if prefix.starts_with("Payload/") {
                return Some(AppDir {
                    prefix: prefix.to_string(),
                });
            }
            nested.get_or_insert_with(|| prefix.to_string());
        }
    }
    nested.map(|prefix| AppDir { prefix })
}

/// True when some `Payload/<x>.app/` directory exists (even without Info.plist).
pub fn has_app_dir(archive: &Archive) -> bool {
    archive
        .entries
        .iter()
        .any(|e| app_prefix(&String::from_utf8_lossy(&e.name)).is_some())
}

pub(super) struct Plist {
    id: String,
    build: Option<String>,
    short: Option<String>,
    executable: Option<String>,
}

pub(super) fn read_plist(bytes: &[u8]) -> Result<Plist, InspectError> {
    let v = plist::Value::from_reader(Cursor::new(bytes))
        .map_err(|_| InspectError::ManifestInvalid("Info.plist does not parse"))?;
    let d = v.as_dictionary().ok_or(InspectError::ManifestInvalid(
        "Info.plist is not a dictionary",
    ))?;
    let s = |k: &str| d.get(k).and_then(|x| x.as_string()).map(str::to_string);
    let id = s("CFBundleIdentifier").filter(|x| !x.is_empty());
    Ok(Plist {
        id: id.ok_or(InspectError::ManifestInvalid(
            "Info.plist has no CFBundleIdentifier",
        ))?,
        build: s("CFBundleVersion"),
        short: s("CFBundleShortVersionString"),
        executable: s("CFBundleExecutable"),
    })
}

/// Inspects an IPA whose main app is `app`.
pub fn inspect<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    app: &AppDir,
    limits: &Limits,
) -> Result<PackageIdentity, InspectError> {
    let plist_name = format!("{}Info.plist", app.prefix);
    let entry = archive
        .find(plist_name.as_bytes())
        .ok_or(InspectError::ManifestMissing("Info.plist"))?;
    let info_plist = read_entry(src, entry, limits.max_manifest_bytes)?.bytes;
    let p = read_plist(&info_plist)?;
    let exe = p
        .executable
        .as_ref()
        .and_then(|x| archive.find(format!("{}{x}", app.prefix).as_bytes()));
    let slices = match exe {
        Some(e) => macho::code_signatures(
            open_entry(src, e)?,
            limits.max_executable_bytes,
            limits.verify_digests,
        )?,
        None => Vec::new(),
    };
    let signed = !slices.is_empty();
    let seal = AppSeal::read(src, archive, &app.prefix, info_plist, signed, limits)?;
    let (structural, accepted) = signers(slices, &seal);
    let schemes = if structural.is_empty() {
        Vec::new()
    } else {
        vec![SchemeSigners {
            scheme: "ipa",
            certs: structural.iter().map(|d| cert_info(d)).collect(),
        }]
    };
    Ok(PackageIdentity {
        kind: PackageKind::Ipa,
        platform: Platform::Ios,
        id: p.id,
        version_code: p.build,
        version_name: p.short,
        schemes,
        accepted_signers: accepted.iter().map(|d| cert_info(d)).collect(),
    })
}

/// Distinct signer certificates over all slices: (structural, verified and sealing the app).
/// A slice that does not verify leaves no signer accepted: the device may run that slice.
fn signers(slices: Vec<macho::SliceSig>, seal: &AppSeal) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut all, mut ok) = (Vec::<Vec<u8>>::new(), Vec::<Vec<u8>>::new());
    let mut sealed = 0usize;
    for s in &slices {
        let Some(sd) = pkcs7::parse(&s.cms) else {
            continue;
        };
        let Some((si, cert)) = sd
            .signers
            .iter()
            .find_map(|si| Some((si, sd.cert_for(si)?)))
        else {
            continue;
        };
        let good = pkcs7::verify_signer(&sd, si, cert, &s.code_directory) == Verdict::Good;
        if !all.iter().any(|c| c == cert) {
            all.push(cert.to_vec());
        }
        let good = good && seal.binds(s, si.signed_attrs);
        sealed += usize::from(good);
        if good && !ok.iter().any(|c| c == cert) {
            ok.push(cert.to_vec());
        }
    }
    if sealed < slices.len() {
        ok.clear();
    }
    (all, ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_prefix_rules() {
        assert_eq!(
            app_prefix("Payload/A.app/Info.plist"),
            Some(("Payload/A.app/", "Info.plist"))
        );
        assert_eq!(
            app_prefix("Top/Payload/A.app/Info.plist"),
            Some(("Top/Payload/A.app/", "Info.plist"))
        );
        assert_eq!(
            app_prefix("Payload/A.app/PlugIns/W.appex/Info.plist").map(|x| x.1),
            Some("PlugIns/W.appex/Info.plist")
        );
        assert_eq!(
            app_prefix("Payload/A.app/Watch/W.app/Info.plist").map(|x| x.0),
            Some("Payload/A.app/")
        );
        assert_eq!(app_prefix("a/b/Payload/A.app/Info.plist"), None);
        assert_eq!(app_prefix("__MACOSX/Payload/A.app/Info.plist"), None);
        assert_eq!(app_prefix("Payload/Info.plist"), None);
    }

    #[test]
    fn xml_plist_fields() {
        let xml = br#"<?xml version="1.0"?><plist version="1.0"><dict>
            <key>CFBundleIdentifier</key><string>com.x.y</string>
            <key>CFBundleVersion</key><string>7</string></dict></plist>"#;
        let p = read_plist(xml).unwrap();
        assert_eq!(
            (p.id.as_str(), p.build.as_deref(), p.short),
            ("com.x.y", Some("7"), None)
        );
        assert!(read_plist(b"nonsense").is_err());
    }
}
