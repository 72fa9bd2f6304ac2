//! A route's path regex, compiled once, matched per request without allocating.
//!
//! Owns the compiled pattern and its named groups. Matching writes the capture spans into the
//! caller's inline buffer (regex-automata's slot search, on a stack array of slots), where
//! `regex::Regex::captures` would allocate a slot vector per request.
//! Must not: percent-decode captures (extractors decode exactly once).
//! Invariant: `captures` reports a span for every named group that took part in the match,
//! and the spans index the haystack it was given.

use regex_automata::meta::{BuildError, Regex};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::Input;
use std::ops::Range;

/// Named capture spans of one match: inline for up to four names.
pub type Spans<'r> = smallvec::SmallVec<[(&'r str, Range<usize>); 4]>;

/// Slots on the stack: enough for 15 groups besides the whole match.
const STACK_SLOTS: usize = 32;

#[derive(Clone, Debug)]
pub struct PathRegex {
    re: Regex,
    /// (group index, name) of every named group, in pattern order.
    names: Vec<(usize, String)>,
}

impl PathRegex {
    /// Compiles `pattern`; the error (boxed: it is large, and only config checking sees it)
    /// says what is wrong with it.
    pub fn new(pattern: &str) -> Result<PathRegex, Box<BuildError>> {
        let re = Regex::new(pattern).map_err(Box::new)?;
        let names = re
            .group_info()
            .pattern_names(regex_automata::PatternID::ZERO)
            .enumerate()
            .filter_map(|(i, n)| Some((i, n?.to_string())))
            .collect();
        Ok(PathRegex { re, names })
    }

    /// The named groups, in pattern order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|(_, n)| n.as_str())
    }

    pub fn is_match(&self, hay: &str) -> bool {
        self.re.is_match(hay)
    }

    /// Matches `hay`; `None` when it does not match, else the span of each named group that
    /// took part.
    pub fn captures(&self, hay: &str) -> Option<Spans<'_>> {
        let n = self.re.group_info().slot_len();
        let mut stack = [None::<NonMaxUsize>; STACK_SLOTS];
        let mut heap = Vec::new();
        let slots: &mut [Option<NonMaxUsize>] = if n <= STACK_SLOTS {
            &mut stack[..n]
        } else {
            heap.resize(n, None);
            &mut heap
        };
        self.re.search_slots(&Input::new(hay), slots)?;
        let info = self.re.group_info();
        let span = |g: usize| {
            let at = info.slot(regex_automata::PatternID::ZERO, g)?;
            let s = slots.get(at)?.as_ref()?.get();
            let e = slots.get(at + 1)?.as_ref()?.get();
            Some(s..e)
        };
        Some(
            self.names
                .iter()
                .filter_map(|(g, name)| Some((name.as_str(), span(*g)?)))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_name_the_groups_that_matched() {
        let re = PathRegex::new(r"^/a/(?P<x>[^/]+)(?:/(?P<y>\d+))?$").unwrap();
        assert_eq!(re.names().collect::<Vec<_>>(), ["x", "y"]);
        let hay = "/a/com.b/42";
        let got = re.captures(hay).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, &hay[got[0].1.clone()]), ("x", "com.b"));
        assert_eq!((got[1].0, &hay[got[1].1.clone()]), ("y", "42"));
        let got = re.captures("/a/only").unwrap();
        assert_eq!(got.iter().map(|c| c.0).collect::<Vec<_>>(), ["x"]);
        assert!(re.captures("/b/x").is_none());
    }

    #[test]
    fn many_groups_fall_back_to_the_heap() {
        let pattern: String = (0..20).map(|i| format!("(?P<g{i}>.)")).collect();
        let re = PathRegex::new(&format!("^{pattern}$")).unwrap();
        let hay = "abcdefghijklmnopqrst";
        let got = re.captures(hay).unwrap();
        assert_eq!(got.len(), 20);
        assert_eq!(&hay[got[19].1.clone()], "t");
    }
}
