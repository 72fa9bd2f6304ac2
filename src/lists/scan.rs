//! A strict JSON scanner (RFC 8259) that reports byte spans: the array a pointer leads to,
//! each of its items, and the id and platform strings inside each item.
//!
//! Owns the one reading of a list body: the reader here (tokens, skipping a value, an
//! object's members, an array's elements), pointers followed in `scan/pick.rs`, keys compared
//! in `scan/keys.rs`, strings decoded in `scan/decode.rs`, tokens lexed in `scan/lex.rs` (the
//! byte searches under it, for a string's end and a run of digits, are `scan/strings.rs`).
//! It refuses what common parsers read differently: a
//! byte-order mark, bytes after the value, invalid UTF-8, control characters in strings,
//! escapes other than RFC 8259's, lone UTF-16 surrogates (Python and Node keep them, Go
//! replaces them, serde_json refuses them), nesting deeper than `MAX_DEPTH`, and a key repeated
//! along the pointer path (parsers keep the first or the last). Keys are compared after
//! decoding their escapes, as every parser does.
//! Must not: allocate per item (it keeps spans, not values; only a key or an id with escapes
//! is decoded), or accept input serde_json refuses.
//! Invariant: `locate` returns `Ok` only for a whole, valid JSON document; every span it
//! returns lies inside the input and holds exactly one JSON value (items) or one string's
//! content (fields).

mod decode;
mod keys;
mod lex;
mod pick;
mod strings;

pub use decode::decode;
use lex::{key_at, literal_at, number_at, string_end_at, ws_at};
use std::ops::Range;

/// Deepest nesting of arrays and objects a list body may have (the house limit,
/// `extract::json::MAX_DEPTH`).
pub const MAX_DEPTH: usize = crate::extract::json::MAX_DEPTH;

/// Why a body cannot be read as a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Not JSON (or trailing bytes, a BOM, a control character in a string).
    Syntax,
    /// Not UTF-8, or a lone surrogate escape.
    Encoding,
    /// Nested deeper than `MAX_DEPTH`.
    Depth,
    /// A key repeated in an object on the pointer path.
    Duplicate,
    /// The pointer leads nowhere.
    Missing,
    /// The pointer leads to something other than an array.
    NotArray,
}

/// What a pointer inside an item found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// Nothing at the pointer, or `null`.
    Missing,
    /// A string: the span of its content (between the quotes) and whether it has escapes.
    Str { raw: Range<usize>, escaped: bool },
    /// A number, boolean, object or array.
    NotString,
    /// A key on the pointer path appears twice in one object.
    Duplicate,
}

/// One array item: its bytes and the fields the item pointers found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub span: Range<usize>,
    pub id: Field,
    pub platform: Field,
}

/// The array a list pointer leads to.
#[derive(Debug, PartialEq, Eq)]
pub struct Located {
    /// Position of the `[`.
    pub open: usize,
    /// Position of the `]`.
    pub close: usize,
    pub items: Vec<Item>,
}

/// The pointers a scan follows: to the list, and inside each item to the id and the platform.
pub struct Pointers<'p> {
    pub list: &'p [String],
    pub id: &'p [String],
    pub platform: Option<&'p [String]>,
}

/// Scans `body` and returns the list `p.list` leads to, with each item's fields.
pub fn locate(body: &[u8], p: &Pointers<'_>) -> Result<Located, Fault> {
    let text = simdutf8::basic::from_utf8(body).map_err(|_| Fault::Encoding)?;
    locate_text(text, p)
}

/// `locate` on a body already known to be UTF-8 (the caller then slices string fields out of
/// `body` as `str` without checking them again).
pub fn locate_text(body: &str, p: &Pointers<'_>) -> Result<Located, Fault> {
    let mut s = Scan::new(body.as_bytes());
    s.ws();
    let found = s.path(p.list, p)?;
    s.end()?;
    found.ok_or(Fault::Missing)
}

/// Checks that `body` is one valid JSON document under this scanner's rules.
pub fn validate(body: &[u8]) -> Result<(), Fault> {
    if simdutf8::basic::from_utf8(body).is_err() {
        return Err(Fault::Encoding);
    }
    let mut s = Scan::new(body);
    s.ws();
    s.skip()?;
    s.end()
}

/// The scanner's position in the body.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

/// A scanned string: its content span and whether it has escapes.
struct Str {
    raw: Range<usize>,
    escaped: bool,
}

impl<'a> Scan<'a> {
    fn new(b: &'a [u8]) -> Scan<'a> {
        Scan { b, i: 0, depth: 0 }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Result<(), Fault> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Fault::Syntax)
        }
    }

    /// Whitespace, then the end of the body.
    #[inline]
    fn end(&mut self) -> Result<(), Fault> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(Fault::Syntax)
        }
    }

    #[inline]
    fn enter(&mut self) -> Result<(), Fault> {
        self.depth += 1;
        self.i += 1;
        if self.depth > MAX_DEPTH {
            Err(Fault::Depth)
        } else {
            Ok(())
        }
    }

    /// Skips one value (after whitespace), checking it: a loop over the value's tokens with the
    /// open containers as a bit stack (1 for an object, 0 for an array), so the position stays
    /// in a register from the first token to the last instead of passing through `self` at
    /// every nested call. Keys inside a skipped value are checked as strings only (the
    /// pointers do not lead through them).
    fn skip(&mut self) -> Result<(), Fault> {
        let b = self.b;
        let mut i = self.i;
        // Open containers of this value: their number, and their kinds by bit.
        let mut open = 0usize;
        let mut kinds: u128 = 0;
        let room = MAX_DEPTH - self.depth.min(MAX_DEPTH);
        'value: loop {
            i = ws_at(b, i);
            match b.get(i) {
                Some(b'"') => i = string_end_at(b, i)?.0,
                Some(b'-' | b'0'..=b'9') => i = number_at(b, i)?,
                Some(&c @ (b'{' | b'[')) => {
                    if open == room {
                        return Err(Fault::Depth);
                    }
                    open += 1;
                    kinds = kinds << 1 | (c == b'{') as u128;
                    i = ws_at(b, i + 1);
                    match (b.get(i), c) {
                        (Some(b'}'), b'{') | (Some(b']'), b'[') => {
                            i += 1;
                            open -= 1;
                            kinds >>= 1;
                        }
                        (_, b'{') => {
                            i = key_at(b, i)?;
                            continue 'value;
                        }
                        _ => continue 'value,
                    }
                }
                Some(b't') => i = literal_at(b, i, b"true")?,
                Some(b'f') => i = literal_at(b, i, b"false")?,
                Some(b'n') => i = literal_at(b, i, b"null")?,
                _ => return Err(Fault::Syntax),
            }
            // After a value: close containers until a comma leads to the next value.
            while open > 0 {
                i = ws_at(b, i);
                let object = kinds & 1 == 1;
                match b.get(i) {
                    Some(b',') => {
                        i += 1;
                        if object {
                            i = key_at(b, ws_at(b, i))?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    _ => return Err(Fault::Syntax),
                }
                i += 1;
                open -= 1;
                kinds >>= 1;
            }
            self.i = i;
            return Ok(());
        }
    }

    /// The members of an object whose `{` is consumed: `f` gets each key and reads its value.
    fn members(
        &mut self,
        mut f: impl FnMut(&mut Self, Str) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(Fault::Syntax);
            }
            let key = self.string()?;
            self.eat(b':')?;
            f(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Fault::Syntax),
            }
        }
    }

    /// The elements of an array whose `[` is consumed: `f` gets each index and reads its
    /// element.
    fn elements(
        &mut self,
        mut f: impl FnMut(&mut Self, usize) -> Result<(), Fault>,
    ) -> Result<(), Fault> {
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        let mut n = 0;
        loop {
            f(self, n)?;
            n += 1;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Fault::Syntax),
            }
        }
    }

    #[inline]
    fn literal(&mut self, lit: &[u8]) -> Result<(), Fault> {
        self.i = literal_at(self.b, self.i, lit)?;
        Ok(())
    }

    /// A string at `"`: checks its escapes (surrogates paired) and that it has no control
    /// character. The body is UTF-8 already.
    #[inline]
    fn string(&mut self) -> Result<Str, Fault> {
        let start = self.i + 1;
        let escaped = self.string_end()?;
        Ok(Str {
            raw: start..self.i - 1,
            escaped,
        })
    }

    /// Moves past the string at `"`; whether it has escapes.
    #[inline(always)]
    fn string_end(&mut self) -> Result<bool, Fault> {
        let (i, escaped) = string_end_at(self.b, self.i)?;
        self.i = i;
        Ok(escaped)
    }
}
#[cfg(test)]
mod tests;
