//! Fuzzes the path canonicaliser in both modes. Whatever it accepts must be a fixed point (the
//! canonical form of a canonical path is itself, borrowed), start with `/`, and hold none of
//! the constructions it exists to keep out: a dot-segment, an empty segment, a backslash, a
//! `;`, or an escape of an unreserved character.

use icpgate::proxy::target::{canonical_path, PathMode};
use std::borrow::Cow;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(path) = std::str::from_utf8(data) else {
            return;
        };
        for mode in [PathMode::Refuse, PathMode::Normalize] {
            let Ok(c) = canonical_path(path, mode) else {
                continue;
            };
            assert!(c.starts_with('/'), "{path:?} -> {c:?}");
            for seg in c.split('/').skip(1) {
                let last = std::ptr::eq(seg, c.rsplit('/').next().unwrap());
                assert!(seg != "." && seg != "..", "{path:?} -> {c:?}");
                assert!(!seg.is_empty() || last, "{path:?} -> {c:?}");
            }
            assert!(!c.contains('\\') && !c.contains(';'), "{path:?} -> {c:?}");
            assert!(
                !c.contains("%2E") && !c.contains("%2e"),
                "{path:?} -> {c:?}"
            );
            match canonical_path(&c, mode) {
                Ok(Cow::Borrowed(again)) => assert_eq!(again, &*c),
                other => panic!("{path:?} -> {c:?} -> {other:?}"),
            }
        }
    });
}
