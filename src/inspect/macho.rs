//! Mach-O code signatures read in one forward pass: fat/thin headers, LC_CODE_SIGNATURE, the
//! embedded-signature SuperBlob, its CodeDirectory (slot 0) and CMS blob (slot 0x10000), and
//! on request the digests of each slice's code pages as they stream past (`pagehash.rs`).
//!
//! Owns: locating each slice's code signature in a stream that cannot seek backwards (the
//! executable is usually deflated inside the IPA), and the SuperBlob index (`blob`).
//! Must not: buffer the executable (only headers, load commands and signature blobs are kept)
//! or read past `cap` decompressed bytes.
//! Invariant: offsets are requested in increasing order; each request is bounds-checked
//! against the slice and capped; page digests cover exactly the slice's bytes before its
//! signature.

use std::io::{self, Read};
use std::ops::{Deref, Range};
use std::sync::Arc;

use super::error::InspectError;
use super::pagehash::{PageDigests, PageHasher};

const FAT_MAGIC: u32 = 0xcafe_babe;
const FAT_MAGIC_64: u32 = 0xcafe_babf;
const MH_MAGIC: u32 = 0xfeed_face;
const MH_MAGIC_64: u32 = 0xfeed_facf;
const LC_CODE_SIGNATURE: u32 = 0x1d;
const SUPERBLOB: u32 = 0xfade_0cc0;
const MAX_BLOB: u64 = 16 << 20;

/// The signature material of one architecture slice. The SuperBlob is held once; the CMS and
/// CodeDirectory are views into it.
#[derive(Debug)]
pub struct SliceSig {
    /// CMS SignedData (BER) from slot 0x10000; empty when ad-hoc signed.
    pub cms: BlobRef,
    /// The CodeDirectory blob (slot 0), the content the CMS signs.
    pub code_directory: BlobRef,
    /// The whole SuperBlob (alternate CodeDirectories, requirements, entitlements, …).
    pub superblob: Arc<[u8]>,
    /// Digests of the slice's 4 KiB pages before the signature, when asked for.
    pub pages: Option<PageDigests>,
}

impl SliceSig {
    /// The blob (with its 8-byte header) at `slot_type` of the SuperBlob.
    pub fn blob(&self, slot_type: u32) -> Option<&[u8]> {
        self.superblob.get(slot(&self.superblob, slot_type)?)
    }
}

/// Bytes of a SuperBlob shared without a copy (empty when the range is not inside it).
#[derive(Clone, Debug)]
pub struct BlobRef {
    sb: Arc<[u8]>,
    at: Range<usize>,
}

impl Deref for BlobRef {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.sb.get(self.at.clone()).unwrap_or(&[])
    }
}

/// Page hashing of the bytes that pass below `end`.
struct Tap {
    end: u64,
    hasher: PageHasher,
}

struct Fwd<R> {
    r: R,
    pos: u64,
    cap: u64,
    tap: Option<Tap>,
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
        self.skip_to(off)?;
        let mut buf = Vec::new();
        (&mut self.r)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|_| InspectError::PackageUnreadable("corrupt executable data"))?;
        if buf.len() as u64 != n {
            return Err(short());
        }
        self.feed(&buf);
        self.pos = end;
        Ok(buf)
    }

    /// Reads up to `off`, through the tap when one is set.
    fn skip_to(&mut self, off: u64) -> Result<(), InspectError> {
        let corrupt = |_| InspectError::PackageUnreadable("corrupt executable data");
        if self.tap.is_none() {
            let skip = off - self.pos;
            let skipped =
                io::copy(&mut (&mut self.r).take(skip), &mut io::sink()).map_err(corrupt)?;
            if skipped != skip {
                return Err(short());
            }
            self.pos = off;
            return Ok(());
        }
        let mut buf = vec![0u8; 64 << 10];
        while self.pos < off {
            let want = usize::try_from(off - self.pos).map_or(buf.len(), |n| n.min(buf.len()));
            let got = match self.r.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => other.map_err(corrupt)?,
            };
            if got == 0 {
                return Err(short());
            }
            let chunk = &buf[..got];
            if let Some(t) = &mut self.tap {
                feed_tap(t, self.pos, chunk);
            }
            self.pos += got as u64;
        }
        Ok(())
    }

    /// Hands `b`, read at `self.pos`, to the tap.
    fn feed(&mut self, b: &[u8]) {
        if let Some(t) = &mut self.tap {
            feed_tap(t, self.pos, b);
        }
    }
}

fn feed_tap(t: &mut Tap, at: u64, b: &[u8]) {
    let room = usize::try_from(t.end.saturating_sub(at)).unwrap_or(usize::MAX);
    t.hasher.update(&b[..room.min(b.len())]);
}

fn short() -> InspectError {
    InspectError::PackageUnreadable("executable shorter than its headers")
}

pub(super) fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(o..o.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(super) fn be64(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_be_bytes(
        b.get(o..o.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// Reads the code signatures of every slice; `Ok(vec![])` for a non-Mach-O or unsigned file.
/// With `hash_pages`, each signed slice also gets the digests of its code pages.
pub fn code_signatures<R: Read>(
    r: R,
    cap: u64,
    hash_pages: bool,
) -> Result<Vec<SliceSig>, InspectError> {
    let mut f = Fwd {
        r,
        pos: 0,
        cap,
        tap: None,
    };
    let Ok(head) = f.read_at(0, 8) else {
        return Ok(Vec::new());
    };
    let magic = be32(&head, 0).unwrap_or(0);
    let mut slices: Vec<(u64, u64)> = match magic {
        FAT_MAGIC | FAT_MAGIC_64 => fat_slices(&mut f, magic == FAT_MAGIC_64, &head)?,
        _ if matches!(le32(&head, 0), Some(MH_MAGIC | MH_MAGIC_64)) => vec![(0, u64::MAX)],
        _ => return Ok(Vec::new()),
    };
    slices.sort_unstable();
    let mut out = Vec::new();
    for (off, size) in slices {
        let head = (off == 0).then_some(&head);
        if let Some(sig) = slice_sig(&mut f, (off, size), head, hash_pages)? {
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
    (off, size): (u64, u64),
    head: Option<&Vec<u8>>,
    hash_pages: bool,
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
    let more = f.read_at(off + 32, extra.min(MAX_BLOB))?;
    let mut cmds = hdr.get(hsize as usize..).unwrap_or(&[]).to_vec();
    cmds.extend_from_slice(&more);
    let Some((dataoff, datasize)) = find_code_signature(&cmds, ncmds) else {
        return Ok(None);
    };
    if u64::from(dataoff) + u64::from(datasize) > size || u64::from(datasize) > MAX_BLOB {
        return Ok(None);
    }
    if hash_pages {
        // The header and load commands already read are the slice's first bytes.
        let mut t = Tap {
            end: off + u64::from(dataoff),
            hasher: PageHasher::default(),
        };
        feed_tap(&mut t, off, &hdr);
        feed_tap(&mut t, off + hdr.len() as u64, &more);
        f.tap = Some(t);
    }
    let blob = f.read_at(off + u64::from(dataoff), u64::from(datasize));
    let pages = f.tap.take().map(|t| t.hasher.finish());
    let sb: Arc<[u8]> = blob?.into();
    let view = |at: Option<Range<usize>>| BlobRef {
        sb: Arc::clone(&sb),
        at: at.unwrap_or(0..0),
    };
    // The CMS is the payload after the blob's 8-byte header.
    let cms = slot(&sb, 0x10000).map(|r| r.start.saturating_add(8).min(r.end)..r.end);
    Ok(Some(SliceSig {
        cms: view(cms),
        code_directory: view(slot(&sb, 0)),
        superblob: Arc::clone(&sb),
        pages,
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

/// Where the blob (including its 8-byte header) at `slot_type` of a SuperBlob lies in it.
fn slot(sb: &[u8], slot_type: u32) -> Option<Range<usize>> {
    if be32(sb, 0)? != SUPERBLOB {
        return None;
    }
    let count = be32(sb, 8)? as usize;
    (0..count.min(1024)).find_map(|i| {
        let (ty, off) = (be32(sb, 12 + i * 8)?, be32(sb, 16 + i * 8)? as usize);
        if ty != slot_type {
            return None;
        }
        let len = be32(sb, off.checked_add(4)?)? as usize;
        let end = off.checked_add(len).filter(|&e| e <= sb.len())?;
        Some(off..end)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testmacho::{superblob, thin, wrap};
    use super::*;

    #[test]
    fn thin_macho_with_code_signature() {
        let sb = superblob(&[
            (0, wrap(0xfade_0c02, b"CD")),
            (0x10000, wrap(0xfade_0b01, b"CMS!")),
        ]);
        let m = thin(64, &sb);
        let sigs = code_signatures(&m[..], 1 << 20, false).unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(&*sigs[0].cms, b"CMS!");
        assert_eq!(&sigs[0].code_directory[8..], b"CD");
        assert_eq!(sigs[0].blob(0x10000).map(|b| &b[8..]), Some(&b"CMS!"[..]));
        assert_eq!(sigs[0].pages, None);
        assert!(matches!(
            code_signatures(&m[..], 10, false),
            Err(InspectError::PackageTooLarge(_))
        ));
        for cut in 0..m.len() {
            let _ = code_signatures(&m[..cut], 1 << 20, true);
        }
    }

    #[test]
    fn pages_cover_the_slice_up_to_its_signature() {
        let sb = superblob(&[(0, wrap(0xfade_0c02, b"CD"))]);
        for dataoff in [48u32, 4096, 4097, 3 * 4096 + 5, 70_000] {
            let m = thin(dataoff, &sb);
            let mut want = PageHasher::default();
            want.update(&m[..dataoff as usize]);
            let sigs = code_signatures(&m[..], 1 << 20, true).unwrap();
            assert_eq!(sigs[0].pages.as_ref(), Some(&want.finish()), "{dataoff}");
            assert_eq!(&sigs[0].code_directory[8..], b"CD");
        }
    }

    #[test]
    fn fat_slices_each_hash_their_own_pages() {
        let sb = superblob(&[(0, wrap(0xfade_0c02, b"CD"))]);
        let (a, b) = (thin(5000, &sb), thin(9000, &sb));
        let mut fat = Vec::new();
        for v in [FAT_MAGIC, 2] {
            fat.extend_from_slice(&v.to_be_bytes());
        }
        let (off_a, off_b) = (4096u32, 4096 * 4u32);
        for (off, len) in [(off_a, a.len()), (off_b, b.len())] {
            for v in [12u32, 0, off, len as u32, 12] {
                fat.extend_from_slice(&v.to_be_bytes());
            }
        }
        fat.resize(off_a as usize, 0);
        fat.extend_from_slice(&a);
        fat.resize(off_b as usize, 0);
        fat.extend_from_slice(&b);
        let sigs = code_signatures(&fat[..], 1 << 20, true).unwrap();
        let pages: Vec<_> = sigs.iter().map(|s| s.pages.clone().unwrap().len).collect();
        assert_eq!(pages, vec![5000, 9000]);
        let mut want = PageHasher::default();
        want.update(&b[..9000]);
        assert_eq!(sigs[1].pages, Some(want.finish()));
    }
}
