//! Spellings: which raw parameter and header names a common server stack reads as the same
//! variable as a configured name, and where a urlencoded string holds them.
//!
//! A parameter name (query string, form body, multipart part name, top-level JSON key) spells
//! a configured name when both are equal after every reading below:
//!
//! | rule | from |
//! |---|---|
//! | `%XX` decoded, `+` is a space | PHP, Python `urllib.parse`, Go `net/url`, Node `querystring` |
//! | leading spaces dropped; the name ends at a NUL byte | PHP (`php_register_variable_ex`) |
//! | ` ` and `.` read as `_` | PHP |
//! | `name[…]` (a `[` with a later `]`) is an array of `name` | PHP, Rails/Rack, Node `qs` |
//! | a `[` with no later `]` reads as `_`, and so do later ` `, `.`, `[` | PHP 8 (PHP 7 keeps the rest) |
//! | ASCII case ignored | nginx `$arg_*`, ASP.NET |
//! | `ı` `İ` `ſ` `K` read as `i` `i` `s` `k` | .NET `OrdinalIgnoreCase`, Java `equalsIgnoreCase` |
//!
//! A urlencoded string is split on `&` and also on `;` (Python before 3.9.2, legacy CGI and
//! Java servlet parsers): [`each`] reports every spelling under both splittings.
//! A header name aliases a configured one when they are equal ASCII-case-blind with `_` and `.`
//! read as `-` (CGI/WSGI/PHP map `x-app-id` and `x_app_id` to `HTTP_X_APP_ID`, as do several
//! Node and Go stacks; PHP also maps `.` to `_`). A header listed in `Connection` is dropped as
//! hop-by-hop before forwarding, after the gateway read it.
//!
//! Must not: allocate (this runs on every request with a query or header source), or decide
//! anything beyond "is this the same name".
//! Invariant: `spells(a, b)` is symmetric and holds for `a == b`.

/// A byte stream of a name as PHP and friends read it, before folding.
#[derive(Clone)]
struct Decoded<'a> {
    raw: &'a [u8],
    at: usize,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Iterator for Decoded<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        let b = *self.raw.get(self.at)?;
        self.at += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => {
                let pair = self.raw.get(self.at..self.at + 2).and_then(|p| {
                    let (h, l) = (hex(p[0])?, hex(p[1])?);
                    Some(h << 4 | l)
                });
                if pair.is_some() {
                    self.at += 2;
                }
                Some(pair.unwrap_or(b'%'))
            }
            _ => Some(b),
        }
    }
}

/// Where a name is in its PHP-style reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Leading spaces are still being dropped.
    Start,
    Name,
    /// After an unmatched `[`: `[` also reads as `_`.
    Tail,
    Done,
}

/// The canonical bytes of a name: the readings of the module table, folded to one form.
#[derive(Clone)]
struct Canon<'a> {
    src: Decoded<'a>,
    phase: Phase,
}

impl<'a> Canon<'a> {
    fn new(raw: &'a [u8]) -> Self {
        Canon {
            src: Decoded { raw, at: 0 },
            phase: Phase::Start,
        }
    }
}

/// True when a `]` follows before the name ends (at its end or a NUL).
fn closes(mut rest: Decoded<'_>) -> bool {
    rest.by_ref().take_while(|&b| b != 0).any(|b| b == b']')
}

impl Iterator for Canon<'_> {
    type Item = u8;
    fn next(&mut self) -> Option<u8> {
        loop {
            if self.phase == Phase::Done {
                return None;
            }
            let Some(b) = self.src.next() else {
                self.phase = Phase::Done;
                return None;
            };
            match (self.phase, b) {
                (Phase::Start, b' ') => continue,
                (_, 0) => {
                    self.phase = Phase::Done;
                    return None;
                }
                (Phase::Start | Phase::Name, b'[') => {
                    if closes(self.src.clone()) {
                        self.phase = Phase::Done;
                        return None;
                    }
                    self.phase = Phase::Tail;
                    return Some(b'_');
                }
                (Phase::Start, _) => self.phase = Phase::Name,
                _ => {}
            }
            return Some(match b {
                b' ' | b'.' | b'[' => b'_',
                0xC4 | 0xC5 | 0xE2 => self.fold_unicode(b),
                _ => b.to_ascii_lowercase(),
            });
        }
    }
}

impl Canon<'_> {
    /// `ı` (C4 B1), `İ` (C4 B0), `ſ` (C5 BF) and the Kelvin sign (E2 84 AA) as the ASCII
    /// letter case-insensitive comparisons in .NET and Java match them with; any other
    /// sequence is passed through byte by byte.
    fn fold_unicode(&mut self, lead: u8) -> u8 {
        let mut ahead = self.src.clone();
        let folded = match (lead, ahead.next(), ahead.next()) {
            (0xC4, Some(0xB0 | 0xB1), _) => Some((b'i', 1)),
            (0xC5, Some(0xBF), _) => Some((b's', 1)),
            (0xE2, Some(0x84), Some(0xAA)) => Some((b'k', 2)),
            _ => None,
        };
        match folded {
            Some((letter, skip)) => {
                for _ in 0..skip {
                    self.src.next();
                }
                letter
            }
            None => lead,
        }
    }
}

/// True when a stack of the module table reads the raw (still percent-encoded) name `raw` as
/// the variable `name`.
pub fn spells(raw: &[u8], name: &[u8]) -> bool {
    Canon::new(raw).eq(Canon::new(name))
}

/// Like [`spells`], with `-` also read as `_`: a form or JSON name standing for a header.
pub fn spells_header(raw: &[u8], header: &[u8]) -> bool {
    let dash = |b: u8| if b == b'-' { b'_' } else { b };
    Canon::new(raw).map(dash).eq(Canon::new(header).map(dash))
}

/// How a pair was split out of a urlencoded string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Split on `&` only (nginx, PHP, Python 3.9.2+, Go 1.17+, Node, browsers).
    Amp,
    /// Split on `&` and `;`.
    Semi,
}

/// Calls `f(split, raw_value)` for every pair of `raw` whose name satisfies `is_name`, once
/// under each splitting. A pair with no `;` in it is reported twice, once per splitting.
pub fn each<'a>(
    raw: &'a [u8],
    is_name: impl Fn(&[u8]) -> bool,
    mut f: impl FnMut(Split, &'a [u8]),
) {
    for seg in raw.split(|&b| b == b'&') {
        let (name, value) = pair(seg);
        let named = !seg.is_empty() && is_name(name);
        if named {
            f(Split::Amp, value);
        }
        if memchr::memchr(b';', seg).is_none() {
            if named {
                f(Split::Semi, value);
            }
            continue;
        }
        for sub in seg.split(|&b| b == b';') {
            let (name, value) = pair(sub);
            if !sub.is_empty() && is_name(name) {
                f(Split::Semi, value);
            }
        }
    }
}

fn pair(seg: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'=', seg) {
        Some(i) => (&seg[..i], &seg[i + 1..]),
        None => (seg, &[]),
    }
}

/// True when header name `a` aliases `b`: equal ASCII-case-blind with `_` and `.` read as `-`.
pub fn header_alias(a: &str, b: &str) -> bool {
    let fold = |c: u8| match c {
        b'_' | b'.' => b'-',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// True when a `Connection` header lists `name` or an alias of it.
pub fn in_connection(headers: &http::HeaderMap, name: &str) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| std::str::from_utf8(t).is_ok_and(|t| header_alias(t.trim(), name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &str, name: &str) -> bool {
        spells(raw.as_bytes(), name.as_bytes())
    }

    #[test]
    fn case_and_unicode_folds() {
        for raw in ["appid", "APPID", "AppId", "APPİD", "appıd", "%41ppid"] {
            assert!(s(raw, "appid"), "{raw}");
        }
        assert!(s("paſs", "pass"));
        assert!(s("\u{212A}ey", "key"));
        assert!(!s("appid2", "appid"));
        assert!(!s("appi", "appid"));
        assert!(!s("app%C4id", "appid"));
        assert!(!s("", "appid"));
    }

    #[test]
    fn php_mangling() {
        for raw in [
            " appid",
            "+appid",
            "%20%20appid",
            "appid[]",
            "appid[0]",
            "appid[x][y]",
            "appid%5B%5D",
            "appid[a]b",
            "appid%00junk",
            "appid%00[",
        ] {
            assert!(s(raw, "appid"), "{raw}");
        }
        for raw in ["app.id", "app id", "app+id", "app[id", "APP%2EID", "app[id"] {
            assert!(s(raw, "app_id"), "{raw}");
        }
        // PHP 8: after an unmatched `[`, later `[`, ` ` and `.` read as `_` too.
        assert!(s("a[b.c[d", "a_b_c_d"));
        for raw in ["appid ", "appid_", "appid[", "xappid", "ap%70id2", "appid%"] {
            assert!(!s(raw, "appid"), "{raw}");
        }
        assert!(s("app.id", "app.id") && s("app_id", "app.id"));
        // A lone `%` or a bad escape is a literal `%`, as in PHP and form_urlencoded.
        assert!(s("a%zz", "a%zz") && s("a%", "A%"));
    }

    #[test]
    fn header_names_as_fields() {
        assert!(spells_header(b"x_app_id", b"x-app-id"));
        assert!(spells_header(b"X-APP-ID", b"x-app-id"));
        assert!(spells_header(b"x.app.id", b"x-app-id"));
        assert!(!spells_header(b"xappid", b"x-app-id"));
        assert!(!spells(b"x-app-id", b"x_app_id"));
    }

    fn pairs(raw: &str, name: &str) -> Vec<(Split, String)> {
        let mut out = Vec::new();
        each(
            raw.as_bytes(),
            |n| spells(n, name.as_bytes()),
            |sp, v| out.push((sp, String::from_utf8(v.to_vec()).unwrap())),
        );
        out
    }

    #[test]
    fn both_splittings_are_reported() {
        use Split::*;
        assert_eq!(
            pairs("a=1&appid=x&b=2", "appid"),
            [(Amp, "x".into()), (Semi, "x".into())]
        );
        assert_eq!(
            pairs("appid=x;b=2", "appid"),
            [(Amp, "x;b=2".into()), (Semi, "x".into())]
        );
        assert_eq!(pairs("b=2;APPID=y", "appid"), [(Semi, "y".into())]);
        assert_eq!(
            pairs("appid&&appid[]=z", "appid"),
            [
                (Amp, "".into()),
                (Semi, "".into()),
                (Amp, "z".into()),
                (Semi, "z".into())
            ]
        );
        assert!(pairs("", "appid").is_empty());
        assert!(pairs("=x&;", "appid").is_empty());
    }

    #[test]
    fn header_aliases_and_connection() {
        assert!(header_alias("x_app_id", "x-app-id"));
        assert!(header_alias("x.app.id", "x-app-id"));
        assert!(header_alias("X-App-Id", "x-app-id"));
        assert!(!header_alias("x-app-ids", "x-app-id"));
        let mut h = http::HeaderMap::new();
        h.append("connection", "keep-alive".parse().unwrap());
        assert!(!in_connection(&h, "x-app-id"));
        h.append("connection", "close, X_App_Id".parse().unwrap());
        assert!(in_connection(&h, "x-app-id"));
    }
}
