//! Digests of a Mach-O slice's 4 KiB code pages, taken while the executable streams past.
//!
//! Owns: `PageHasher` (fed a slice's bytes in order, from the slice start up to its code
//! signature) and `PageDigests`, a fixed-size summary of the page-hash lists a CodeDirectory
//! can carry for 4096-byte pages: SHA-1, SHA-256 and SHA-256 truncated to 20 bytes
//! (CodeDirectory hash types 1, 2 and 3), the last page short.
//! Must not: keep the page list (each list is folded into one SHA-256 over the concatenated
//! page digests, which is compared with the same SHA-256 over a CodeDirectory's code slots),
//! or hold more than one page's hashing state.
//! Invariant: `PageDigests` describes exactly `len` bytes cut into `pages` pages of 4096 bytes
//! (the last one shorter when `len` is not a multiple).

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The page size whose hashes are taken (CodeDirectory `pageSize` 12, codesign's default).
pub const PAGE_SHIFT: u8 = 12;
const PAGE: usize = 1 << PAGE_SHIFT;

/// Running page hashes of one slice.
#[derive(Default)]
pub struct PageHasher {
    sha1: Sha1,
    sha256: Sha256,
    in_page: usize,
    len: u64,
    pages: u64,
    /// SHA-256 over the concatenated page digests: SHA-1, SHA-256, SHA-256 truncated to 20.
    lists: [Sha256; 3],
}

impl PageHasher {
    /// Feeds the next bytes of the slice.
    pub fn update(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            let n = (PAGE - self.in_page).min(b.len());
            let (now, rest) = b.split_at(n);
            self.sha1.update(now);
            self.sha256.update(now);
            self.in_page += n;
            self.len += n as u64;
            if self.in_page == PAGE {
                self.end_page();
            }
            b = rest;
        }
    }

    fn end_page(&mut self) {
        let d1 = self.sha1.finalize_reset();
        let d2 = self.sha256.finalize_reset();
        self.lists[0].update(d1);
        self.lists[1].update(d2);
        self.lists[2].update(&d2[..20]);
        self.pages += 1;
        self.in_page = 0;
    }

    /// Closes the last (short) page and returns the summary.
    pub fn finish(mut self) -> PageDigests {
        if self.in_page > 0 {
            self.end_page();
        }
        let [a, b, c] = self.lists;
        PageDigests {
            len: self.len,
            pages: self.pages,
            lists: [
                a.finalize().into(),
                b.finalize().into(),
                c.finalize().into(),
            ],
        }
    }
}

/// What `PageHasher` saw: length, page count and one digest per page-hash list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageDigests {
    /// Bytes hashed (the slice up to its code signature).
    pub len: u64,
    /// Pages hashed: `len` / 4096 rounded up.
    pub pages: u64,
    lists: [[u8; 32]; 3],
}

impl PageDigests {
    /// SHA-256 over the concatenated 4 KiB page digests of CodeDirectory hash type `ty`
    /// (1 SHA-1, 2 SHA-256, 3 SHA-256 truncated); None for other types.
    pub fn list(&self, ty: u8) -> Option<&[u8; 32]> {
        self.lists.get(usize::from(ty).checked_sub(1)?)
    }

    /// The same SHA-256 over `slots` (a CodeDirectory's code hash slots), for comparison.
    pub fn fold(slots: &[u8]) -> [u8; 32] {
        Sha256::digest(slots).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &[u8], ty: u8) -> [u8; 32] {
        let mut all = Vec::new();
        for page in data.chunks(PAGE) {
            match ty {
                1 => all.extend_from_slice(&Sha1::digest(page)),
                2 => all.extend_from_slice(&Sha256::digest(page)),
                _ => all.extend_from_slice(&Sha256::digest(page)[..20]),
            }
        }
        PageDigests::fold(&all)
    }

    #[test]
    fn streamed_pages_match_pages_hashed_whole() {
        let data: Vec<u8> = (0..3 * PAGE as u32 + 77)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for len in [0, 1, PAGE - 1, PAGE, PAGE + 1, data.len()] {
            for step in [1, 7, 1000, PAGE, 3 * PAGE] {
                let mut h = PageHasher::default();
                data[..len].chunks(step).for_each(|c| h.update(c));
                let d = h.finish();
                assert_eq!(d.len, len as u64);
                assert_eq!(d.pages, len.div_ceil(PAGE) as u64);
                for ty in 1..=3 {
                    assert_eq!(d.list(ty), Some(&naive(&data[..len], ty)), "{len} {step}");
                }
                assert_eq!(d.list(0), None);
                assert_eq!(d.list(4), None);
            }
        }
    }
}
