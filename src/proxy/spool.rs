//! Upload spooling: hold a request body in memory up to a threshold, past it in a temp file,
//! then let the inspector read any byte range of it and replay all of it, byte for byte.
//!
//! Temp files are created unnamed (`tempfile::tempfile_in`: `O_TMPFILE` on Linux, otherwise
//! created and unlinked at once), so no path — allow, block, error, client abort, shutdown,
//! even `kill -9` — can leave a file in the spool directory: the space is returned when the
//! last handle closes. `icpgate_upload_spool_files` / `_bytes` count the live spools; the
//! handles live exactly as long as the `Spool`, the `Spooled` or the replay body.
//! Owns: the spool, its range reader and its replay body.
//! Must not: keep more than `memory_threshold` bytes of a body in memory (plus one write
//! buffer), or change a byte of what it replays.
//! Invariant: `Spooled::body` yields exactly the bytes pushed, in order.

use super::body::{self, ProxyBody};
pub use super::spool_range::Range;
use super::spool_range::Store;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use prometheus::IntGauge;
use std::fs::File;
use std::future::Future;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Bytes gathered before each write to the file (one blocking write per this many bytes).
pub const WRITE_BUFFER: usize = 256 << 10;
/// Bytes read per replayed frame.
const READ_CHUNK: usize = 256 << 10;

/// The two gauges a spool keeps current.
#[derive(Clone)]
pub struct SpoolGauges {
    pub files: IntGauge,
    pub bytes: IntGauge,
}

/// Keeps the gauges right for as long as any part of a spool is alive.
struct Accounting {
    gauges: SpoolGauges,
    bytes: u64,
    file: bool,
}

impl Accounting {
    fn add(&mut self, n: usize) {
        self.bytes += n as u64;
        self.gauges.bytes.add(n as i64);
    }
    fn file_opened(&mut self) {
        self.file = true;
        self.gauges.files.inc();
    }
}

impl Drop for Accounting {
    fn drop(&mut self) {
        self.gauges.bytes.sub(self.bytes as i64);
        if self.file {
            self.gauges.files.dec();
        }
    }
}

/// A body being spooled.
pub struct Spool {
    dir: PathBuf,
    threshold: usize,
    mem: BytesMut,
    file: Option<Arc<File>>,
    pending: BytesMut,
    len: u64,
    acct: Accounting,
}

/// A completely spooled body.
pub struct Spooled {
    store: Store,
    len: u64,
    acct: Accounting,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("spool task failed: {e}")))?
}

impl Spool {
    pub fn new(dir: PathBuf, threshold: usize, gauges: SpoolGauges) -> Spool {
        Spool {
            dir,
            threshold,
            mem: BytesMut::new(),
            file: None,
            pending: BytesMut::new(),
            len: 0,
            acct: Accounting {
                gauges,
                bytes: 0,
                file: false,
            },
        }
    }

    /// Bytes pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Body bytes held in memory right now: at most `memory_threshold`, or once on disk at
    /// most one write buffer plus the last chunk.
    pub fn in_memory(&self) -> usize {
        self.mem.len() + self.pending.len()
    }

    /// Appends a chunk; moves to a temp file once the threshold is passed.
    pub async fn push(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        self.acct.add(chunk.len());
        if self.file.is_none() {
            if self.len <= self.threshold as u64 {
                self.mem.extend_from_slice(chunk);
                return Ok(());
            }
            let dir = self.dir.clone();
            let f = blocking(move || tempfile::tempfile_in(dir)).await?;
            self.file = Some(Arc::new(f));
            self.acct.file_opened();
            self.pending = std::mem::take(&mut self.mem);
        }
        self.pending.extend_from_slice(chunk);
        if self.pending.len() >= WRITE_BUFFER {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        let (Some(f), false) = (self.file.clone(), self.pending.is_empty()) else {
            return Ok(());
        };
        let mut buf = std::mem::take(&mut self.pending);
        let buf = blocking(move || {
            (&*f).write_all(&buf)?;
            buf.clear();
            Ok(buf)
        })
        .await?;
        self.pending = buf;
        Ok(())
    }

    /// Writes out what is buffered and freezes the spool.
    pub async fn finish(mut self) -> io::Result<Spooled> {
        self.flush().await?;
        let store = match self.file.take() {
            Some(f) => Store::File(f),
            None => Store::Memory(std::mem::take(&mut self.mem).freeze()),
        };
        Ok(Spooled {
            store,
            len: self.len,
            acct: self.acct,
        })
    }
}

impl Spooled {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the body went to a temp file.
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// A reader of bytes `start..end` (clamped to the body), for the inspector. Blocking: use
    /// it off the async threads.
    pub fn range(&self, start: u64, end: u64) -> Range {
        let end = end.min(self.len);
        Range::new(self.store.clone(), start.min(end), end)
    }

    /// The whole body again, for the upstream. The spool's accounting moves into the body and
    /// ends when the body is dropped.
    pub fn body(self) -> ProxyBody {
        match self.store {
            Store::Memory(b) => body::boxed(MemoryReplay {
                data: Some(b),
                _acct: self.acct,
            }),
            Store::File(f) => body::boxed(FileReplay {
                file: f,
                pos: 0,
                len: self.len,
                read: None,
                _acct: self.acct,
            }),
        }
    }

    /// The whole body, then `rest`: what a monitor-mode forward of an over-limit body sends.
    pub fn body_then<B>(self, rest: B) -> ProxyBody
    where
        B: Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<body::BoxError>,
    {
        body::boxed(Then {
            first: Some(self.body()),
            rest: body::boxed(rest),
        })
    }
}

struct MemoryReplay {
    data: Option<Bytes>,
    _acct: Accounting,
}

impl Body for MemoryReplay {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(
            self.data
                .take()
                .filter(|b| !b.is_empty())
                .map(|b| Ok(Frame::data(b))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |b| b.len() as u64))
    }
}

type ReadTask = tokio::task::JoinHandle<io::Result<Vec<u8>>>;

/// Replays a spool file with positional reads on the blocking pool, one chunk ahead.
struct FileReplay {
    file: Arc<File>,
    pos: u64,
    len: u64,
    read: Option<ReadTask>,
    _acct: Accounting,
}

impl Body for FileReplay {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.pos >= self.len {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let task = this.read.get_or_insert_with(|| {
            let (f, at) = (this.file.clone(), this.pos);
            let n = (this.len - at).min(READ_CHUNK as u64) as usize;
            tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                f.read_exact_at(&mut buf, at)?;
                Ok(buf)
            })
        });
        let res = match Pin::new(task).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        this.read = None;
        let buf = res.map_err(|e| io::Error::other(format!("spool read failed: {e}")))??;
        this.pos += buf.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pos >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len - self.pos)
    }
}

impl Drop for FileReplay {
    fn drop(&mut self) {
        if let Some(t) = self.read.take() {
            t.abort();
        }
    }
}

/// `first`, then `rest`.
struct Then {
    first: Option<ProxyBody>,
    rest: ProxyBody,
}

impl Body for Then {
    type Data = Bytes;
    type Error = body::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, body::BoxError>>> {
        // `first` is a replay body: data frames only, never trailers.
        if let Some(first) = self.first.as_mut() {
            match Pin::new(first).poll_frame(cx) {
                Poll::Ready(None) => self.first = None,
                other => return other,
            }
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }

    fn size_hint(&self) -> SizeHint {
        let a = self
            .first
            .as_ref()
            .map_or(SizeHint::with_exact(0), |f| f.size_hint());
        let b = self.rest.size_hint();
        let mut h = SizeHint::new();
        h.set_lower(a.lower() + b.lower());
        if let (Some(x), Some(y)) = (a.upper(), b.upper()) {
            h.set_upper(x + y);
        }
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::io::{Read, Seek, SeekFrom};

    fn gauges() -> SpoolGauges {
        SpoolGauges {
            files: IntGauge::new("f", "f").unwrap(),
            bytes: IntGauge::new("b", "b").unwrap(),
        }
    }

    async fn spool(
        dir: &std::path::Path,
        threshold: usize,
        data: &[u8],
        g: &SpoolGauges,
    ) -> Spooled {
        let mut s = Spool::new(dir.to_path_buf(), threshold, g.clone());
        for c in data.chunks(1000) {
            s.push(c).await.unwrap();
        }
        s.finish().await.unwrap()
    }

    #[tokio::test]
    async fn memory_and_file_spools_replay_and_read_ranges_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..700_000u32).map(|i| (i % 253) as u8).collect();
        for threshold in [0, 10_000, 1 << 20] {
            let g = gauges();
            let sp = spool(dir.path(), threshold, &data, &g).await;
            assert_eq!(sp.on_disk(), threshold < data.len());
            assert_eq!(g.bytes.get(), data.len() as i64);
            assert_eq!(g.files.get(), i64::from(sp.on_disk()));
            let mut r = sp.range(100, 5100);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, &data[100..5100]);
            r.seek(SeekFrom::End(-10)).unwrap();
            got.clear();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, &data[5090..5100]);
            assert!(r.seek(SeekFrom::Current(-1_000_000)).is_err());
            let all = sp.body().collect().await.unwrap().to_bytes();
            assert_eq!(&all[..], &data[..]);
            assert_eq!((g.bytes.get(), g.files.get()), (0, 0), "released on drop");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[tokio::test]
    async fn dropping_a_spool_midway_releases_everything() {
        let dir = tempfile::tempdir().unwrap();
        let g = gauges();
        let mut s = Spool::new(dir.path().to_path_buf(), 10, g.clone());
        s.push(&[7u8; 5000]).await.unwrap();
        assert_eq!((g.bytes.get(), g.files.get()), (5000, 1));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "unnamed");
        drop(s);
        assert_eq!((g.bytes.get(), g.files.get()), (0, 0));
    }

    #[tokio::test]
    async fn then_appends_the_unread_rest() {
        let dir = tempfile::tempdir().unwrap();
        let g = gauges();
        let sp = spool(dir.path(), 4, b"abcdefgh", &g).await;
        let rest = http_body_util::Full::new(Bytes::from_static(b"ijk"));
        let b = sp.body_then(rest);
        assert_eq!(b.size_hint().exact(), Some(11));
        let all = b.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], b"abcdefghijk");
    }

    #[tokio::test]
    async fn a_missing_spool_dir_is_an_error_not_a_panic() {
        let g = gauges();
        let mut s = Spool::new(PathBuf::from("/nonexistent/icpgate-spool"), 1, g.clone());
        assert!(s.push(b"abc").await.is_err());
        drop(s);
        assert_eq!(g.bytes.get(), 0);
    }
}
