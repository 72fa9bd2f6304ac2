//! Deterministic synthetic registry exports, for benchmarks, tests and the bundled sample
//! registry (`config/sample-registry.ndjson`).
//!
//! Owns: [`record`], the i-th synthetic filing as a pure function of `(seed, i)`, so a bench or a
//! test can know which ids are filed without storing them; [`generate`], which writes records
//! `0..n` as NDJSON snapshot lines; and [`unknown_id`], well-formed ids no record ever lists.
//! Must not: read the clock, the environment or any other state (the same `(records, seed)` gives
//! byte-identical output on every machine), or write a line `parse_line` rejects.
//! Invariant: for `i != j` below [`MAX_RECORDS`], records `i` and `j` have different filing
//! numbers and list different ids on every platform (iOS compared case-folded), except on
//! purpose: about 1% of android packages are listed by two filings of different entities with
//! different signers. `unknown_id` draws from indices at or above `MAX_RECORDS` of the same
//! injective id functions, so it never meets a generated id.
//!
//! How uniqueness is kept without memory: every id embeds an injective function of the record
//! index (a base-36 tag or a digit block from a keyed permutation of the index, or a bijective
//! 64-bit mix), and every filing number is the entity's subject number, itself an injective function
//! of the entity index, plus a sequence number strictly increasing within the entity. Entities
//! own consecutive records (groups of six records are partitioned into one to three entities,
//! about three filings each), so no table is needed to find a record's entity.
//!
//! Shape (domain.md §1, §2, §4, §5): ~55% app filings (android + ios mostly, some harmony;
//! android MD5 signers, sometimes with SHA-256 or two signers, ios SHA-1, harmony SHA-256),
//! ~40% mini programs (one host each: wechat, alipay, douyin, baidu, qq, kuaishou, no signers),
//! ~5% quick apps; subject numbers in all four forms across all 34 province abbreviations; ~90%
//! active, the rest cancelled, revoked or restricted; `updated` between 2023-09 and 2026-04.

mod draw;
mod entities;
mod ids;
mod meta;
mod names;
mod records;

use crate::filing::{FilingRecord, Platform};
use ids::id_for;
use records::build;
use std::io::{self, Write};

/// The largest `records` [`generate`] accepts. Ids of indices `MAX_RECORDS..2 * MAX_RECORDS`
/// are reserved for [`unknown_id`]; every id function is injective up to `2 * MAX_RECORDS`.
pub const MAX_RECORDS: u64 = 50_000_000;

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    pub records: u64,
    /// Ids listed, over all platforms (a shared package counts once per filing).
    pub ids: u64,
    /// Ids listed, by `Platform as usize`.
    pub ids_by: [u64; 10],
    /// Records by `Status as usize`.
    pub records_by_status: [u64; 4],
    /// Filings whose android package another filing (of another entity) also lists.
    pub shared_android: u64,
    /// Bytes written, newlines included.
    pub bytes: u64,
}

/// Writes records `0..records` of `seed` to `out`, one NDJSON snapshot line each.
///
/// Fails when `records > MAX_RECORDS` (InvalidInput) or when `out` fails.
pub fn generate<W: Write>(records: u64, seed: u64, out: W) -> io::Result<GenerateSummary> {
    generate_range(seed, 0..records, out)
}

/// Writes records `range` of `seed` to `out`: the lines `generate` writes for those indices, so
/// a large snapshot can be built in parallel chunks and concatenated in order.
///
/// Fails when `range.end > MAX_RECORDS` (InvalidInput) or when `out` fails.
pub fn generate_range<W: Write>(
    seed: u64,
    range: std::ops::Range<u64>,
    out: W,
) -> io::Result<GenerateSummary> {
    if range.end > MAX_RECORDS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "at most {MAX_RECORDS} records keep ids unique, {} asked",
                range.end
            ),
        ));
    }
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    let mut s = GenerateSummary::default();
    let mut line = Vec::with_capacity(1024);
    for i in range {
        let (r, shared) = build(seed, i);
        line.clear();
        serde_json::to_writer(&mut line, &r.to_wire()).map_err(io::Error::other)?;
        line.push(b'\n');
        w.write_all(&line)?;
        s.records += 1;
        s.bytes += line.len() as u64;
        s.records_by_status[r.status as usize] += 1;
        for p in &r.platforms {
            s.ids += p.ids.len() as u64;
            s.ids_by[p.platform as usize] += p.ids.len() as u64;
        }
        if shared {
            // Record i re-lists record i - 1's package: both filings share it.
            s.shared_android += 2;
        }
    }
    w.flush()?;
    Ok(s)
}

/// The `i`-th synthetic filing of `seed` (the record on line `i + 1` of `generate`'s output).
pub fn record(seed: u64, i: u64) -> FilingRecord {
    build(seed, i).0
}

/// A well-formed `platform` id that no record of `seed` lists, distinct for each `i` below
/// `MAX_RECORDS` (larger `i` wrap around).
pub fn unknown_id(seed: u64, i: u64, platform: Platform) -> String {
    id_for(seed, platform, MAX_RECORDS + i % MAX_RECORDS)
}

#[cfg(test)]
mod tests;
