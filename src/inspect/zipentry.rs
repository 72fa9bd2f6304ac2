//! Reading single ZIP entries: local header, stored/deflated data, hard decompression caps.
//!
//! Owns: `read_entry` (whole entry, capped), `open_entry` (streaming), `stream_entry` (an
//! entry's data as apksig digests it, through reused buffers), the unknown-method rule.
//! Must not: trust local-header sizes or methods (the central directory's are used), or
//! produce more than `cap` bytes from any entry.
//! Invariant: `EntryData::anomalous` is true exactly when the bytes were obtained by a rule
//! apksig does not apply (unknown method read as stored).

use std::io::{BufRead, BufReader, Read, Seek};

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

/// The entry's stored bytes (`comp_size` of them after the local header), read together with
/// the local header in one request when they are near; the same results and errors as
/// `data_offset` followed by a read.
fn raw_data<R: Read + Seek>(src: &mut Src<R>, e: &Entry) -> Result<Vec<u8>, InspectError> {
    let (mut got, start) = raw_span(src, e, e.comp_size)?;
    got.drain(..start);
    Ok(got)
}

/// `raw_data` as a buffer and the offset of the data in it (`buf[start..]`), sparing the copy
/// that moving the data to the front costs when it is only inflated; `len` data bytes (the
/// entry's `comp_size`, or what a caller reads instead).
fn raw_span<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    len: u64,
) -> Result<(Vec<u8>, usize), InspectError> {
    // The local header usually repeats the central directory's name; its extra field may be
    // longer (zipalign pads it).
    let guess = (30 + e.name.len() as u64 + 64).saturating_add(len);
    let want = guess.min(src.len().saturating_sub(e.lho)).max(30);
    let mut got = src.read_at(e.lho, want)?;
    if got[0..4] != LFH_SIG {
        return Err(InspectError::PackageUnreadable("bad local file header"));
    }
    let n = u64::from(u16le(&got, 26).unwrap_or(0));
    let x = u64::from(u16le(&got, 28).unwrap_or(0));
    let start = 30 + n + x;
    match start.checked_add(len) {
        Some(end) if end <= got.len() as u64 => {
            got.truncate(end as usize);
            Ok((got, start as usize))
        }
        _ => Ok((src.read_at(e.lho + start, len)?, 0)),
    }
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
    if e.method == 0 {
        if e.comp_size > cap {
            data_offset(src, e)?;
            return Err(InspectError::PackageTooLarge("entry larger than limit"));
        }
        return Ok(EntryData {
            bytes: raw_data(src, e)?,
            anomalous: false,
        });
    }
    if e.method != 8 && e.comp_size == e.size {
        // Unknown method over same-size data: Android's runtime reads it as stored; apksig
        // would inflate it and fail, hence `anomalous`.
        return Ok(EntryData {
            bytes: raw_data(src, e)?,
            anomalous: true,
        });
    }
    // apksig inflates every non-stored entry, whatever the method number says.
    let bytes = if e.comp_size <= ONE_SHOT_INPUT {
        let (raw, start) = raw_span(src, e, e.comp_size)?;
        inflate_slice(src.inflater(), &raw[start..], e.size, cap)?
    } else {
        let off = data_offset(src, e)?;
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
/// by `inflate` over the same bytes, so the outcome is always exactly `inflate`'s. `dec` is a
/// decoder at the start of a raw-deflate stream (new or reset).
pub fn inflate_slice(
    dec: &mut flate2::Decompress,
    input: &[u8],
    hint: u64,
    cap: u64,
) -> Result<Vec<u8>, InspectError> {
    use flate2::{FlushDecompress, Status};
    let room = hint
        .saturating_add(64)
        .min(deflate_bound(input.len() as u64))
        .min(cap);
    let mut out = Vec::with_capacity(usize::try_from(room).unwrap_or(usize::MAX));
    let done = dec.decompress_vec(input, &mut out, FlushDecompress::Finish);
    if matches!(done, Ok(Status::StreamEnd)) && out.len() as u64 <= cap {
        return Ok(out);
    }
    inflate(input, cap)
}

/// At most the first `n` decompressed bytes of an entry (stored or deflated): what
/// `open_entry(..).take(n)` reads. A deflated entry is first inflated from one read of its
/// first `2n + 4 KiB` compressed bytes; only a clean outcome (`n` bytes, or the whole stream
/// in fewer) is taken from it, anything else is left to the streaming reader.
pub fn read_prefix<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    n: u64,
) -> Result<Vec<u8>, InspectError> {
    use flate2::{FlushDecompress, Status};
    if e.method != 0 {
        let head = e.comp_size.min(n.saturating_mul(2).saturating_add(4096));
        if let Ok((input, start)) = raw_span(src, e, head) {
            let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX));
            let done =
                src.inflater()
                    .decompress_vec(&input[start..], &mut out, FlushDecompress::None);
            if let Ok(st) = done {
                if out.len() as u64 >= n || st == Status::StreamEnd {
                    out.truncate(usize::try_from(n).unwrap_or(usize::MAX));
                    return Ok(out);
                }
            }
        }
    }
    let mut out = Vec::new();
    open_entry(src, e)?
        .take(n)
        .read_to_end(&mut out)
        .map_err(|_| InspectError::PackageUnreadable("corrupt deflate stream"))?;
    Ok(out)
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

/// The most bytes `comp` bytes of deflate data can expand to (deflate's ratio is at most
/// 1032:1; 64 bytes of slack for the smallest streams).
pub fn deflate_bound(comp: u64) -> u64 {
    comp.saturating_mul(1032).saturating_add(64)
}

/// How streaming one entry's data ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Streamed {
    /// The data ended (the deflate stream's end, or its input ran out) after this many bytes.
    Ended(u64),
    /// More than the `limit` bytes asked for: reading stopped there.
    Beyond,
    /// The deflate data is corrupt.
    Corrupt,
}

/// Buffers and a decoder reused by every `stream_entry` call of one pass (allocated on first
/// use), so that thousands of small entries cost no allocation each.
#[derive(Default)]
pub struct Scratch {
    dec: Option<flate2::Decompress>,
    input: Vec<u8>,
    output: Vec<u8>,
}

/// Input read per request when an entry is streamed from the source, and output inflated per
/// call: together with one small entry held whole (`ONE_SHOT_INPUT`) all a pass holds.
const STREAM_IN: usize = 256 << 10;
const STREAM_OUT: usize = 64 << 10;

/// Feeds an entry's data as apksig reads it for its JAR digests to `sink`, in pieces: a stored
/// entry is the central directory's `size` bytes after the local header, any other method is
/// inflated from its `comp_size` bytes (apksig inflates whatever the method number says; after
/// the stream's end the rest is ignored). Stops as soon as more than `limit` bytes came out, so
/// no entry costs more than `limit` bytes of output whatever its header says. Errors are those
/// of reading the local header and the data's range.
pub fn stream_entry<R: Read + Seek>(
    src: &mut Src<R>,
    e: &Entry,
    limit: u64,
    scratch: &mut Scratch,
    sink: &mut dyn FnMut(&[u8]),
) -> Result<Streamed, InspectError> {
    let stored = e.method == 0;
    let len = if stored { e.size } else { e.comp_size };
    if stored && len > limit {
        return Ok(Streamed::Beyond);
    }
    let dec = (!stored).then(|| {
        let d = scratch
            .dec
            .get_or_insert_with(|| flate2::Decompress::new(false));
        d.reset(false);
        d
    });
    if scratch.output.is_empty() {
        scratch.output.resize(STREAM_OUT, 0);
    }
    if len <= ONE_SHOT_INPUT {
        let (raw, start) = raw_span(src, e, len)?;
        let mut input = raw.get(start..).unwrap_or_default();
        return pump(dec, &mut input, limit, &mut scratch.output, sink);
    }
    let off = data_offset(src, e)?;
    if scratch.input.is_empty() {
        scratch.input.resize(STREAM_IN, 0);
    }
    let mut input = Refill {
        r: src.window(off, len)?,
        buf: &mut scratch.input,
        pos: 0,
        filled: 0,
    };
    pump(dec, &mut input, limit, &mut scratch.output, sink)
}

/// Copies (`dec` None) or inflates `input` into `sink` through `out`.
fn pump(
    dec: Option<&mut flate2::Decompress>,
    input: &mut dyn BufRead,
    limit: u64,
    out: &mut [u8],
    sink: &mut dyn FnMut(&[u8]),
) -> Result<Streamed, InspectError> {
    use flate2::{FlushDecompress, Status};
    let mut n = 0u64;
    let Some(dec) = dec else {
        loop {
            let piece = input.fill_buf()?;
            let k = piece.len();
            n += k as u64;
            if k == 0 || n > limit {
                return Ok(if k == 0 {
                    Streamed::Ended(n)
                } else {
                    Streamed::Beyond
                });
            }
            sink(piece);
            input.consume(k);
        }
    };
    loop {
        let piece = input.fill_buf()?;
        let eof = piece.is_empty();
        let flush = if eof {
            FlushDecompress::Finish
        } else {
            FlushDecompress::None
        };
        let (in0, out0) = (dec.total_in(), dec.total_out());
        let status = dec.decompress(piece, out, flush);
        let used = usize::try_from(dec.total_in() - in0).unwrap_or(usize::MAX);
        let made = usize::try_from(dec.total_out() - out0).unwrap_or(usize::MAX);
        input.consume(used);
        n += made as u64;
        if n > limit {
            return Ok(Streamed::Beyond);
        }
        sink(out.get(..made).unwrap_or_default());
        match status {
            Ok(Status::StreamEnd) => return Ok(Streamed::Ended(n)),
            Err(_) => return Ok(Streamed::Corrupt),
            // No progress: at the end of the input the stream is cut short (apksig then
            // compares the bytes it got with the directory's size); before it, the decoder
            // cannot go on.
            Ok(_) if used == 0 && made == 0 => {
                return Ok(if eof {
                    Streamed::Ended(n)
                } else {
                    Streamed::Corrupt
                });
            }
            Ok(_) => {}
        }
    }
}

/// A `BufRead` over `r` through a borrowed buffer (`BufReader` would allocate one per entry).
struct Refill<'b, T> {
    r: T,
    buf: &'b mut [u8],
    pos: usize,
    filled: usize,
}

impl<T: Read> Read for Refill<'_, T> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.read(out)?;
        self.consume(n);
        Ok(n)
    }
}

impl<T: Read> BufRead for Refill<'_, T> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos >= self.filled {
            self.filled = self.r.read(self.buf)?;
            self.pos = 0;
        }
        Ok(self.buf.get(self.pos..self.filled).unwrap_or_default())
    }

    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.filled);
    }
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
#[path = "zipentry_tests.rs"]
mod tests;
