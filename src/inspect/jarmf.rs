//! JAR manifest / signature-file (.SF) parsing with byte ranges, as apksig's ManifestParser.
//!
//! Owns: splitting MANIFEST.MF / *.SF into sections (main section first), each with its raw
//! byte range (including the terminating blank line) and attributes (continuation lines
//! joined), and checking `<ALG>-Digest…` attributes against bytes.
//! Must not: allocate per byte or assume a particular line ending (CRLF, LF and CR all end
//! a line).
//! Invariant: `Section::range` always lies within the parsed input.

use std::borrow::Cow;

use base64::Engine;

use super::cert::{self, Hash};

/// One manifest section; attribute names and values borrow the input unless a continuation
/// line or invalid UTF-8 made them new strings.
#[derive(Debug, Default)]
pub struct Section<'a> {
    pub range: std::ops::Range<usize>,
    pub attrs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl Section<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    pub fn name(&self) -> Option<&str> {
        self.get("Name")
    }

    /// True when all digests named `<ALG><suffix>` match `data`; None when there are none.
    pub fn digests_match(&self, suffix: &str, data: &[u8]) -> Option<bool> {
        let mut found = false;
        for (k, v) in &self.attrs {
            let Some(alg) = k.len().checked_sub(suffix.len()).and_then(|n| {
                k.get(n..)
                    .filter(|s| s.eq_ignore_ascii_case(suffix))
                    .and(k.get(..n))
            }) else {
                continue;
            };
            let Some(h) = hash_named(alg) else { continue };
            found = true;
            let expected = base64::engine::general_purpose::STANDARD.decode(v.trim());
            if expected.ok().as_deref() != Some(cert::digest(h, data).as_slice()) {
                return Some(false);
            }
        }
        found.then_some(true)
    }
}

fn hash_named(alg: &str) -> Option<Hash> {
    match alg.to_ascii_uppercase().as_str() {
        "MD5" => Some(Hash::Md5),
        "SHA1" | "SHA-1" => Some(Hash::Sha1),
        "SHA-224" => Some(Hash::Sha224),
        "SHA-256" => Some(Hash::Sha256),
        "SHA-384" => Some(Hash::Sha384),
        "SHA-512" => Some(Hash::Sha512),
        _ => None,
    }
}

/// Lines as (start, end-of-content, end-including-terminator).
fn lines(b: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::with_capacity(b.len() / 32 + 1);
    let mut p = 0;
    while p < b.len() {
        let start = p;
        let end = memchr::memchr2(b'\n', b'\r', &b[p..]).map_or(b.len(), |i| p + i);
        p = end;
        if p < b.len() {
            p += if b[p] == b'\r' && b.get(p + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
        }
        out.push((start, end, p));
    }
    out
}

/// Parses all sections; the first is the main section (possibly empty).
pub fn parse(b: &[u8]) -> Vec<Section<'_>> {
    // Valid UTF-8 as a whole (the usual case): lines are borrowed without checking each again
    // (they start and end at ASCII line breaks, so at character boundaries).
    let whole = simdutf8::basic::from_utf8(b).ok();
    let mut sections = Vec::new();
    let mut cur: Option<Section> = None;
    for (start, end, next) in lines(b) {
        let line = &b[start..end];
        if line.is_empty() {
            if let Some(mut s) = cur.take() {
                s.range.end = next;
                sections.push(s);
            } else if sections.is_empty() {
                sections.push(Section {
                    range: start..next,
                    attrs: Vec::new(),
                });
            }
            continue;
        }
        let s = cur.get_or_insert_with(|| Section {
            range: start..next,
            attrs: Vec::new(),
        });
        s.range.end = next;
        let text = match whole {
            Some(t) => Cow::Borrowed(&t[start..end]),
            None => String::from_utf8_lossy(line),
        };
        if let Some(cont) = text.strip_prefix(' ') {
            if let Some(last) = s.attrs.last_mut() {
                last.1.to_mut().push_str(cont);
            }
        } else if let Some(colon) = text.find(':') {
            s.attrs.push(split_attr(text, colon));
        }
    }
    if let Some(s) = cur {
        sections.push(s);
    }
    sections
}

/// `name: value` split at `colon` (one space after it dropped), borrowing when `line` does.
fn split_attr(line: Cow<'_, str>, colon: usize) -> (Cow<'_, str>, Cow<'_, str>) {
    let skip = if line[colon + 1..].starts_with(' ') {
        2
    } else {
        1
    };
    match line {
        Cow::Borrowed(t) => (
            Cow::Borrowed(&t[..colon]),
            Cow::Borrowed(&t[colon + skip..]),
        ),
        Cow::Owned(mut t) => {
            let value = t.split_off(colon + skip);
            t.truncate(colon);
            (Cow::Owned(t), Cow::Owned(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_ranges_and_continuations() {
        let mf = b"Manifest-Version: 1.0\r\n\r\nName: a/very/long/na\r\n me.txt\r\nSHA1-Digest: x\r\n\r\n";
        let s = parse(mf);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].get("manifest-version"), Some("1.0"));
        assert_eq!(s[1].name(), Some("a/very/long/name.txt"));
        assert_eq!(&mf[s[1].range.clone()], &mf[25..]);
    }

    #[test]
    fn attributes_borrow_or_own_alike() {
        let s = parse(b"A:1\nB:  2\nN\xffme: v\xfe\n long\nC: x: y\n");
        let got: Vec<(&str, &str)> = s[0].attrs.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(
            got,
            [
                ("A", "1"),
                ("B", " 2"),
                ("N\u{fffd}me", "v\u{fffd}long"),
                ("C", "x: y")
            ]
        );
    }

    #[test]
    fn digest_attributes_are_checked() {
        let d =
            base64::engine::general_purpose::STANDARD.encode(cert::digest(Hash::Sha256, b"abc"));
        let text = format!("SHA-256-Digest-Manifest: {d}\n");
        let s = &parse(text.as_bytes())[0];
        assert_eq!(s.digests_match("-Digest-Manifest", b"abc"), Some(true));
        assert_eq!(s.digests_match("-Digest-Manifest", b"abd"), Some(false));
        assert_eq!(s.digests_match("-Digest", b"abc"), None);
    }
}
