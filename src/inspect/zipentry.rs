//! Reading single ZIP entries: local header, stored/deflated data, hard decompression caps.
//!
//! Owns: `read_entry` (whole entry, capped), `open_entry` (streaming), the unknown-method rule.
//! Must not: trust local-header sizes or methods (the central directory's are used), or
//! produce more than `cap` bytes from any entry.
//! Invariant: `EntryData::anomalous` is true exactly when the bytes were obtained by a rule
//! apksig does not apply (unknown method read as stored).

use std::io::{BufReader, Read, Seek};

const STREAM_BUF: usize = 64 << 10;

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
    let bytes = if e.comp_size <= ONE_SHOT_INPUT {
        inflate_slice(&src.read_at(off, e.comp_size)?, e.size, cap)?
    } else {
        inflate(src.window(off, e.comp_size)?, cap)?
    };
    Ok(EntryData {
        bytes,
        anomalous: false,
    })
}

/// Compressed entries up to this size are read in one piece and inflated in one call (the
/// manifest, signature files); larger ones are streamed through `inflate`.
const ONE_SHOT_INPUT: u64 = 1 << 20;

/// Inflates `input`, held in memory, in one call straight into an output buffer sized from
/// `hint` (the central directory's size, bounded by deflate's maximum ratio so that a lying
/// header cannot make it large). Only a complete stream within `cap` is taken from that call;
/// anything else (output larger than the buffer, a stream cut short, corrupt data) is decided
/// by `inflate` over the same bytes, so the outcome is always exactly `inflate`'s.
pub fn inflate_slice(input: &[u8], hint: u64, cap: u64) -> Result<Vec<u8>, InspectError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let ratio_bound = (input.len() as u64).saturating_mul(1032).saturating_add(64);
    let room = hint.saturating_add(64).min(ratio_bound).min(cap);
    let mut out = Vec::with_capacity(usize::try_from(room).unwrap_or(usize::MAX));
    let done = Decompress::new(false).decompress_vec(input, &mut out, FlushDecompress::Finish);
    if matches!(done, Ok(Status::StreamEnd)) && out.len() as u64 <= cap {
        return Ok(out);
    }
    inflate(input, cap)
}

/// A streaming reader over one entry's decompressed data (stored or deflated).
pub fn open_entry<'a, R: Read + Seek>(
    src: &'a mut Src<R>,
    e: &Entry,
) -> Result<Box<dyn Read + 'a>, InspectError> {
    let off = data_offset(src, e)?;
    let w = src.window(off, e.comp_size)?;
    Ok(match e.method {
        // Large stored entries (an IPA executable) are streamed in small reads: buffer them.
        0 if e.comp_size > STREAM_BUF as u64 => Box::new(BufReader::with_capacity(STREAM_BUF, w)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn outcome(r: Result<Vec<u8>, InspectError>) -> Result<Vec<u8>, &'static str> {
        r.map_err(|e| e.code())
    }

    /// The one-shot path gives exactly what the streaming path gives: complete, cut short at
    /// every length, corrupted, over the cap, with a right, lying or absent size hint.
    #[test]
    fn inflate_slice_matches_the_streaming_inflate() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("entry-{} {}\n", i % 97, i * 7 % 13).into_bytes())
            .collect();
        let z = deflate(&text);
        for hint in [0, 10, text.len() as u64, 1 << 30] {
            for cap in [
                0,
                1,
                4095,
                text.len() as u64 - 1,
                text.len() as u64,
                1 << 30,
            ] {
                let a = outcome(inflate(&z[..], cap));
                let b = outcome(inflate_slice(&z, hint, cap));
                assert_eq!(a, b, "hint {hint} cap {cap}");
            }
        }
        for cut in (0..z.len()).step_by(7) {
            let a = outcome(inflate(&z[..cut], 1 << 30));
            assert_eq!(
                a,
                outcome(inflate_slice(&z[..cut], 300_000, 1 << 30)),
                "cut {cut}"
            );
        }
        let mut bad = z.clone();
        for i in (0..bad.len()).step_by(11) {
            bad[i] ^= 0x5a;
            let a = outcome(inflate(&bad[..], 1 << 20));
            assert_eq!(a, outcome(inflate_slice(&bad, 0, 1 << 20)), "flip {i}");
            bad[i] ^= 0x5a;
        }
        let mut trailing = deflate(b"short");
        trailing.extend_from_slice(b"garbage after the end of the stream");
        assert_eq!(inflate_slice(&trailing, 5, 100).unwrap(), b"short");
        assert_eq!(inflate(&trailing[..], 100).unwrap(), b"short");
    }
}
