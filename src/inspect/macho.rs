//! Mach-O code signatures read in one forward pass: fat/thin headers, LC_CODE_SIGNATURE, the
//! embedded-signature SuperBlob, its CodeDirectory (slot 0) and CMS blob (slot 0x10000).
//!
//! Owns: locating each slice's code signature in a stream that cannot seek backwards (the
//! executable is usually deflated inside the IPA).
//! Must not: buffer the executable (only headers, load commands and signature blobs are kept)
//! or read past `cap` decompressed bytes.
//! Invariant: offsets are requested in increasing order; each request is bounds-checked
//! against the slice and capped.

use std::io::{self, Read};

use super::error::InspectError;

const FAT_MAGIC: u32 = 0xcafe_babe;
const FAT_MAGIC_64: u32 = 0xcafe_babf;
const MH_MAGIC: u32 = 0xfeed_face;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const SUPERBLOB: u32 = 0xfade_0cc0;
const MAX_BLOB: u64 = 16 << 20;

/// The signature material of one architecture slice.
#[derive(Debug)]
pub struct SliceSig {
    /// CMS SignedData (BER) from slot 0x10000; empty when ad-hoc signed.
    pub cms: Vec<u8>,
    /// The CodeDirectory blob (slot 0), the content the CMS signs.
    pub code_directory: Vec<u8>,
}

struct Fwd<R> {
    r: R,
    pos: u64,
    cap: u64,
}

impl<R: Read> Fwd<R> {
    fn read_at(&mut self, off: u64, n: u64) -> Result<Vec<u8>, InspectError> {
        if off < self.pos {
            return Err(InspectError::PackageUnreadable(
                "Mach-O regions out of order",
            ));
        }
        let end = off.checked_add(n).filter(|&e| e <= self.cap);
        let end = end.ok_or(InspectError::PackageTooLarge("executable beyond limit"))?;
        let skip = off - self.pos;
        let skipped = io::copy(&mut (&mut self.r).take(skip), &mut io::sink())
            .map_err(|_| InspectError::PackageUnreadable("corrupt executable data"))?;
        let mut buf = Vec::new();
        (&mut self.r)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|_| InspectError::PackageUnreadable("corrupt executable data"))?;
        if skipped != skip || buf.len() as u64 != n {
            return Err(InspectError::PackageUnreadable(
                "executable shorter than its headers",
            ));
        }
        self.pos = end;
        Ok(buf)
    }
}

fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn be64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Reads the code signatures of every slice; `Ok(vec![])` for a non-Mach-O or unsigned file.
pub fn code_signatures<R: Read>(r: R, cap: u64) -> Result<Vec<SliceSig>, InspectError> {
    let mut f = Fwd { r, pos: 0, cap };
    let Ok(head) = f.read_at(0, 8) else {
        return Ok(Vec::new());
    };
    let magic = be32(&head, 0).unwrap_or(0);
    let mut slices: Vec<(u64, u64)> = match magic {
        FAT_MAGIC | FAT_MAGIC_64 => fat_slices(&mut f, magic == FAT_MAGIC_64, &head)?,
        _ => vec![(0, u64::MAX)],
    };
    slices.sort_unstable();
    let mut out = Vec::new();
    for (off, size) in slices {
        if let Some(sig) = slice_sig(&mut f, off, size, (off == 0).then_some(&head))? {
            out.push(sig);
        }
    }
    Ok(out)
}

fn fat_slices<R: Read>(
    f: &mut Fwd<R>,
    is64: bool,
    head: &[u8],
) -> Result<Vec<(u64, u64)>, InspectError> {
    let n = be32(head, 4).unwrap_or(0) as u64;
    if n == 0 || n > 64 {
        return Ok(Vec::new());
    }
    let rec = if is64 { 32 } else { 20 };
    let table = f.read_at(8, n * rec)?;
    Ok((0..n as usize)
        .filter_map(|i| {
            let b = i * rec as usize;
            if is64 {
                Some((be64(&table, b + 8)?, be64(&table, b + 16)?))
            } else {
                Some((
                    u64::from(be32(&table, b + 8)?),
                    u64::from(be32(&table, b + 12)?),
                ))
            }
        })
        .collect())
}

fn slice_sig<R: Read>(
    f: &mut Fwd<R>,
    off: u64,
    size: u64,
    head: Option<&Vec<u8>>,
) -> Result<Option<SliceSig>, InspectError> {
    let hdr = match head {
        Some(h) => {
            let mut h = h.clone();
            h.extend(f.read_at(8, 24)?);
            h
        }
        None => f.read_at(off, 32)?,
    };
    let magic = le32(&hdr, 0).unwrap_or(0);
    let hsize = match magic {
        MH_MAGIC => 28,
        MH_MAGIC_64 => 32,
        _ => return Ok(None),
    };
    let (ncmds, sizeofcmds) = (le32(&hdr, 16).unwrap_or(0), le32(&hdr, 20).unwrap_or(0));
    let extra = u64::from(sizeofcmds).saturating_sub(32 - hsize);
    let mut cmds = hdr.get(hsize as usize..).unwrap_or(&[]).to_vec();
    cmds.extend(f.read_at(off + 32, extra.min(MAX_BLOB))?);
    let Some((dataoff, datasize)) = find_code_signature(&cmds, ncmds) else {
        return Ok(None);
    };
    if u64::from(dataoff) + u64::from(datasize) > size || u64::from(datasize) > MAX_BLOB {
        return Ok(None);
    }
    let blob = f.read_at(off + u64::from(dataoff), u64::from(datasize))?;
    Ok(Some(SliceSig {
        cms: slot(&blob, 0x10000)
            .map(|b| b.get(8..).unwrap_or(&[]).to_vec())
            .unwrap_or_default(),
        code_directory: slot(&blob, 0).map(<[u8]>::to_vec).unwrap_or_default(),
    }))
}

fn find_code_signature(cmds: &[u8], ncmds: u32) -> Option<(u32, u32)> {
    let mut p = 0usize;
    for _ in 0..ncmds.min(4096) {
        let (cmd, size) = (le32(cmds, p)?, le32(cmds, p + 4)? as usize);
        if cmd == LC_CODE_SIGNATURE {
            return Some((le32(cmds, p + 8)?, le32(cmds, p + 12)?));
        }
        if size < 8 {
            return None;
        }
        p = p.checked_add(size)?;
    }
    None
}

/// The blob (including its 8-byte header) at `slot_type` of a SuperBlob.
fn slot(sb: &[u8], slot_type: u32) -> Option<&[u8]> {
    if be32(sb, 0)? != SUPERBLOB {
        return None;
    }
    let count = be32(sb, 8)? as usize;
    (0..count.min(1024)).find_map(|i| {
        let (ty, off) = (be32(sb, 12 + i * 8)?, be32(sb, 16 + i * 8)? as usize);
        if ty != slot_type {
            return None;
        }
        let len = be32(sb, off + 4)? as usize;
        sb.get(off..off.checked_add(len)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblob(blobs: &[(u32, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let header = 12 + 8 * blobs.len();
        let mut body = Vec::new();
        out.extend_from_slice(&SUPERBLOB.to_be_bytes());
        let total = header + blobs.iter().map(|b| b.1.len() + 8).sum::<usize>();
        out.extend_from_slice(&(total as u32).to_be_bytes());
        out.extend_from_slice(&(blobs.len() as u32).to_be_bytes());
        for (ty, payload) in blobs {
            out.extend_from_slice(&ty.to_be_bytes());
            out.extend_from_slice(&((header + body.len()) as u32).to_be_bytes());
            body.extend_from_slice(&0xfade_0b01u32.to_be_bytes());
            body.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
            body.extend_from_slice(payload);
        }
        out.extend(body);
        out
    }

    #[test]
    fn thin_macho_with_code_signature() {
        let sb = superblob(&[(0, b"CD".to_vec()), (0x10000, b"CMS!".to_vec())]);
        let mut m = Vec::new();
        for v in [MH_MAGIC_64, 12, 0, 2, 1, 16, 0, 0] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        let dataoff = 64u32;
        for v in [LC_CODE_SIGNATURE, 16, dataoff, sb.len() as u32] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        m.resize(dataoff as usize, 0);
        m.extend_from_slice(&sb);
        let sigs = code_signatures(&m[..], 1 << 20).unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].cms, b"CMS!");
        assert_eq!(&sigs[0].code_directory[8..], b"CD");
        assert!(matches!(
            code_signatures(&m[..], 10),
            Err(InspectError::PackageTooLarge(_))
        ));
        for cut in 0..m.len() {
            let _ = code_signatures(&m[..cut], 1 << 20);
        }
    }
}
