//! The HarmonyOS HAP signing block: locating it before the central directory, splitting its
//! sub-blocks, and judging the signer of its PKCS#7 signature sub-block.
//!
//! Owns: the 32-byte block head (sub-block count, block size, magic "HAP Sig Block 42" for
//! version < 3 or "<hap sign block>" for version >= 3, version), the 12-byte sub-block heads
//! (type, length, offset from the block start), the signed content (a list of content digests)
//! and the rules in docs/inspection.md "HarmonyOS signatures".
//! Must not: read more than `Limits::max_signature_bytes` of block, pick the signer
//! certificate by position, or accept a signer whose SignedData signature does not verify.
//! Invariant: `Found::Absent` only when no magic sits before the central directory; any
//! block with a magic that does not parse is `Found::Malformed`, never `Absent`.

use std::io::{Read, Seek};

use super::cert::Verdict;
use super::digest::{self, Kind};
use super::error::InspectError;
use super::pkcs7;
use super::zipread::Src;
use super::Limits;

/// Sub-block type of the signature (PKCS#7 SignedData over the content digests).
pub const SIGNATURE_ID: u32 = 0x2000_0000;
/// Optional sub-blocks (proof of rotation, profile, property): hashed into the content digest.
const OPTIONAL_IDS: [u32; 3] = [0x2000_0001, 0x2000_0002, 0x2000_0003];
const MAGIC_OLD: &[u8; 16] = b"HAP Sig Block 42";
const MAGIC_V3: &[u8; 16] = b"<hap sign block>";
const HEAD: u64 = 32;
const SUB_HEAD: usize = 12;
/// Most sub-blocks accepted (hapsigner writes at most four).
const MAX_SUB_BLOCKS: u32 = 64;

/// A parsed HAP signing block.
#[derive(Debug)]
pub struct HapBlock {
    /// File offset of the block (its first sub-block head).
    pub start: u64,
    /// (type, value) in sub-block head order.
    pub subs: Vec<(u32, Vec<u8>)>,
}

/// What sits before the central directory.
#[derive(Debug)]
pub enum Found {
    Absent,
    Malformed,
    Block(HapBlock),
}

fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

/// Finds the HAP signing block ending at `cd_offset`.
pub fn find<R: Read + Seek>(
    src: &mut Src<R>,
    cd_offset: u64,
    limits: &Limits,
) -> Result<Found, InspectError> {
    if cd_offset < HEAD || cd_offset > src.len() {
        return Ok(Found::Absent);
    }
    let head = src.read_at(cd_offset - HEAD, HEAD)?;
    let magic = &head[12..28];
    if magic != MAGIC_OLD && magic != MAGIC_V3 {
        return Ok(Found::Absent);
    }
    let count = le32(&head, 0).unwrap_or(0);
    let size = u64::from_le_bytes(head[4..12].try_into().unwrap_or_default());
    let version = le32(&head, 28).unwrap_or(0);
    let expected = if version < 3 { MAGIC_OLD } else { MAGIC_V3 };
    if magic != expected || size < HEAD || size > cd_offset || count == 0 || count > MAX_SUB_BLOCKS
    {
        return Ok(Found::Malformed);
    }
    if size > limits.max_signature_bytes {
        return Err(InspectError::PackageTooLarge("HAP signing block"));
    }
    let start = cd_offset - size;
    let block = src.read_at(start, size - HEAD)?;
    Ok(match split(&block, count) {
        Some(subs) => Found::Block(HapBlock { start, subs }),
        None => Found::Malformed,
    })
}

/// Splits the sub-blocks: every value lies after the heads and inside the block, the lengths
/// add up to the whole block (as appverify checks), types are known, one signature sub-block.
fn split(arr: &[u8], count: u32) -> Option<Vec<(u32, Vec<u8>)>> {
    let heads_len = usize::try_from(count).ok()?.checked_mul(SUB_HEAD)?;
    let heads = arr.get(..heads_len)?;
    let mut total = heads_len;
    let mut out = Vec::new();
    for h in heads.chunks_exact(SUB_HEAD) {
        let (ty, len, off) = (le32(h, 0)?, le32(h, 4)?, le32(h, 8)?);
        let (len, off) = (usize::try_from(len).ok()?, usize::try_from(off).ok()?);
        if off < heads_len || (ty != SIGNATURE_ID && !OPTIONAL_IDS.contains(&ty)) {
            return None;
        }
        let value = arr.get(off..off.checked_add(len)?)?;
        total = total.checked_add(len)?;
        out.push((ty, value.to_vec()));
    }
    let sigs = out.iter().filter(|(t, _)| *t == SIGNATURE_ID).count();
    (total == arr.len() && sigs == 1).then_some(out)
}

/// The signer of a block: its certificate (DER) when one is named, and whether it is accepted.
#[derive(Debug, PartialEq, Eq)]
pub struct Signer {
    pub cert: Option<Vec<u8>>,
    pub accepted: bool,
}

/// The content digest a HAP signature algorithm id signs (None: unknown).
fn kind_of(alg: u32) -> Option<Kind> {
    match alg {
        0x101 | 0x104 | 0x105 | 0x201 | 0x301 => Some(Kind::Sha256),
        0x102 | 0x202 | 0x302 => Some(Kind::Sha384),
        0x103 | 0x106 | 0x203 | 0x303 => Some(Kind::Sha512),
        _ => None,
    }
}

/// The signed content: `u32 version | u32 count | (u32 len | u32 alg | u32 n | n bytes)*`.
pub fn content_digests(b: &[u8]) -> Option<Vec<(u32, &[u8])>> {
    let mut rest = b.get(8..)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = usize::try_from(le32(rest, 0)?).ok()?;
        let item = rest.get(4..4usize.checked_add(len)?)?;
        let (alg, n) = (le32(item, 0)?, usize::try_from(le32(item, 4)?).ok()?);
        if n.checked_add(8)? != len {
            return None;
        }
        out.push((alg, item.get(8..)?));
        rest = rest.get(4 + len..)?;
    }
    (!out.is_empty()).then_some(out)
}

/// Judges the signature sub-block: the signer certificate (by issuer+serial or SKI), the
/// SignedData signature over its embedded content, and (with `check`) the content digests.
pub fn signer<R: Read + Seek>(
    src: &mut Src<R>,
    block: &HapBlock,
    check: Option<&digest::Layout>,
    limits: &Limits,
) -> Result<Signer, InspectError> {
    let none = Signer {
        cert: None,
        accepted: false,
    };
    let Some((_, sig)) = block.subs.iter().find(|(t, _)| *t == SIGNATURE_ID) else {
        return Ok(none);
    };
    let Some(sd) = pkcs7::parse(sig) else {
        return Ok(none);
    };
    let [si] = sd.signers.as_slice() else {
        return Ok(none);
    };
    let Some(cert) = sd.cert_for(si) else {
        return Ok(none);
    };
    let signed = sd
        .content
        .filter(|c| pkcs7::verify_signer(&sd, si, cert, c) == Verdict::Good);
    let digests = signed.and_then(content_digests);
    let accepted = match (digests, check) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(d), Some(at)) => digests_match(src, at, block, &d, limits)?,
    };
    Ok(Signer {
        cert: Some(cert.to_vec()),
        accepted,
    })
}

/// Recomputes every chunked content digest the signer lists, with the optional sub-block
/// values appended, and compares. A digest of an unknown algorithm cannot be checked, so it
/// fails the signer (as does a list with none).
fn digests_match<R: Read + Seek>(
    src: &mut Src<R>,
    at: &digest::Layout,
    block: &HapBlock,
    signed: &[(u32, &[u8])],
    limits: &Limits,
) -> Result<bool, InspectError> {
    let mut kinds = Vec::new();
    for k in signed.iter().filter_map(|(a, _)| kind_of(*a)) {
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let unknown = signed.iter().any(|(a, _)| kind_of(*a).is_none());
    if signed.len() > limits.max_signers || unknown || kinds.is_empty() {
        return Ok(false);
    }
    let tail: Vec<&[u8]> = block
        .subs
        .iter()
        .filter(|(t, _)| *t != SIGNATURE_ID)
        .map(|(_, v)| v.as_slice())
        .collect();
    let computed = digest::compute_with_tail(src, at, &kinds, &tail)?;
    Ok(signed.iter().all(|(alg, d)| {
        kind_of(*alg)
            .and_then(|k| computed.iter().find(|(c, _)| *c == k))
            .is_some_and(|(_, c)| c == d)
    }))
}

#[cfg(test)]
#[path = "../../tests/upload_support/hapsign.rs"]
pub mod hapsign;

#[cfg(test)]
#[path = "hapsig_tests.rs"]
mod tests;
