//! APK Signature Scheme v2/v3 content digests: the chunked SHA-256 / SHA-512 over the whole
//! APK except the signing block, as the v2 specification defines them.
//!
//! Owns: splitting the three sections (entries before the signing block, central directory,
//! EOCD with its central-directory offset replaced by the signing block's offset) into 1 MiB
//! chunks, the chunk and top-level digests, and comparing them with what the signers signed.
//! The HAP scheme (hapsig.rs) uses the same chunking with extra tail bytes.
//! Must not: hold more than one chunk in memory, or compute a digest no signer asks for.
//! Verity digests (0x0421/0x0423/0x0425, a Merkle tree) are not computed: such records are
//! skipped, as unknown algorithms are.
//! Invariant: `verify` returns `false` only when a computed digest differs from a signed one.

use std::io::{Read, Seek};

use sha2::{Digest, Sha256, Sha512};

use super::error::InspectError;
use super::zipread::Src;

const CHUNK: u64 = 1 << 20;

/// The content digest kind of a v2/v3 signature algorithm id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sha256,
    Sha512,
}

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
    Sha512(Sha512),
}

impl Hasher {
    fn new(k: Kind) -> Self {
        match k {
            Kind::Sha256 => Hasher::Sha256(Sha256::new()),
            Kind::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
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

/// As `compute`, with `tail` hashed into the top-level digest after the chunk digests (the
/// HAP scheme appends its optional sub-block values there; see docs/inspection.md).
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
    let mut chunk_digests: Vec<Vec<u8>> = vec![Vec::new(); kinds.len()];
    let mut count: u32 = 0;
    let mut buf = vec![0u8; CHUNK as usize];
    for (start, end) in [(0, at.sig_block), (at.cd, at.eocd)] {
        let mut off = start;
        while off < end {
            let n = (end - off).min(CHUNK);
            let chunk = &mut buf[..n as usize];
            src.window(off, n)?.read_exact(chunk)?;
            add_chunk(kinds, &mut chunk_digests, chunk);
            count = count.saturating_add(1);
            off += n;
        }
    }
    for piece in eocd.chunks(CHUNK as usize) {
        add_chunk(kinds, &mut chunk_digests, piece);
        count = count.saturating_add(1);
    }
    Ok(kinds
        .iter()
        .zip(chunk_digests)
        .map(|(&k, digests)| {
            let mut h = Hasher::new(k);
            h.update(&[0x5a]);
            h.update(&count.to_le_bytes());
            h.update(&digests);
            for t in tail {
                h.update(t);
            }
            (k, h.finish())
        })
        .collect())
}

fn add_chunk(kinds: &[Kind], out: &mut [Vec<u8>], chunk: &[u8]) {
    for (k, o) in kinds.iter().zip(out.iter_mut()) {
        let mut h = Hasher::new(*k);
        h.update(&[0xa5]);
        h.update(&(chunk.len() as u32).to_le_bytes());
        h.update(chunk);
        o.extend_from_slice(&h.finish());
    }
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
}
