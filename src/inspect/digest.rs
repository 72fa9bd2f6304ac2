//! APK Signature Scheme v2/v3 content digests: the chunked SHA-256 / SHA-512 over the whole
//! APK except the signing block, as the v2 specification defines them.
//!
//! Owns: splitting the three sections (entries before the signing block, central directory,
//! EOCD with its central-directory offset replaced by the signing block's offset) into 1 MiB
//! chunks, the chunk and top-level digests, and comparing them with what the signers signed.
//! The HAP scheme (hapsig.rs) uses the same chunking with extra tail bytes.
//! Must not: hold more than one chunk per hashing thread in memory, or compute a digest no
//! signer asks for.
//! Verity digests (0x0421/0x0423/0x0425, a Merkle tree) are `verity.rs`'s.
//! Invariant: `verify` returns `false` only when a computed digest differs from a signed one.

use std::io::{Read, Seek};

use sha2::{Digest, Sha256, Sha384, Sha512};

pub use super::chunks::Kind;
use super::chunks::{self, hash_jobs, Job, CHUNK};
use super::error::InspectError;
use super::zipread::Src;

/// The chunked content digest a signature algorithm signs (None: verity or unknown).
pub fn kind_of(alg: u32) -> Option<Kind> {
    match alg {
        0x0101 | 0x0103 | 0x0201 | 0x0301 => Some(Kind::Sha256),
        0x0102 | 0x0104 | 0x0202 => Some(Kind::Sha512),
        _ => None,
    }
}

/// Where the three digested sections lie.
pub struct Layout {
    /// Offset of the APK Signing Block (end of the entries section).
    pub sig_block: u64,
    /// Central directory start (as stated by the EOCD).
    pub cd: u64,
    /// EOCD record offset (end of the central directory).
    pub eocd: u64,
}

enum Hasher {
    Sha256(Sha256),
    Sha384(Sha384),
    Sha512(Sha512),
}

impl Hasher {
    fn new(k: Kind) -> Self {
        match k {
            Kind::Sha256 => Hasher::Sha256(Sha256::new()),
            Kind::Sha384 => Hasher::Sha384(Sha384::new()),
            Kind::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha384(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Computes the top-level chunked digest of each kind in `kinds` in one pass over the file.
pub fn compute<R: Read + Seek>(
    src: &mut Src<R>,
    at: &Layout,
    kinds: &[Kind],
) -> Result<Vec<(Kind, Vec<u8>)>, InspectError> {
    compute_with_tail(src, at, kinds, &[])
}

/// The 1 MiB chunks of the entries section and the central directory, in digest order.
fn jobs(at: &Layout) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (start, end) in [(0, at.sig_block), (at.cd, at.eocd)] {
        let mut off = start;
        while off < end {
            let len = (end - off).min(CHUNK);
            jobs.push(Job { off, len });
            off += len;
        }
    }
    jobs
}

/// As `compute`, with `tail` hashed into the top-level digest after the chunk digests (the
/// HAP scheme appends its optional sub-block values there; see docs/inspection.md). Chunks the
/// source's `DigestAid` has digests for are not read again; the others are hashed on every
/// core when the aid carries a reader.
pub fn compute_with_tail<R: Read + Seek>(
    src: &mut Src<R>,
    at: &Layout,
    kinds: &[Kind],
    tail: &[&[u8]],
) -> Result<Vec<(Kind, Vec<u8>)>, InspectError> {
    let mut eocd = src.read_at(at.eocd, src.len().saturating_sub(at.eocd))?;
    if let Some(field) = eocd.get_mut(16..20) {
        let off = u32::try_from(at.sig_block).unwrap_or(u32::MAX);
        field.copy_from_slice(&off.to_le_bytes());
    }
    let aid = src.aid().clone();
    let all = jobs(at);
    let known = |j: &Job| -> Option<Vec<Vec<u8>>> {
        let pre = aid.prehashed.as_deref()?;
        kinds
            .iter()
            .map(|&k| pre.get(k, j.off, j.len).map(<[u8]>::to_vec))
            .collect()
    };
    let mut digests: Vec<Option<Vec<Vec<u8>>>> = all.iter().map(known).collect();
    let todo: Vec<Job> = all
        .iter()
        .zip(&digests)
        .filter(|(_, d)| d.is_none())
        .map(|(j, _)| *j)
        .collect();
    let mut serial = |j: Job, buf: &mut [u8]| chunks::fill(src.window(j.off, j.len)?, buf);
    let mut fresh = hash_jobs(
        &todo,
        &chunks::chunked(kinds),
        aid.reader.as_deref(),
        &mut serial,
    )?
    .into_iter();
    for d in digests.iter_mut().filter(|d| d.is_none()) {
        *d = fresh.next();
    }
    let pieces: Vec<&[u8]> = eocd.chunks(CHUNK as usize).collect();
    let count = u32::try_from(all.len() + pieces.len()).unwrap_or(u32::MAX);
    Ok(kinds
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let mut h = Hasher::new(k);
            h.update(&[0x5a]);
            h.update(&count.to_le_bytes());
            for d in digests.iter().flatten() {
                h.update(&d[i]);
            }
            for piece in &pieces {
                h.update(&chunks::chunk_digest(k, piece));
            }
            for t in tail {
                h.update(t);
            }
            (k, h.finish())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_digest_of_a_tiny_layout() {
        // entries "abc", block "BLOCK", CD "cd", EOCD of 22 bytes.
        let mut f = b"abcBLOCKcd".to_vec();
        let mut eocd = vec![0u8; 22];
        eocd[0..4].copy_from_slice(&0x0605_4b50u32.to_le_bytes());
        f.extend_from_slice(&eocd);
        let at = Layout {
            sig_block: 3,
            cd: 8,
            eocd: 10,
        };
        let mut src = Src::new(std::io::Cursor::new(&f[..])).unwrap();
        let got = compute(&mut src, &at, &[Kind::Sha256]).unwrap();
        let chunk = |b: &[u8]| {
            let mut h = Sha256::new();
            h.update([0xa5]);
            h.update((b.len() as u32).to_le_bytes());
            h.update(b);
            h.finalize().to_vec()
        };
        let mut patched = eocd.clone();
        patched[16..20].copy_from_slice(&3u32.to_le_bytes());
        let mut top = Sha256::new();
        top.update([0x5a]);
        top.update(3u32.to_le_bytes());
        top.update(chunk(b"abc"));
        top.update(chunk(b"cd"));
        top.update(chunk(&patched));
        assert_eq!(got, vec![(Kind::Sha256, top.finalize().to_vec())]);
        assert_eq!(kind_of(0x0103), Some(Kind::Sha256));
        assert_eq!(kind_of(0x0104), Some(Kind::Sha512));
        assert_eq!(kind_of(0x0421), None);
    }

    /// Prehashed chunks and hashing on several threads give the serial digests.
    #[test]
    fn aided_pass_equals_the_plain_one() {
        let entries = 9 * CHUNK as usize + 777;
        let mut f: Vec<u8> = (0..entries + 300)
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        let mut eocd = vec![0u8; 22];
        eocd[0..4].copy_from_slice(&0x0605_4b50u32.to_le_bytes());
        f.extend_from_slice(&eocd);
        let at = Layout {
            sig_block: entries as u64,
            cd: entries as u64 + 100,
            eocd: entries as u64 + 300,
        };
        let kinds = [Kind::Sha256, Kind::Sha512];
        let plain = compute(
            &mut Src::new(std::io::Cursor::new(&f[..])).unwrap(),
            &at,
            &kinds,
        );
        let mut pre = crate::inspect::ChunkDigests::new();
        for c in f.chunks(CHUNK as usize).take(5) {
            assert!(pre.push(c));
        }
        let bytes = bytes::Bytes::from(f.clone());
        for (reader, prehashed) in [(true, false), (false, true), (true, true)] {
            let aid = super::super::DigestAid {
                reader: reader.then(|| std::sync::Arc::new(bytes.clone()) as _),
                prehashed: prehashed.then(|| std::sync::Arc::new(std::mem::take(&mut pre))),
            };
            let mut src = Src::new(std::io::Cursor::new(&f[..]))
                .unwrap()
                .with_aid(aid);
            let got = compute(&mut src, &at, &kinds).unwrap();
            assert_eq!(
                &got,
                plain.as_ref().unwrap(),
                "reader {reader}, prehashed {prehashed}"
            );
            let sha256_only = compute(&mut src, &at, &kinds[..1]).unwrap();
            assert_eq!(sha256_only[0], plain.as_ref().unwrap()[0]);
        }
    }
}
