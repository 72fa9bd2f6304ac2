//! CodeDirectory blobs (Apple's `CS_CodeDirectory`, big-endian) and the set of them one
//! slice's SuperBlob carries: slot 0 and the alternates from slot 0x1000.
//!
//! Owns: bounds-checked parsing of the fields binding needs (version, hashOffset,
//! nSpecialSlots, nCodeSlots, codeLimit / codeLimit64, hashSize, hashType, pageSize,
//! scatterOffset), the special and code hash slots, CD hashes, the hash types and their
//! hashers, and which CodeDirectory Apple's loader picks.
//! Must not: trust an offset or count before checking it against the blob, or decide what a
//! CodeDirectory must bind (`ipaseal.rs` does).
//! Invariant: a `CodeDir` exists only for a blob whose hash slots all lie inside it, after its
//! fixed header, and whose hashSize is the size of its (known) hashType.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384};

use super::macho::{be32, be64, SliceSig};

const MAGIC: u32 = 0xfade_0c02;
/// Apple's `earliestVersion` and `compatibilityLimit`: versions outside are unsupported.
const EARLIEST_VERSION: u32 = 0x20001;
const COMPATIBILITY_LIMIT: u32 = 0x2_f000;
/// Alternate CodeDirectory slots (`cdAlternateCodeDirectorySlots` up to the limit, exclusive).
const ALTERNATE_SLOTS: std::ops::Range<u32> = 0x1000..0x1005;

/// A CodeDirectory hash type (`hashType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashType {
    Sha1 = 1,
    Sha256 = 2,
    /// SHA-256 cut to 20 bytes.
    Sha256Truncated = 3,
    Sha384 = 4,
}

impl HashType {
    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => HashType::Sha1,
            2 => HashType::Sha256,
            3 => HashType::Sha256Truncated,
            4 => HashType::Sha384,
            _ => return None,
        })
    }

    /// The digest size, which is the CodeDirectory's `hashSize`.
    pub fn size(self) -> usize {
        match self {
            HashType::Sha1 | HashType::Sha256Truncated => 20,
            HashType::Sha256 => 32,
            HashType::Sha384 => 48,
        }
    }

    /// Apple's preference among CodeDirectories (`hashPriorities`): the higher wins.
    fn rank(self) -> u8 {
        match self {
            HashType::Sha1 => 1,
            HashType::Sha256Truncated => 2,
            HashType::Sha256 => 3,
            HashType::Sha384 => 4,
        }
    }

    pub fn hasher(self) -> CdHasher {
        match self {
            HashType::Sha1 => CdHasher::Sha1(Sha1::new()),
            HashType::Sha256 | HashType::Sha256Truncated => CdHasher::Sha256(Sha256::new(), self),
            HashType::Sha384 => CdHasher::Sha384(Sha384::new()),
        }
    }

    /// The digest of `data`, `size()` bytes.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

/// An incremental digest of one `HashType`.
pub enum CdHasher {
    Sha1(Sha1),
    Sha256(Sha256, HashType),
    Sha384(Sha384),
}

impl CdHasher {
    pub fn update(&mut self, b: &[u8]) {
        match self {
            CdHasher::Sha1(h) => h.update(b),
            CdHasher::Sha256(h, _) => h.update(b),
            CdHasher::Sha384(h) => h.update(b),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            CdHasher::Sha1(h) => h.finalize().to_vec(),
            CdHasher::Sha256(h, ty) => h.finalize()[..ty.size()].to_vec(),
            CdHasher::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

/// Lets `io::copy` stream an entry through the hash.
impl std::io::Write for CdHasher {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.update(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A parsed CodeDirectory.
#[derive(Debug)]
pub struct CodeDir<'a> {
    /// The whole blob, header included (what a CD hash and the CMS cover).
    pub raw: &'a [u8],
    pub hash_type: HashType,
    /// log2 of the page size; 0 = one page.
    pub page_shift: u8,
    /// `codeLimit64` when set, else `codeLimit`.
    pub code_limit: u64,
    /// A non-zero `scatterOffset` (pages described by a scatter vector).
    pub scattered: bool,
    hash_offset: usize,
    n_special: usize,
    n_code: usize,
}

/// The fixed header's size for a version (each version appends fields).
fn header_len(version: u32) -> usize {
    [
        (0x20500, 96),
        (0x20400, 88),
        (0x20300, 64),
        (0x20200, 52),
        (0x20100, 48),
    ]
    .iter()
    .find(|&&(v, _)| version >= v)
    .map_or(44, |&(_, len)| len)
}

/// Parses a CodeDirectory blob; None when malformed or of an unsupported version or hash type.
pub fn parse(raw: &[u8]) -> Option<CodeDir<'_>> {
    if be32(raw, 0)? != MAGIC || usize::try_from(be32(raw, 4)?).ok()? != raw.len() {
        return None;
    }
    let version = be32(raw, 8)?;
    if !(EARLIEST_VERSION..COMPATIBILITY_LIMIT).contains(&version) || raw.len() < 44 {
        return None;
    }
    let field = |o| be32(raw, o).and_then(|v| usize::try_from(v).ok());
    let (hash_offset, n_special, n_code) = (field(16)?, field(24)?, field(28)?);
    let hash_type = HashType::from_code(*raw.get(37)?)?;
    let size = hash_type.size();
    if usize::from(*raw.get(36)?) != size {
        return None;
    }
    let first = hash_offset.checked_sub(n_special.checked_mul(size)?)?;
    let end = hash_offset.checked_add(n_code.checked_mul(size)?)?;
    if first < header_len(version) || end > raw.len() {
        return None;
    }
    let scattered = version >= 0x20100 && be32(raw, 44)? != 0;
    let limit64 = if version >= 0x20300 {
        be64(raw, 56)?
    } else {
        0
    };
    Some(CodeDir {
        raw,
        hash_type,
        page_shift: *raw.get(39)?,
        code_limit: if limit64 != 0 {
            limit64
        } else {
            u64::from(be32(raw, 32)?)
        },
        scattered,
        hash_offset,
        n_special,
        n_code,
    })
}

impl CodeDir<'_> {
    /// Special slot `i` (1 Info.plist, 2 requirements, 3 CodeResources, 5 entitlements,
    /// 7 DER entitlements, …): None when `i` is beyond nSpecialSlots or the slot is all zeros
    /// (absent).
    pub fn special(&self, i: usize) -> Option<&[u8]> {
        if i == 0 || i > self.n_special {
            return None;
        }
        let size = self.hash_type.size();
        let at = self.hash_offset.checked_sub(i.checked_mul(size)?)?;
        let h = self.raw.get(at..at.checked_add(size)?)?;
        h.iter().any(|&b| b != 0).then_some(h)
    }

    /// nSpecialSlots.
    pub fn n_special(&self) -> usize {
        self.n_special
    }

    /// The code hash slots, nCodeSlots × hashSize bytes.
    pub fn code_slots(&self) -> &[u8] {
        let end = self.hash_offset + self.n_code * self.hash_type.size();
        self.raw.get(self.hash_offset..end).unwrap_or(&[])
    }

    /// nCodeSlots.
    pub fn n_code(&self) -> usize {
        self.n_code
    }

    /// The CD hash: the blob's digest with its own hash type.
    pub fn cdhash(&self) -> Vec<u8> {
        self.hash_type.digest(self.raw)
    }
}

/// The slice's CodeDirectories in slot order: slot 0, then the alternates from 0x1000 up to
/// the first missing one (Apple's `loadCodeDirectories`). None when slot 0 is missing, one is
/// malformed or of an unknown hash type, or two share a hash type.
pub fn directories(sig: &SliceSig) -> Option<Vec<CodeDir<'_>>> {
    let mut out = vec![parse(sig.blob(0)?)?];
    for slot in ALTERNATE_SLOTS {
        let Some(blob) = sig.blob(slot) else { break };
        let cd = parse(blob)?;
        if out.iter().any(|c| c.hash_type == cd.hash_type) {
            return None;
        }
        out.push(cd);
    }
    Some(out)
}

/// The CodeDirectory Apple's loader uses: the most preferred hash type.
pub fn chosen<'a, 'b>(dirs: &'b [CodeDir<'a>]) -> Option<&'b CodeDir<'a>> {
    dirs.iter().max_by_key(|c| c.hash_type.rank())
}

#[cfg(test)]
#[path = "codedir_tests.rs"]
mod tests;
