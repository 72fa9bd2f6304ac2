//! Test-only helper: builds small stored ZIP archives in memory.
//!
//! Owns: `build_zip` (and its end record, `push_eocd`) for unit tests of the ZIP reader, the
//! strict ZIP checks and kind detection.
//! Must not: be compiled outside `cfg(test)`.
//! Invariant: produced archives have a consistent CD/EOCD layout unless a prefix is given.

const LFH_SIG: [u8; 4] = *b"PK\x03\x04";
const CD_SIG: [u8; 4] = *b"PK\x01\x02";
const EOCD_SIG: u32 = 0x0605_4b50;

/// A stored-only ZIP with the given (name, data) entries, optional prefix and comment.
pub fn build_zip(prefix: &[u8], files: &[(&str, &[u8])], comment: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    let mut cd = Vec::new();
    for (name, data) in files {
        let lho = out.len() as u32;
        out.extend_from_slice(&LFH_SIG);
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        cd.extend_from_slice(&CD_SIG);
        cd.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
        cd.extend_from_slice(&(data.len() as u32).to_le_bytes());
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
