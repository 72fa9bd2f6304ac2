//! Following pointers: the list pointer to the array, and in each item the id and platform
//! pointers, both in one pass over the item.
//!
//! Owns the reading of an item (`pick`), its fast path for pointers of one token
//! (`members_picked`), and what makes a field ambiguous: a key on the pointer path seen twice,
//! or a key that case-insensitive binders read as the token.
//! Must not: read a value twice, or allocate per item beyond the list's vector.
//! Invariant: the fields reported for an item are those serde_json would find at the pointers,
//! or `Duplicate` where parsers could disagree.

use super::lex::{string_end_at, ws_at};
use super::{Fault, Field, Item, Located, Pointers, Scan, Str};

/// Most items a list's vector is sized for before they are found (`Scan::list`).
const RESERVE_ITEMS: usize = 1024;

impl<'a> Scan<'a> {
    /// Follows the list pointer `toks` from the value here; at its end, reads the array.
    pub(super) fn path(
        &mut self,
        toks: &[String],
        p: &Pointers<'_>,
    ) -> Result<Option<Located>, Fault> {
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
    pub(super) fn pick(&mut self, wants: [Option<&[String]>; 2]) -> Result<[Field; 2], Fault> {
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
    fn pick_deeper(&mut self, [a, b]: Wants<'_>) -> Result<[Field; 2], Fault> {
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
            Some(b'{') => self.pick_members([a, b], &mut take)?,
            Some(b'[') => self.pick_elements([a, b], &mut take)?,
            _ => self.skip()?,
        }
        Ok(picked.finish())
    }

    /// The members of the object here: `take` gets each one a pointer names or a key aliases.
    #[inline(always)]
    fn pick_members(&mut self, [a, b]: Wants<'_>, take: &mut impl Take<'a>) -> Result<(), Fault> {
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
        })
    }

    /// The elements of the array here: `take` gets each one a pointer's index names.
    #[inline(always)]
    fn pick_elements(&mut self, [a, b]: Wants<'_>, take: &mut impl Take<'a>) -> Result<(), Fault> {
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
        })
    }
}

/// Two pointers' next tokens and rests, as `deeper` gives them.
type Wants<'w> = [Option<(&'w String, &'w [String])>; 2];

/// What `pick_deeper` does with a member or element, given which pointers name it (`hit`) and
/// which of their tokens its key aliases (`alias`): picks it, or skips it.
trait Take<'a>: FnMut(&mut Scan<'a>, [bool; 2], [bool; 2]) -> Result<(), Fault> {}

impl<'a, F> Take<'a> for F where F: FnMut(&mut Scan<'a>, [bool; 2], [bool; 2]) -> Result<(), Fault> {}

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
pub(super) fn array_index(t: &str) -> Option<usize> {
    if t.is_empty() || (t.len() > 1 && t.starts_with('0')) || !t.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    t.parse().ok()
}
