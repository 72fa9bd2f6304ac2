//! The publisher: registry export → feed directory (`icpgate feed build`), and the full check
//! of a feed directory (`icpgate feed verify`).
//!
//! Owns revision numbering, delta computation against the previous state, folding deltas into
//! a new snapshot past `fold_after`, and atomic file writes (temp file + rename; data files
//! first, the signature and manifest last).
//! Must not: leave a manifest that names a file not yet written, or publish an unsigned
//! manifest.
//! Invariant: after `build`, replaying the feed's snapshot and deltas gives exactly the export's
//! records, and every state checksum in the manifest is the checksum of the state it names.

use super::format::{
    check_file, compress, decompress, delta_line, parse_delta_line, sha256_hex, verify, Checksum,
    DeltaRef, FormatError, Manifest, PublicKey, SigningKey, SnapshotRef, FORMAT, MANIFEST,
    SIGNATURE,
};
use crate::filing::record::parse_line;
use crate::filing::FilingRecord;
use crate::index::Change;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Largest decompressed file the publisher will read back.
const READ_LIMIT: u64 = 64 << 30;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PublishError> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

pub struct BuildOptions {
    /// Write a new snapshot instead of a delta once the manifest lists this many deltas.
    pub fold_after: usize,
    pub min_poll_interval: Duration,
    pub complete_as_of: SystemTime,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            fold_after: 20,
            min_poll_interval: Duration::from_secs(30),
            complete_as_of: SystemTime::now(),
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct BuildSummary {
    pub revision: u64,
    /// "snapshot", "delta" or "unchanged".
    pub wrote: &'static str,
    pub records: u64,
    pub upserts: u64,
    pub removals: u64,
    pub state_checksum: String,
}

/// Number → canonical line: the state a feed describes.
pub type State = BTreeMap<String, String>;

fn checksum(state: &State) -> Checksum {
    let mut c = Checksum::default();
    state.values().for_each(|l| c.add(l.as_bytes()));
    c
}

fn read_manifest(
    dir: &Path,
    keys: &[PublicKey],
) -> Result<Option<(Manifest, Vec<u8>)>, PublishError> {
    let mp = dir.join(MANIFEST);
    if !mp.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&mp).map_err(io(&mp))?;
    let sp = dir.join(SIGNATURE);
    let sig = std::fs::read(&sp).map_err(io(&sp))?;
    verify(&bytes, &sig, keys)?;
    Ok(Some((Manifest::parse(&bytes)?, bytes)))
}

/// Replays a feed directory: verifies the signature, every file's sha256 and size, and the
/// state checksum after the snapshot and after each delta. Returns the manifest and the state.
pub fn load_feed(
    dir: &Path,
    keys: &[PublicKey],
) -> Result<Option<(Manifest, State)>, PublishError> {
    let Some((m, _)) = read_manifest(dir, keys)? else {
        return Ok(None);
    };
    let read = |file: &str, sha: &str, size: u64| -> Result<Vec<u8>, PublishError> {
        let p = dir.join(file);
        let raw = std::fs::read(&p).map_err(io(&p))?;
        check_file(file, &raw, sha, size)?;
        Ok(decompress(file, &raw, READ_LIMIT)?)
    };
    let snap = read(&m.snapshot.file, &m.snapshot.sha256, m.snapshot.size)?;
    let mut state = State::new();
    for (i, line) in std::str::from_utf8(&snap)
        .map_err(|e| PublishError::Invalid(format!("{}: {e}", m.snapshot.file)))?
        .lines()
        .enumerate()
    {
        let r = parse_line(line).map_err(|e| FormatError::Line {
            file: m.snapshot.file.clone(),
            line: i + 1,
            reason: e.to_string(),
        })?;
        if r.canonical_line() != line {
            return Err(FormatError::Line {
                file: m.snapshot.file.clone(),
                line: i + 1,
                reason: "not the canonical form of its record".into(),
            }
            .into());
        }
        state.insert(r.number.to_string(), line.to_string());
    }
    expect_checksum(&state, &m.snapshot.state_checksum, &m.snapshot.file)?;
    for d in &m.deltas {
        let bytes = read(&d.file, &d.sha256, d.size)?;
        for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
            let c = parse_delta_line(line).map_err(|reason| FormatError::Line {
                file: d.file.clone(),
                line: i + 1,
                reason,
            })?;
            match c {
                Change::Upsert(r) => {
                    state.insert(r.number.to_string(), r.canonical_line());
                }
                Change::Remove(n) => {
                    if state.remove(&n.to_string()).is_none() {
                        return Err(PublishError::Invalid(format!(
                            "{}:{}: removes {n}, which the state does not hold",
                            d.file,
                            i + 1
                        )));
                    }
                }
            }
        }
        expect_checksum(&state, &d.state_checksum, &d.file)?;
    }
    Ok(Some((m, state)))
}

fn expect_checksum(state: &State, want: &str, file: &str) -> Result<(), PublishError> {
    let got = checksum(state).to_hex();
    if got != want {
        return Err(PublishError::Invalid(format!(
            "{file}: state checksum {got} does not match the manifest's {want}"
        )));
    }
    Ok(())
}

fn write_data(dir: &Path, file: &str, lines: &[String]) -> Result<(String, u64), PublishError> {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    let p = dir.join(file);
    let z = compress(text.as_bytes()).map_err(io(&p))?;
    write_atomic(&p, &z)?;
    Ok((sha256_hex(&z), z.len() as u64))
}

/// Builds the next revision of the feed in `dir` from `records` (see module docs).
pub fn build(
    records: &[FilingRecord],
    dir: &Path,
    key: &SigningKey,
    trust: &[PublicKey],
    opts: &BuildOptions,
) -> Result<BuildSummary, PublishError> {
    let mut keys = trust.to_vec();
    keys.push(key.public());
    let previous = load_feed(dir, &keys)?;
    let next: State = records
        .iter()
        .map(|r| (r.number.to_string(), r.canonical_line()))
        .collect();
    let sum = checksum(&next);
    let mut summary = BuildSummary {
        revision: 1,
        wrote: "snapshot",
        records: next.len() as u64,
        upserts: 0,
        removals: 0,
        state_checksum: sum.to_hex(),
    };
    let manifest = match previous {
        Some((prev, old)) => {
            let changes = changes(&old, &next);
            summary.upserts = changes
                .iter()
                .filter(|c| matches!(c, Change::Upsert(_)))
                .count() as u64;
            summary.removals = changes.len() as u64 - summary.upserts;
            next_manifest(
                dir,
                prev,
                &changes,
                &next,
                sum,
                opts.fold_after,
                &mut summary,
            )?
        }
        None => snapshot_manifest(dir, &next, 1, sum)?,
    };
    let m = Manifest {
        complete_as_of: humantime::format_rfc3339_seconds(opts.complete_as_of).to_string(),
        min_poll_interval_seconds: opts.min_poll_interval.as_secs(),
        key_id: key.public().id(),
        ..manifest
    };
    write_signed(dir, key, &m)?;
    Ok(summary)
}

/// Writes the manifest's signature, then the manifest, each atomically.
fn write_signed(dir: &Path, key: &SigningKey, m: &Manifest) -> Result<(), PublishError> {
    let bytes = serde_json::to_vec_pretty(m).map_err(|e| PublishError::Invalid(e.to_string()))?;
    write_atomic(&dir.join(SIGNATURE), key.sign(&bytes).as_bytes())?;
    write_atomic(&dir.join(MANIFEST), &bytes)?;
    Ok(())
}

/// What turns `old` into `next`: an upsert per new or changed record, then a removal per
/// record of `old` that `next` lacks.
fn changes(old: &State, next: &State) -> Vec<Change> {
    next.iter()
        .filter(|(n, l)| old.get(*n) != Some(*l))
        .filter_map(|(_, l)| parse_line(l).ok().map(Change::Upsert))
        .chain(
            old.keys()
                .filter(|n| !next.contains_key(*n))
                .filter_map(|n| n.parse().ok().map(Change::Remove)),
        )
        .collect()
}

/// The manifest after `prev` for `changes`: `prev` itself when nothing changed, a fresh
/// snapshot once more than `fold_after` deltas would be listed, else `prev` with one more
/// delta. Records the revision and what was written in `summary`.
fn next_manifest(
    dir: &Path,
    prev: Manifest,
    changes: &[Change],
    next: &State,
    sum: Checksum,
    fold_after: usize,
    summary: &mut BuildSummary,
) -> Result<Manifest, PublishError> {
    if changes.is_empty() {
        summary.revision = prev.revision;
        summary.wrote = "unchanged";
        return Ok(prev);
    }
    summary.revision = prev.revision + 1;
    if prev.deltas.len() + 1 > fold_after {
        return snapshot_manifest(dir, next, summary.revision, sum);
    }
    summary.wrote = "delta";
    let file = format!("deltas/delta-{:010}.ndjson.zst", summary.revision);
    let lines: Vec<String> = changes.iter().map(delta_line).collect();
    let (sha256, size) = write_data(dir, &file, &lines)?;
    let mut m = prev;
    m.deltas.push(DeltaRef {
        file,
        parent: m.revision,
        revision: summary.revision,
        sha256,
        size,
        upserts: summary.upserts,
        removals: summary.removals,
        state_checksum: sum.to_hex(),
    });
    m.revision = summary.revision;
    Ok(m)
}

fn snapshot_manifest(
    dir: &Path,
    state: &State,
    revision: u64,
    sum: Checksum,
) -> Result<Manifest, PublishError> {
    let file = format!("snapshots/snapshot-{revision:010}.ndjson.zst");
    let lines: Vec<String> = state.values().cloned().collect();
    let (sha256, size) = write_data(dir, &file, &lines)?;
    Ok(Manifest {
        format: FORMAT.into(),
        revision,
        complete_as_of: String::new(),
        min_poll_interval_seconds: 0,
        key_id: String::new(),
        snapshot: SnapshotRef {
            file,
            revision,
            sha256,
            size,
            records: state.len() as u64,
            state_checksum: sum.to_hex(),
        },
        deltas: Vec::new(),
    })
}

/// Reads a signing key file, or creates one (owner-only permissions) if it does not exist.
pub fn key_file(path: &Path, create: bool) -> Result<SigningKey, PublishError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(SigningKey::parse(&path.display().to_string(), &text)?),
        Err(e) if create && e.kind() == std::io::ErrorKind::NotFound => {
            let (key, text) = SigningKey::generate()?;
            write_atomic(path, text.as_bytes())?;
            restrict(path)?;
            Ok(key)
        }
        Err(source) => Err(PublishError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Makes a key file readable by its owner only.
pub fn restrict(path: &Path) -> Result<(), PublishError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))
}

#[cfg(test)]
mod tests;
