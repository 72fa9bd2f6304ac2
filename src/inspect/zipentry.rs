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

/// The entry's stored bytes (`comp_size` of them after the local header), read together with
/// the local header in one request when they are near; the same results and errors as
/// `data_offset` followed by a read.
fn raw_data<R: Read + Seek>(src: &mut Src<R>, e: &Entry) -> Result<Vec<u8>, InspectError> {
    let (mut got, start) = raw_span(src, e)?;
    got.drain(..start);
    Ok(got)
}

/// `raw_data` as a buffer and the offset of the data in it (`buf[start..]`), sparing the copy
/// that moving the data to the front costs when it is only inflated.
fn raw_span<R: Read + Seek>(src: &mut Src<R>, e: &Entry) -> Result<(Vec<u8>, usize), InspectError> {
    // The local header usually repeats the central directory's name; its extra field may be
    // longer (zipalign pads it).
    let guess = (30 + e.name.len() as u64 + 64).saturating_add(e.comp_size);
    let want = guess.min(src.len().saturating_sub(e.lho)).max(30);
    let mut got = src.read_at(e.lho, want)?;
    if got[0..4] != LFH_SIG {
        return Err(InspectError::PackageUnreadable("bad local file header"));
    }
    let n = u64::from(u16le(&got, 26).unwrap_or(0));
    let x = u64::from(u16le(&got, 28).unwrap_or(0));
    let start = 30 + n + x;
    match start.checked_add(e.comp_size) {
        Some(end) if end <= got.len() as u64 => {
            got.truncate(end as usize);
            Ok((got, start as usize))
        }
        _ => Ok((src.read_at(e.lho + start, e.comp_size)?, 0)),
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
        let (raw, start) = raw_span(src, e)?;
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
    let ratio_bound = (input.len() as u64).saturating_mul(1032).saturating_add(64);
    let room = hint.saturating_add(64).min(ratio_bound).min(cap);
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
        let comp = Entry {
            comp_size: head,
            ..e.clone()
        };
        if let Ok((input, start)) = raw_span(src, &comp) {
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

    /// The one-read prefix equals what the streaming reader's first `n` bytes are, for
    /// prefixes within and beyond the first read, cut and corrupted streams.
    #[test]
    fn read_prefix_matches_the_streaming_reader() {
        let text: Vec<u8> = (0..3000u32)
            .flat_map(|i| {
                format!("Name: res/{}.xml\r\nSHA-256-Digest: {}\r\n\r\n", i, i * 31).into_bytes()
            })
            .collect();
        let z = deflate(&text);
        let zip = |data: &[u8]| {
            let mut b = super::super::testzip::build_zip(b"", &[("M", data)], b"");
            b[8] = 8; // local header method: deflated
            let cd = b.len() - 22 - (46 + 1);
            b[cd + 10] = 8;
            b
        };
        let stream = |b: &[u8], e: &Entry, n: u64| {
            let mut src = Src::new(std::io::Cursor::new(b)).unwrap();
            let mut out = Vec::new();
            open_entry(&mut src, e)
                .and_then(|r| {
                    r.take(n)
                        .read_to_end(&mut out)
                        .map_err(|_| InspectError::PackageUnreadable("corrupt deflate stream"))
                })
                .map(|_| out)
                .map_err(|e| e.code())
        };
        let mut cases = vec![z.clone(), z[..z.len() / 3].to_vec(), z[..40].to_vec()];
        let mut bad = z.clone();
        bad[z.len() / 2] ^= 0x55;
        cases.push(bad);
        for data in cases {
            let b = zip(&data);
            let mut src = Src::new(std::io::Cursor::new(&b[..])).unwrap();
            let e = super::super::zipread::open(&mut src, &crate::inspect::Limits::default())
                .unwrap()
                .entries[0]
                .clone();
            assert_eq!(e.method, 8);
            for n in [0, 1, 100, 8192, 50_000, 1 << 20] {
                let one = read_prefix(&mut src, &e, n).map_err(|e| e.code());
                assert_eq!(one, stream(&b, &e, n), "len {} n {n}", data.len());
            }
        }
    }

    /// One request for header and data gives what two give, for near and far data (a long
    /// local extra field), at every truncation of the file.
    #[test]
    fn raw_data_matches_header_then_data() {
        let mut z = super::super::testzip::build_zip(b"", &[("a.txt", b"hello"), ("b", b"")], b"");
        let entries = |z: &[u8]| {
            let mut src = Src::new(std::io::Cursor::new(z.to_vec())).unwrap();
            super::super::zipread::open(&mut src, &crate::inspect::Limits::default())
                .map(|a| a.entries)
                .unwrap_or_default()
        };
        let all = entries(&z);
        // A 200-byte local extra field on the first entry, beyond the 64-byte guess.
        let mut far = z.clone();
        far[28] = 200;
        far.splice(30 + 5..30 + 5, [0u8; 200]);
        for z in [&mut z, &mut far] {
            for cut in 0..=z.len() {
                let mut src = Src::new(std::io::Cursor::new(&z[..cut])).unwrap();
                for e in &all {
                    let one = raw_data(&mut src, e).map_err(|e| e.code());
                    let two = data_offset(&mut src, e)
                        .and_then(|off| src.read_at(off, e.comp_size))
                        .map_err(|e| e.code());
                    assert_eq!(one, two, "cut {cut} entry {:?}", e.name);
                }
            }
        }
        let mut src = Src::new(std::io::Cursor::new(&far[..])).unwrap();
        assert_eq!(raw_data(&mut src, &all[0]).unwrap(), b"hello");
    }

    /// The one-shot path gives exactly what the streaming path gives: complete, cut short at
    /// every length, corrupted, over the cap, with a right, lying or absent size hint — with
    /// one decoder reset between all of these streams, as an inspection uses it.
    #[test]
    fn inflate_slice_matches_the_streaming_inflate() {
        let mut dec = Src::new(std::io::Cursor::new(Vec::new())).unwrap();
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
                let b = outcome(inflate_slice(dec.inflater(), &z, hint, cap));
                assert_eq!(a, b, "hint {hint} cap {cap}");
            }
        }
        for cut in (0..z.len()).step_by(7) {
            let a = outcome(inflate(&z[..cut], 1 << 30));
            assert_eq!(
                a,
                outcome(inflate_slice(dec.inflater(), &z[..cut], 300_000, 1 << 30)),
                "cut {cut}"
            );
        }
        let mut bad = z.clone();
        for i in (0..bad.len()).step_by(11) {
            bad[i] ^= 0x5a;
            let a = outcome(inflate(&bad[..], 1 << 20));
            assert_eq!(
                a,
                outcome(inflate_slice(dec.inflater(), &bad, 0, 1 << 20)),
                "flip {i}"
            );
            bad[i] ^= 0x5a;
        }
        let mut trailing = deflate(b"short");
        trailing.extend_from_slice(b"garbage after the end of the stream");
        assert_eq!(
            inflate_slice(dec.inflater(), &trailing, 5, 100).unwrap(),
            b"short"
        );
        assert_eq!(inflate(&trailing[..], 100).unwrap(), b"short");
    }
}
