//! Sealing a `Builder`: the segments stitched into the arena, and repeated filing numbers
//! dropped (the later records) and reported as rejected lines.
//!
//! Owns duplicate detection by sorting (a run of equal number hashes grouped by the number
//! bytes), so an export repeating one line many times costs n log n, not n².
//! Must not: drop the first record of a number, or leave the id pairs unsorted.
//! Invariant: once sealed, `numbers` is sorted and free of repeats, `pairs` is sorted by key,
//! and `checksum` is the sum of the kept records' digests.

use super::tables::{radix_sort, PARALLEL_BUILD};
use super::{Builder, RejectedLine};
use crate::index::hugebuf::HugeBuf;
use crate::index::store;

impl Builder {
    /// Stitches the segments into the arena and drops repeated filing numbers (the later
    /// records), reporting each. Idempotent.
    /// The id pairs are sorted by key on a second thread meanwhile (the largest sort of a big
    /// build); dropping records keeps them sorted.
    pub(super) fn seal(&mut self) {
        if self.sealed {
            return;
        }
        let mut pairs = std::mem::take(&mut self.pairs);
        let sort = !self.pairs_sorted;
        let dropped = std::thread::scope(|s| {
            let sorter = if sort && pairs.len() >= PARALLEL_BUILD {
                Some(s.spawn(move || {
                    radix_sort(&mut pairs);
                    pairs
                }))
            } else {
                if sort {
                    radix_sort(&mut pairs);
                }
                self.pairs = pairs;
                None
            };
            if !self.segments.is_empty() {
                let segments = std::mem::take(&mut self.segments);
                let parts = std::iter::once(&self.blob[..]).chain(segments.iter().map(|s| &s[..]));
                self.blob = HugeBuf::concat(parts);
            }
            radix_sort(&mut self.numbers);
            let dropped = self.repeated_numbers();
            if let Some(h) = sorter {
                self.pairs = h.join().expect("pair sorting thread panicked");
            }
            dropped
        });
        self.pairs_sorted = true;
        if !dropped.is_empty() {
            self.drop_records(&dropped);
        }
        self.sealed = true;
    }

    /// Offsets of records whose filing number an earlier record carries, sorted.
    fn repeated_numbers(&mut self) -> Vec<u32> {
        let blob = &self.blob;
        let number_at = |off: u32| blob.get(off as usize..off as usize + 8);
        let mut repeats = Vec::new();
        for run in self
            .numbers
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|r| r.len() > 1)
        {
            // Group the run by the number bytes, sorting (an export repeating one line many
            // times costs n log n, not n²); within a group the smallest offset is the earliest
            // record, the one kept.
            let mut by_number: Vec<(Option<&[u8]>, u32)> =
                run.iter().map(|e| (number_at(e.1), e.1)).collect();
            by_number.sort_unstable();
            for group in by_number.chunk_by(|a, b| a.0 == b.0) {
                repeats.extend(group[1..].iter().map(|later| (group[0].1, later.1)));
            }
        }
        for &(first, later) in &repeats {
            self.report_duplicate(first, later);
        }
        let mut dropped: Vec<u32> = repeats.iter().map(|r| r.1).collect();
        dropped.sort_unstable();
        dropped
    }

    fn report_duplicate(&mut self, first: u32, later: u32) {
        let line_of = |off: u32| {
            self.records
                .binary_search(&off)
                .map_or(0, |i| self.lines[i] as usize)
        };
        let shown = store::head(&self.blob, later)
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        let (first_line, line) = (line_of(first), line_of(later));
        self.duplicates.push(RejectedLine {
            line,
            reason: format!("duplicate filing number {shown} (first on line {first_line})"),
        });
    }

    fn drop_records(&mut self, dropped: &[u32]) {
        let gone = |off: &u32| dropped.binary_search(off).is_ok();
        let mut keep = 0;
        for i in 0..self.records.len() {
            if gone(&self.records[i]) {
                self.checksum = self.checksum.wrapping_sub(self.digests[i]);
                continue;
            }
            self.records[keep] = self.records[i];
            self.lines[keep] = self.lines[i];
            self.digests[keep] = self.digests[i];
            keep += 1;
        }
        self.records.truncate(keep);
        self.lines.truncate(keep);
        self.digests.truncate(keep);
        self.numbers.retain(|(_, o)| !gone(o));
        self.pairs.retain(|(_, o)| !gone(o));
    }
}
