//! Snapshot loading: an NDJSON file of filing records (one per line) → a `Revision`.
//!
//! Owns the parallel parse (the file is split at line boundaries, one part per core, each part
//! parsed and encoded independently, then stitched together in file order) and the per-line
//! rejection report.
//! Must not: stop at a bad line (it is rejected, named and counted), or accept a filing number
//! twice (the later line is rejected as a duplicate).
//! Invariant: the revision holds exactly the lines reported as accepted.

use super::base::Builder;
use super::{record_digest, store, Revision};
use crate::filing::record::parse_line;
use std::path::{Path, PathBuf};

/// How many rejected lines a report keeps verbatim; the rest are only counted.
pub const MAX_REPORTED: usize = 100;

/// A line of the snapshot that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RejectedLine {
    pub line: usize,
    pub reason: String,
}

/// What a load accepted and rejected.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoadReport {
    pub accepted: u64,
    pub rejected: u64,
    /// The first `MAX_REPORTED` rejections, in line order.
    pub rejected_lines: Vec<RejectedLine>,
}

/// The snapshot could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read snapshot {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("snapshot {path} is too large for one revision ({bytes} bytes encoded, limit 4 GiB)")]
    TooLarge { path: PathBuf, bytes: usize },
}

struct Part {
    blob: Vec<u8>,
    pairs: Vec<(u32, u32)>,
    numbers: Vec<([u8; 8], u32, usize, u128)>,
    lines: usize,
    rejected: Vec<RejectedLine>,
    rejected_count: u64,
    entities: store::Entities,
}

fn parse_part(text: &[u8], hasher: &ahash::RandomState) -> Part {
    let mut p = Part {
        blob: Vec::with_capacity(text.len() / 3),
        pairs: Vec::new(),
        numbers: Vec::new(),
        lines: 0,
        rejected: Vec::new(),
        rejected_count: 0,
        entities: store::Entities::default(),
    };
    // Entity ids are local to the part here and remapped when the parts are stitched.
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        p.lines = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|s| parse_line(s).map_err(|e| e.to_string()));
        match parsed {
            Ok(r) => {
                let e = p.entities.intern(&r.entity);
                let off = store::push(&mut p.blob, &r, e);
                Builder::hash_pairs_with(hasher, &p.blob, off, &mut p.pairs);
                p.numbers
                    .push((r.number.to_bytes(), off, i + 1, record_digest(raw)));
            }
            Err(reason) => {
                p.rejected_count += 1;
                if p.rejected.len() < MAX_REPORTED {
                    p.rejected.push(RejectedLine {
                        line: i + 1,
                        reason,
                    });
                }
            }
        }
    }
    if text.ends_with(b"\n") {
        p.lines -= 1;
    }
    p
}

/// Splits `text` into at most `n` parts that each end at a newline.
fn split_lines(text: &[u8], n: usize) -> Vec<&[u8]> {
    let mut parts = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let guess = (text.len() * k / n).max(start);
        let Some(nl) = text[guess..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let end = guess + nl + 1;
        parts.push(&text[start..end]);
        start = end;
    }
    parts.push(&text[start..]);
    parts
}

/// Parses snapshot text into a revision, using every available core.
pub fn parse_snapshot(
    text: &[u8],
    revision: u64,
    source: &str,
    bloom: bool,
) -> (Revision, LoadReport) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(16);
    let threads = if text.len() < 1 << 20 { 1 } else { threads };
    let mut builder = Builder::new(text.len() / 256);
    let hasher = builder.hasher();
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = split_lines(text, threads)
            .into_iter()
            .map(|chunk| {
                let h = hasher.clone();
                s.spawn(move || parse_part(chunk, &h))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("snapshot parser thread panicked"))
            .collect()
    });
    let mut report = LoadReport::default();
    let mut line_base = 0;
    for mut part in parts {
        // Remap part-local entity ids to the builder's.
        let map: Vec<u32> = part
            .entities
            .names()
            .map(|name| builder.entities.intern(name))
            .collect();
        drop(std::mem::take(&mut part.entities));
        let mut c = 0;
        while let Some(v) =
            store::RecordView::decode(&part.blob, part.numbers.get(c).map_or(u32::MAX, |n| n.1))
        {
            let global = map.get(v.entity as usize).copied().unwrap_or(0);
            store::set_entity(&mut part.blob, part.numbers[c].1 as usize, global);
            c += 1;
        }
        for n in &mut part.numbers {
            n.2 += line_base;
        }
        for mut r in part.rejected {
            r.line += line_base;
            if report.rejected_lines.len() < MAX_REPORTED {
                report.rejected_lines.push(r);
            }
        }
        report.rejected += part.rejected_count;
        line_base += part.lines;
        builder.add_segment(part.blob, part.pairs, part.numbers);
    }
    let dups = builder.take_duplicates();
    report.rejected += dups.len() as u64;
    report.rejected_lines.extend(dups);
    report.rejected_lines.sort_by_key(|r| r.line);
    report.rejected_lines.truncate(MAX_REPORTED);
    let checksum = builder.checksum;
    let rev = Revision::from_base(revision, source, builder.finish(bloom), checksum);
    report.accepted = rev.stats.records;
    (rev, report)
}

/// Reads and parses a snapshot file.
pub fn load_snapshot(
    path: &Path,
    revision: u64,
    bloom: bool,
) -> Result<(Revision, LoadReport), LoadError> {
    let text = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if text.len() >= u32::MAX as usize {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            bytes: text.len(),
        });
    }
    Ok(parse_snapshot(
        &text,
        revision,
        &path.display().to_string(),
        bloom,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filing::Platform;

    fn line(n: &str, id: &str) -> String {
        format!(
            r#"{{"number":"{n}","status":"active","entity":"某公司","app_name":"x","platforms":[{{"platform":"android","ids":["{id}"]}}]}}"#
        )
    }

    #[test]
    fn bad_lines_are_named_and_skipped() {
        let text = [
            line("京ICP备12345678号-1A", "com.a.one"),
            "{not json".into(),
            String::new(),
            line("京ICP备12345678号-2A", "com.a.two"),
            line("京ICP备12345678号-1A", "com.a.three"),
            line("京ICP备12345678号-3X", "com.a.four"),
        ]
        .join("\n");
        let (rev, report) = parse_snapshot(text.as_bytes(), 1, "t", false);
        assert_eq!(report.accepted, 2);
        assert_eq!(report.rejected, 3);
        let lines: Vec<usize> = report.rejected_lines.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 5, 6]);
        assert!(
            report.rejected_lines[1].reason.contains("duplicate"),
            "{:?}",
            report.rejected_lines[1]
        );
        assert!(rev.lookup(Platform::Android, "com.a.three").is_empty());
        assert_eq!(rev.lookup(Platform::Android, "com.a.two").len(), 1);
        let hit = rev.lookup(Platform::Android, "com.a.two")[0];
        assert_eq!(rev.record(&hit).unwrap().entity, "某公司");
    }

    #[test]
    fn parallel_parts_give_the_same_index_as_one() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!(
                r#"{{"number":"京ICP备2023{i:06}号-1A","status":"active","entity":"公司{}","app_name":"x","platforms":[{{"platform":"android","ids":["com.a.n{i}"]}}]}}"#,
                i % 97
            ));
            text.push('\n');
        }
        text.push_str("garbage\n");
        let (rev, report) = parse_snapshot(text.as_bytes(), 1, "t", false);
        assert!(text.len() > 1 << 20);
        assert_eq!(report.accepted, 20_000);
        assert_eq!(report.rejected_lines[0].line, 20_001);
        for i in [0, 9_999, 19_999] {
            let h = rev.lookup(Platform::Android, &format!("com.a.n{i}"));
            assert_eq!(h.len(), 1);
            assert_eq!(rev.record(&h[0]).unwrap().entity, format!("公司{}", i % 97));
        }
        assert_eq!(rev.stats.entities, 97);
    }
}
