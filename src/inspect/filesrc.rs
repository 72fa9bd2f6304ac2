//! A package file read with positional reads (`pread`), for `inspect_file`.
//!
//! Owns: `PosFile`, a `Read + Seek` view of a file whose `seek` only moves a cursor and whose
//! `read` is one positional read of exactly the bytes asked for.
//! Must not: buffer or read ahead (a `BufReader` refills 64 KiB after every seek, and the
//! inspector seeks before nearly every read: EOCD, central directory, each local header, the
//! manifest, the signing block), or change the file.
//! Invariant: `pos` is the offset of the next byte `read` returns; `len` is the file length
//! taken once at open (the inspector checks every range against it before reading).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// A file read at a cursor with `pread`; seeking costs no system call.
pub struct PosFile {
    f: File,
    pos: u64,
    len: u64,
}

impl PosFile {
    pub fn new(mut f: File) -> io::Result<Self> {
        // The length from `lseek`, a lighter system call than the `statx` behind `metadata`
        // (reads are positional, so the file cursor left at the end does not matter); a file
        // that cannot seek (a pipe) gets its length from `metadata` as before.
        let len = match f.seek(SeekFrom::End(0)) {
            Ok(len) => len,
            Err(_) => f.metadata()?.len(),
        };
        Ok(PosFile { f, pos: 0, len })
    }
}

impl Read for PosFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.f.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PosFile {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before start of file")
        })?;
        Ok(self.pos)
    }
}
