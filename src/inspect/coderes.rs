//! The resources an app's `_CodeSignature/CodeResources` seals, checked against the package.
//!
//! Owns: reading the resource envelope (`files2`, else the version-1 `files`) and checking each
//! listed path: a file's digest (`hash2` SHA-256, else `hash` SHA-1), a symlink's target
//! (`symlink`: the entry's bytes), or nested code's CD hash (`cdhash`: the CodeDirectory
//! Apple's loader picks in the nested executable, cut to 20 bytes); `optional` paths may be
//! absent.
//! Must not: evaluate `rules`/`rules2` (files the envelope does not list are not looked for),
//! `requirement` strings, or nested code's own signatures; inflate more than
//! `Limits::max_package_bytes` in all, or hold an entry over 1 MiB in memory (it streams).
//! Invariant: `verify` is `Ok(false)` exactly when the envelope is malformed or a listed,
//! required path is missing or differs; an error means package data could not be read.

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};

use ahash::RandomState;

use super::codedir::{self, HashType};
use super::error::InspectError;
use super::macho;
use super::zipentry::{open_entry, read_entry};
use super::zipread::{Archive, Entry, Src};
use super::Limits;

/// Entries up to this size are read whole; larger ones are streamed through the hasher.
const READ_WHOLE: u64 = 1 << 20;

/// What CodeResources records for one path.
enum Seal<'a> {
    Digest(HashType, &'a [u8]),
    Symlink(&'a str),
    Nested(&'a [u8]),
}

/// The app's entries by path below its prefix (the first of duplicate names, as `find`).
struct Bundle<'a> {
    entries: HashMap<&'a [u8], &'a Entry, RandomState>,
}

impl<'a> Bundle<'a> {
    fn new(archive: &'a Archive, prefix: &str) -> Self {
        let mut entries = HashMap::with_hasher(RandomState::new());
        for e in &archive.entries {
            if let Some(rest) = e.name.strip_prefix(prefix.as_bytes()) {
                entries.entry(rest).or_insert(e);
            }
        }
        Bundle { entries }
    }

    fn get(&self, path: &str) -> Option<&'a Entry> {
        self.entries.get(path.as_bytes()).copied()
    }
}

/// Decompressed bytes still allowed for the whole check.
struct Budget(u64);

impl Budget {
    fn charge(&mut self, e: &Entry) -> Result<(), InspectError> {
        self.0 = self
            .0
            .checked_sub(e.size)
            .ok_or(InspectError::PackageTooLarge(
                "sealed resources beyond limit",
            ))?;
        Ok(())
    }
}

/// Checks every path `code_resources` lists for the app at `prefix`.
pub fn verify<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    prefix: &str,
    code_resources: &[u8],
    limits: &Limits,
) -> Result<bool, InspectError> {
    let Ok(v) = plist::Value::from_reader(Cursor::new(code_resources)) else {
        return Ok(false);
    };
    let d = v.as_dictionary();
    let files = d.and_then(|d| d.get("files2").or_else(|| d.get("files")));
    let Some(files) = files.and_then(|f| f.as_dictionary()) else {
        return Ok(false);
    };
    let bundle = Bundle::new(archive, prefix);
    let mut budget = Budget(limits.max_package_bytes);
    for (path, value) in files {
        let Some((seal, optional)) = parse_seal(value) else {
            return Ok(false);
        };
        let found = match seal {
            Seal::Digest(ty, want) => match bundle.get(path) {
                Some(e) => Some(entry_digest(src, e, ty, &mut budget)? == want),
                None => None,
            },
            Seal::Symlink(target) => match bundle.get(path) {
                Some(e) => {
                    budget.charge(e)?;
                    Some(read_entry(src, e, limits.max_manifest_bytes)?.bytes == target.as_bytes())
                }
                None => None,
            },
            Seal::Nested(want) => nested_matches(src, &bundle, path, want, limits, &mut budget)?,
        };
        match found {
            Some(true) => {}
            None if optional => {}
            _ => return Ok(false),
        }
    }
    Ok(true)
}

/// One `files`/`files2` value: `<data>` (a SHA-1) or a dictionary; and its `optional` flag.
fn parse_seal(v: &plist::Value) -> Option<(Seal<'_>, bool)> {
    if let Some(sha1) = v.as_data() {
        return Some((Seal::Digest(HashType::Sha1, sha1), false));
    }
    let d = v.as_dictionary()?;
    let optional = match d.get("optional") {
        Some(o) => o.as_boolean()?,
        None => false,
    };
    let data = |k: &str| d.get(k).and_then(|x| x.as_data());
    let seal = if let Some(h) = data("cdhash") {
        Seal::Nested(h)
    } else if let Some(t) = d.get("symlink") {
        Seal::Symlink(t.as_string()?)
    } else if let Some(h) = data("hash2") {
        Seal::Digest(HashType::Sha256, h)
    } else {
        Seal::Digest(HashType::Sha1, data("hash")?)
    };
    Some((seal, optional))
}

/// The digest of an entry's decompressed bytes.
fn entry_digest<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    ty: HashType,
    budget: &mut Budget,
) -> Result<Vec<u8>, InspectError> {
    budget.charge(e)?;
    if e.size <= READ_WHOLE {
        return Ok(ty.digest(&read_entry(src, e, e.size)?.bytes));
    }
    let mut h = ty.hasher();
    let mut r = open_entry(src, e)?.take(e.size.saturating_add(1));
    let n = std::io::copy(&mut r, &mut h)
        .map_err(|_| InspectError::PackageUnreadable("corrupt resource data"))?;
    if n != e.size {
        return Err(InspectError::PackageUnreadable(
            "resource size differs from the central directory",
        ));
    }
    Ok(h.finish())
}

/// Whether nested code at `path` (a Mach-O file, or a bundle whose Info.plist names its
/// executable) has a slice whose chosen CD hash, cut to 20 bytes, is `want`; None when absent.
fn nested_matches<R: Read + Seek>(
    src: &mut Src<R>,
    bundle: &Bundle<'_>,
    path: &str,
    want: &[u8],
    limits: &Limits,
    budget: &mut Budget,
) -> Result<Option<bool>, InspectError> {
    let exe = match bundle.get(path) {
        Some(e) => Some(e),
        None => bundle_executable(src, bundle, path, limits)?,
    };
    let Some(exe) = exe else { return Ok(None) };
    budget.charge(exe)?;
    let slices = macho::code_signatures(open_entry(src, exe)?, limits.max_executable_bytes, false)?;
    Ok(Some(slices.iter().any(|s| {
        let dirs = codedir::directories(s).unwrap_or_default();
        codedir::chosen(&dirs).is_some_and(|cd| cd.cdhash().get(..20) == Some(want))
    })))
}

/// The executable entry of the nested bundle at `path` (`CFBundleExecutable` of its Info.plist).
fn bundle_executable<'a, R: Read + Seek>(
    src: &mut Src<R>,
    bundle: &Bundle<'a>,
    path: &str,
    limits: &Limits,
) -> Result<Option<&'a Entry>, InspectError> {
    let Some(info) = bundle.get(&format!("{path}/Info.plist")) else {
        return Ok(None);
    };
    let bytes = read_entry(src, info, limits.max_manifest_bytes)?.bytes;
    let v = plist::Value::from_reader(Cursor::new(&bytes[..])).ok();
    let exe = v
        .as_ref()
        .and_then(|v| v.as_dictionary()?.get("CFBundleExecutable")?.as_string());
    Ok(exe.and_then(|x| bundle.get(&format!("{path}/{x}"))))
}

#[cfg(test)]
#[path = "coderes_tests.rs"]
mod tests;
