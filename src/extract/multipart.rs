//! A streaming `multipart/form-data` scanner (RFC 7578 / RFC 2046 §5.1) that records where
//! each part's content lies in the body instead of copying it, and refuses every form that
//! common parsers (Python `email` / `cgi` / `multipart`, Go `mime/multipart`, Node `busboy`,
//! PHP's rfc1867 parser) could read differently.
//!
//! Why not `multer`: it hands out each part's bytes but not their offsets, so the package would
//! have to be stored a second time to be inspected, and replaying the exact request needs the
//! raw body anyway. This scanner sees the raw body once, as it is spooled, and answers "the
//! package is bytes `start..end` of what you stored" plus the small text fields asked for.
//! Owns: the delimiter grammar (every `--boundary` in the body starts a CRLF line and is a
//! delimiter, nothing after it but CRLF or `--`, nothing after the close but one CRLF), the
//! delimiter search across chunk borders, and its limits; the content-type and header readings
//! are in `multipart_headers.rs`.
//! Must not: hold more than `MAX_HEADER_BYTES` + one chunk + one delimiter of the body, keep a
//! value it was not asked for, accept a form with two readings, or panic on any input.
//! Invariant: for every recorded part, `start..end` is exactly its content (between the blank
//! line after its headers and the CRLF before the next delimiter), in body offsets.

use super::names;
use memchr::memmem;

#[path = "multipart_headers.rs"]
mod headers;

use crate::code::Code;

/// Longest block of part headers.
pub const MAX_HEADER_BYTES: usize = 8 << 10;
/// Most parts in one body.
pub const MAX_PARTS: usize = 256;
/// Longest text value kept for a field that was asked for (identifiers are short).
pub const MAX_VALUE_BYTES: usize = 4 << 10;

/// One part of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// `name` of `Content-Disposition: form-data`; `None` when absent.
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    /// Content offsets in the body: `start..end`.
    pub start: u64,
    pub end: u64,
    /// The content, for fields named in `keep` and at most `MAX_VALUE_BYTES` long.
    pub value: Option<Vec<u8>>,
    /// The field was asked for but its content was longer than `MAX_VALUE_BYTES`.
    pub value_too_long: bool,
}

/// Why a body is not multipart with one reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("no boundary parameter, or one that parsers read differently, in the content type")]
    Boundary,
    #[error("part headers longer than {MAX_HEADER_BYTES} bytes")]
    HeadersTooLong,
    #[error("malformed part headers (not CRLF lines of ASCII `name: value`, or folded)")]
    BadHeaders,
    #[error("a part header appears twice")]
    RepeatedHeader,
    #[error(
        "Content-Disposition missing, not `form-data`, or with repeated or extended parameters"
    )]
    Disposition,
    #[error("Content-Transfer-Encoding in a part")]
    TransferEncoding,
    #[error("a part that is itself multipart")]
    NestedMultipart,
    #[error("the boundary string outside a delimiter line, or bytes after a boundary")]
    BadDelimiter,
    #[error("bytes after the closing boundary")]
    Epilogue,
    #[error("two parts whose names some parsers read as one field")]
    NameVariants,
    #[error("more than {MAX_PARTS} parts")]
    TooManyParts,
    #[error("the body ends before the closing boundary")]
    Truncated,
}

impl MultipartError {
    /// The refusal code: a body cut short is `body_invalid`, names read as one field are
    /// `ambiguous_request` (as for any other second occurrence), the rest `multipart_invalid`.
    pub fn code(self) -> Code {
        match self {
            MultipartError::Truncated => Code::BodyInvalid,
            MultipartError::NameVariants => Code::AmbiguousRequest,
            _ => Code::MultipartInvalid,
        }
    }
}

/// The boundary of a `multipart/form-data` content type (see `headers::boundary`).
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    headers::boundary(content_type)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (the preamble is discarded).
    Preamble,
    /// Right after a delimiter: `--` closes, CRLF opens a part.
    AfterDelimiter,
    Headers,
    Content,
    /// After the closing delimiter: at most one CRLF, counted in `tail`.
    Done,
}

/// Feed it the body chunk by chunk; it keeps only what it cannot decide on yet.
pub struct Scanner {
    /// `--boundary`: every occurrence must follow a CRLF (or start the body).
    dash: Vec<u8>,
    keep: Vec<String>,
    state: State,
    /// Undecided bytes; `buf[0]` is at body offset `base` (the scan starts with a virtual CRLF
    /// before the body, so the first delimiter needs no special case: `base` starts at -2).
    buf: Vec<u8>,
    base: i64,
    /// Bytes of the CRLF after the closing delimiter seen so far.
    tail: usize,
    current: Option<Part>,
    parts: Vec<Part>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memmem::find(hay, needle)
}

impl Scanner {
    /// A scanner for `boundary` that keeps the values of the fields named in `keep`, in any
    /// spelling a merging stack reads as that name (`names::spells_header`).
    pub fn new(boundary: &str, keep: &[&str]) -> Scanner {
        let mut dash = b"--".to_vec();
        dash.extend_from_slice(boundary.as_bytes());
        Scanner {
            dash,
            keep: keep.iter().map(|s| s.to_string()).collect(),
            state: State::Preamble,
            buf: b"\r\n".to_vec(),
            base: -2,
            tail: 0,
            current: None,
            parts: Vec::new(),
        }
    }

    /// Scans the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        if self.state == State::Done {
            return self.epilogue(chunk);
        }
        self.buf.extend_from_slice(chunk);
        while self.step()? {}
        Ok(())
    }

    /// The part whose content is being read, if any (its `start` is known, its `end` not).
    pub fn open_part(&self) -> Option<&Part> {
        self.current
            .as_ref()
            .filter(|_| self.state == State::Content)
    }

    /// Undecided body bytes held right now: at most the last chunk plus `MAX_HEADER_BYTES`.
    /// (Kept values add at most `MAX_VALUE_BYTES` per asked-for part.)
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Ends the body: every part, in order, or why the body was not complete.
    pub fn finish(self) -> Result<Vec<Part>, MultipartError> {
        match self.state {
            State::Done if self.tail != 1 => {
                headers::name_variants(&self.parts)?;
                Ok(self.parts)
            }
            State::Done => Err(MultipartError::Epilogue),
            _ => Err(MultipartError::Truncated),
        }
    }

    /// After the close: one optional CRLF and nothing else (PHP reads parts after the closing
    /// delimiter, the others discard them as epilogue).
    fn epilogue(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        for &b in chunk {
            if b"\r\n".get(self.tail) != Some(&b) {
                return Err(MultipartError::Epilogue);
            }
            self.tail += 1;
        }
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.base += n as i64;
    }

    fn offset(&self, i: usize) -> u64 {
        (self.base + i as i64).max(0) as u64
    }

    /// The next `--boundary` in the buffer, which must follow a CRLF: PHP and Python's `email`
    /// also take an LF-only line as a delimiter, and none may see one where this scanner sees
    /// content.
    fn next_dash(&self) -> Result<Option<usize>, MultipartError> {
        match find(&self.buf, &self.dash) {
            Some(i) if i >= 2 && self.buf[i - 2..i] == *b"\r\n" => Ok(Some(i)),
            Some(_) => Err(MultipartError::BadDelimiter),
            None => Ok(None),
        }
    }

    /// Bytes that can be decided while no `--boundary` is in the buffer: all but the tail that
    /// could begin one, with the two bytes before it.
    fn undecided_tail(&self) -> usize {
        self.buf.len().saturating_sub(self.dash.len() + 1)
    }

    /// One state transition; `Ok(false)` when more input is needed.
    fn step(&mut self) -> Result<bool, MultipartError> {
        match self.state {
            State::Done => Ok(false),
            State::Preamble => match self.next_dash()? {
                Some(i) => {
                    self.consume(i + self.dash.len());
                    self.state = State::AfterDelimiter;
                    Ok(true)
                }
                None => {
                    self.consume(self.undecided_tail());
                    Ok(false)
                }
            },
            State::AfterDelimiter => self.after_delimiter(),
            State::Headers => self.headers(),
            State::Content => self.content(),
        }
    }

    fn after_delimiter(&mut self) -> Result<bool, MultipartError> {
        if self.buf.len() < 2 {
            return Ok(false);
        }
        if self.buf.starts_with(b"--") {
            let rest = self.buf.split_off(2);
            self.buf = Vec::new();
            self.state = State::Done;
            self.epilogue(&rest)?;
            return Ok(false);
        }
        // No transport padding: RFC 2046 allows it, busboy and PHP do not.
        if !self.buf.starts_with(b"\r\n") {
            return Err(MultipartError::BadDelimiter);
        }
        if self.parts.len() >= MAX_PARTS {
            return Err(MultipartError::TooManyParts);
        }
        self.consume(2);
        self.state = State::Headers;
        Ok(true)
    }

    fn headers(&mut self) -> Result<bool, MultipartError> {
        if self.buf.starts_with(b"\r\n") {
            return Err(MultipartError::Disposition);
        }
        let Some(end) = find(&self.buf, b"\r\n\r\n") else {
            let seen = &self.buf[..self.buf.len().min(MAX_HEADER_BYTES + 1)];
            headers::check_block(seen.strip_suffix(b"\r").unwrap_or(seen))?;
            return if self.buf.len() > MAX_HEADER_BYTES {
                Err(MultipartError::HeadersTooLong)
            } else {
                Ok(false)
            };
        };
        if end > MAX_HEADER_BYTES {
            return Err(MultipartError::HeadersTooLong);
        }
        let skip = end + 4;
        let mut part = headers::parse_headers(&self.buf[..end])?;
        part.start = self.offset(skip);
        let wanted = part.name.as_deref().is_some_and(|n| {
            let n = n.as_bytes();
            self.keep
                .iter()
                .any(|k| names::spells_header(n, k.as_bytes()))
        });
        part.value = wanted.then(Vec::new);
        self.current = Some(part);
        self.consume(skip);
        self.state = State::Content;
        Ok(true)
    }

    fn content(&mut self) -> Result<bool, MultipartError> {
        let found = self.next_dash()?;
        let upto = match found {
            Some(i) => i - 2,
            None => self.undecided_tail(),
        };
        if let Some(part) = self.current.as_mut() {
            if let Some(v) = part.value.as_mut() {
                if v.len() + upto > MAX_VALUE_BYTES {
                    part.value = None;
                    part.value_too_long = true;
                } else {
                    v.extend_from_slice(&self.buf[..upto]);
                }
            }
        }
        let Some(i) = found else {
            self.consume(upto);
            return Ok(false);
        };
        let end = self.offset(upto);
        if let Some(mut part) = self.current.take() {
            part.end = end;
            self.parts.push(part);
        }
        self.consume(i + self.dash.len());
        self.state = State::AfterDelimiter;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "multipart_tests.rs"]
mod tests;
