//! The canonical request target: the one form of the path that routing, path captures,
//! forwarding and the audit record all read.
//!
//! Owns the path grammar the gateway accepts and the rewrite of `parts.uri` to the canonical
//! path. Canonical means: percent-encoded unreserved characters decoded (RFC 3986 §6.2.2.2),
//! other escapes in uppercase hex, and none of: dot-segments (raw or encoded, any case), empty
//! segments (`//`), an encoded `/` or `\`, a raw `\`, `;` path parameters, NUL or control
//! characters, malformed or double-encoded escapes, overlong UTF-8 forms of `.`, `/` or `\` and
//! the characters Windows' best-fit mapping folds into them.
//! `PathMode::Refuse` refuses a path with a dot-segment or an empty segment;
//! `PathMode::Normalize` removes them (RFC 3986 §5.2.4, `//` merged as nginx's
//! `merge_slashes` does). Both refuse what has no single reading (encoded separators,
//! backslashes, parameters, controls).
//! Must not: read or change the query string (the extractors own it; a rewrite keeps it
//! byte for byte), or allocate for a path that is already canonical.
//! Invariant: a path this module accepts is split into the same segments, with the same
//! names, by every common server stack (nginx `$uri`, PHP, Python, Node, Go, Java servlet
//! containers, IIS), because it holds nothing those stacks read differently.

pub use crate::config::PathMode;
use std::borrow::Cow;

/// Why a path is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("the request target is not an absolute path")]
    NotAbsolute,
    #[error("a dot-segment (`.` or `..`, raw or percent-encoded)")]
    DotSegment,
    #[error("an empty segment (`//`)")]
    EmptySegment,
    #[error("a percent-encoded `/` or `\\`")]
    EncodedSeparator,
    #[error(
        "an overlong UTF-8 form of `.`, `/` or `\\`, or a character best-fit mapping reads as one"
    )]
    Overlong,
    #[error("a backslash")]
    Backslash,
    #[error("a `;` path parameter")]
    Parameter,
    #[error("a NUL or control character, raw or percent-encoded")]
    Control,
    #[error("a `%` not followed by two hex digits")]
    MalformedEscape,
    #[error("a double-encoded escape (`%25` followed by two hex digits)")]
    DoubleEncoded,
    #[error("the canonical path is not a valid request target")]
    Unrepresentable,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// RFC 3986 §2.3.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The escape at `at` (which holds `%`): its value, and whether it is written in lowercase hex.
fn escape(p: &[u8], at: usize) -> Result<(u8, bool), PathError> {
    let (h, l) = match (p.get(at + 1), p.get(at + 2)) {
        (Some(&h), Some(&l)) => (h, l),
        _ => return Err(PathError::MalformedEscape),
    };
    match (hex(h), hex(l)) {
        (Some(hv), Some(lv)) => Ok((
            hv << 4 | lv,
            h.is_ascii_lowercase() || l.is_ascii_lowercase(),
        )),
        _ => Err(PathError::MalformedEscape),
    }
}

/// Checks the escape at `at` against what no canonical path holds; its value on success.
fn checked_escape(p: &[u8], at: usize) -> Result<(u8, bool), PathError> {
    let (v, lower) = escape(p, at)?;
    match v {
        b'/' | b'\\' => Err(PathError::EncodedSeparator),
        0..=0x1F | 0x7F => Err(PathError::Control),
        // `%25` then two hex digits: a stack that decodes twice reads an escape.
        b'%' if p
            .get(at + 3..at + 5)
            .is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit)) =>
        {
            Err(PathError::DoubleEncoded)
        }
        0xC0 | 0xC1 => match (p.get(at + 3), escape(p, at + 3)) {
            // %C0%AE, %C0%AF, %C1%9C: the overlong forms of `.`, `/`, `\` that old UTF-8
            // decoders (Tomcat, IIS) turned into the character itself.
            (Some(b'%'), Ok((n, _))) if matches!((v, n), (0xC0, 0xAE | 0xAF) | (0xC1, 0x9C)) => {
                Err(PathError::Overlong)
            }
            _ => Ok((v, lower)),
        },
        0xE0 | 0xE2 | 0xEF if lookalike(p, at, v) => Err(PathError::Overlong),
        _ => Ok((v, lower)),
    }
}

/// Three-byte sequences that some stack reads as `.`, `/` or `\`: the overlong forms
/// (`%E0%80%AE` ...) and the characters Windows' best-fit mapping (IIS, .NET on Windows)
/// folds into them: fullwidth `．` `／` `＼`, division slash `∕`, set minus `∖`, one-dot leader `․`.
const LOOKALIKES: [[u8; 3]; 9] = [
    [0xE0, 0x80, 0xAE],
    [0xE0, 0x80, 0xAF],
    [0xE0, 0x81, 0x9C],
    [0xEF, 0xBC, 0x8E],
    [0xEF, 0xBC, 0x8F],
    [0xEF, 0xBC, 0xBC],
    [0xE2, 0x88, 0x95],
    [0xE2, 0x88, 0x96],
    [0xE2, 0x80, 0xA4],
];

/// True when the escapes at `at` (whose value is `first`) spell one of `LOOKALIKES`.
fn lookalike(p: &[u8], at: usize, first: u8) -> bool {
    let next = |k: usize| {
        (p.get(at + 3 * k) == Some(&b'%'))
            .then(|| escape(p, at + 3 * k).ok().map(|(v, _)| v))
            .flatten()
    };
    let seq = [Some(first), next(1), next(2)];
    LOOKALIKES.iter().any(|l| seq == l.map(Some))
}

/// One segment's shape, counted in decoded characters.
#[derive(Default)]
struct Segment {
    len: usize,
    dots: usize,
}

impl Segment {
    fn is_dots(&self) -> bool {
        self.len == self.dots && (1..=2).contains(&self.len)
    }

    /// At the segment's end: whether `mode` rewrites it, or why it is refused.
    fn end(&self, last: bool, mode: PathMode) -> Result<bool, PathError> {
        let err = if self.is_dots() {
            PathError::DotSegment
        } else if self.len == 0 && !last {
            PathError::EmptySegment
        } else {
            return Ok(false);
        };
        match mode {
            PathMode::Refuse => Err(err),
            PathMode::Normalize => Ok(true),
        }
    }
}

/// Validates `path` and reports whether its canonical form differs from it.
fn scan(path: &[u8], mode: PathMode) -> Result<bool, PathError> {
    let mut rewrite = false;
    let mut seg = Segment::default();
    let mut i = 1;
    while i < path.len() {
        match path[i] {
            b'/' => {
                rewrite |= seg.end(false, mode)?;
                seg = Segment::default();
            }
            b'%' => {
                let (v, lower) = checked_escape(path, i)?;
                if unreserved(v) {
                    rewrite = true;
                    seg.dots += usize::from(v == b'.');
                } else {
                    rewrite |= lower;
                }
                seg.len += 1;
                i += 3;
                continue;
            }
            b'\\' => return Err(PathError::Backslash),
            b';' => return Err(PathError::Parameter),
            0..=0x20 | 0x7F => return Err(PathError::Control),
            b'.' => {
                seg.len += 1;
                seg.dots += 1;
            }
            _ => seg.len += 1,
        }
        i += 1;
    }
    Ok(seg.end(true, mode)? || rewrite)
}

/// `path` with unreserved escapes decoded and the others in uppercase hex. `path` has passed
/// `scan`, so every `%` starts a valid escape.
fn decode_unreserved(path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let p = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let (mut run, mut i) = (0, 0);
    while i < p.len() {
        if p[i] != b'%' {
            i += 1;
            continue;
        }
        // Runs end at an ASCII `%`, so they are whole UTF-8 sequences.
        out.push_str(&path[run..i]);
        let v = escape(p, i).map_or(b'%', |(v, _)| v);
        if unreserved(v) {
            out.push(char::from(v));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(v >> 4)]));
            out.push(char::from(HEX[usize::from(v & 15)]));
        }
        i += 3;
        run = i;
    }
    out.push_str(&path[run.min(p.len())..]);
    out
}

/// RFC 3986 §5.2.4 on an absolute path whose segments hold no encoded `/`, with empty segments
/// merged (`//` → `/`). A trailing `/`, `/.` or `/..` leaves a trailing slash.
fn remove_dot_segments(path: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut trailing = false;
    let mut segments = path[1..].split('/').peekable();
    while let Some(s) = segments.next() {
        let last = segments.peek().is_none();
        match s {
            "." | "" => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
        trailing = last && matches!(s, "." | ".." | "");
    }
    let mut out = String::with_capacity(path.len());
    for s in &kept {
        out.push('/');
        out.push_str(s);
    }
    if trailing || kept.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical form of a request path, or why it has none. Borrowed (no allocation) when
/// `path` is already canonical.
pub fn canonical_path(path: &str, mode: PathMode) -> Result<Cow<'_, str>, PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if !scan(path.as_bytes(), mode)? {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode_unreserved(path);
    let canonical = match mode {
        PathMode::Refuse => decoded,
        PathMode::Normalize => remove_dot_segments(&decoded),
    };
    // Decoding can assemble a new escape from pieces (`%25%32e` → `%252e`, which a stack that
    // decodes twice reads as `.`): the canonical form must itself be canonical.
    match scan(canonical.as_bytes(), mode) {
        Ok(false) => Ok(Cow::Owned(canonical)),
        Ok(true) => Err(PathError::DoubleEncoded),
        Err(e) => Err(e),
    }
}

/// Rewrites `uri` to its canonical path, keeping scheme, authority and query as they are.
/// Leaves `uri` untouched (and allocates nothing) when its path is already canonical.
pub fn canonicalize(uri: &mut http::Uri, mode: PathMode) -> Result<(), PathError> {
    let mut pq = match canonical_path(uri.path(), mode)? {
        Cow::Borrowed(_) => return Ok(()),
        Cow::Owned(p) => p,
    };
    if let Some(q) = uri.query() {
        pq.push('?');
        pq.push_str(q);
    }
    let pq = http::uri::PathAndQuery::try_from(pq).map_err(|_| PathError::Unrepresentable)?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    *uri = http::Uri::from_parts(parts).map_err(|_| PathError::Unrepresentable)?;
    Ok(())
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
