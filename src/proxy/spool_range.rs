//! A window of a finished spool for the inspector: `Read + Seek` relative to the window, and
//! positional reads (`inspect::ReadAt`) that other threads may make at the same time.
//!
//! Owns: `Store` (where a finished spool's bytes are: memory or the unnamed temp file) and
//! `Range`.
//! Must not: move the file's own offset (the replay reads the same file), or read outside the
//! window.
//! Invariant: every read is of bytes `start..end` of the body, never past `end`.

use bytes::Bytes;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Where a finished spool's bytes are.
#[derive(Clone)]
pub enum Store {
    Memory(Bytes),
    File(Arc<File>),
}

/// A window of a spooled body; implements `Read + Seek` relative to the window.
pub struct Range {
    store: Store,
    start: u64,
    end: u64,
    pos: u64,
}

impl Range {
    /// Bytes `start..end` of `store` (`start <= end <= the body's length`).
    pub fn new(store: Store, start: u64, end: u64) -> Range {
        Range {
            store,
            start,
            end,
            pos: 0,
        }
    }
}

impl Read for Range {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.start).saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let at = self.start + self.pos;
        let got = match &self.store {
            Store::Memory(b) => {
                buf[..n].copy_from_slice(&b[at as usize..at as usize + n]);
                n
            }
            // Positional reads: the file offset (used by the replay) is never moved.
            Store::File(f) => f.read_at(&mut buf[..n], at)?,
        };
        self.pos += got as u64;
        Ok(got)
    }
}

/// Positional reads of the window from any thread (the content-digest pass hashes on every
/// core); the window's own cursor is not moved.
impl crate::inspect::ReadAt for Range {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let end = off.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.end - self.start) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let at = self.start + off;
        match &self.store {
            Store::Memory(b) => buf.copy_from_slice(&b[at as usize..at as usize + buf.len()]),
            Store::File(f) => FileExt::read_exact_at(&**f, buf, at)?,
        }
        Ok(())
    }
}

impl Seek for Range {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let len = (self.end - self.start) as i128;
        let target = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => len + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        self.pos = target.min(u64::MAX as i128) as u64;
        Ok(self.pos)
    }
}
