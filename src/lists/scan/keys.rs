//! Keys compared with pointer tokens: equal after decoding, or read as the token by
//! case-insensitive binders (`extract::jsonkeys`), which makes a key ambiguous.
//!
//! Owns the fast paths (a plain key compared byte by byte, most aliases settled by the first
//! byte) and the slow ones they fall back to (decode, case folding), kept out of line.
//! Must not: allocate on the fast paths.
//! Invariant: `key_is` and `key_aliases` answer as their decoding fallbacks would.

use super::{decode, Scan, Str};
use crate::extract::jsonkeys;

impl Scan<'_> {
    /// True when the key `k` is the pointer token `t` (escapes decoded).
    #[inline(always)]
    pub(super) fn key_is(&self, k: &Str, t: &str) -> bool {
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
    pub(super) fn escaped_key_is(&self, k: &Str, t: &str) -> bool {
        decode(self.b, k.raw.clone()).is_some_and(|d| d == t)
    }

    /// True when the key `k`, not the token `t`, is read as `t` by case-insensitive binders
    /// (`extract::jsonkeys::json_key_aliases`): the stacks disagree on what it names.
    /// Most keys are settled by their first byte: an ASCII byte other than a backslash, `_` or
    /// `-` aliases an ASCII token's first byte (not `_` or `-` either) only if they are the same
    /// letter in either case.
    #[inline(always)]
    pub(super) fn key_aliases(&self, k: &Str, t: &str) -> bool {
        // An empty key's first byte here is its closing quote.
        let (Some(&t0), Some(&k0)) = (t.as_bytes().first(), self.b.get(k.raw.start)) else {
            return false;
        };
        let plain = |b: u8| b < 0x80 && !matches!(b, b'\\' | b'_' | b'-');
        if plain(k0) && plain(t0) && (k0 | 0x20) != (t0 | 0x20) {
            return false;
        }
        self.may_alias(k, t)
    }

    /// For an ASCII token a plain ASCII key aliases it when they are equal in ASCII case with
    /// `_` and `-` left out; a plain key with other bytes (`ı` `İ` `ſ` `K`) takes the full fold.
    #[inline(never)]
    pub(super) fn may_alias(&self, k: &Str, t: &str) -> bool {
        if k.escaped || !t.is_ascii() {
            return self.folded_key_aliases(k, t);
        }
        let raw = self.b.get(k.raw.clone()).unwrap_or_default();
        if raw.is_ascii() {
            return jsonkeys::ascii_binds(raw, t.as_bytes());
        }
        self.folded_key_aliases(k, t)
    }

    #[inline(never)]
    pub(super) fn folded_key_aliases(&self, k: &Str, t: &str) -> bool {
        decode(self.b, k.raw.clone()).is_some_and(|d| jsonkeys::json_key_aliases(&d, t))
    }
}
