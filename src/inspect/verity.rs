//! The APK verity content digest (signature algorithms 0x0421, 0x0423, 0x0425): the root of a
//! salted SHA-256 Merkle tree over 4 KiB blocks of the APK without its signing block, followed by the
//! digested length (u64, little-endian).
//!
//! Owns: the tree over the entries section (4 KiB-aligned, hashed in 1 MiB jobs on every core
//! like the chunked digests), the central directory and the EOCD with its central-directory
//! offset pointing at the signing block, and the root.
//! Must not: hold more than the tree's bottom level (32 bytes per 4 KiB) and one 1 MiB job per
//! thread in memory, or give a digest for a layout apksig refuses to digest (a signing block
//! that does not start on a 4 KiB boundary: `None`).
//! Invariant: `digest` equals apksig's `computeApkVerityDigest` for the same sections.

use std::io::{Read, Seek};

use sha2::{Digest, Sha256};

use super::chunks::{hash_jobs, Job, ReadAt, CHUNK};
use super::digest::Layout;
use super::error::InspectError;
use super::zipread::Src;

const BLOCK: usize = 4096;
/// apksig builds the APK verity tree with an 8-byte zero salt before every digested block.
const SALT: [u8; 8] = [0; 8];

fn salted() -> Sha256 {
    let mut h = Sha256::new();
    h.update(SALT);
    h
}

/// The signature algorithms whose content digest is the verity digest.
pub fn is_verity(alg: u32) -> bool {
    matches!(alg, 0x0421 | 0x0423 | 0x0425)
}

/// Salted SHA-256 of each 4 KiB block of `data` (the last one zero-padded), appended to `out`.
fn blocks(data: &[u8], out: &mut Vec<u8>) {
    for b in data.chunks(BLOCK) {
        let mut h = salted();
        h.update(b);
        if b.len() < BLOCK {
            h.update(&[0u8; BLOCK][..BLOCK - b.len()]);
        }
        out.extend_from_slice(&h.finalize());
    }
}

/// The verity digest of the APK laid out as `at`, or None when the signing block is not
/// 4 KiB-aligned (apksig cannot digest such a layout, so no signer is verified by it).
pub fn digest<R: Read + Seek>(
    src: &mut Src<R>,
    at: &Layout,
    reader: Option<&dyn ReadAt>,
) -> Result<Option<Vec<u8>>, InspectError> {
    if at.sig_block % BLOCK as u64 != 0 || at.sig_block > at.cd || at.cd > at.eocd {
        return Ok(None);
    }
    let mut jobs = Vec::new();
    let mut off = 0;
    while off < at.sig_block {
        let len = (at.sig_block - off).min(CHUNK);
        jobs.push(Job { off, len });
        off += len;
    }
    let per_job = |chunk: &[u8]| {
        let mut out = Vec::with_capacity(chunk.len().div_ceil(BLOCK) * 32);
        blocks(chunk, &mut out);
        vec![out]
    };
    let mut serial = |j: Job, buf: &mut [u8]| super::chunks::fill(src.window(j.off, j.len)?, buf);
    let mut level = Vec::new();
    for job in hash_jobs(&jobs, &per_job, reader, &mut serial)? {
        level.extend(job.into_iter().flatten());
    }
    // The central directory and the EOCD (central-directory offset → the signing block) form
    // one stream: their 4 KiB blocks run across the boundary between them.
    let mut eocd = src.read_at(at.eocd, src.len().saturating_sub(at.eocd))?;
    if let Some(field) = eocd.get_mut(16..20) {
        let off = u32::try_from(at.sig_block).unwrap_or(u32::MAX);
        field.copy_from_slice(&off.to_le_bytes());
    }
    let mut carry: Vec<u8> = Vec::with_capacity(CHUNK as usize + BLOCK);
    let mut off = at.cd;
    while off < at.eocd {
        let n = (at.eocd - off).min(CHUNK);
        let start = carry.len();
        carry.resize(start + n as usize, 0);
        super::chunks::fill(src.window(off, n)?, &mut carry[start..])?;
        off += n;
        let whole = carry.len() / BLOCK * BLOCK;
        blocks(&carry[..whole], &mut level);
        carry.drain(..whole);
    }
    carry.extend_from_slice(&eocd);
    blocks(&carry, &mut level);
    let total = at.sig_block + (at.eocd - at.cd) + eocd.len() as u64;
    let mut root = root_of(level);
    root.extend_from_slice(&total.to_le_bytes());
    Ok(Some(root))
}

/// The root hash over a tree whose bottom level (block digests, unpadded) is `level`.
fn root_of(mut level: Vec<u8>) -> Vec<u8> {
    while level.len() > BLOCK {
        let mut up = Vec::with_capacity(level.len().div_ceil(BLOCK) * 32);
        blocks(&level, &mut up);
        level = up;
    }
    level.resize(BLOCK, 0);
    let mut h = salted();
    h.update(&level);
    h.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of one level: the root is the digest of the zero-padded page of block digests.
    #[test]
    fn small_inputs_have_a_one_page_tree() {
        let mut level = Vec::new();
        blocks(&[7u8; 5000], &mut level);
        assert_eq!(level.len(), 64);
        let mut padded = vec![7u8; 5000];
        padded.resize(8192, 0);
        let salted_digest = |b: &[u8]| Sha256::digest([&SALT[..], b].concat()).to_vec();
        assert_eq!(&level[32..], &salted_digest(&padded[4096..])[..]);
        let mut page = level.clone();
        page.resize(BLOCK, 0);
        assert_eq!(root_of(level), salted_digest(&page));
    }

    /// 129 bottom digests (4128 bytes) need a second level of two blocks.
    #[test]
    fn a_level_over_one_page_is_hashed_again() {
        let level: Vec<u8> = (0..129 * 32).map(|i| i as u8).collect();
        let mut up = Vec::new();
        blocks(&level, &mut up);
        assert_eq!(up.len(), 64);
        let mut page = up;
        page.resize(BLOCK, 0);
        let root = Sha256::digest([&SALT[..], &page].concat()).to_vec();
        assert_eq!(root_of(level), root);
    }
}
