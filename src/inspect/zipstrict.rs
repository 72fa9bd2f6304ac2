//! Strict ZIP layout: an archive is inspected only when every common ZIP reader (Android's
//! libziparchive and apksig, Java's `ZipFile` and `ZipInputStream`, Python's `zipfile`, Go's
//! `archive/zip`, Info-ZIP, extraction to a case-insensitive file system) sees the same entries
//! with the same bytes; anything else is `package_ambiguous`.
//!
//! Owns: the refusal rules of `Limits::strict_zip` (docs/inspection.md "Strict ZIP"): one
//! plausible end record, the central directory exactly before it, no two entries a reader could
//! confuse, every local header agreeing with its central-directory record, and every byte before
//! the central directory belonging to an entry, a data descriptor, an APK/HAP signing block or
//! zero padding.
//! Must not: read an entry's data (only local headers, the bytes between entries and the end
//! record's window), allocate beyond the central directory's size plus one 64 KiB window, or
//! panic on any input.
//! Invariant: `check` returns `Ok` only when the entries `zipread::open` lists are exactly the
//! entries a streaming reader walking the local headers from offset 0 meets, in some order, with
//! the same names, methods, flags and sizes.

use std::io::{Read, Seek};

use super::error::InspectError;
use super::zipread::{apply_zip64_extra, u16le, u32le, u64le, Archive, Entry, Src, EOCD_SIG};

/// Longest run of zero bytes accepted between two entries or before the signing block
/// (apksig pads the entries to a 4 KiB boundary before the block; larger page alignments use
/// the extra field, not gaps).
const MAX_PADDING: u64 = 64 << 10;
/// The window every EOCD search scans: the record and the longest comment.
const EOCD_WINDOW: u64 = 22 + 0xffff;
/// Bytes read at once when walking local headers (one read serves neighbouring small entries).
const CHUNK: u64 = 64 << 10;
const LFH_SIG: [u8; 4] = *b"PK\x03\x04";
const DD_SIG: [u8; 4] = *b"PK\x07\x08";
const FLAG_ENCRYPTED: u16 = 1;
const FLAG_DESCRIPTOR: u16 = 1 << 3;

fn ambiguous(why: &'static str) -> InspectError {
    InspectError::PackageAmbiguous(why)
}

/// Refuses an archive that common ZIP readers could read differently.
pub fn check<R: Read + Seek>(src: &mut Src<R>, a: &Archive) -> Result<(), InspectError> {
    end_record(src, a)?;
    names(&a.entries)?;
    stored_sizes(&a.entries)?;
    coverage(src, a)
}

/// The end record and the central directory: one plausible EOCD whose comment ends the file,
/// one disk, a ZIP64 record (if any) that agrees with it, the directory ending exactly where the
/// end records begin and holding exactly the records they announce.
fn end_record<R: Read + Seek>(src: &mut Src<R>, a: &Archive) -> Result<(), InspectError> {
    let len = src.len();
    let e = src.read_at(a.eocd_offset, 22)?;
    let field16 = |o| u64::from(u16le(&e, o).unwrap_or(0));
    let field32 = |o| u64::from(u32le(&e, o).unwrap_or(0));
    if a.eocd_offset + 22 + field16(20) != len {
        return Err(ambiguous("bytes after the end record's comment"));
    }
    if field16(4) != 0 || field16(6) != 0 || field16(8) != field16(10) {
        return Err(ambiguous("the end record names more than one disk"));
    }
    let (mut count, mut cd_size, mut cd_end) = (field16(10), field32(12), a.eocd_offset);
    if let Some(z) = zip64(src, a.eocd_offset)? {
        let agrees = |small: u64, max: u64, big: u64| small == max || small == big;
        if !agrees(count, 0xffff, z.count)
            || !agrees(cd_size, 0xffff_ffff, z.cd_size)
            || !agrees(field32(16), 0xffff_ffff, z.cd_offset)
        {
            return Err(ambiguous(
                "the ZIP64 end record and the end record disagree",
            ));
        }
        (count, cd_size, cd_end) = (z.count, z.cd_size, z.offset);
    }
    if a.cd_offset.checked_add(cd_size) != Some(cd_end) {
        return Err(ambiguous(
            "the central directory does not end where the end record begins",
        ));
    }
    if !a.cd_clean || a.entries.len() as u64 != count {
        return Err(ambiguous(
            "the central directory does not hold exactly the records the end record announces",
        ));
    }
    other_end_records(src, a)
}

struct Zip64 {
    offset: u64,
    count: u64,
    cd_size: u64,
    cd_offset: u64,
}

/// The ZIP64 end record named by a locator right before the EOCD (Python's `zipfile` applies
/// it whenever the locator is there, saturated fields or not). The locator and record must be
/// well-formed, single-disk and contiguous with the EOCD.
fn zip64<R: Read + Seek>(src: &mut Src<R>, eocd: u64) -> Result<Option<Zip64>, InspectError> {
    let Some(at) = eocd.checked_sub(20) else {
        return Ok(None);
    };
    let loc = src.read_at(at, 20)?;
    if loc[0..4] != *b"PK\x06\x07" {
        return Ok(None);
    }
    let bad = || ambiguous("a malformed ZIP64 end record or locator");
    let offset = u64le(&loc, 8).ok_or_else(bad)?;
    if u32le(&loc, 4) != Some(0) || u32le(&loc, 16).is_some_and(|d| d > 1) {
        return Err(bad());
    }
    let rec = src.read_at(offset, 56).map_err(|_| bad())?;
    let size = u64le(&rec, 4).ok_or_else(bad)?;
    let contiguous = offset.checked_add(12).and_then(|o| o.checked_add(size)) == Some(at);
    let single = u32le(&rec, 16) == Some(0) && u32le(&rec, 20) == Some(0);
    if rec[0..4] != *b"PK\x06\x06" || !contiguous || !single || u64le(&rec, 24) != u64le(&rec, 32) {
        return Err(bad());
    }
    Ok(Some(Zip64 {
        offset,
        count: u64le(&rec, 32).ok_or_else(bad)?,
        cd_size: u64le(&rec, 40).ok_or_else(bad)?,
        cd_offset: u64le(&rec, 48).ok_or_else(bad)?,
    }))
}

/// No second EOCD signature after the start of the central directory: none inside the
/// directory, between it and the end record, or in the comment (Python's `zipfile` takes the
/// last signature in the window, Go the last whose comment fits, apksig and this reader the last
/// whose comment ends the file). A signature before the directory (a stored nested archive) is
/// never reached: every reader scans backwards from the end and stops at the record chosen
/// here, which the checks above leave acceptable to all of them.
fn other_end_records<R: Read + Seek>(src: &mut Src<R>, a: &Archive) -> Result<(), InspectError> {
    let len = src.len();
    let from = a.cd_offset.max(len.saturating_sub(EOCD_WINDOW)).min(len);
    let tail = src.read_at(from, len - from)?;
    let found =
        memchr::memmem::find_iter(&tail, EOCD_SIG).any(|i| from + i as u64 != a.eocd_offset);
    if found {
        return Err(ambiguous(
            "a second end-record signature in the central directory or the comment",
        ));
    }
    Ok(())
}

/// The name every reader agrees an entry has: cut at the first NUL (C readers), `\` read as
/// `/` (Info-ZIP and Windows extractors), leading `/` dropped (extractors write relative
/// paths); for the names identification reads (manifests, `META-INF/`, an IPA's `Payload/`)
/// also ASCII case (extraction on a case-insensitive file system merges them).
fn reading(name: &[u8]) -> Vec<u8> {
    let cut = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let mut n: Vec<u8> = name[..cut]
        .iter()
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    let lead = n.iter().take_while(|&&b| b == b'/').count();
    n.drain(..lead);
    let folded = n.to_ascii_lowercase();
    let mut parts = folded.split(|&b| b == b'/');
    let (first, second) = (parts.next().unwrap_or(&[]), parts.next());
    let identity = matches!(
        folded.as_slice(),
        b"androidmanifest.xml" | b"module.json" | b"pack.info"
    ) || folded.starts_with(b"meta-inf/")
        || first == b"payload"
        || second == Some(b"payload".as_slice());
    if identity {
        folded
    } else {
        n
    }
}

/// No two entries with the same reading.
fn names(entries: &[Entry]) -> Result<(), InspectError> {
    let mut all: Vec<Vec<u8>> = entries.iter().map(|e| reading(&e.name)).collect();
    all.sort_unstable();
    if all.windows(2).any(|w| w[0] == w[1]) {
        return Err(ambiguous("two entries with the same name"));
    }
    Ok(())
}

/// A stored entry whose compressed and uncompressed sizes differ is read with one size or the
/// other depending on the reader.
fn stored_sizes(entries: &[Entry]) -> Result<(), InspectError> {
    if entries
        .iter()
        .any(|e| e.method == 0 && e.comp_size != e.size)
    {
        return Err(ambiguous("a stored entry with two sizes"));
    }
    Ok(())
}

/// Serves small reads from one 64 KiB read (local headers of neighbouring entries).
struct Window {
    at: u64,
    buf: Vec<u8>,
}

impl Window {
    fn get<R: Read + Seek>(
        &mut self,
        src: &mut Src<R>,
        off: u64,
        n: u64,
    ) -> Result<&[u8], InspectError> {
        let inside = off
            .checked_sub(self.at)
            .is_some_and(|o| o.saturating_add(n) <= self.buf.len() as u64);
        if !inside {
            let want = n.max(CHUNK).min(src.len().saturating_sub(off)).max(n);
            self.buf = src.read_at(off, want)?;
            self.at = off;
        }
        let o = usize::try_from(off - self.at).unwrap_or(usize::MAX);
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.buf
            .get(o..o.saturating_add(n))
            .ok_or(InspectError::PackageUnreadable("range beyond end of file"))
    }
}

/// Every local header agrees with its record, and the entries, their data descriptors, zero
/// padding and one signing block tile the file from offset 0 to the central directory.
fn coverage<R: Read + Seek>(src: &mut Src<R>, a: &Archive) -> Result<(), InspectError> {
    let mut order: Vec<&Entry> = a.entries.iter().collect();
    order.sort_by_key(|e| e.lho);
    if order.first().is_some_and(|e| e.lho != 0) {
        return Err(ambiguous("bytes before the first local header"));
    }
    let mut win = Window {
        at: 0,
        buf: Vec::new(),
    };
    let mut expect = 0u64;
    let mut prev: Option<&Entry> = None;
    for e in order {
        gap(src, &mut win, expect, e.lho, prev)?;
        expect = local_header(src, &mut win, e)?;
        if expect > a.cd_offset {
            return Err(ambiguous("an entry overlaps the central directory"));
        }
        prev = Some(e);
    }
    let end = signing_block_start(src, a.cd_offset)?;
    if expect > end {
        return Err(ambiguous("the last entry overlaps the signing block"));
    }
    gap(src, &mut win, expect, end, prev)
}

/// Where the bytes right before the central directory stop being entries: the start of an
/// APK Signing Block (leading and trailing sizes equal) or a HAP signing block ending there,
/// else the central directory itself.
fn signing_block_start<R: Read + Seek>(src: &mut Src<R>, cd: u64) -> Result<u64, InspectError> {
    let Some(at) = cd.checked_sub(32) else {
        return Ok(cd);
    };
    let tail = src.read_at(at, 32)?;
    if tail[16..32] == *b"APK Sig Block 42" {
        let size = u64le(&tail, 8).unwrap_or(0);
        let start = size.checked_add(8).and_then(|s| cd.checked_sub(s));
        if let Some(start) = start.filter(|_| size >= 24) {
            if u64le(&src.read_at(start, 8)?, 0) == Some(size) {
                return Ok(start);
            }
        }
        return Ok(cd);
    }
    if tail[12..28] == *b"HAP Sig Block 42" || tail[12..28] == *b"<hap sign block>" {
        let size = u64le(&tail, 4).unwrap_or(0);
        if (32..=cd).contains(&size) {
            return Ok(cd - size);
        }
    }
    Ok(cd)
}

/// Checks the local header of `e` against its record; returns the end of its data.
fn local_header<R: Read + Seek>(
    src: &mut Src<R>,
    win: &mut Window,
    e: &Entry,
) -> Result<u64, InspectError> {
    let fixed = win.get(src, e.lho, 30)?;
    if fixed[0..4] != LFH_SIG {
        return Err(InspectError::PackageUnreadable("bad local file header"));
    }
    let field16 = |o| u16le(fixed, o).unwrap_or(0);
    let field32 = |o| u32le(fixed, o).unwrap_or(0);
    let (flags, method, crc) = (field16(6), field16(8), field32(14));
    let (mut comp, mut size) = (u64::from(field32(18)), u64::from(field32(22)));
    let (n, x) = (u64::from(field16(26)), u64::from(field16(28)));
    let head = win.get(src, e.lho, 30 + n + x)?;
    if head[30..].get(..e.name.len()) != Some(e.name.as_slice()) || n != e.name.len() as u64 {
        return Err(ambiguous(
            "a local header names its entry differently from the central directory",
        ));
    }
    if method != e.method {
        return Err(ambiguous(
            "a local header's compression method differs from the central directory's",
        ));
    }
    if (flags ^ e.flags) & (FLAG_ENCRYPTED | FLAG_DESCRIPTOR) != 0 {
        return Err(ambiguous(
            "a local header's encryption or data-descriptor flag differs from the central directory's",
        ));
    }
    let extra = head.get(30 + n as usize..).unwrap_or(&[]);
    apply_zip64_extra(extra, &mut size, &mut comp, &mut 0);
    let same = if flags & FLAG_DESCRIPTOR == 0 {
        (crc, comp, size) == (e.crc, e.comp_size, e.size)
    } else {
        // Sizes and CRC follow the data; a header may leave them zero or state them.
        (crc == 0 || crc == e.crc)
            && (comp == 0 || comp == e.comp_size)
            && (size == 0 || size == e.size)
    };
    if !same {
        return Err(ambiguous(
            "a local header's sizes or CRC differ from the central directory's",
        ));
    }
    (e.lho + 30 + n + x)
        .checked_add(e.comp_size)
        .ok_or(InspectError::PackageUnreadable("entry beyond end of file"))
}

/// The bytes `from..to` between two entries (or before the signing block): `prev`'s data
/// descriptor if it announces one, then nothing but zero padding.
fn gap<R: Read + Seek>(
    src: &mut Src<R>,
    win: &mut Window,
    from: u64,
    to: u64,
    prev: Option<&Entry>,
) -> Result<(), InspectError> {
    if to < from {
        return Err(ambiguous("entries overlap"));
    }
    if to - from > MAX_PADDING + 24 {
        return Err(ambiguous(
            "bytes outside every entry before the central directory",
        ));
    }
    let bytes = win.get(src, from, to - from)?;
    let skip = prev
        .filter(|p| p.flags & FLAG_DESCRIPTOR != 0)
        .map_or(0, |p| descriptor_len(bytes, p));
    if bytes[skip..].iter().any(|&b| b != 0) {
        return Err(ambiguous(
            "bytes outside every entry before the central directory",
        ));
    }
    Ok(())
}

/// The length of `e`'s data descriptor at the start of `b` (signed or not, 32- or 64-bit
/// sizes), 0 when `b` does not start with one that matches the central directory.
fn descriptor_len(b: &[u8], e: &Entry) -> usize {
    let sig = usize::from(b.starts_with(&DD_SIG)) * 4;
    let small = |o: usize| u32le(b, o).map(u64::from);
    if u32le(b, sig) != Some(e.crc) {
        return 0;
    }
    if small(sig + 4) == Some(e.comp_size) && small(sig + 8) == Some(e.size) {
        return sig + 12;
    }
    if u64le(b, sig + 4) == Some(e.comp_size) && u64le(b, sig + 12) == Some(e.size) {
        return sig + 20;
    }
    0
}

#[cfg(test)]
#[path = "zipstrict_tests.rs"]
mod tests;
