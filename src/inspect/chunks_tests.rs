//! Tests of the chunked pass: threads give the serial digests in job order, a reader error fails
//! the pass, and precomputed digests are taken only for whole chunks at 1 MiB offsets.

use super::*;

fn pattern(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491u32;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn jobs_over(len: u64) -> Vec<Job> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < len {
        let n = (len - off).min(CHUNK);
        out.push(Job { off, len: n });
        off += n;
    }
    out
}

#[test]
fn threads_give_the_serial_digests_in_order() {
    let data = bytes::Bytes::from(pattern(9 * CHUNK as usize + 12345));
    let jobs = jobs_over(data.len() as u64);
    let kinds = [Kind::Sha256, Kind::Sha512];
    let mut serial = |j: Job, buf: &mut [u8]| {
        buf.copy_from_slice(&data[j.off as usize..(j.off + j.len) as usize]);
        Ok(())
    };
    let one = hash_jobs(&jobs, &chunked(&kinds), None, &mut serial).unwrap();
    let mut unused = |_: Job, _: &mut [u8]| -> Result<(), InspectError> {
        panic!("the parallel pass reads through the reader")
    };
    let many = hash_jobs(&jobs, &chunked(&kinds), Some(&data), &mut unused).unwrap();
    assert_eq!(one.len(), jobs.len());
    assert_eq!(one, many);
    let last = jobs.last().unwrap();
    let tail = &data[last.off as usize..];
    assert_eq!(one[jobs.len() - 1][1], chunk_digest(Kind::Sha512, tail));
}

#[test]
fn a_reader_error_fails_the_pass() {
    let data = bytes::Bytes::from(pattern(8 * CHUNK as usize));
    let mut jobs = jobs_over(data.len() as u64);
    jobs.push(Job {
        off: data.len() as u64,
        len: 10,
    });
    let mut unused = |_: Job, _: &mut [u8]| Ok(());
    let r = hash_jobs(&jobs, &chunked(&[Kind::Sha256]), Some(&data), &mut unused);
    assert_eq!(r.unwrap_err().code(), "package_unreadable");
}

#[test]
fn only_whole_aligned_chunks_are_taken_from_prehashed_digests() {
    let data = pattern(2 * CHUNK as usize + 7);
    let mut pre = ChunkDigests::new();
    assert!(pre.push(&data[..CHUNK as usize]));
    assert!(
        !pre.push(&data[CHUNK as usize..]),
        "a short chunk is refused"
    );
    assert_eq!(pre.len(), 1);
    let whole = chunk_digest(Kind::Sha256, &data[..CHUNK as usize]);
    assert_eq!(pre.get(Kind::Sha256, 0, CHUNK), Some(&whole[..]));
    assert_eq!(pre.get(Kind::Sha512, 0, CHUNK), None);
    assert_eq!(pre.get(Kind::Sha256, 0, CHUNK - 1), None);
    assert_eq!(pre.get(Kind::Sha256, 1, CHUNK), None);
    assert_eq!(pre.get(Kind::Sha256, CHUNK, CHUNK), None, "not pushed");
}
