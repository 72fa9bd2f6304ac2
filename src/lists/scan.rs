//! A strict JSON scanner (RFC 8259) that reports byte spans: the array a pointer leads to,
//! each of its items, and the id and platform strings inside each item.
//!
//! Owns the one reading of a list body (the byte searches under it, for a string's end and a
//! run of digits, are `scan/strings.rs`). It refuses what common parsers read differently: a
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

mod lex;
mod strings;

use crate::extract::jsonkeys;
use lex::{hex4, key_at, literal_at, number_at, string_end_at, ws_at};
use std::ops::Range;

/// Deepest nesting of arrays and objects a list body may have (the house limit,
/// `extract::json::MAX_DEPTH`).
pub const MAX_DEPTH: usize = crate::extract::json::MAX_DEPTH;

/// Most items a list's vector is sized for before they are found (`Scan::list`).
const RESERVE_ITEMS: usize = 1024;

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

/// Decodes the content of a string this scanner accepted (`raw` between the quotes).
pub fn decode(body: &[u8], raw: Range<usize>) -> Option<String> {
    let b = body.get(raw)?;
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..]
            .iter()
            .position(|&c| c == b'\\')
            .unwrap_or(b.len() - i);
        out.push_str(std::str::from_utf8(&b[i..i + run]).ok()?);
        i += run;
        if i >= b.len() {
            break;
        }
        let c = *b.get(i + 1)?;
        i += 2;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = hex4(b.get(i + 2..i + 6)?)?;
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        };
        out.push(ch);
    }
    Some(out)
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

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

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
    fn end(&mut self) -> Result<(), Fault> {
        self.ws();
        if self.i == self.b.len() {
            Ok(())
        } else {
            Err(Fault::Syntax)
        }
    }

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

    /// True when the key `k` is the pointer token `t` (escapes decoded).
    #[inline(always)]
    fn key_is(&self, k: &Str, t: &str) -> bool {
        if !k.escaped {
            // A byte loop, not `==` on slices: keys are short, and most differ from the token
            // at their first byte, where `==` would call `memcmp`.
            return k.raw.len() == t.len()
                && self
                    .b
                    .get(k.raw.clone())
                    .is_some_and(|r| r.iter().zip(t.as_bytes()).all(|(x, y)| x == y));
        }
        self.escaped_key_is(k, t)
    }

    #[inline(never)]
    fn escaped_key_is(&self, k: &Str, t: &str) -> bool {
        decode(self.b, k.raw.clone()).is_some_and(|d| d == t)
    }

    /// True when the key `k`, not the token `t`, is read as `t` by case-insensitive binders
    /// (`extract::jsonkeys::json_key_aliases`): the stacks disagree on what it names.
    /// Most keys are settled by their first byte: an ASCII byte other than a backslash aliases an
    /// ASCII token's first byte only if they are the same letter in either case.
    #[inline(always)]
    fn key_aliases(&self, k: &Str, t: &str) -> bool {
        // An empty key's first byte here is its closing quote.
        let (Some(&t0), Some(&k0)) = (t.as_bytes().first(), self.b.get(k.raw.start)) else {
            return false;
        };
        if k0 < 0x80 && t0 < 0x80 && k0 != b'\\' && (k0 | 0x20) != (t0 | 0x20) {
            return false;
        }
        self.may_alias(k, t)
    }

    /// For an ASCII token a plain key aliases it only with the same length (ASCII case) or
    /// longer by the two- and three-byte letters that fold to ASCII (`ı` `İ` `ſ` `K`).
    #[inline(never)]
    fn may_alias(&self, k: &Str, t: &str) -> bool {
        if k.escaped || !t.is_ascii() {
            return self.folded_key_aliases(k, t);
        }
        let n = k.raw.len();
        if n < t.len() || n > 3 * t.len() {
            return false;
        }
        let raw = self.b.get(k.raw.clone()).unwrap_or_default();
        if n == t.len() {
            return raw.eq_ignore_ascii_case(t.as_bytes());
        }
        !raw.is_ascii() && self.folded_key_aliases(k, t)
    }

    #[inline(never)]
    fn folded_key_aliases(&self, k: &Str, t: &str) -> bool {
        decode(self.b, k.raw.clone()).is_some_and(|d| jsonkeys::json_key_aliases(&d, t))
    }

    /// Follows the list pointer `toks` from the value here; at its end, reads the array.
    fn path(&mut self, toks: &[String], p: &Pointers<'_>) -> Result<Option<Located>, Fault> {
        self.ws();
        let Some((want, rest)) = toks.split_first() else {
            if self.peek() != Some(b'[') {
                return Err(Fault::NotArray);
            }
            return self.list(p).map(Some);
        };
        let mut found: Option<Option<Located>> = None;
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.members(|s, key| {
                    if !s.key_is(&key, want) {
                        if s.key_aliases(&key, want) {
                            return Err(Fault::Duplicate);
                        }
                        return s.skip();
                    }
                    if found.is_some() {
                        return Err(Fault::Duplicate);
                    }
                    found = Some(s.path(rest, p)?);
                    Ok(())
                })?;
            }
            Some(b'[') => {
                let index = array_index(want);
                self.enter()?;
                self.elements(|s, n| {
                    if Some(n) == index {
                        found = Some(s.path(rest, p)?);
                        Ok(())
                    } else {
                        s.skip()
                    }
                })?;
            }
            _ => self.skip()?,
        }
        Ok(found.flatten())
    }

    /// The array at `[`: each item's span and fields.
    fn list(&mut self, p: &Pointers<'_>) -> Result<Located, Fault> {
        let open = self.i;
        let mut items = Vec::new();
        self.enter()?;
        self.elements(|s, _| {
            s.ws();
            let start = s.i;
            let [id, platform] = s.pick([Some(p.id), p.platform])?;
            if items.is_empty() {
                // Room for as many items as there are bytes left for ones the size of the
                // first, so a list of like items grows its vector once; at most `RESERVE_ITEMS`,
                // so a small first item before a large rest cannot reserve far more than the
                // items found would take.
                let rest = s.b.len() - s.i;
                items.reserve((rest / (s.i - start + 1)).min(RESERVE_ITEMS));
            }
            items.push(Item {
                span: start..s.i,
                id,
                platform,
            });
            Ok(())
        })?;
        Ok(Located {
            open,
            close: self.i - 1,
            items,
        })
    }

    /// `pick` on the object here when each wanted field is one of its own members (a pointer of
    /// one token, the common `id = "/package"`): the same reading as the general path, in one
    /// loop over the members with the position in a local.
    fn members_picked(&mut self, toks: [Option<&str>; 2]) -> Result<[Field; 2], Fault> {
        self.enter()?;
        let b = self.b;
        let mut picked = Picked::new();
        let mut i = ws_at(b, self.i);
        if b.get(i) == Some(&b'}') {
            self.i = i + 1;
            self.depth -= 1;
            return Ok(picked.out);
        }
        loop {
            let (key, value) = member_key_at(b, i)?;
            self.i = value;
            let hit = [
                toks[0].is_some_and(|t| self.key_is(&key, t)),
                toks[1].is_some_and(|t| self.key_is(&key, t)),
            ];
            if hit == [false, false] {
                for (d, t) in picked.dup.iter_mut().zip(toks) {
                    *d |= t.is_some_and(|t| self.key_aliases(&key, t));
                }
                self.skip()?;
            } else {
                let [f, _] = self.pick([Some(&[]), None])?;
                for (j, h) in hit.into_iter().enumerate() {
                    if h {
                        picked.found(j, f.clone());
                    }
                }
            }
            i = ws_at(b, self.i);
            match b.get(i) {
                Some(b',') => i = ws_at(b, i + 1),
                Some(b'}') => break,
                _ => return Err(Fault::Syntax),
            }
        }
        self.i = i + 1;
        self.depth -= 1;
        Ok(picked.finish())
    }

    /// Reads the value here, following up to two item pointers at once; what each found.
    fn pick(&mut self, wants: [Option<&[String]>; 2]) -> Result<[Field; 2], Fault> {
        self.ws();
        let here = |w: &Option<&[String]>| w.is_some_and(|t| t.is_empty());
        if here(&wants[0]) || here(&wants[1]) {
            let f = self.field()?;
            let mut out = [Field::Missing, Field::Missing];
            for (o, w) in out.iter_mut().zip(&wants) {
                if here(w) {
                    *o = f.clone();
                }
            }
            return Ok(out);
        }
        let (a, b) = (deeper(wants[0]), deeper(wants[1]));
        if a.is_none() && b.is_none() {
            self.skip()?;
            return Ok([Field::Missing, Field::Missing]);
        }
        let own = |w: Option<(&String, &[String])>| w.is_none_or(|(_, rest)| rest.is_empty());
        if own(a) && own(b) && self.peek() == Some(b'{') {
            return self.members_picked([a.map(|(t, _)| t.as_str()), b.map(|(t, _)| t.as_str())]);
        }
        self.pick_deeper([a, b])
    }

    /// The value here as a field a pointer ends at: a string's span, `null` (missing), or
    /// anything else (skipped, not a string).
    #[inline(always)]
    fn field(&mut self) -> Result<Field, Fault> {
        Ok(match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                Field::Str {
                    raw: s.raw,
                    escaped: s.escaped,
                }
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Field::Missing
            }
            _ => {
                self.skip()?;
                Field::NotString
            }
        })
    }

    /// `pick` through the container here when a pointer goes deeper than its own members: each
    /// member or element a pointer names is picked with the rest of that pointer.
    #[inline(always)]
    fn pick_deeper(
        &mut self,
        wants: [Option<(&String, &[String])>; 2],
    ) -> Result<[Field; 2], Fault> {
        let [a, b] = wants;
        let mut picked = Picked::new();
        // `alias`: a key read as a wanted one by case-insensitive binders, an ambiguity.
        let mut take = |s: &mut Self, hit: [bool; 2], alias: [bool; 2]| -> Result<(), Fault> {
            if hit == [false, false] {
                picked.dup[0] |= alias[0];
                picked.dup[1] |= alias[1];
                return s.skip();
            }
            let sub = [
                a.filter(|_| hit[0]).map(|(_, r)| r),
                b.filter(|_| hit[1]).map(|(_, r)| r),
            ];
            let got = s.pick(sub)?;
            for (j, g) in got.into_iter().enumerate() {
                if hit[j] {
                    picked.found(j, g);
                }
            }
            Ok(())
        };
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.members(|s, key| {
                    let hit = [
                        a.is_some_and(|(t, _)| s.key_is(&key, t)),
                        b.is_some_and(|(t, _)| s.key_is(&key, t)),
                    ];
                    if hit == [false, false] {
                        let alias = [
                            a.is_some_and(|(t, _)| s.key_aliases(&key, t)),
                            b.is_some_and(|(t, _)| s.key_aliases(&key, t)),
                        ];
                        if alias == [false, false] {
                            return s.skip();
                        }
                        return take(s, hit, alias);
                    }
                    take(s, hit, [false, false])
                })?;
            }
            Some(b'[') => {
                let idx = [
                    a.and_then(|(t, _)| array_index(t)),
                    b.and_then(|(t, _)| array_index(t)),
                ];
                self.enter()?;
                self.elements(|s, n| {
                    let hit = [idx[0] == Some(n), idx[1] == Some(n)];
                    if hit == [false, false] {
                        return s.skip();
                    }
                    take(s, hit, [false, false])
                })?;
            }
            _ => self.skip()?,
        }
        Ok(picked.finish())
    }
}

/// What a pick found for its two pointers so far: each field, whether a member or element it
/// names was seen, and whether it is ambiguous (named twice, or by an aliasing key).
struct Picked {
    out: [Field; 2],
    seen: [bool; 2],
    dup: [bool; 2],
}

impl Picked {
    #[inline(always)]
    fn new() -> Picked {
        Picked {
            out: [Field::Missing, Field::Missing],
            seen: [false; 2],
            dup: [false; 2],
        }
    }

    /// Pointer `j` found `got`; a second find makes it ambiguous.
    #[inline(always)]
    fn found(&mut self, j: usize, got: Field) {
        self.dup[j] |= self.seen[j];
        self.seen[j] = true;
        self.out[j] = got;
    }

    /// The fields, each ambiguous one `Duplicate`.
    #[inline(always)]
    fn finish(self) -> [Field; 2] {
        let mut out = self.out;
        for (o, d) in out.iter_mut().zip(self.dup) {
            if d {
                *o = Field::Duplicate;
            }
        }
        out
    }
}

/// A member's key at `i` (which must be a string), then whitespace and its colon: the key, and
/// the position after the colon.
#[inline(always)]
fn member_key_at(b: &[u8], i: usize) -> Result<(Str, usize), Fault> {
    if b.get(i) != Some(&b'"') {
        return Err(Fault::Syntax);
    }
    let (end, escaped) = string_end_at(b, i)?;
    let key = Str {
        raw: i + 1..end - 1,
        escaped,
    };
    let i = ws_at(b, end);
    if b.get(i) != Some(&b':') {
        return Err(Fault::Syntax);
    }
    Ok((key, i + 1))
}

/// A pointer's next token and the rest, unless it ends here (or is not followed).
fn deeper(w: Option<&[String]>) -> Option<(&String, &[String])> {
    w.and_then(|t| t.split_first())
}

/// An RFC 6901 array index token: digits without a leading zero.
fn array_index(t: &str) -> Option<usize> {
    if t.is_empty() || (t.len() > 1 && t.starts_with('0')) || !t.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    t.parse().ok()
}

#[cfg(test)]
mod tests;
