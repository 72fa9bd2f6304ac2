//! The APK Signing Block: locating it before the central directory and walking its pairs.
//!
//! Owns: the block footer check (size + magic "APK Sig Block 42"), the leading/trailing size
//! match, and the ID-value pair walk where the FIRST pair of each ID wins.
//! Must not: read beyond `Limits::max_signature_bytes`, or treat a wrong magic as a block.
//! Invariant: `pairs` keeps file order; `get(id)` returns the first pair with that id.

use std::io::{Read, Seek};

use super::error::InspectError;
use super::zipread::Src;
use super::Limits;

pub const V2_ID: u32 = 0x7109_871a;
pub const V3_ID: u32 = 0xf053_68c0;
pub const V31_ID: u32 = 0x1b93_ad61;
const MAGIC: &[u8; 16] = b"APK Sig Block 42";

/// The pairs of a signing block: ids and value ranges in `data`, the block as read.
#[derive(Debug, Default)]
pub struct SigningBlock {
    data: Vec<u8>,
    pub pairs: Vec<(u32, std::ops::Range<usize>)>,
    /// File offset of the block (its leading size field).
    pub start: u64,
}

impl SigningBlock {
    /// The value of the first pair with `id`.
    pub fn get(&self, id: u32) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(i, _)| *i == id)
            .and_then(|(_, r)| self.data.get(r.clone()))
    }
}

/// Finds the signing block ending at `cd_offset`. `Ok(None)`: no (usable) block.
pub fn find<R: Read + Seek>(
    src: &mut Src<R>,
    cd_offset: u64,
    limits: &Limits,
) -> Result<Option<SigningBlock>, InspectError> {
    if cd_offset < 32 || cd_offset > src.len() {
        return Ok(None);
    }
    let footer = src.read_at(cd_offset - 24, 24)?;
    if footer[8..24] != MAGIC[..] {
        return Ok(None);
    }
    let size = u64::from_le_bytes(footer[0..8].try_into().unwrap_or_default());
    if size < 24 || size > limits.max_signature_bytes {
        return Ok(None);
    }
    let Some(start) = cd_offset.checked_sub(size).and_then(|v| v.checked_sub(8)) else {
        return Ok(None);
    };
    let block = src.read_at(start, size + 8)?;
    let lead = u64::from_le_bytes(block[0..8].try_into().unwrap_or_default());
    if lead != size {
        return Ok(None);
    }
    let end = block.len() - 24;
    Ok(Some(SigningBlock {
        pairs: walk_pairs(&block[..end], 8),
        data: block,
        start,
    }))
}

/// Walks `u64 len | u32 id | value` pairs of `block` from `from`; stops at the first
/// malformed pair. Value ranges index `block`.
fn walk_pairs(block: &[u8], from: usize) -> Vec<(u32, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut b = block.get(from..).unwrap_or(&[]);
    while b.len() >= 12 {
        let len = u64::from_le_bytes(b[0..8].try_into().unwrap_or_default());
        let Some(total) = usize::try_from(len).ok().and_then(|l| l.checked_add(8)) else {
            break;
        };
        if len < 4 || total > b.len() {
            break;
        }
        let id = u32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
        let at = block.len() - b.len();
        out.push((id, at + 12..at + total));
        b = &b[total..];
    }
    out
}

/// Splits a sequence of `u32 length`-prefixed items; None if any length overruns.
pub fn lp_items(mut b: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (item, rest) = lp(b)?;
        out.push(item);
        b = rest;
    }
    Some(out)
}

/// One `u32 length`-prefixed item and the rest.
pub fn lp(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let item = b.get(4..4usize.checked_add(n)?)?;
    Some((item, b.get(4 + n..)?))
}

/// A little-endian u32 at the start of `b` and the rest.
pub fn u32_at(b: &[u8]) -> Option<(u32, &[u8])> {
    Some((
        u32::from_le_bytes(b.get(0..4)?.try_into().ok()?),
        b.get(4..)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: u32, v: &[u8]) -> Vec<u8> {
        let mut p = ((v.len() + 4) as u64).to_le_bytes().to_vec();
        p.extend_from_slice(&id.to_le_bytes());
        p.extend_from_slice(v);
        p
    }

    #[test]
    fn first_pair_wins_and_unknown_ids_are_kept_in_order() {
        let mut b = pair(0x1234_5678, b"x");
        b.extend(pair(V2_ID, b"first"));
        b.extend(pair(V2_ID, b"second"));
        let sb = SigningBlock {
            pairs: walk_pairs(&b, 0),
            data: b,
            start: 0,
        };
        assert_eq!(sb.pairs.len(), 3);
        assert_eq!(sb.get(V2_ID), Some(&b"first"[..]));
        assert_eq!(sb.get(V3_ID), None);
    }

    #[test]
    fn malformed_pairs_stop_the_walk() {
        let mut b = pair(V2_ID, b"ok");
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        b.extend_from_slice(&[0; 8]);
        assert_eq!(walk_pairs(&b, 0).len(), 1);
        assert!(lp(&[5, 0, 0, 0, 1]).is_none());
        assert_eq!(
            lp_items(&[1, 0, 0, 0, 9, 0, 0, 0, 0]).unwrap(),
            vec![&[9][..], &[][..]]
        );
    }
}
