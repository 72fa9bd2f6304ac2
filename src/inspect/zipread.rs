//! A small, lenient, bounds-checked ZIP reader with apksig's view of the archive layout.
//!
//! Owns: finding the EOCD (from the end, comment length must reach the end of the file),
//! ZIP64 locator, and parsing the central directory (entries are read by `zipentry`). Hand-written because identification must survive the ZIP tricks in
//! the fixtures (prepended DEX, wrong CD offsets, misaligned CD records, lying local headers,
//! unknown compression methods) that strict crates reject, and because the APK Signing Block
//! walk needs the exact CD/EOCD offsets.
//! Must not: read more than the EOCD window (whose bytes `Src` keeps and serves again), the
//! central directory and the entries asked for;
//! allocate more than the limits allow; panic on any input.
//! Invariant: every offset read is checked against the source length first; anomalies that
//! apksig would reject are recorded in `Archive::layout_ok` / `EntryData::anomalous`.

use std::io::{Read, Seek, SeekFrom};

use super::chunks::DigestAid;
use super::error::InspectError;
use super::Limits;

pub(super) const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const CD_SIG: [u8; 4] = *b"PK\x01\x02";

/// A positioned reader over the package with a known length.
pub struct Src<R> {
    r: R,
    len: u64,
    /// The bytes at the end of the package read first (EOCD search), at `tail_at`: later reads
    /// within them (a small central directory, the end of the signing block) are served from
    /// memory.
    tail: Vec<u8>,
    tail_at: u64,
    /// One raw-deflate decoder for the entries this inspection inflates in one call (the
    /// manifest, signature files), reset between them instead of allocated anew each time.
    inflater: Option<flate2::Decompress>,
    /// What speeds up the content-digest pass (other threads' reader, precomputed chunks).
    aid: DigestAid,
}

impl<R: Read + Seek> Src<R> {
    pub fn new(mut r: R) -> Result<Self, InspectError> {
        let len = r.seek(SeekFrom::End(0))?;
        Ok(Src {
            r,
            len,
            tail: Vec::new(),
            tail_at: 0,
            inflater: None,
            aid: DigestAid::default(),
        })
    }

    /// The same source with a digest aid for the content-digest pass.
    pub fn with_aid(mut self, aid: DigestAid) -> Self {
        self.aid = aid;
        self
    }

    pub fn aid(&self) -> &DigestAid {
        &self.aid
    }

    /// The inspection's raw-deflate decoder, reset to a fresh stream.
    pub fn inflater(&mut self) -> &mut flate2::Decompress {
        match &mut self.inflater {
            Some(d) => {
                d.reset(false);
                d
            }
            slot => slot.insert(flate2::Decompress::new(false)),
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Reads exactly `n` bytes at `off`; fails cleanly if that range is outside the source.
    pub fn read_at(&mut self, off: u64, n: u64) -> Result<Vec<u8>, InspectError> {
        let end = off
            .checked_add(n)
            .ok_or(InspectError::PackageUnreadable("offset overflow"))?;
        if end > self.len {
            return Err(InspectError::PackageUnreadable("range beyond end of file"));
        }
        let n = usize::try_from(n).map_err(|_| InspectError::PackageTooLarge("range"))?;
        if let Some(at) = off
            .checked_sub(self.tail_at)
            .and_then(|a| usize::try_from(a).ok())
        {
            if let Some(kept) = self.tail.get(at..at.saturating_add(n)) {
                return Ok(kept.to_vec());
            }
        }
        let mut buf = vec![0u8; n];
        self.r.seek(SeekFrom::Start(off))?;
        self.r.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// A reader limited to `[off, off + n)`.
    pub fn window(&mut self, off: u64, n: u64) -> Result<std::io::Take<&mut R>, InspectError> {
        if off.checked_add(n).is_none_or(|e| e > self.len) {
            return Err(InspectError::PackageUnreadable(
                "entry data beyond end of file",
            ));
        }
        self.r.seek(SeekFrom::Start(off))?;
        Ok((&mut self.r).take(n))
    }
}

/// One central directory record.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Vec<u8>,
    /// General purpose flags (bit 0 encrypted, bit 3 data descriptor).
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub comp_size: u64,
    pub size: u64,
    pub lho: u64,
}

/// The archive layout and its central directory.
#[derive(Debug)]
pub struct Archive {
    pub entries: Vec<Entry>,
    /// Offset of the central directory as stated by the EOCD (what apksig uses).
    pub cd_offset: u64,
    /// Offset of the EOCD record.
    pub eocd_offset: u64,
    /// False when the CD does not end exactly at the EOCD, the stated CD offset is wrong, or
    /// records had to be resynchronised: apksig rejects such archives.
    pub layout_ok: bool,
    /// True when two entries share a name (apksig rejects JAR signatures then).
    pub duplicates: bool,
    /// The central directory parsed without resynchronising and held as many records as the
    /// end record says.
    pub cd_clean: bool,
}

impl Archive {
    pub fn find(&self, name: &[u8]) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }
}

pub(super) fn u16le(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
pub(super) fn u32le(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
pub(super) fn u64le(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

struct Eocd {
    offset: u64,
    exact: bool,
    entries: u64,
    cd_size: u64,
    cd_offset: u64,
}

/// The tail read first when looking for the EOCD: most archives have no or a short comment,
/// and a small archive's central directory lies within it too (kept by `Src`).
const EOCD_FIRST_TRY: u64 = 22 + 4096;

/// Finds the EOCD scanning backwards; prefers a record whose comment ends exactly at EOF.
/// First tries the last `EOCD_FIRST_TRY` bytes: an exact record found there is the one the
/// full 64 KiB scan finds first too (the scan runs from the end); otherwise the full window.
fn find_eocd<R: Read + Seek>(src: &mut Src<R>) -> Result<Eocd, InspectError> {
    let len = src.len();
    if len < 22 {
        return Err(InspectError::PackageUnreadable("not a ZIP archive"));
    }
    if len > EOCD_FIRST_TRY {
        let base = len - EOCD_FIRST_TRY;
        let buf = src.read_at(base, EOCD_FIRST_TRY)?;
        let found = exact_eocd(&buf).map(|i| parse_eocd(&buf, i, base, true));
        (src.tail, src.tail_at) = (buf, base);
        if let Some(eocd) = found {
            return Ok(eocd);
        }
    }
    let win = (22 + 0xffff).min(len);
    let base = len - win;
    let buf = src.read_at(base, win)?;
    let found = scan_eocd(&buf, base);
    (src.tail, src.tail_at) = (buf, base);
    found
}

/// The full-window scan: the last record whose comment ends at EOF, else the last that fits.
fn scan_eocd(buf: &[u8], base: u64) -> Result<Eocd, InspectError> {
    let mut loose: Option<usize> = None;
    for i in eocd_sigs_from_end(buf) {
        let clen = u16le(buf, i + 20).unwrap_or(0) as usize;
        if i + 22 + clen == buf.len() {
            return Ok(parse_eocd(buf, i, base, true));
        }
        if loose.is_none() && i + 22 + clen <= buf.len() {
            loose = Some(i);
        }
    }
    match loose {
        Some(i) => Ok(parse_eocd(buf, i, base, false)),
        None => Err(InspectError::PackageUnreadable(
            "not a ZIP archive (no EOCD)",
        )),
    }
}

/// The last EOCD signature in `buf` whose comment ends exactly at the end of `buf`.
fn exact_eocd(buf: &[u8]) -> Option<usize> {
    eocd_sigs_from_end(buf)
        .find(|&i| i + 22 + u16le(buf, i + 20).unwrap_or(0) as usize == buf.len())
}

/// Offsets of the EOCD signature that leave room for a whole record, last first (a SIMD
/// search: an archive with a 64 KiB comment is otherwise 64 Ki probes).
fn eocd_sigs_from_end(buf: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let room = buf.len().saturating_sub(22);
    let hay = buf
        .get(..room + 4)
        .filter(|_| buf.len() >= 22)
        .unwrap_or(&[]);
    memchr::memmem::rfind_iter(hay, EOCD_SIG)
}

fn parse_eocd(buf: &[u8], i: usize, base: u64, exact: bool) -> Eocd {
    Eocd {
        offset: base + i as u64,
        exact,
        entries: u64::from(u16le(buf, i + 10).unwrap_or(0)),
        cd_size: u64::from(u32le(buf, i + 12).unwrap_or(0)),
        cd_offset: u64::from(u32le(buf, i + 16).unwrap_or(0)),
    }
}

/// Applies the ZIP64 end-of-central-directory record when the EOCD fields are saturated.
fn apply_zip64<R: Read + Seek>(src: &mut Src<R>, e: &mut Eocd) -> Result<(), InspectError> {
    let saturated = e.entries == 0xffff || e.cd_size == 0xffff_ffff || e.cd_offset == 0xffff_ffff;
    if !saturated || e.offset < 20 {
        return Ok(());
    }
    let loc = src.read_at(e.offset - 20, 20)?;
    if u32le(&loc, 0) != Some(0x0706_4b50) {
        return Ok(());
    }
    let rec_off = u64le(&loc, 8).unwrap_or(u64::MAX);
    let rec = match src.read_at(rec_off, 56) {
        Ok(r) if u32le(&r, 0) == Some(0x0606_4b50) => r,
        _ => {
            return Err(InspectError::PackageUnreadable(
                "bad ZIP64 end of central directory",
            ))
        }
    };
    e.entries = u64le(&rec, 32).unwrap_or(0);
    e.cd_size = u64le(&rec, 40).unwrap_or(0);
    e.cd_offset = u64le(&rec, 48).unwrap_or(0);
    Ok(())
}

/// Reads the EOCD and the central directory.
pub fn open<R: Read + Seek>(src: &mut Src<R>, limits: &Limits) -> Result<Archive, InspectError> {
    let mut eocd = find_eocd(src)?;
    apply_zip64(src, &mut eocd)?;
    if eocd.cd_size > limits.max_central_directory_bytes {
        return Err(InspectError::PackageTooLarge("central directory"));
    }
    let mut layout_ok = eocd.exact && eocd.cd_offset.checked_add(eocd.cd_size) == Some(eocd.offset);
    let mut start = eocd.cd_offset;
    if !starts_with_cd_sig(src, start) {
        // Python's zipfile fallback: the CD sits right before the EOCD (prefixed archive).
        layout_ok = false;
        start = eocd.offset.saturating_sub(eocd.cd_size);
        if !starts_with_cd_sig(src, start) {
            if eocd.entries == 0 {
                return Ok(empty_archive(eocd));
            }
            return Err(InspectError::PackageUnreadable(
                "central directory not found",
            ));
        }
    }
    let end = start
        .saturating_add(eocd.cd_size)
        .max(eocd.offset)
        .min(src.len());
    let cd = src.read_at(start, end.saturating_sub(start))?;
    let (entries, clean) = parse_cd(&cd, eocd.entries, limits)?;
    layout_ok &= clean;
    let duplicates = has_duplicates(&entries);
    Ok(Archive {
        entries,
        cd_offset: eocd.cd_offset,
        eocd_offset: eocd.offset,
        layout_ok,
        duplicates,
        cd_clean: clean,
    })
}

fn empty_archive(eocd: Eocd) -> Archive {
    Archive {
        entries: Vec::new(),
        cd_offset: eocd.cd_offset,
        eocd_offset: eocd.offset,
        layout_ok: eocd.exact,
        duplicates: false,
        cd_clean: true,
    }
}

fn starts_with_cd_sig<R: Read + Seek>(src: &mut Src<R>, off: u64) -> bool {
    matches!(src.read_at(off, 4), Ok(b) if b == CD_SIG)
}

fn has_duplicates(entries: &[Entry]) -> bool {
    let mut names: Vec<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
    names.sort_unstable();
    names.windows(2).any(|w| w[0] == w[1])
}

/// Parses CD records; on a bad record it resynchronises on the next signature.
/// Returns the entries and whether the directory was clean.
fn parse_cd(cd: &[u8], count: u64, limits: &Limits) -> Result<(Vec<Entry>, bool), InspectError> {
    let mut entries = Vec::new();
    let mut clean = true;
    let mut p = 0usize;
    while p + 46 <= cd.len() && (entries.len() as u64) < count.max(1) {
        if cd[p..p + 4] != CD_SIG {
            clean = false;
            match find_sig(cd, p + 1) {
                Some(q) => p = q,
                None => break,
            }
            continue;
        }
        let Some((entry, next)) = parse_record(cd, p) else {
            clean = false;
            p += 4;
            continue;
        };
        if entries.len() >= limits.max_entries {
            return Err(InspectError::PackageTooLarge("too many ZIP entries"));
        }
        entries.push(entry);
        p = next;
    }
    if (entries.len() as u64) != count {
        clean = false;
    }
    Ok((entries, clean))
}

fn find_sig(cd: &[u8], from: usize) -> Option<usize> {
    cd.get(from..)?
        .windows(4)
        .position(|w| w == CD_SIG)
        .map(|q| q + from)
}

fn parse_record(cd: &[u8], p: usize) -> Option<(Entry, usize)> {
    let flags = u16le(cd, p + 8)?;
    let method = u16le(cd, p + 10)?;
    let crc = u32le(cd, p + 16)?;
    let mut comp_size = u64::from(u32le(cd, p + 20)?);
    let mut size = u64::from(u32le(cd, p + 24)?);
    let nlen = u16le(cd, p + 28)? as usize;
    let xlen = u16le(cd, p + 30)? as usize;
    let clen = u16le(cd, p + 32)? as usize;
    let mut lho = u64::from(u32le(cd, p + 42)?);
    let name = cd.get(p + 46..p + 46 + nlen)?.to_vec();
    let extra = cd.get(p + 46 + nlen..p + 46 + nlen + xlen).unwrap_or(&[]);
    apply_zip64_extra(extra, &mut size, &mut comp_size, &mut lho);
    let next = p + 46 + nlen + xlen + clen;
    Some((
        Entry {
            name,
            flags,
            method,
            crc,
            comp_size,
            size,
            lho,
        },
        next.min(cd.len()),
    ))
}

/// Replaces saturated 32-bit fields with the values of a ZIP64 extended information field.
pub(super) fn apply_zip64_extra(extra: &[u8], size: &mut u64, comp: &mut u64, lho: &mut u64) {
    let mut q = 0;
    while let (Some(id), Some(len)) = (u16le(extra, q), u16le(extra, q + 2)) {
        let body = extra.get(q + 4..q + 4 + len as usize).unwrap_or(&[]);
        if id == 1 {
            let mut k = 0;
            for field in [size, comp, lho] {
                if *field == 0xffff_ffff {
                    if let Some(v) = u64le(body, k) {
                        *field = v;
                        k += 8;
                    }
                }
            }
            return;
        }
        q += 4 + len as usize;
    }
}

#[cfg(test)]
#[path = "zipread_tests.rs"]
mod tests;
