//! The binary index file: one index layer as encoded in memory (record arena, entity arena,
//! live record offsets and, for an overlay, its tombstones) with the revision and feed state
//! checksum it belongs to, so a restart rebuilds a revision without parsing any NDJSON.
//!
//! Owns the file format (below), its atomic write (temp file, fsync, rename, directory fsync)
//! and its checked read, and the base/overlay pairing of `save_base`, `save_overlay`, `restore`.
//! Must not: panic on a truncated, corrupt or foreign file, allocate more than the file holds,
//! or accept a file whose magic, version, lengths or checksum do not match.
//! Invariant: `restore(save(r))` is a revision with `r`'s revision, checksum and live records;
//! any other byte sequence is an error.
//!
//! Layout, integers little endian: magic `ICPGIDX\0` (8) | format version u32 | kind u32
//! (1 base, 2 overlay) | revision u64 | state checksum u128 | base revision u64 | base
//! checksum u128 | record arena bytes u64 | entity name bytes u64 | entity count u64 | record
//! count u64 | tombstone count u64 | XXH3-128 of the header before it and the payload (16) ||
//! payload: record arena | entity names (UTF-8) | entity ends (u32 each) | record offsets
//! (u32 each) | tombstoned base offsets (u32 each).

use super::base::Base;
use super::hugebuf::HugeBuf;
use super::store::Entities;
use super::Revision;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::Xxh3;

pub const MAGIC: &[u8; 8] = b"ICPGIDX\0";
/// 2: the record layout puts the ids before the app name (index/store.rs).
pub const VERSION: u32 = 2;
/// Header bytes before the payload.
pub const HEADER: usize = 120;
/// Offset of the version field, for tests that forge one.
pub const VERSION_AT: usize = 8;
const HASH_AT: usize = HEADER - 16;

/// Why an index file cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Format { path: PathBuf, reason: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Base = 1,
    Overlay = 2,
}

/// What a file says it is: its layer kind, the revision and state checksum it completes, and
/// the base (revision, checksum) it belongs on (itself, for a base).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    pub revision: u64,
    pub checksum: u128,
    pub base_revision: u64,
    pub base_checksum: u128,
}

struct Parts<'a> {
    blob: &'a [u8],
    names: &'a str,
    ends: &'a [u32],
    records: &'a [u32],
    tombstones: &'a [u32],
}

struct Owned {
    blob: HugeBuf<u8>,
    names: String,
    ends: Vec<u32>,
    records: Vec<u32>,
    tombstones: Vec<u32>,
}

fn header(m: &Meta, p: &Parts<'_>) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    let mut at = 0;
    let mut put = |b: &[u8]| {
        h[at..at + b.len()].copy_from_slice(b);
        at += b.len();
    };
    put(MAGIC);
    put(&VERSION.to_le_bytes());
    put(&(m.kind as u32).to_le_bytes());
    put(&m.revision.to_le_bytes());
    put(&m.checksum.to_le_bytes());
    put(&m.base_revision.to_le_bytes());
    put(&m.base_checksum.to_le_bytes());
    for n in [
        p.blob.len(),
        p.names.len(),
        p.ends.len(),
        p.records.len(),
        p.tombstones.len(),
    ] {
        put(&(n as u64).to_le_bytes());
    }
    h
}

/// Feeds `v` as little-endian bytes to `f`, a bounded chunk at a time.
fn le_chunks(v: &[u32], mut f: impl FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(64 * 1024);
    for chunk in v.chunks(16 * 1024) {
        buf.clear();
        chunk
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
        f(&buf)?;
    }
    Ok(())
}

fn payload_hash(head: &[u8], p: &Parts<'_>) -> u128 {
    let mut h = Xxh3::new();
    h.update(&head[..HASH_AT]);
    h.update(p.blob);
    h.update(p.names.as_bytes());
    for v in [p.ends, p.records, p.tombstones] {
        let _ = le_chunks(v, |b| {
            h.update(b);
            Ok(())
        });
    }
    h.digest128()
}

/// Writes `path` atomically: a temp file in the same directory, fsynced, renamed over `path`,
/// then the directory fsynced so the rename itself is durable.
fn write(path: &Path, m: &Meta, p: &Parts<'_>) -> Result<(), PersistError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PersistError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("index");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut head = header(m, p);
    let hash = payload_hash(&head, p);
    head[HASH_AT..].copy_from_slice(&hash.to_le_bytes());
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let body = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        w.write_all(&head)?;
        w.write_all(p.blob)?;
        w.write_all(p.names.as_bytes())?;
        for v in [p.ends, p.records, p.tombstones] {
            le_chunks(v, |b| w.write_all(b))?;
        }
        w.flush()?;
        w.get_ref().sync_all()
    };
    body(&mut w).map_err(io(&tmp))?;
    drop(w);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

fn bad(path: &Path, reason: impl Into<String>) -> PersistError {
    PersistError::Format {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn le_u128(b: &[u8], at: usize) -> u128 {
    let mut x = [0u8; 16];
    x.copy_from_slice(&b[at..at + 16]);
    u128::from_le_bytes(x)
}

/// Parses and checks a header against the file's length; returns its meta and part lengths.
fn parse_header(path: &Path, h: &[u8; HEADER], len: u64) -> Result<(Meta, [u64; 5]), PersistError> {
    if &h[..8] != MAGIC {
        return Err(bad(path, "not an icpgate index file (bad magic)"));
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != VERSION {
        return Err(bad(
            path,
            format!("format version {version}, this build reads version {VERSION}"),
        ));
    }
    let kind = match u32::from_le_bytes([h[12], h[13], h[14], h[15]]) {
        1 => Kind::Base,
        2 => Kind::Overlay,
        k => return Err(bad(path, format!("unknown layer kind {k}"))),
    };
    let meta = Meta {
        kind,
        revision: le_u64(h, 16),
        checksum: le_u128(h, 24),
        base_revision: le_u64(h, 40),
        base_checksum: le_u128(h, 48),
    };
    let lens = [0, 1, 2, 3, 4].map(|i| le_u64(h, 64 + 8 * i));
    let words = lens[2..].iter().try_fold(0u64, |a, &n| a.checked_add(n));
    let payload = words
        .and_then(|w| w.checked_mul(4))
        .and_then(|w| w.checked_add(lens[0])?.checked_add(lens[1]));
    if payload != len.checked_sub(HEADER as u64) {
        return Err(bad(
            path,
            format!("truncated or corrupt: {len} bytes, the header announces a different size"),
        ));
    }
    if lens[0] > u32::MAX as u64 || lens[1] > u32::MAX as u64 {
        return Err(bad(path, "a layer larger than 4 GiB cannot be addressed"));
    }
    Ok((meta, lens))
}

fn read_vec(r: &mut impl Read, n: u64) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0u8; n as usize];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn read_words(r: &mut impl Read, n: u64) -> std::io::Result<Vec<u32>> {
    let bytes = read_vec(r, n * 4)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Reads and fully checks one index file of the expected kind.
fn read(path: &Path, want: Kind) -> Result<(Meta, Owned), PersistError> {
    let io = |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut h = [0u8; HEADER];
    if len < HEADER as u64 {
        return Err(bad(
            path,
            format!("truncated: {len} bytes, the header alone is {HEADER}"),
        ));
    }
    r.read_exact(&mut h).map_err(io)?;
    let (meta, lens) = parse_header(path, &h, len)?;
    if meta.kind != want {
        return Err(bad(
            path,
            format!(
                "a {:?} layer where a {want:?} layer was expected",
                meta.kind
            ),
        ));
    }
    // The arena goes straight into its final (huge-page) buffer: no second copy of ~700 MB.
    let mut blob = HugeBuf::zeroed(lens[0] as usize);
    r.read_exact(&mut blob).map_err(io)?;
    let names = read_vec(&mut r, lens[1]).map_err(io)?;
    let ends = read_words(&mut r, lens[2]).map_err(io)?;
    let records = read_words(&mut r, lens[3]).map_err(io)?;
    let tombstones = read_words(&mut r, lens[4]).map_err(io)?;
    let names = String::from_utf8(names).map_err(|_| bad(path, "entity names are not UTF-8"))?;
    let owned = Owned {
        blob,
        names,
        ends,
        records,
        tombstones,
    };
    let parts = Parts {
        blob: &owned.blob,
        names: &owned.names,
        ends: &owned.ends,
        records: &owned.records,
        tombstones: &owned.tombstones,
    };
    if payload_hash(&h, &parts) != le_u128(&h, HASH_AT) {
        return Err(bad(
            path,
            "checksum does not match the contents (corrupt file)",
        ));
    }
    if owned
        .records
        .iter()
        .any(|&o| o as usize >= owned.blob.len())
    {
        return Err(bad(path, "a record offset lies outside the record arena"));
    }
    Ok((meta, owned))
}

fn layer_parts<'a>(l: &'a Base, tombstones: &'a [u32]) -> Parts<'a> {
    let (blob, entities, records) = l.encoded_parts();
    let (names, ends) = entities.parts();
    Parts {
        blob,
        names,
        ends,
        records,
        tombstones,
    }
}

/// Writes the base layer of `rev`, labelled with the base's own revision and checksum.
pub fn save_base(rev: &Revision, path: &Path) -> Result<(), PersistError> {
    let (revision, checksum) = rev.base_key();
    let meta = Meta {
        kind: Kind::Base,
        revision,
        checksum,
        base_revision: revision,
        base_checksum: checksum,
    };
    write(path, &meta, &layer_parts(&rev.base, &[]))
}

/// Writes the overlay of `rev` (its upserted records and tombstones), labelled with the
/// revision, its checksum and the base it lies on. `Ok(false)`: `rev` has no overlay.
pub fn save_overlay(rev: &Revision, path: &Path) -> Result<bool, PersistError> {
    let Some(ov) = &rev.overlay else {
        return Ok(false);
    };
    let (base_revision, base_checksum) = rev.base_key();
    let meta = Meta {
        kind: Kind::Overlay,
        revision: rev.revision,
        checksum: rev.checksum,
        base_revision,
        base_checksum,
    };
    let mut tomb: Vec<u32> = ov.tombstones.iter().copied().collect();
    tomb.sort_unstable();
    write(path, &meta, &layer_parts(&ov.layer, &tomb))?;
    Ok(true)
}

fn layer(path: &Path, o: Owned, bloom: bool) -> Result<Base, PersistError> {
    let entities = Entities::from_parts(o.names, o.ends)
        .ok_or_else(|| bad(path, "entity arena is corrupt"))?;
    Ok(Base::from_encoded(o.blob, entities, o.records, bloom))
}

/// Rebuilds a revision from a base file and, when the revision had one, its overlay file.
/// Blocking and CPU-heavy (the id maps are rebuilt with a fresh hash key): call off the async
/// threads.
pub fn restore(base: &Path, overlay: Option<&Path>, bloom: bool) -> Result<Revision, PersistError> {
    let (bm, bo) = read(base, Kind::Base)?;
    if !bo.tombstones.is_empty() {
        return Err(bad(base, "a base layer has no tombstones"));
    }
    let over = match overlay {
        Some(p) => {
            let (m, mut o) = read(p, Kind::Overlay)?;
            if (m.base_revision, m.base_checksum) != (bm.revision, bm.checksum) {
                return Err(bad(
                    p,
                    format!(
                        "overlay belongs on base revision {} ({:032x}), the base file holds {} ({:032x})",
                        m.base_revision, m.base_checksum, bm.revision, bm.checksum
                    ),
                ));
            }
            let tomb = std::mem::take(&mut o.tombstones);
            Some((p, m, o, tomb))
        }
        None => None,
    };
    // The overlay layer is small: rebuild it beside the base instead of after it.
    let (b, side) = std::thread::scope(|s| {
        let side = over.map(|(p, m, o, tomb)| (p, m, tomb, s.spawn(move || layer(p, o, false))));
        let b = layer(base, bo, bloom);
        let side = side.map(|(p, m, tomb, h)| {
            let l = h
                .join()
                .unwrap_or_else(|_| Err(bad(p, "overlay rebuild failed")));
            (p, m, tomb, l)
        });
        (b, side)
    });
    let rev = Revision::from_base(bm.revision, "feed cache", b?, bm.checksum);
    let Some((p, m, tomb, l)) = side else {
        return Ok(rev);
    };
    rev.with_overlay(m.revision, m.checksum, l?, &tomb)
        .ok_or_else(|| bad(p, "a tombstone does not name a record of the base"))
}

#[cfg(test)]
mod tests;
