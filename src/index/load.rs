//! Snapshot loading: an NDJSON file of filing records (one per line) → a `Revision`.
//!
//! Owns the parallel parse (the text, read a round at a time, is split at line boundaries, one
//! part per core, each part parsed and encoded independently, then stitched together in file
//! order while the next round parses) and the per-line rejection report. Each line is read by
//! the canonical scanner (`filing::scan`) or, failing that, by serde_json (`parse_line`).
//! Must not: stop at a bad line (it is rejected, named and counted), accept a filing number
//! twice (the later line is rejected as a duplicate), or hold a whole file in memory.
//! Invariant: the revision holds exactly the lines reported as accepted.

use super::base::Keys;
pub use super::build::RejectedLine;
use super::build::{push_pairs, Builder};
use super::{record_digest, store, Revision};
use crate::filing::record::parse_line;
use crate::filing::scan::{scan_canonical, RecordRef};
use std::path::{Path, PathBuf};

/// How many rejected lines a report keeps verbatim; the rest are only counted.
pub const MAX_REPORTED: usize = 100;

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

/// Bytes of text parsed per round: small enough that a streamed file is never held whole,
/// large enough that thread start-up is noise. While the parser threads work on one round,
/// the calling thread stitches the previous round's parts into the builder.
const CHUNK: usize = 32 << 20;

/// One parser thread's output: records encoded back to back, their id hash pairs and numbers,
/// with entity ids local to the part until `Loader::stitch` remaps them.
struct Part {
    blob: Vec<u8>,
    pairs: Vec<(u32, u32)>,
    numbers: Vec<([u8; 8], u32, usize, u128)>,
    lines: usize,
    rejected: Vec<RejectedLine>,
    rejected_count: u64,
    entities: store::Entities,
}

impl Part {
    /// A part for `text` bytes of snapshot, encoding into `blob` (a buffer handed back by the
    /// builder, so rounds after the first write into memory that is already paged in).
    fn with_capacity(text: usize, mut blob: Vec<u8>) -> Part {
        blob.clear();
        blob.reserve(text / 3);
        Part {
            blob,
            pairs: Vec::with_capacity(text / 200),
            numbers: Vec::with_capacity(text / 280),
            lines: 0,
            rejected: Vec::new(),
            rejected_count: 0,
            entities: store::Entities::default(),
        }
    }

    /// Encodes a validated record, hashing its ids on the way (no decode of what was written).
    fn add(&mut self, r: &RecordRef<'_>, hasher: &Keys, line: usize, raw: &[u8]) {
        let e = self.entities.intern(r.entity);
        let off = store::push_ref(&mut self.blob, r, e);
        pairs_of(hasher, r, off, &mut self.pairs);
        self.numbers
            .push((r.number.to_bytes(), off, line, record_digest(raw)));
    }

    fn reject(&mut self, line: usize, reason: String) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_REPORTED {
            self.rejected.push(RejectedLine { line, reason });
        }
    }
}

/// The (key hash, offset) pairs of `r` encoded at `off`: the ones `Builder::hash_pairs_with`
/// derives from the encoding, without decoding what was just written.
fn pairs_of(hasher: &Keys, r: &RecordRef<'_>, off: u32, out: &mut Vec<(u32, u32)>) {
    let ids = r
        .platforms
        .iter()
        .flat_map(|p| p.ids.iter().map(move |id| (p.platform, *id)));
    push_pairs(hasher, ids, off, out);
}

/// The pieces of `text` between newlines, as `split` gives them (an empty last piece after a
/// final newline), found with memchr.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match memchr::memchr(b'\n', t) {
            Some(nl) => {
                rest = Some(&t[nl + 1..]);
                Some(&t[..nl])
            }
            None => {
                rest = None;
                Some(t)
            }
        }
    })
}

fn parse_part(text: &[u8], hasher: &Keys, blob: Vec<u8>) -> Part {
    let mut p = Part::with_capacity(text.len(), blob);
    for (i, raw) in lines(text).enumerate() {
        p.lines = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The SIMD check says only yes or no; std's names the bad byte for the report.
        let s = match simdutf8::basic::from_utf8(raw).map_err(|_| std::str::from_utf8(raw)) {
            Ok(s) => s,
            Err(Err(e)) => {
                p.reject(i + 1, format!("not UTF-8: {e}"));
                continue;
            }
            Err(Ok(s)) => s,
        };
        // The canonical shape is scanned directly; anything else (and every invalid line) is
        // read by serde_json, which gives the verdict and the reason.
        if let Some(r) = scan_canonical(s) {
            p.add(&r, hasher, i + 1, raw);
            continue;
        }
        match parse_line(s) {
            Ok(r) => p.add(&r.borrowed(), hasher, i + 1, raw),
            Err(e) => p.reject(i + 1, e.to_string()),
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
        let Some(nl) = memchr::memchr(b'\n', &text[guess..]) else {
            break;
        };
        let end = guess + nl + 1;
        parts.push(&text[start..end]);
        start = end;
    }
    parts.push(&text[start..]);
    parts
}

/// A load in progress: text is fed in whole lines, in file order.
struct Loader {
    builder: Builder,
    hasher: Keys,
    threads: usize,
    report: LoadReport,
    line_base: usize,
    /// The previous round's parts, stitched while the next round parses.
    pending: Vec<Part>,
    /// Part buffers the builder handed back, for the next round's parts.
    spare: Vec<Vec<u8>>,
    started: std::time::Instant,
}

impl Loader {
    fn new(text_bytes: usize) -> Loader {
        let mut builder = Builder::new(text_bytes / 256);
        // Records encode to about a quarter of their NDJSON; half is room to spare (address
        // space only until written), and a part that does not fit is stitched at the end.
        builder.reserve_arena(text_bytes / 2);
        Loader {
            hasher: builder.hasher(),
            builder,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(16),
            report: LoadReport::default(),
            line_base: 0,
            pending: Vec::new(),
            spare: Vec::new(),
            started: std::time::Instant::now(),
        }
    }

    /// Parses `text` (whole lines, except at the end of the input) on every core.
    fn feed(&mut self, text: &[u8]) {
        let threads = if text.len() < 1 << 20 {
            1
        } else {
            self.threads
        };
        let Loader {
            builder,
            hasher,
            report,
            line_base,
            pending,
            spare,
            ..
        } = self;
        let previous = std::mem::take(pending);
        std::thread::scope(|s| {
            let handles: Vec<_> = split_lines(text, threads)
                .into_iter()
                .map(|chunk| {
                    let blob = spare.pop().unwrap_or_default();
                    s.spawn(|| parse_part(chunk, hasher, blob))
                })
                .collect();
            for part in previous {
                spare.extend(stitch(builder, report, line_base, part));
            }
            pending.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("snapshot parser thread panicked")),
            );
        });
    }

    fn finish(mut self, revision: u64, source: &str, bloom: bool) -> (Revision, LoadReport) {
        let parsed = self.started.elapsed();
        for p in std::mem::take(&mut self.pending) {
            let _ = stitch(&mut self.builder, &mut self.report, &mut self.line_base, p);
        }
        let stitched = self.started.elapsed();
        let (mut builder, mut report) = (self.builder, self.report);
        let dups = builder.take_duplicates();
        report.rejected += dups.len() as u64;
        report.rejected_lines.extend(dups);
        report.rejected_lines.sort_by_key(|r| r.line);
        report.rejected_lines.truncate(MAX_REPORTED);
        let checksum = builder.checksum;
        let rev = Revision::from_base(revision, source, builder.finish(bloom), checksum);
        report.accepted = rev.stats.records;
        let built = self.started.elapsed();
        tracing::debug!(
            source,
            parse_ms = parsed.as_millis() as u64,
            last_stitch_ms = (stitched - parsed).as_millis() as u64,
            finish_ms = (built - stitched).as_millis() as u64,
            "snapshot load phases (parse rounds on every core, then the single-threaded tail)"
        );
        (rev, report)
    }
}

/// Moves one part into the builder: entity ids remapped in place (read from the encoding at
/// each record's offset, no decode), line numbers made file-relative. Gives back the part's
/// buffer when the builder copied it.
fn stitch(
    builder: &mut Builder,
    report: &mut LoadReport,
    line_base: &mut usize,
    mut part: Part,
) -> Option<Vec<u8>> {
    let map: Vec<u32> = part
        .entities
        .names()
        .map(|name| builder.entities.intern(name))
        .collect();
    drop(std::mem::take(&mut part.entities));
    for n in &mut part.numbers {
        let off = n.1 as usize;
        if let Some(local) = store::entity_of(&part.blob, off) {
            let global = map.get(local as usize).copied().unwrap_or(0);
            store::set_entity(&mut part.blob, off, global);
        }
        n.2 += *line_base;
    }
    for mut r in part.rejected {
        r.line += *line_base;
        if report.rejected_lines.len() < MAX_REPORTED {
            report.rejected_lines.push(r);
        }
    }
    report.rejected += part.rejected_count;
    *line_base += part.lines;
    builder.add_segment(part.blob, part.pairs, part.numbers)
}

/// `text` in rounds of about `chunk` bytes, each ending at a newline (the last at the end).
fn rounds(text: &[u8], chunk: usize) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = match rest.get(chunk..).and_then(|t| memchr::memchr(b'\n', t)) {
            Some(nl) => chunk + nl + 1,
            None => rest.len(),
        };
        let (round, tail) = rest.split_at(cut);
        rest = tail;
        Some(round)
    })
}

/// Parses snapshot text into a revision, using every available core.
pub fn parse_snapshot(
    text: &[u8],
    revision: u64,
    source: &str,
    bloom: bool,
) -> (Revision, LoadReport) {
    let mut loader = Loader::new(text.len());
    for round in rounds(text, CHUNK) {
        loader.feed(round);
    }
    loader.finish(revision, source, bloom)
}

/// Reads and parses a snapshot file, a round at a time: the whole text is never in memory.
pub fn load_snapshot(
    path: &Path,
    revision: u64,
    bloom: bool,
) -> Result<(Revision, LoadReport), LoadError> {
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = file.metadata().map_err(io)?.len();
    if bytes >= u32::MAX as u64 {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            bytes: bytes as usize,
        });
    }
    let mut loader = Loader::new(bytes as usize);
    read_rounds(file, CHUNK, |round| loader.feed(round)).map_err(io)?;
    Ok(loader.finish(revision, &path.display().to_string(), bloom))
}

/// Reads `r` to the end, handing `each` rounds of whole lines of about `chunk` bytes (a line
/// longer than `chunk` makes its round longer); the last round is whatever remains. A reader
/// thread fetches the next round while `each` works on this one; at most three buffers take
/// turns, so the read costs no fresh pages after the first rounds.
fn read_rounds(
    r: impl std::io::Read + Send,
    chunk: usize,
    mut each: impl FnMut(&[u8]),
) -> std::io::Result<()> {
    use std::sync::mpsc::{channel, sync_channel};
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(1);
    let (empty_tx, empty_rx) = channel::<Vec<u8>>();
    // `move`: if `each` panics, unwinding drops both channel ends held here, so a reader
    // blocked on either wakes up and ends instead of keeping the scope from joining.
    std::thread::scope(move |s| {
        let reader = s.spawn(move || reader_loop(r, chunk, &full_tx, &empty_rx));
        for round in full_rx {
            each(&round);
            // The reader may have finished; a buffer it no longer wants is dropped here.
            let _ = empty_tx.send(round);
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("snapshot reader thread panicked")))
    })
}

/// The reader side of `read_rounds`: fills buffers (recycled from `empty` when one is back)
/// and sends each round of whole lines to `full`; the partial line after the last newline
/// starts the next buffer.
fn reader_loop(
    mut r: impl std::io::Read,
    chunk: usize,
    full: &std::sync::mpsc::SyncSender<Vec<u8>>,
    empty: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<()> {
    use std::io::Read;
    let fresh = || Vec::with_capacity(chunk + (chunk >> 4));
    let mut buf: Vec<u8> = fresh();
    // One buffer filling, one queued, one being parsed: past three, wait for one back.
    let mut made = 1;
    loop {
        let n = (&mut r).take(chunk as u64).read_to_end(&mut buf)?;
        if n == 0 {
            if !buf.is_empty() {
                let _ = full.send(buf);
            }
            return Ok(());
        }
        let Some(nl) = memchr::memrchr(b'\n', &buf) else {
            continue;
        };
        let back = if made < 3 {
            empty.try_recv().ok()
        } else {
            empty.recv().ok()
        };
        let mut next = back.unwrap_or_else(|| {
            made += 1;
            fresh()
        });
        next.clear();
        next.extend_from_slice(&buf[nl + 1..]);
        buf.truncate(nl + 1);
        if full.send(std::mem::replace(&mut buf, next)).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests;
