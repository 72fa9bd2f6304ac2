//! The chunked content-digest pass, made fast: chunk digests computed before the inspection
//! (while an upload streams in) and the remaining chunks hashed on every core.
//!
//! Owns: `ReadAt` (positional reads another thread can make), `ChunkDigests` (SHA-256 digests
//! of the leading 1 MiB chunks of a package, computed by whoever saw its bytes first), the
//! per-chunk digest, and `hash_jobs`, which digests a list of byte ranges serially or on
//! scoped threads.
//! Must not: trust a precomputed digest for bytes it does not cover (only whole chunks that
//! start at a multiple of 1 MiB from the package's first byte are ever taken from
//! `ChunkDigests`), hold more than one chunk per thread in memory, or spawn a thread for
//! work too small to pay for it.
//! Invariant: `hash_jobs` returns, for every job in order, what its digest function makes of
//! the job's bytes, exactly as the serial computation would.

use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256, Sha384, Sha512};

use super::error::InspectError;

/// The v2/v3/HAP chunk size.
pub const CHUNK: u64 = 1 << 20;

/// Below this many bytes to hash, threads cost more than they save.
const PARALLEL_FROM: u64 = 8 * CHUNK;

/// A content digest kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sha256,
    Sha384,
    Sha512,
}

/// Positional reads of the package, usable from several threads at once.
pub trait ReadAt: Send + Sync {
    /// Fills `buf` with the package bytes at `off`.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, off)
    }
}

impl ReadAt for bytes::Bytes {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let at = usize::try_from(off).map_err(io::Error::other)?;
        let src = at
            .checked_add(buf.len())
            .and_then(|end| self.get(at..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// What speeds up the digest pass of one inspection; both parts are optional and the result
/// is the same without them.
#[derive(Clone, Default)]
pub struct DigestAid {
    /// The same package bytes as the inspection's reader, for hashing on other threads.
    pub reader: Option<Arc<dyn ReadAt>>,
    /// SHA-256 digests of the package's leading whole chunks.
    pub prehashed: Option<Arc<ChunkDigests>>,
}

/// SHA-256 chunk digests (`0xa5 | u32 len | chunk`) of the first `len()` whole 1 MiB chunks of a
/// package, in order.
#[derive(Debug, Default)]
pub struct ChunkDigests {
    sha256: Vec<[u8; 32]>,
}

impl ChunkDigests {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the digest of the next chunk. Only whole chunks count: a chunk of another length
    /// is refused (`false`), and the digests stay those of the chunks before it.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        if chunk.len() as u64 != CHUNK {
            return false;
        }
        self.sha256.push(chunk_sha256(chunk));
        true
    }

    /// The digest of the `i`th chunk.
    pub fn sha256(&self, i: usize) -> Option<&[u8; 32]> {
        self.sha256.get(i)
    }

    /// Whole chunks covered.
    pub fn len(&self) -> usize {
        self.sha256.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sha256.is_empty()
    }

    /// The digest of the chunk at package offset `off` of length `len`, when it is a whole
    /// chunk this set covers.
    pub(super) fn get(&self, kind: Kind, off: u64, len: u64) -> Option<&[u8]> {
        if kind != Kind::Sha256 || len != CHUNK || off % CHUNK != 0 {
            return None;
        }
        let i = usize::try_from(off / CHUNK).ok()?;
        self.sha256.get(i).map(<[u8; 32]>::as_slice)
    }
}

/// The SHA-256 chunk digest (`0xa5 | u32 len | chunk`) of `chunk`.
pub fn chunk_sha256(chunk: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0xa5]);
    h.update((chunk.len() as u32).to_le_bytes());
    h.update(chunk);
    h.finalize().into()
}

/// The chunk digest (`0xa5 | u32 len | chunk`) of `chunk` with `kind`.
pub fn chunk_digest(kind: Kind, chunk: &[u8]) -> Vec<u8> {
    fn of<D: Digest>(chunk: &[u8]) -> Vec<u8> {
        let mut h = D::new();
        h.update([0xa5]);
        h.update((chunk.len() as u32).to_le_bytes());
        h.update(chunk);
        h.finalize().to_vec()
    }
    match kind {
        Kind::Sha256 => of::<Sha256>(chunk),
        Kind::Sha384 => of::<Sha384>(chunk),
        Kind::Sha512 => of::<Sha512>(chunk),
    }
}

/// One byte range to hash as one chunk.
#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub off: u64,
    pub len: u64,
}

/// Reads one job's bytes into the buffer given (the serial pass's reader).
pub type ReadJob<'a> = &'a mut dyn FnMut(Job, &mut [u8]) -> Result<(), InspectError>;

/// What is computed from one job's bytes.
pub type JobDigest<'a> = &'a (dyn Fn(&[u8]) -> Vec<Vec<u8>> + Sync);

/// The chunk digest of every kind in `kinds`, in order.
pub fn chunked<'a>(kinds: &'a [Kind]) -> impl Fn(&[u8]) -> Vec<Vec<u8>> + Sync + 'a {
    move |chunk| kinds.iter().map(|&k| chunk_digest(k, chunk)).collect()
}

/// `f` of every job's bytes, in job order. With a `reader` and enough bytes, the jobs are
/// shared among scoped threads, one per core; otherwise `serial` reads each job's bytes into
/// the buffer it is given.
pub fn hash_jobs(
    jobs: &[Job],
    f: JobDigest<'_>,
    reader: Option<&dyn ReadAt>,
    serial: ReadJob<'_>,
) -> Result<Vec<Vec<Vec<u8>>>, InspectError> {
    let total: u64 = jobs.iter().map(|j| j.len).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    match reader {
        Some(r) if threads > 1 && total >= PARALLEL_FROM => parallel(jobs, f, r, threads),
        _ => {
            let mut buf = vec![0u8; jobs.iter().map(|j| j.len).max().unwrap_or(0) as usize];
            let mut out = Vec::with_capacity(jobs.len());
            for &job in jobs {
                let chunk = &mut buf[..job.len as usize];
                serial(job, chunk)?;
                out.push(f(chunk));
            }
            Ok(out)
        }
    }
}

fn parallel(
    jobs: &[Job],
    f: JobDigest<'_>,
    reader: &dyn ReadAt,
    threads: usize,
) -> Result<Vec<Vec<Vec<u8>>>, InspectError> {
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Vec<Vec<u8>>>> = Mutex::new(vec![Vec::new(); jobs.len()]);
    let work = || -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK as usize];
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(i) else {
                return Ok(());
            };
            let chunk = buf
                .get_mut(..job.len as usize)
                .ok_or_else(|| io::Error::other("chunk larger than 1 MiB"))?;
            reader.read_exact_at(chunk, job.off)?;
            let digests = f(chunk);
            if let Ok(mut o) = out.lock() {
                o[i] = digests;
            }
        }
    };
    let results: Vec<io::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("hash thread panicked")))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    out.into_inner()
        .map_err(|_| InspectError::Io(io::Error::other("hash results poisoned")))
}

/// Reads exactly `buf.len()` bytes from `r`.
pub fn fill(mut r: impl Read, buf: &mut [u8]) -> Result<(), InspectError> {
    r.read_exact(buf)?;
    Ok(())
}

#[cfg(test)]
#[path = "chunks_tests.rs"]
mod tests;
