//! Unit tests of single-entry reading: the one-read prefix, header-and-data reads and the
//! one-shot inflate, each against the streaming path they stand in for.

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

/// `stream_entry` gives what `read_entry` reads, stored and deflated, held whole (small input)
/// or streamed in pieces (more than 1 MiB of input); a deflate stream cut short ends early, a
/// corrupt one is `Corrupt`, and output past the limit is `Beyond`.
#[test]
fn stream_entry_gives_what_read_entry_reads() {
    // Incompressible bytes (xorshift), deflated at the fastest level: over 1 MiB either way.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let text: Vec<u8> = (0..(3 << 19))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let len = text.len() as u32;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&text).unwrap();
    let z = enc.finish().unwrap();
    assert!(z.len() > 1 << 20, "the deflated member is streamed");
    let hello = deflate(b"hello");
    let zip = super::super::testzip::build_zip_with(
        b"",
        &[
            ("stored", &text, 0, len),
            ("deflated", &z, 8, len),
            ("small", b"hello", 0, 5),
            ("small-deflated", &hello, 8, 5),
            ("cut", &z[..z.len() / 2], 8, len),
            ("corrupt", &[0xff; 64][..], 8, 64),
        ],
        b"",
    );
    let mut src = Src::new(std::io::Cursor::new(&zip[..])).unwrap();
    let limits = crate::inspect::Limits::default();
    let entries = super::super::zipread::open(&mut src, &limits)
        .unwrap()
        .entries;
    let mut scratch = Scratch::default();
    let mut stream = |src: &mut Src<_>, e: &Entry, limit: u64| {
        let mut out = Vec::new();
        let got = stream_entry(src, e, limit, &mut scratch, &mut |p| {
            out.extend_from_slice(p)
        });
        (got.unwrap(), out)
    };
    for e in &entries[..4] {
        let whole = read_entry(&mut src, e, 1 << 30).unwrap().bytes;
        assert_eq!(
            stream(&mut src, e, e.size),
            (Streamed::Ended(e.size), whole)
        );
        assert_eq!(stream(&mut src, e, e.size - 1).0, Streamed::Beyond);
    }
    let (cut, out) = stream(&mut src, &entries[4], u64::MAX);
    assert!(matches!(cut, Streamed::Ended(n) if n < u64::from(len) && n == out.len() as u64));
    assert_eq!(out, text[..out.len()]);
    assert_eq!(stream(&mut src, &entries[5], 64).0, Streamed::Corrupt);
}
