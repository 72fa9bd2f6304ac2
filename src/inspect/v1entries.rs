//! APK Signature Scheme v1 (JAR signing): the entries a JAR signature covers, and their
//! per-entry digests in MANIFEST.MF checked against the entries' data.
//!
//! Owns: which entries must be covered (apksig: every entry outside `META-INF/` whose name does
//! not end in `/`), that each has a manifest section with a digest apksig checks for API 18+
//! (only the strongest present of `SHA-512-Digest`, `SHA-384-Digest`, `SHA-256-Digest`,
//! `SHA1-Digest`), and — with `Limits::verify_digests` — one streamed hash of each entry's
//! uncompressed data compared with it, under the inflation bounds below.
//! Must not: hold an entry whole (`zipentry::stream_entry` feeds it in pieces), inflate an entry
//! past its central-directory size, or read any entry data before every covered entry has a
//! digest and the bounds hold.
//! Invariant: `check` is `Ok(true)` only when every covered entry has a manifest section and a
//! decodable digest and, when hashing, inflates to exactly its central-directory size with
//! that digest.

use std::collections::HashMap;
use std::io::{Read, Seek};

use ahash::RandomState;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use sha2::Digest;

use super::error::InspectError;
use super::jarmf::Section;
use super::zipentry::{deflate_bound, stream_entry, Scratch, Streamed};
use super::zipread::{Archive, Entry, Src};
use super::Limits;

/// MANIFEST.MF's sections by entry name.
pub type ManifestIndex<'a> = HashMap<&'a str, &'a Section<'a>, RandomState>;

/// The per-entry digest attributes Android reads from API 18 on, strongest first: the first
/// one present is the only one checked (apksig's `getDigestsToVerify`). SHA-1 is spelled
/// `SHA1-Digest` there; `SHA-1-Digest` and MD5 are read only below API 18.
const ENTRY_DIGESTS: [(&str, Alg); 4] = [
    ("SHA-512-Digest", Alg::Sha512),
    ("SHA-384-Digest", Alg::Sha384),
    ("SHA-256-Digest", Alg::Sha256),
    ("SHA1-Digest", Alg::Sha1),
];

/// The algorithm of one of `ENTRY_DIGESTS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// Java's basic Base64 decoder, which apksig uses: padding optional, trailing bits ignored,
/// nothing outside the alphabet (no white space).
const JAVA_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The covered entries together may inflate to at most this many times the package's size
/// plus `TOTAL_FLOOR`: ordinary APKs inflate to a few times their size, and the bound keeps a
/// small upload from costing gigabytes of hashing.
const TOTAL_RATIO: u64 = 32;
const TOTAL_FLOOR: u64 = 64 << 20;

/// apksig's per-entry checks of a v1 signature whose signers cover every entry: each covered
/// entry's manifest section and digest; with `limits.verify_digests` also the digests of the
/// entries' data (`Ok(false)` on any mismatch, or data that does not inflate to exactly the
/// directory's size). A covered entry whose declared size breaks the bounds (one entry
/// larger than `max_package_bytes`, a deflated entry larger than deflate can expand its data
/// to, all of them more than `TOTAL_RATIO` times the package) is `package_too_large`.
pub fn check<R: Read + Seek>(
    src: &mut Src<R>,
    archive: &Archive,
    manifest: &ManifestIndex<'_>,
    limits: &Limits,
) -> Result<bool, InspectError> {
    let mut plan = Vec::new();
    for e in covered(archive) {
        let name = String::from_utf8_lossy(&e.name);
        match manifest.get(name.as_ref()).and_then(|s| expected(s)) {
            Some((alg, digest)) => plan.push((e, alg, digest)),
            None => return Ok(false),
        }
    }
    if !limits.verify_digests {
        return Ok(true);
    }
    within_bounds(plan.iter().map(|p| p.0), src.len(), limits)?;
    // In file order, as apksig reads them: one forward pass over the entries.
    plan.sort_by_key(|p| p.0.lho);
    let mut scratch = Scratch::default();
    for (e, alg, digest) in plan {
        if !matches(src, e, alg, &digest, &mut scratch)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The entries a v1 signature must cover.
fn covered(archive: &Archive) -> impl Iterator<Item = &Entry> {
    archive
        .entries
        .iter()
        .filter(|e| !e.name.starts_with(b"META-INF/") && !e.name.ends_with(b"/"))
}

/// The digest Android checks for an entry from API 18 on; None when there is none or it is
/// not Base64 (apksig fails on it).
fn expected(section: &Section<'_>) -> Option<(Alg, Vec<u8>)> {
    let (value, alg) = ENTRY_DIGESTS
        .iter()
        .find_map(|(attr, alg)| section.get(attr).map(|v| (v, *alg)))?;
    JAVA_BASE64.decode(value).ok().map(|d| (alg, d))
}

/// The inflation bounds of `check`, from the central directory alone (nothing is read).
fn within_bounds<'a>(
    entries: impl Iterator<Item = &'a Entry>,
    package_len: u64,
    limits: &Limits,
) -> Result<(), InspectError> {
    let budget = package_len
        .saturating_mul(TOTAL_RATIO)
        .saturating_add(TOTAL_FLOOR);
    let mut total = 0u64;
    for e in entries {
        if e.size > limits.max_package_bytes {
            return Err(InspectError::PackageTooLarge(
                "v1-signed entry larger than the package limit",
            ));
        }
        if e.method != 0 && e.size > deflate_bound(e.comp_size) {
            return Err(InspectError::PackageTooLarge(
                "v1-signed entry larger than deflate can expand its data to (zip bomb)",
            ));
        }
        total = total.saturating_add(e.size);
        if total > budget {
            return Err(InspectError::PackageTooLarge(
                "v1-signed entries inflate to more than 32 times the package (zip bomb)",
            ));
        }
    }
    Ok(())
}

/// Whether one entry's data has the directory's size and `digest`. Data apksig cannot read
/// (a broken local header or deflate stream, a range past the end) does not match; only an
/// I/O failure of the source is an error.
fn matches<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    alg: Alg,
    digest: &[u8],
    scratch: &mut Scratch,
) -> Result<bool, InspectError> {
    let mut h = Hasher::new(alg);
    match stream_entry(src, e, e.size, scratch, &mut |piece| h.update(piece)) {
        Ok(Streamed::Ended(n)) => Ok(n == e.size && h.finish() == digest),
        Ok(Streamed::Beyond | Streamed::Corrupt) => Ok(false),
        Err(InspectError::Io(err)) => Err(InspectError::Io(err)),
        Err(_) => Ok(false),
    }
}

/// An incremental hash of one `Alg`.
enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(alg: Alg) -> Self {
        match alg {
            Alg::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Alg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Alg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Alg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

#[cfg(test)]
#[path = "v1entries_tests.rs"]
mod tests;
