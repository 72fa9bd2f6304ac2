//! A streaming `multipart/form-data` scanner (RFC 7578 / RFC 2046 §5.1) that records where
//! each part's content lies in the body instead of copying it.
//!
//! Why not `multer`: it hands out each part's bytes but not their offsets, so the package would
//! have to be stored a second time to be inspected, and replaying the exact request needs the
//! raw body anyway. This scanner sees the raw body once, as it is spooled, and answers "the
//! package is bytes `start..end` of what you stored" plus the small text fields asked for.
//! Owns: boundary parsing from the content type, delimiter search across chunk borders, part
//! header parsing (`Content-Disposition` name and filename, `Content-Type`), and its limits.
//! Must not: hold more than `MAX_HEADER_BYTES` + one chunk + one delimiter of the body, keep a
//! value it was not asked for, or panic on any input.
//! Invariant: for every recorded part, `start..end` is exactly its content (between the blank
//! line after its headers and the CRLF before the next delimiter), in body offsets.

use memchr::memmem;

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

/// Why a body is not well-formed multipart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("no boundary parameter, or an invalid one, in the content type")]
    Boundary,
    #[error("part headers longer than {MAX_HEADER_BYTES} bytes")]
    HeadersTooLong,
    #[error("malformed part headers")]
    BadHeaders,
    #[error("bytes other than padding after a boundary")]
    BadDelimiter,
    #[error("more than {MAX_PARTS} parts")]
    TooManyParts,
    #[error("the body ends before the closing boundary")]
    Truncated,
}

/// The boundary of a `multipart/form-data` content type (1–70 characters, RFC 2046).
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let mut params = content_type.split(';');
    let mime = params.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("multipart/form-data") {
        return Err(MultipartError::Boundary);
    }
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        let ok = (1..=70).contains(&v.len())
            && !v.ends_with(' ')
            && v.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        return if ok {
            Ok(v.to_string())
        } else {
            Err(MultipartError::Boundary)
        };
    }
    Err(MultipartError::Boundary)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first delimiter (the preamble is discarded).
    Preamble,
    /// Right after a delimiter: `--` closes, otherwise padding and CRLF open a part.
    AfterDelimiter,
    Headers,
    Content,
    /// After the closing delimiter (the epilogue is discarded).
    Done,
}

/// Feed it the body chunk by chunk; it keeps only what it cannot decide on yet.
pub struct Scanner {
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    keep: Vec<String>,
    state: State,
    /// Undecided bytes; `buf[0]` is at body offset `base` (the scan starts with a virtual CRLF
    /// before the body, so the first delimiter needs no special case: `base` starts at -2).
    buf: Vec<u8>,
    base: i64,
    current: Option<Part>,
    parts: Vec<Part>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memmem::find(hay, needle)
}

impl Scanner {
    /// A scanner for `boundary` that keeps the values of the fields named in `keep`.
    pub fn new(boundary: &str, keep: &[&str]) -> Scanner {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Scanner {
            delimiter,
            keep: keep.iter().map(|s| s.to_string()).collect(),
            state: State::Preamble,
            buf: b"\r\n".to_vec(),
            base: -2,
            current: None,
            parts: Vec::new(),
        }
    }

    /// Scans the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), MultipartError> {
        if self.state == State::Done {
            return Ok(());
        }
        self.buf.extend_from_slice(chunk);
        while self.step()? {}
        Ok(())
    }

    /// Undecided body bytes held right now: at most the last chunk plus `MAX_HEADER_BYTES`.
    /// (Kept values add at most `MAX_VALUE_BYTES` per asked-for part.)
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Ends the body: every part, in order, or why the body was not complete.
    pub fn finish(self) -> Result<Vec<Part>, MultipartError> {
        match self.state {
            State::Done => Ok(self.parts),
            _ => Err(MultipartError::Truncated),
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.drain(..n);
        self.base += n as i64;
    }

    fn offset(&self, i: usize) -> u64 {
        (self.base + i as i64).max(0) as u64
    }

    /// One state transition; `Ok(false)` when more input is needed.
    fn step(&mut self) -> Result<bool, MultipartError> {
        let dlen = self.delimiter.len();
        match self.state {
            State::Done => Ok(false),
            State::Preamble => match find(&self.buf, &self.delimiter) {
                Some(i) => {
                    self.consume(i + dlen);
                    self.state = State::AfterDelimiter;
                    Ok(true)
                }
                None => {
                    let keep_tail = dlen - 1;
                    let drop = self.buf.len().saturating_sub(keep_tail);
                    self.consume(drop);
                    Ok(false)
                }
            },
            State::AfterDelimiter => {
                if self.buf.len() < 2 {
                    return Ok(false);
                }
                if self.buf.starts_with(b"--") {
                    self.state = State::Done;
                    self.buf = Vec::new();
                    return Ok(false);
                }
                let Some(eol) = find(&self.buf, b"\r\n") else {
                    return if self.buf.len() > 256 {
                        Err(MultipartError::BadDelimiter)
                    } else {
                        Ok(false)
                    };
                };
                if !self.buf[..eol].iter().all(|&b| b == b' ' || b == b'\t') {
                    return Err(MultipartError::BadDelimiter);
                }
                if self.parts.len() >= MAX_PARTS {
                    return Err(MultipartError::TooManyParts);
                }
                self.consume(eol + 2);
                self.state = State::Headers;
                Ok(true)
            }
            State::Headers => {
                let (end, skip) = if self.buf.starts_with(b"\r\n") {
                    (0, 2)
                } else {
                    match find(&self.buf, b"\r\n\r\n") {
                        Some(i) => (i, i + 4),
                        None if self.buf.len() > MAX_HEADER_BYTES => {
                            return Err(MultipartError::HeadersTooLong)
                        }
                        None => return Ok(false),
                    }
                };
                if end > MAX_HEADER_BYTES {
                    return Err(MultipartError::HeadersTooLong);
                }
                let mut part = parse_headers(&self.buf[..end])?;
                part.start = self.offset(skip);
                let wanted = part
                    .name
                    .as_deref()
                    .is_some_and(|n| self.keep.iter().any(|k| k == n));
                part.value = wanted.then(Vec::new);
                self.current = Some(part);
                self.consume(skip);
                self.state = State::Content;
                Ok(true)
            }
            State::Content => {
                let found = find(&self.buf, &self.delimiter);
                let upto = match found {
                    Some(i) => i,
                    None => self.buf.len().saturating_sub(dlen - 1),
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
                let end = self.offset(i);
                if let Some(mut part) = self.current.take() {
                    part.end = end;
                    self.parts.push(part);
                }
                self.consume(i + dlen);
                self.state = State::AfterDelimiter;
                Ok(true)
            }
        }
    }
}

/// Parses a part's header block (lines separated by CRLF, no final blank line).
fn parse_headers(block: &[u8]) -> Result<Part, MultipartError> {
    let mut part = Part {
        name: None,
        filename: None,
        content_type: None,
        start: 0,
        end: 0,
        value: None,
        value_too_long: false,
    };
    if block.is_empty() {
        return Ok(part);
    }
    for line in block.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(MultipartError::BadHeaders);
        };
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(MultipartError::BadHeaders);
        }
        if name.eq_ignore_ascii_case("content-disposition") {
            let (kind, params) = disposition(value.trim());
            if kind.eq_ignore_ascii_case("form-data") {
                for (k, v) in params {
                    if k.eq_ignore_ascii_case("name") {
                        part.name = Some(v);
                    } else if k.eq_ignore_ascii_case("filename") {
                        part.filename = Some(v);
                    }
                }
            }
        } else if name.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_string());
        }
    }
    Ok(part)
}

/// `form-data; name="a"; filename="b"` → ("form-data", [(name, a), (filename, b)]). Quoted
/// strings may hold `;` and backslash escapes.
fn disposition(v: &str) -> (String, Vec<(String, String)>) {
    let mut chars = v.chars().peekable();
    let mut kind = String::new();
    while let Some(&c) = chars.peek() {
        if c == ';' {
            break;
        }
        kind.push(c);
        chars.next();
    }
    let mut params = Vec::new();
    while chars.next().is_some() {
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| *c == ' ') {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => val.extend(chars.next()),
                    c => val.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c != ';') {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ';' {
                    break;
                }
                val.push(c);
                chars.next();
            }
            val = val.trim().to_string();
        }
        params.push((key.trim().to_string(), val));
    }
    (kind.trim().to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "XyZ-boundary";

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut b = b"preamble to ignore\r\n".to_vec();
        for (name, filename, data) in parts {
            b.extend_from_slice(format!("--{B}\r\n").as_bytes());
            match filename {
                Some(f) => b.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => b.extend_from_slice(
                    format!("content-disposition: form-data; name={name}\r\n\r\n").as_bytes(),
                ),
            }
            b.extend_from_slice(data);
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(format!("--{B}--\r\nepilogue").as_bytes());
        b
    }

    fn scan(body: &[u8], chunk: usize, keep: &[&str]) -> Result<Vec<Part>, MultipartError> {
        let mut s = Scanner::new(B, keep);
        for c in body.chunks(chunk.max(1)) {
            s.feed(c)?;
        }
        s.finish()
    }

    #[test]
    fn parts_and_offsets_are_exact_for_every_chunking() {
        let file: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut tricky = file.clone();
        // Content that almost looks like a delimiter must stay content.
        tricky.extend_from_slice(format!("\r\n--{}", &B[..B.len() - 1]).as_bytes());
        tricky.extend_from_slice(b"\r\n-");
        let b = body(&[
            ("package", None, b"com.example.app"),
            ("file", Some("a b;c.apk"), &tricky),
            ("note", None, b""),
        ]);
        for chunk in [1, 2, 3, 7, 16, 64, 1000, b.len()] {
            let parts = scan(&b, chunk, &["package", "note"]).unwrap();
            assert_eq!(parts.len(), 3, "chunk {chunk}");
            assert_eq!(parts[0].name.as_deref(), Some("package"));
            assert_eq!(parts[0].value.as_deref(), Some(&b"com.example.app"[..]));
            let f = &parts[1];
            assert_eq!(f.name.as_deref(), Some("file"));
            assert_eq!(f.filename.as_deref(), Some("a b;c.apk"));
            assert_eq!(f.value, None, "not asked for, not kept");
            assert_eq!(&b[f.start as usize..f.end as usize], &tricky[..]);
            assert_eq!(f.content_type.as_deref(), Some("application/octet-stream"));
            assert_eq!(parts[2].value.as_deref(), Some(&b""[..]));
        }
    }

    #[test]
    fn quoted_parameters_keep_semicolons_and_escapes() {
        let (kind, params) = disposition(r#"form-data; name="a;b"; filename="x\"y.apk""#);
        assert_eq!(kind, "form-data");
        assert_eq!(
            params,
            vec![
                ("name".to_string(), "a;b".to_string()),
                ("filename".to_string(), "x\"y.apk".to_string())
            ]
        );
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Ok("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=x; Boundary=\"a b:c\"").as_deref(),
            Ok("a b:c")
        );
        assert!(boundary("multipart/form-data").is_err());
        assert!(boundary("multipart/mixed; boundary=abc").is_err());
        assert!(boundary("multipart/form-data; boundary=").is_err());
        assert!(boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))).is_err());
    }

    #[test]
    fn malformed_bodies_are_errors_not_guesses() {
        let ok = body(&[("file", Some("a.apk"), b"data")]);
        // Cut anywhere before the closing delimiter: truncated.
        let close = ok.len() - b"--\r\nepilogue".len();
        for cut in 0..close {
            assert!(scan(&ok[..cut], 5, &[]).is_err(), "cut at {cut}");
        }
        // No delimiter at all.
        assert_eq!(scan(b"just bytes", 3, &[]), Err(MultipartError::Truncated));
        // Junk after a delimiter.
        let junk = format!("--{B}junk\r\n\r\nx\r\n--{B}--");
        assert_eq!(
            scan(junk.as_bytes(), 4, &[]),
            Err(MultipartError::BadDelimiter)
        );
        // A header line without a colon.
        let bad = format!("--{B}\r\nnot a header\r\n\r\nx\r\n--{B}--");
        assert_eq!(
            scan(bad.as_bytes(), 4, &[]),
            Err(MultipartError::BadHeaders)
        );
        // Endless headers.
        let mut long = format!("--{B}\r\nX-A: ").into_bytes();
        long.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
        assert_eq!(scan(&long, 100, &[]), Err(MultipartError::HeadersTooLong));
        // Too many parts.
        let many: Vec<(&str, Option<&str>, &[u8])> =
            (0..=MAX_PARTS).map(|_| ("x", None, &b"1"[..])).collect();
        assert_eq!(
            scan(&body(&many), 50, &[]),
            Err(MultipartError::TooManyParts)
        );
    }

    #[test]
    fn long_values_are_flagged_not_kept() {
        let big = vec![b'a'; MAX_VALUE_BYTES + 1];
        let parts = scan(&body(&[("package", None, &big)]), 100, &["package"]).unwrap();
        assert_eq!(parts[0].value, None);
        assert!(parts[0].value_too_long);
    }

    #[test]
    fn transport_padding_and_empty_headers_are_accepted() {
        let b = format!("--{B}  \t\r\n\r\nraw\r\n--{B}--");
        let parts = scan(b.as_bytes(), 3, &[]).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, None);
        assert_eq!(
            &b.as_bytes()[parts[0].start as usize..parts[0].end as usize],
            b"raw"
        );
    }
}
