//! Whether an IPA slice's code signature belongs to this app: every CodeDirectory bound to the
//! CMS signer, and every CodeDirectory sealing this app's Info.plist, CodeResources and
//! signature components (with `Limits::verify_digests`, also its code pages and the resources
//! CodeResources lists).
//!
//! Owns: the binding rules of docs/inspection.md "iOS" — the CDHashes (1.2.840.113635.100.9.1)
//! and CDHashes2 (…100.9.2) signed attributes, the special-slot comparisons, the code-page
//! comparison — and reading the app files they need (`AppSeal::read`).
//! Must not: verify the CMS signature (pkcs7.rs does, over the slot 0 CodeDirectory), or turn a
//! mismatch into an error (a mismatch only means "not bound"; an `InspectError` is for package
//! data that cannot be read).
//! Invariant: `binds` is true only when every rule holds for every CodeDirectory of the slice.

use std::io::{Cursor, Read, Seek};

use super::ber;
use super::codedir::{self, CodeDir, HashType};
use super::coderes;
use super::error::InspectError;
use super::macho::SliceSig;
use super::pagehash::{PageDigests, PAGE_SHIFT};
use super::zipentry::read_entry;
use super::zipread::{Archive, Src};
use super::Limits;

const OID_CDHASHES: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x09, 0x01];
const OID_CDHASHES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x09, 0x02];
const OID_SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
/// Special slots compared (Info.plist 1 … library constraints 11); Apple's loader ignores
/// slots past its highest known one.
const MAX_SPECIAL_SLOT: usize = 11;
const INFO_SLOT: usize = 1;
const RESOURCES_SLOT: usize = 3;

/// The app files a CodeDirectory must seal.
pub struct AppSeal {
    info_plist: Vec<u8>,
    code_resources: Option<Vec<u8>>,
    /// With `verify_digests`: whether every resource CodeResources lists matches the package.
    resources_match: Option<bool>,
    check_pages: bool,
}

impl AppSeal {
    /// Reads `_CodeSignature/CodeResources` of the app at `prefix` (when `signed`) and, with
    /// `verify_digests`, checks the resources it lists.
    pub fn read<R: Read + Seek>(
        src: &mut Src<R>,
        archive: &Archive,
        prefix: &str,
        info_plist: Vec<u8>,
        signed: bool,
        limits: &Limits,
    ) -> Result<AppSeal, InspectError> {
        let name = format!("{prefix}_CodeSignature/CodeResources");
        let code_resources = match archive.find(name.as_bytes()) {
            Some(e) if signed => Some(read_entry(src, e, limits.max_signature_bytes)?.bytes),
            _ => None,
        };
        let resources_match = match &code_resources {
            Some(cr) if limits.verify_digests => {
                Some(coderes::verify(src, archive, prefix, cr, limits)?)
            }
            _ => None,
        };
        Ok(AppSeal {
            info_plist,
            code_resources,
            resources_match,
            check_pages: limits.verify_digests,
        })
    }

    /// True when every CodeDirectory of `sig` is bound to the CMS signer whose signed
    /// attributes are `signed_attrs` and seals this app.
    pub fn binds(&self, sig: &SliceSig, signed_attrs: Option<&[u8]>) -> bool {
        let Some(dirs) = codedir::directories(sig) else {
            return false;
        };
        cms_covers(&dirs, signed_attrs) && dirs.iter().all(|cd| self.sealed_by(cd, sig))
    }

    fn sealed_by(&self, cd: &CodeDir<'_>, sig: &SliceSig) -> bool {
        if cd.special(INFO_SLOT).is_none() {
            return false;
        }
        for i in 1..=cd.n_special().min(MAX_SPECIAL_SLOT) {
            let Some(want) = cd.special(i) else { continue };
            let have = match i {
                INFO_SLOT => Some(&self.info_plist[..]),
                RESOURCES_SLOT => self.code_resources.as_deref(),
                _ => u32::try_from(i).ok().and_then(|t| sig.blob(t)),
            };
            if have.map(|b| cd.hash_type.digest(b)).as_deref() != Some(want) {
                return false;
            }
        }
        if cd.special(RESOURCES_SLOT).is_some() && self.resources_match == Some(false) {
            return false;
        }
        !self.check_pages || pages_match(cd, sig.pages.as_ref())
    }
}

/// The code slots against the streamed page digests: 4 KiB pages, no scatter, codeLimit equal
/// to the bytes before the signature, one slot per page, equal digests.
fn pages_match(cd: &CodeDir<'_>, pages: Option<&PageDigests>) -> bool {
    let Some(p) = pages else { return false };
    let Some(list) = p.list(cd.hash_type as u8) else {
        return false;
    };
    cd.page_shift == PAGE_SHIFT
        && !cd.scattered
        && cd.code_limit == p.len
        && cd.n_code() as u64 == p.pages
        && PageDigests::fold(cd.code_slots()) == *list
}

/// Whether the CMS binds every CodeDirectory. The CMS signs slot 0's bytes (the caller checks
/// that signature); every other CodeDirectory must be listed by a signed attribute: CDHashes,
/// which must then list all of them (Apple's iOS check), or CDHashes2, whose every value must
/// be one of them (zsign lists only the SHA-256 one there). Without either attribute only a
/// lone CodeDirectory is bound.
fn cms_covers(dirs: &[CodeDir<'_>], signed_attrs: Option<&[u8]>) -> bool {
    let Some((v1, v2)) = signed_attrs.map_or(Some((None, None)), hash_agility) else {
        return false;
    };
    let listed2 = match v2.map(cdhashes2) {
        Some(None) => return false,
        Some(Some(l)) => l,
        None => Vec::new(),
    };
    let ours: Vec<Ours> = dirs
        .iter()
        .map(|cd| (cd.hash_type as u8, digest_oid(cd.hash_type), cd.cdhash()))
        .collect();
    let names = |&(oid, hash): &(&[u8], &[u8]), o: &Ours| oid == o.1 && hash == &o.2[..];
    let v2_names_ours = listed2.iter().all(|l| ours.iter().any(|o| names(l, o)));
    match v1 {
        _ if !v2_names_ours => false,
        Some(set) => cdhashes_plist_matches(set, &ours),
        None => ours
            .iter()
            .skip(1)
            .all(|o| listed2.iter().any(|l| names(l, o))),
    }
}

/// A CodeDirectory's hash type, digest OID and CD hash.
type Ours = (u8, &'static [u8], Vec<u8>);

/// The value SETs of the CDHashes and CDHashes2 attributes, when present.
type Agility<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The hash-agility attributes among `signed_attrs`; None when one appears twice or the
/// attributes do not parse.
fn hash_agility(signed_attrs: &[u8]) -> Option<Agility<'_>> {
    let (t, _) = ber::read(signed_attrs)?;
    let (mut v1, mut v2) = (None, None);
    for attr in ber::children(t.content) {
        let mut it = ber::children(attr.content);
        let (Some(oid), Some(set)) = (it.next(), it.next()) else {
            continue;
        };
        let slot = match oid.content {
            OID_CDHASHES => &mut v1,
            OID_CDHASHES2 => &mut v2,
            _ => continue,
        };
        if slot.replace(set.content).is_some() {
            return None;
        }
    }
    Some((v1, v2))
}

/// CDHashes: a plist `{cdhashes: [data…]}` that must equal every CD hash cut to 20 bytes, in
/// hash-type order (Apple's `cdHashes()` list, compared whole).
fn cdhashes_plist_matches(set: &[u8], ours: &[Ours]) -> bool {
    let Some(octets) = ber::children(set)
        .next()
        .filter(|t| t.tag == ber::OCTET_STRING)
    else {
        return false;
    };
    let Ok(v) = plist::Value::from_reader(Cursor::new(octets.content)) else {
        return false;
    };
    let listed = v
        .as_dictionary()
        .and_then(|d| d.get("cdhashes"))
        .and_then(|l| l.as_array());
    let Some(listed) = listed else { return false };
    let mut sorted: Vec<&Ours> = ours.iter().collect();
    sorted.sort_by_key(|o| o.0);
    listed.len() == sorted.len()
        && listed
            .iter()
            .zip(sorted)
            .all(|(l, (_, _, h))| l.as_data() == h.get(..20))
}

/// CDHashes2 values: `SEQUENCE { digest OID, OCTET STRING cdhash }` each, as (OID, hash);
/// None when one is not of that shape.
fn cdhashes2(set: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    ber::children(set)
        .map(|entry| {
            let mut it = ber::children(entry.content);
            match (it.next(), it.next()) {
                (Some(o), Some(h)) if o.tag == ber::OID && h.tag == ber::OCTET_STRING => {
                    Some((o.content, h.content))
                }
                _ => None,
            }
        })
        .collect()
}

fn digest_oid(t: HashType) -> &'static [u8] {
    match t {
        HashType::Sha1 => OID_SHA1,
        HashType::Sha256 | HashType::Sha256Truncated => OID_SHA256,
        HashType::Sha384 => OID_SHA384,
    }
}

#[cfg(test)]
#[path = "ipaseal_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "ipaseal_fixture_tests.rs"]
mod fixture_tests;
