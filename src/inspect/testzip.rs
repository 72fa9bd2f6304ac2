//! Test-only helper: builds small ZIP archives in memory (stored, or members the caller
//! compressed).
//!
//! Owns: `build_zip`, `build_zip_with` (and their end record, `push_eocd`) for unit tests of
//! the ZIP reader, the strict ZIP checks, kind detection and the v1 entry digests.
//! Must not: be compiled outside `cfg(test)`.
//! Invariant: produced archives have a consistent CD/EOCD layout unless a prefix is given.

const LFH_SIG: [u8; 4] = *b"PK\x03\x04";
const CD_SIG: [u8; 4] = *b"PK\x01\x02";
const EOCD_SIG: u32 = 0x0605_4b50;

/// A stored-only ZIP with the given (name, data) entries, optional prefix and comment.
pub fn build_zip(prefix: &[u8], files: &[(&str, &[u8])], comment: &[u8]) -> Vec<u8> {
    let members: Vec<_> = files
        .iter()
        .map(|(name, data)| (*name, *data, 0, data.len() as u32))
        .collect();
    build_zip_with(prefix, &members, comment)
}

/// A ZIP of (name, data as it lies in the archive, method, uncompressed size) members: for
/// method 8 `data` is the raw deflate stream the caller compressed.
pub fn build_zip_with(prefix: &[u8], files: &[(&str, &[u8], u16, u32)], comment: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut cd = Vec::new();
    for (name, data, method, size) in files {
        let lho = out.len() as u32;
        out.extend_from_slice(&LFH_SIG);
        out.extend_from_slice(&[20, 0, 0, 0]);
        out.extend_from_slice(&method.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(&CD_SIG);
        cd.extend_from_slice(&[20, 0, 20, 0, 0, 0]);
        cd.extend_from_slice(&method.to_le_bytes());
        cd.extend_from_slice(&[0; 8]);
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&size.to_le_bytes());
        cd.extend_from_slice(&(name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0; 12]);
        cd.extend_from_slice(&lho.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    push_eocd(&mut out, files.len(), cd.len(), cd_off, comment);
    out
}

/// Appends an end-of-central-directory record (one disk) for `entries` records of `cd_len`
/// bytes at `cd_off`, with `comment`.
pub fn push_eocd(out: &mut Vec<u8>, entries: usize, cd_len: usize, cd_off: u32, comment: &[u8]) {
    out.extend_from_slice(&EOCD_SIG.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(entries as u16).to_le_bytes());
    out.extend_from_slice(&(entries as u16).to_le_bytes());
    out.extend_from_slice(&(cd_len as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&(comment.len() as u16).to_le_bytes());
    out.extend_from_slice(comment);
}
