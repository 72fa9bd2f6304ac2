//! Reading single ZIP entries: local header, stored/deflated data, hard decompression caps.
//!
//! Owns: `read_entry` (whole entry, capped), `open_entry` (streaming), the unknown-method rule.
//! Must not: trust local-header sizes or methods (the central directory's are used), or
//! produce more than `cap` bytes from any entry.
//! Invariant: `EntryData::anomalous` is true exactly when the bytes were obtained by a rule
//! apksig does not apply (unknown method read as stored).

use std::io::{Read, Seek};

use super::error::InspectError;
use super::zipread::{Entry, Src};

const LFH_SIG: [u8; 4] = *b"PK\x03\x04";

fn u16le(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}

/// The bytes of one entry and whether reading needed a non-apksig interpretation.
pub struct EntryData {
    pub bytes: Vec<u8>,
    /// True when the data could only be read by treating an unknown compression method as
    /// "stored" (Android's runtime does this; apksig inflates every non-stored entry and fails).
    pub anomalous: bool,
}

/// Offset of the entry's data, from its local file header.
pub fn data_offset<R: Read + Seek>(src: &mut Src<R>, e: &Entry) -> Result<u64, InspectError> {
    let h = src.read_at(e.lho, 30)?;
    if h[0..4] != LFH_SIG {
        return Err(InspectError::PackageUnreadable("bad local file header"));
    }
    let n = u64::from(u16le(&h, 26).unwrap_or(0));
    let x = u64::from(u16le(&h, 28).unwrap_or(0));
    Ok(e.lho + 30 + n + x)
}

/// Reads and decompresses one entry, refusing more than `cap` decompressed bytes.
pub fn read_entry<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    cap: u64,
) -> Result<EntryData, InspectError> {
    if e.size > cap {
        return Err(InspectError::PackageTooLarge("entry larger than limit"));
    }
    let off = data_offset(src, e)?;
    if e.method == 0 {
        if e.comp_size > cap {
            return Err(InspectError::PackageTooLarge("entry larger than limit"));
        }
        return Ok(EntryData {
            bytes: src.read_at(off, e.comp_size)?,
            anomalous: false,
        });
    }
    if e.method != 8 && e.comp_size == e.size {
        // Unknown method over same-size data: Android's runtime reads it as stored; apksig
        // would inflate it and fail, hence `anomalous`.
        return Ok(EntryData {
            bytes: src.read_at(off, e.comp_size)?,
            anomalous: true,
        });
    }
    // apksig inflates every non-stored entry, whatever the method number says.
    Ok(EntryData {
        bytes: inflate(src.window(off, e.comp_size)?, cap)?,
        anomalous: false,
    })
}

/// A streaming reader over one entry's decompressed data (stored or deflated).
pub fn open_entry<'a, R: Read + Seek>(
    src: &'a mut Src<R>,
    e: &Entry,
) -> Result<Box<dyn Read + 'a>, InspectError> {
    let off = data_offset(src, e)?;
    let w = src.window(off, e.comp_size)?;
    Ok(match e.method {
        0 => Box::new(w),
        _ => Box::new(flate2::read::DeflateDecoder::new(w)),
    })
}

/// Raw-deflate decoder over `r`, failing if the output exceeds `cap` bytes.
pub fn inflate<T: Read>(r: T, cap: u64) -> Result<Vec<u8>, InspectError> {
    let mut out = Vec::new();
    let mut dec = flate2::read::DeflateDecoder::new(r).take(cap.saturating_add(1));
    dec.read_to_end(&mut out)
        .map_err(|_| InspectError::PackageUnreadable("corrupt deflate stream"))?;
    if out.len() as u64 > cap {
        return Err(InspectError::PackageTooLarge(
            "entry decompresses beyond limit",
        ));
    }
    Ok(out)
}
