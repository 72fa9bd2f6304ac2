//! Finds one decision in the audit file by its id, reading at most `MAX_SCAN_BYTES`, newest
//! first, in `CHUNK` pieces: the file's last bytes, then, while bytes of the bound remain, the
//! end of the file rotated before it (`PATH.1`, logrotate's name for it, which `delaycompress`
//! keeps uncompressed until the next rotation).
//!
//! Owns the bounded backward scan. A line is a candidate when it contains the id's bytes;
//! it is the answer when it reads as an audit record whose `decision_id` is exactly that id.
//! Must not: read more than `MAX_SCAN_BYTES` over both files, hold more than one chunk and a
//! line in memory, or read older rotations (`PATH.2`, compressed files).
//! Invariant: a line cut by the scan's lower bound is never read as a record.

use super::record::Shown;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// How far back from the end of the audit file a decision id is looked for.
pub const MAX_SCAN_BYTES: u64 = 64 << 20;
/// Bytes read at a time.
const CHUNK: u64 = 1 << 20;

/// The newest record with `decision_id` within `limit` bytes read back from the end of the
/// file at `path` and then, with what remains of `limit`, of `PATH.1` if it exists; the record
/// and the file it is in.
pub fn find_with_rotated(
    path: &Path,
    decision_id: &str,
    limit: u64,
) -> std::io::Result<Option<(Shown, PathBuf)>> {
    if let Some(s) = find(path, decision_id, limit)? {
        return Ok(Some((s, path.to_path_buf())));
    }
    let read = std::fs::metadata(path)?.len().min(limit);
    let rotated = rotated(path);
    if read == limit || !rotated.is_file() {
        return Ok(None);
    }
    Ok(find(&rotated, decision_id, limit - read)?.map(|s| (s, rotated)))
}

/// `PATH.1`: the name logrotate gives the file at `path` when it rotates it.
pub fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}

/// The newest record with `decision_id` in the last `limit` bytes of the file at `path`.
pub fn find(path: &Path, decision_id: &str, limit: u64) -> std::io::Result<Option<Shown>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let floor = len.saturating_sub(limit);
    let needle = memchr::memmem::FinderRev::new(decision_id.as_bytes());
    // The start of the line the previous (later) chunk began inside: its first bytes are at
    // the end of the chunk read next.
    let mut carry: Vec<u8> = Vec::new();
    let mut end = len;
    while end > floor {
        let start = end.saturating_sub(CHUNK).max(floor);
        let mut buf = vec![0; (end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(&mut buf)?;
        buf.extend_from_slice(&carry);
        // Bytes before the first newline continue a line that starts earlier, unless the
        // chunk begins at the start of the file.
        let whole_from = if start == 0 {
            0
        } else {
            match memchr::memchr(b'\n', &buf) {
                Some(i) => i + 1,
                None => {
                    carry = buf;
                    end = start;
                    continue;
                }
            }
        };
        let lines = &buf[whole_from..];
        for hit in needle.rfind_iter(lines) {
            let from = memchr::memrchr(b'\n', &lines[..hit]).map_or(0, |i| i + 1);
            let to = memchr::memchr(b'\n', &lines[hit..]).map_or(lines.len(), |i| hit + i);
            if let Some(s) = Shown::from_line(&lines[from..to]) {
                if s.decision_id == decision_id {
                    return Ok(Some(s));
                }
            }
        }
        buf.truncate(whole_from);
        carry = buf;
        end = start;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::recent::tests::record;
    use std::io::Write;

    fn line(id: &str, path: &str) -> String {
        let mut r = record("block", "com.a");
        r.decision_id = id.into();
        r.path = path.into();
        serde_json::to_string(&r).unwrap() + "\n"
    }

    #[test]
    fn finds_the_newest_record_across_chunks_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.jsonl");
        let mut f = File::create(&p).unwrap();
        f.write_all(line("old-1", "/first").as_bytes()).unwrap();
        // Lines longer than a chunk, so records straddle chunk boundaries.
        let filler = "x".repeat(CHUNK as usize + 10);
        for i in 0..3 {
            f.write_all(line(&format!("f{i}"), &filler).as_bytes())
                .unwrap();
        }
        f.write_all(line("old-1", "/second").as_bytes()).unwrap();
        f.write_all(line("mid", "/mid").as_bytes()).unwrap();
        f.write_all(b"not json old-1\n").unwrap();
        drop(f);
        let got = find(&p, "old-1", u64::MAX).unwrap().unwrap();
        assert_eq!(got.path, "/second", "the newest of two");
        let f1 = find(&p, "f1", u64::MAX).unwrap().unwrap();
        assert_eq!(f1.decision_id, "f1");
        assert!(find(&p, "nowhere", u64::MAX).unwrap().is_none());
        assert!(find(&p, "f0", 1000).unwrap().is_none(), "past the bound");
        assert_eq!(find(&p, "mid", 1000).unwrap().unwrap().path, "/mid");
    }

    #[test]
    fn the_rotated_file_is_read_with_what_remains_of_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.jsonl");
        let (old, new) = (line("yesterday", "/y"), line("today", "/t"));
        std::fs::write(&p, &new).unwrap();
        assert!(find_with_rotated(&p, "yesterday", u64::MAX)
            .unwrap()
            .is_none());
        std::fs::write(rotated(&p), &old).unwrap();
        let (got, file) = find_with_rotated(&p, "yesterday", u64::MAX)
            .unwrap()
            .unwrap();
        assert_eq!((got.path.as_str(), file), ("/y", rotated(&p)));
        let (_, file) = find_with_rotated(&p, "today", u64::MAX).unwrap().unwrap();
        assert_eq!(file, p, "the current file first");
        let both = (new.len() + old.len()) as u64;
        assert!(find_with_rotated(&p, "yesterday", both).unwrap().is_some());
        assert!(
            find_with_rotated(&p, "yesterday", both - 1)
                .unwrap()
                .is_none(),
            "the bound covers both files"
        );
        assert!(find_with_rotated(&p, "yesterday", new.len() as u64)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_line_cut_by_the_bound_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.jsonl");
        let l = line("cut", "/c");
        std::fs::write(&p, &l).unwrap();
        assert!(find(&p, "cut", l.len() as u64 - 1).unwrap().is_none());
        assert!(find(&p, "cut", l.len() as u64).unwrap().is_some());
    }
}
