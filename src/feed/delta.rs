//! Reading a decompressed delta file into changes, each upsert with the digest its record adds
//! to the state checksum.
//!
//! Owns the fast path: an upsert line written `{"upsert":RECORD}` (as the publisher writes
//! it) is parsed with the snapshot line parser and its digest taken over the exact RECORD
//! bytes, as the snapshot loader does for snapshot lines; any other line goes through
//! `parse_delta_line` and the canonical re-serialisation of its record.
//! Must not: accept a line `parse_delta_line` rejects (a failed fast path falls back to it).
//! Invariant: a digest equals the digest of the record's canonical line whenever the delta
//! is canonical; when it is not, the sum cannot equal the signed state checksum and the
//! delta is refused by the checksum check that follows every apply.

use super::format::{parse_delta_line, Change};
use crate::filing::record::parse_line;
use crate::filing::scan::scan_canonical;
use crate::index::record_digest;

const UPSERT: &str = "{\"upsert\":";

/// The changes of one delta and, index for index, the digest each upsert adds (0 for a
/// removal).
#[derive(Debug, Default)]
pub struct Parsed {
    pub changes: Vec<Change>,
    pub digests: Vec<u128>,
}

fn parse_one(line: &str) -> Result<(Change, u128), String> {
    if let Some(record) = line.strip_prefix(UPSERT).and_then(|l| l.strip_suffix('}')) {
        // Publishers write canonical records: the byte scanner validates them without serde
        // (same outcome as parse_line, tests in filing/scan); anything else takes serde.
        if let Some(r) = scan_canonical(record) {
            return Ok((
                Change::Upsert(r.to_record()),
                record_digest(record.as_bytes()),
            ));
        }
        if let Ok(r) = parse_line(record) {
            return Ok((Change::Upsert(r), record_digest(record.as_bytes())));
        }
    }
    let c = parse_delta_line(line)?;
    let d = match &c {
        Change::Upsert(r) => record_digest(r.canonical_line().as_bytes()),
        Change::Remove(_) => 0,
    };
    Ok((c, d))
}

fn parse_lines(file: &str, text: &str, first_line: usize) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    for (i, l) in text.lines().enumerate() {
        let (c, d) = parse_one(l).map_err(|e| format!("{file}:{}: {e}", first_line + i))?;
        out.changes.push(c);
        out.digests.push(d);
    }
    Ok(out)
}

/// Deltas smaller than this (decompressed) are parsed on one thread: about 200k changes. A
/// delta is applied while the gateway serves, and on a small machine a second parser thread
/// takes the core the request workers need (p99 during the apply suffers more than the apply
/// gains); a delta this large is rare and mostly a catch-up after an outage.
const PARALLEL_BYTES: usize = 64 << 20;

/// Parses a whole delta; the error names the file and line.
pub fn parse_delta(file: &str, text: &[u8]) -> Result<Parsed, String> {
    parse_delta_split(file, text, PARALLEL_BYTES)
}

/// `parse_delta`, parsing a text of at least `parallel_from` bytes in two halves side by side
/// (split at a line boundary) and joining them in order.
fn parse_delta_split(file: &str, text: &[u8], parallel_from: usize) -> Result<Parsed, String> {
    let text = std::str::from_utf8(text).map_err(|e| format!("{file}: not UTF-8: {e}"))?;
    let split = text.len() / 2;
    let cut = text.as_bytes()[split..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| split + i + 1)
        .filter(|_| text.len() >= parallel_from);
    let Some(cut) = cut else {
        return parse_lines(file, text, 1);
    };
    let (a, b) = text.split_at(cut);
    let second_first = a.lines().count() + 1;
    let (x, y) = std::thread::scope(|s| {
        let h = s.spawn(|| parse_lines(file, b, second_first));
        let x = parse_lines(file, a, 1);
        (x, h.join())
    });
    let mut out = x?;
    let y = y.map_err(|_| format!("{file}: parser thread failed"))??;
    out.changes.extend(y.changes);
    out.digests.extend(y.digests);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::format::delta_line;

    #[test]
    fn fast_and_slow_paths_agree_and_bad_lines_are_refused() {
        let r = crate::generate::record(3, 17);
        let canonical = record_digest(r.canonical_line().as_bytes());
        let up = delta_line(&Change::Upsert(r.clone()));
        let spaced = up.replacen("{\"upsert\":", "{ \"upsert\" : ", 1);
        let rm = delta_line(&Change::Remove(r.number));
        let p = parse_delta("d", format!("{up}\n{spaced}\n{rm}\n").as_bytes()).unwrap();
        assert_eq!(p.digests, vec![canonical, canonical, 0]);
        assert_eq!(p.changes[0], Change::Upsert(r.clone()));
        assert_eq!(p.changes[1], Change::Upsert(r.clone()));
        assert_eq!(p.changes[2], Change::Remove(r.number));
        let both = format!("{},\"remove\":\"x\"}}", &up[..up.len() - 1]);
        for bad in [both.as_str(), "", "{}", "{\"upsert\":{}}"] {
            let e = parse_delta("d", format!("{up}\n{bad}\n").as_bytes()).unwrap_err();
            assert!(e.starts_with("d:2: "), "{e}");
        }
        assert!(parse_delta("d", b"\xff\n").is_err());
        // Large enough to be parsed in two halves: same result, line numbers still right.
        let many: Vec<String> = (0..6_000)
            .map(|i| delta_line(&Change::Upsert(crate::generate::record(3, i))))
            .collect();
        let text = many.join("\n") + "\n";
        assert!(text.len() >= 1 << 20);
        let p = parse_delta_split("d", text.as_bytes(), 1 << 20).unwrap();
        assert_eq!(
            p.changes,
            parse_delta("d", text.as_bytes()).unwrap().changes
        );
        assert_eq!(p.changes.len(), 6_000);
        assert_eq!(
            p.changes[5_999],
            Change::Upsert(crate::generate::record(3, 5_999))
        );
        let broken = text.replacen(&many[5_000], "{}", 1);
        assert!(parse_delta_split("d", broken.as_bytes(), 1 << 20)
            .unwrap_err()
            .starts_with("d:5001: "));
    }
}
