//! Test-only helper: builds code-signature SuperBlobs, CodeDirectories and thin Mach-O files.
//!
//! Owns: `superblob`, `wrap`, `thin` and `code_directory` for the unit tests of `macho.rs`,
//! `codedir.rs`, `ipaseal.rs` and `coderes.rs`.
//! Must not: be compiled outside `cfg(test)`.
//! Invariant: produced structures are well-formed (offsets and lengths consistent).

use super::codedir::HashType;

const SUPERBLOB: u32 = 0xfade_0cc0;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const LC_CODE_SIGNATURE: u32 = 0x1d;

/// A blob: big-endian `magic`, total length, `payload`.
pub fn wrap(magic: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = magic.to_be_bytes().to_vec();
    b.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
    b.extend_from_slice(payload);
    b
}

/// A SuperBlob indexing the complete `blobs` (each with its own header) by slot type.
pub fn superblob(blobs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let header = 12 + 8 * blobs.len();
    let total = header + blobs.iter().map(|b| b.1.len()).sum::<usize>();
    let mut out = SUPERBLOB.to_be_bytes().to_vec();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(blobs.len() as u32).to_be_bytes());
    let mut body = Vec::new();
    for (ty, blob) in blobs {
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&((header + body.len()) as u32).to_be_bytes());
        body.extend_from_slice(blob);
    }
    out.extend(body);
    out
}

/// A thin 64-bit Mach-O whose signature `sb` starts at `dataoff`, the bytes between filled
/// with a pattern.
pub fn thin(dataoff: u32, sb: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for v in [MH_MAGIC_64, 12, 0, 2, 1, 16, 0, 0] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    for v in [LC_CODE_SIGNATURE, 16, dataoff, sb.len() as u32] {
        m.extend_from_slice(&v.to_le_bytes());
    }
    m.extend((m.len() as u32..dataoff).map(|i| (i % 253) as u8));
    m.extend_from_slice(sb);
    m
}

/// A version 0x20400 CodeDirectory of hash type `ty` over `code` (4 KiB pages), whose special
/// slot `i` (1-based) holds the digest of `specials[i - 1]`, or zeros for `None`.
pub fn code_directory(ty: HashType, specials: &[Option<&[u8]>], code: &[u8]) -> Vec<u8> {
    let (hs, ident) = (ty.size(), b"com.example.app\0");
    let pages: Vec<&[u8]> = code.chunks(4096).collect();
    let hash_offset = 88 + ident.len() + specials.len() * hs;
    let len = hash_offset + pages.len() * hs;
    let mut cd = Vec::with_capacity(len);
    for v in [0xfade_0c02, len as u32, 0x20400, 0, hash_offset as u32, 88] {
        cd.extend_from_slice(&v.to_be_bytes());
    }
    for v in [specials.len() as u32, pages.len() as u32, code.len() as u32] {
        cd.extend_from_slice(&v.to_be_bytes());
    }
    cd.extend_from_slice(&[hs as u8, ty as u8, 0, 12]);
    cd.resize(88, 0);
    cd.extend_from_slice(ident);
    for s in specials.iter().rev() {
        cd.extend(s.map_or(vec![0; hs], |b| ty.digest(b)));
    }
    for p in pages {
        cd.extend(ty.digest(p));
    }
    cd
}
