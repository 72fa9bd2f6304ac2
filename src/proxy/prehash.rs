//! Chunk digests of an upload's package computed while its body streams in, so that the
//! content-digest pass after the last byte only hashes the tail (`inspect::DigestAid`).
//!
//! Owns: cutting the package's bytes (the whole raw body, or a multipart part from its first
//! content byte) into 1 MiB chunks and hashing each on a blocking thread while the next one
//! arrives.
//! Must not: change, hold back or delay the body beyond one bounded hand-off (two chunks in
//! flight, then the reader waits for the hasher), start a thread for a body smaller than one
//! chunk, or claim a start offset it did not see from the start.
//! Invariant: the digests `finish` returns are those of the package's whole chunks from
//! `start`, in order, with no byte skipped.

use crate::inspect::ChunkDigests;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const CHUNK: usize = 1 << 20;

/// Feeds 1 MiB chunks of the package to a hashing thread.
pub struct Prehasher {
    /// Body offset of the package's first byte, once known.
    start: Option<u64>,
    /// Body bytes seen so far (the offset of the next frame).
    seen: u64,
    /// The partial chunk.
    buf: BytesMut,
    worker: Option<(mpsc::Sender<Bytes>, JoinHandle<ChunkDigests>)>,
    /// Set when a chunk could not be handed over: the digests are incomplete, so none are used.
    broken: bool,
}

impl Prehasher {
    /// For a package that starts at body offset `start` (0 for a raw body); `None` until a
    /// multipart scanner names the part (`begin_at`).
    pub fn new(start: Option<u64>) -> Self {
        Prehasher {
            start,
            seen: 0,
            buf: BytesMut::new(),
            worker: None,
            broken: false,
        }
    }

    /// The package starts at body offset `start`; ignored once started, or when that offset
    /// is behind the bytes already seen before this frame (they were not kept).
    pub fn begin_at(&mut self, start: u64, frame_start: u64) {
        if self.start.is_none() && start >= frame_start {
            self.start = Some(start);
        }
    }

    /// Whether the package's start is known.
    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    /// Body offset of the next frame.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The next frame of the body. Waits only when two chunks are already queued.
    pub async fn feed(&mut self, frame: &[u8]) {
        let frame_start = self.seen;
        self.seen += frame.len() as u64;
        let Some(start) = self.start.filter(|_| !self.broken) else {
            return;
        };
        let skip = start.saturating_sub(frame_start);
        let Some(mut rest) = usize::try_from(skip).ok().and_then(|s| frame.get(s..)) else {
            return;
        };
        while !rest.is_empty() {
            let take = (CHUNK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == CHUNK {
                let chunk = self.buf.split().freeze();
                self.send(chunk).await;
            }
        }
    }

    async fn send(&mut self, chunk: Bytes) {
        let (tx, _) = self.worker.get_or_insert_with(|| {
            let (tx, mut rx) = mpsc::channel::<Bytes>(2);
            let task = tokio::task::spawn_blocking(move || {
                let mut digests = ChunkDigests::new();
                while let Some(c) = rx.blocking_recv() {
                    digests.push(&c);
                }
                digests
            });
            (tx, task)
        });
        if tx.send(chunk).await.is_err() {
            self.broken = true;
        }
    }

    /// The package's start offset and the digests of its whole chunks, once the hashing
    /// thread has caught up; None when nothing was hashed.
    pub async fn finish(self) -> Option<(u64, ChunkDigests)> {
        let (tx, task) = self.worker?;
        drop(tx);
        let digests = task.await.ok()?;
        let start = self.start.filter(|_| !self.broken)?;
        Some((start, digests))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests_of(bytes: &[u8]) -> Vec<Vec<u8>> {
        bytes
            .chunks(CHUNK)
            .filter(|c| c.len() == CHUNK)
            .map(|c| crate::inspect::chunk_sha256(c).to_vec())
            .collect()
    }

    #[tokio::test]
    async fn frames_of_any_size_give_the_chunks_from_the_start_offset() {
        let body: Vec<u8> = (0..3 * CHUNK + 5000).map(|i| (i % 251) as u8).collect();
        let start = 777;
        let mut p = Prehasher::new(None);
        let mut sizes = [1usize, 700, 65536, 3, 1 << 20].iter().cycle();
        let mut at = 0;
        while at < body.len() {
            let n = (*sizes.next().unwrap()).min(body.len() - at);
            let frame_start = p.seen();
            if frame_start + n as u64 > start && !p.started() {
                p.begin_at(start, frame_start);
            }
            p.feed(&body[at..at + n]).await;
            at += n;
        }
        let (s, d) = p.finish().await.unwrap();
        assert_eq!(s, start);
        assert_eq!(d.len(), 3);
        let want = digests_of(&body[start as usize..]);
        let got: Vec<Vec<u8>> = (0..d.len())
            .map(|i| d.sha256(i).unwrap().to_vec())
            .collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_small_body_starts_no_thread_and_a_missed_start_is_not_claimed() {
        let mut p = Prehasher::new(Some(0));
        p.feed(&[1u8; 1000]).await;
        assert!(p.finish().await.is_none());
        let mut late = Prehasher::new(None);
        late.feed(&[0u8; 100]).await;
        late.begin_at(50, 100);
        assert!(!late.started(), "bytes before the frame were not kept");
    }
}
