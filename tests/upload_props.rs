//! Property tests for the upload path's handling of untrusted bytes, on the stable toolchain:
//! the multipart scanner and the spool never panic, hold bounded memory, and are exact —
//! every generated well-formed body yields its parts' true byte ranges under every chunking,
//! and every spool replays and range-reads exactly what was pushed. Deterministic seeds.

use icpgate::extract::multipart::{Part, Scanner, MAX_HEADER_BYTES};
use icpgate::proxy::spool::{Spool, SpoolGauges, WRITE_BUFFER};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{Read, Seek, SeekFrom};

/// Bytes that are likely to confuse a boundary search.
fn tricky(rng: &mut ChaCha8Rng, boundary: &str, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        match rng.gen_range(0..6) {
            0 => v.extend_from_slice(b"\r\n"),
            1 => v.extend_from_slice(b"--"),
            // A delimiter missing its last byte, or followed by a different byte.
            2 => {
                let cut = rng.gen_range(0..boundary.len());
                v.extend_from_slice(format!("\r\n--{}", &boundary[..cut]).as_bytes());
            }
            3 => v.push(b'\r'),
            _ => {
                let mut b = vec![0u8; rng.gen_range(1..40)];
                rng.fill_bytes(&mut b);
                v.extend_from_slice(&b);
            }
        }
    }
    v.truncate(n);
    // Never the boundary string: after a CRLF it would end the part (as it must), anywhere
    // else the scanner refuses the body.
    let dash = format!("--{boundary}");
    while let Some(i) = memchr::memmem::find(&v, dash.as_bytes()) {
        v[i] = b'x';
    }
    v
}

fn chunked(rng: &mut ChaCha8Rng, body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let n = match rng.gen_range(0..4) {
            0 => 1,
            1 => rng.gen_range(1..16),
            2 => rng.gen_range(16..4096),
            _ => rng.gen_range(4096..40_000),
        };
        let end = (at + n).min(body.len());
        out.push(body[at..end].to_vec());
        at = end;
    }
    out
}

fn scan(boundary: &str, keep: &[&str], chunks: &[Vec<u8>]) -> (Result<Vec<Part>, String>, usize) {
    let mut s = Scanner::new(boundary, keep);
    let mut peak = 0;
    for c in chunks {
        if let Err(e) = s.feed(c) {
            return (Err(e.to_string()), peak);
        }
        peak = peak.max(s.buffered());
    }
    (s.finish().map_err(|e| e.to_string()), peak)
}

#[test]
fn generated_multipart_bodies_scan_to_their_exact_parts() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x0017_7a1d);
    for round in 0..400 {
        let boundary: String = (0..rng.gen_range(1..=70))
            .map(|_| b"abcXYZ0189'()+_-./:=?"[rng.gen_range(0..21)] as char)
            .collect::<String>()
            .trim_end()
            .to_string();
        if boundary.is_empty() {
            continue;
        }
        let n = rng.gen_range(0..6);
        let mut body = Vec::new();
        if rng.gen_bool(0.3) {
            body.extend_from_slice(&tricky(&mut rng, &boundary, 50));
            body.extend_from_slice(b"\r\n");
        }
        let mut expect = Vec::new();
        for i in 0..n {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"f{i}\"\r\n\r\n").as_bytes(),
            );
            let len = rng.gen_range(0..20_000);
            let content = tricky(&mut rng, &boundary, len);
            let start = body.len();
            body.extend_from_slice(&content);
            expect.push((format!("f{i}"), start, body.len()));
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let chunks = chunked(&mut rng, &body);
        let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
        let (parts, peak) = scan(&boundary, &["f0"], &chunks);
        let parts = parts.unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert!(
            peak <= largest + MAX_HEADER_BYTES + boundary.len() + 4,
            "round {round}"
        );
        assert_eq!(parts.len(), expect.len(), "round {round}");
        for (p, (name, start, end)) in parts.iter().zip(&expect) {
            assert_eq!(p.name.as_deref(), Some(name.as_str()));
            assert_eq!(
                (p.start as usize, p.end as usize),
                (*start, *end),
                "round {round}"
            );
        }
        if let Some(p) = parts.first() {
            if !p.value_too_long {
                assert_eq!(
                    p.value.as_deref(),
                    Some(&body[p.start as usize..p.end as usize])
                );
            }
        }
    }
}

#[test]
fn random_and_mutated_multipart_never_panics_and_stays_bounded() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed_b0d7);
    let seed = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\nContent-Type: x\r\n\r\nPK\x03\x04data\r\n--b\r\ncontent-disposition: form-data; name=package\r\n\r\ncom.a.b\r\n--b--\r\n";
    for i in 0..20_000 {
        let body: Vec<u8> = if i % 3 == 0 {
            let mut b = vec![0u8; rng.gen_range(0..600)];
            rng.fill_bytes(&mut b);
            b
        } else {
            let mut b = seed.to_vec();
            for _ in 0..rng.gen_range(1..8) {
                if b.is_empty() {
                    break;
                }
                let at = rng.gen_range(0..b.len());
                match rng.gen_range(0..4) {
                    0 => b[at] = rng.gen(),
                    1 => b.truncate(at),
                    2 => b.insert(at, b"-\r\n\"=;:"[rng.gen_range(0..7)]),
                    _ => {
                        let end = (at + rng.gen_range(1..30)).min(b.len());
                        let dup = b[at..end].to_vec();
                        b.splice(at..at, dup);
                    }
                }
            }
            b
        };
        let chunks = chunked(&mut rng, &body);
        let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
        let (res, peak) = scan("b", &["package"], &chunks);
        assert!(peak <= largest + MAX_HEADER_BYTES + 8);
        if let Ok(parts) = res {
            for p in parts {
                assert!(p.start <= p.end && p.end as usize <= body.len());
            }
        }
    }
    // Endless header bytes are cut off at the limit, not accumulated.
    let mut s = Scanner::new("b", &[]);
    s.feed(b"--b\r\n").unwrap();
    let mut failed = false;
    for _ in 0..100 {
        if s.feed(&[b'h'; 1000]).is_err() {
            failed = true;
            break;
        }
        assert!(s.buffered() <= MAX_HEADER_BYTES + 1000);
    }
    assert!(failed);
}

fn gauges() -> SpoolGauges {
    SpoolGauges {
        files: prometheus::IntGauge::new("f", "f").unwrap(),
        bytes: prometheus::IntGauge::new("b", "b").unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spools_replay_exactly_with_bounded_memory() {
    use http_body_util::BodyExt;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x0005_b001);
    for round in 0..60 {
        let len = match round % 3 {
            0 => rng.gen_range(0..2_000),
            1 => rng.gen_range(2_000..200_000),
            _ => rng.gen_range(200_000..3_000_000),
        };
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        let threshold = [0, 1, 1024, 64 << 10, 1 << 20][rng.gen_range(0..5)];
        let g = gauges();
        let mut spool = Spool::new(dir.path().to_path_buf(), threshold, g.clone());
        let chunks = chunked(&mut rng, &data);
        let largest = chunks.iter().map(Vec::len).max().unwrap_or(0);
        for c in &chunks {
            spool.push(c).await.unwrap();
            assert!(spool.in_memory() <= threshold.max(WRITE_BUFFER + largest));
        }
        let sp = spool.finish().await.unwrap();
        assert_eq!(sp.len(), len as u64);
        assert_eq!(sp.on_disk(), len > threshold);
        assert_eq!(g.bytes.get(), len as i64);
        // Random windows read exactly, including seeks from the end.
        for _ in 0..5 {
            let a = rng.gen_range(0..=len);
            let b = rng.gen_range(a..=len);
            let mut r = sp.range(a as u64, b as u64);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, &data[a..b], "round {round}");
            if b > a {
                let back = rng.gen_range(1..=(b - a)) as i64;
                r.seek(SeekFrom::End(-back)).unwrap();
                got.clear();
                r.read_to_end(&mut got).unwrap();
                assert_eq!(got, &data[b - back as usize..b]);
            }
        }
        let replay = sp.body().collect().await.unwrap().to_bytes();
        assert!(replay == data, "round {round}: replay differs");
        assert_eq!((g.bytes.get(), g.files.get()), (0, 0));
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
