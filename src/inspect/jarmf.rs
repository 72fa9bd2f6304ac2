//! JAR manifest / signature-file (.SF) parsing with byte ranges, as apksig's ManifestParser.
//!
//! Owns: splitting MANIFEST.MF / *.SF into sections (main section first), each with its raw
//! byte range (including the terminating blank line) and attributes (continuation lines
//! joined, then split at the first ": "), and apksig's choice and check of the
//! `<ALG>-Digest…` attribute to verify (the strongest, API 18 and later).
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

    /// The section's name: the value of its first attribute when that is `Name` (apksig
    /// reads no name from a later attribute).
    pub fn name(&self) -> Option<&str> {
        self.attrs
            .first()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Name"))
            .map(|(_, v)| v.as_ref())
    }

    /// The value of the attribute named `prefix` + `suffix` (ASCII case ignored, first wins).
    fn get_joined(&self, prefix: &str, suffix: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| {
                k.len() == prefix.len() + suffix.len()
                    && k.get(..prefix.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                    && k.get(prefix.len()..)
                        .is_some_and(|x| x.eq_ignore_ascii_case(suffix))
            })
            .map(|(_, v)| v.as_ref())
    }

    /// The digest apksig checks among the `<ALG><suffix>` attributes for Android 4.3 (API 18)
    /// and later (`getDigestsToVerify`): the strongest present of SHA-512, SHA-384, SHA-256
    /// and SHA-1 (spelled `SHA1`). Other spellings and MD5 are not read.
    pub fn digest_to_verify(&self, suffix: &str) -> Option<(Hash, &str)> {
        STRONGEST_FIRST
            .iter()
            .find_map(|&(name, h)| self.get_joined(name, suffix).map(|v| (h, v)))
    }

    /// Whether the digest apksig checks (`digest_to_verify`) matches `data`; None when the
    /// section names none.
    pub fn digest_matches(&self, suffix: &str, data: &[u8]) -> Option<bool> {
        let (h, expected) = self.digest_to_verify(suffix)?;
        let expected = base64::engine::general_purpose::STANDARD.decode(expected);
        Some(expected.ok().as_deref() == Some(cert::digest(h, data).as_slice()))
    }
}

/// The digest attribute names apksig reads on API 18 and later, strongest first.
const STRONGEST_FIRST: [(&str, Hash); 4] = [
    ("SHA-512", Hash::Sha512),
    ("SHA-384", Hash::Sha384),
    ("SHA-256", Hash::Sha256),
    ("SHA1", Hash::Sha1),
];

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

/// Parses all sections; the first is the main section. Blank lines before a section are
/// skipped (apksig's `readSection`), so no section is empty.
pub fn parse(b: &[u8]) -> Vec<Section<'_>> {
    // Valid UTF-8 as a whole (the usual case): lines are borrowed without checking each again
    // (they start and end at ASCII line breaks, so at character boundaries).
    let whole = simdutf8::basic::from_utf8(b).ok();
    let mut sections = Vec::new();
    // The section being read and its attribute line still open to continuation lines.
    let mut cur: Option<(Section, Cow<str>)> = None;
    for (start, end, next) in lines(b) {
        let line = &b[start..end];
        if line.is_empty() {
            if let Some((mut s, pending)) = cur.take() {
                s.attrs.push(split_attr(pending));
                s.range.end = next;
                sections.push(s);
            }
            continue;
        }
        let text = match whole {
            Some(t) => Cow::Borrowed(&t[start..end]),
            None => String::from_utf8_lossy(line),
        };
        match &mut cur {
            None => {
                let s = Section {
                    range: start..next,
                    attrs: Vec::new(),
                };
                cur = Some((s, text));
            }
            Some((s, pending)) => {
                s.range.end = next;
                match text.strip_prefix(' ') {
                    Some(cont) => pending.to_mut().push_str(cont),
                    None => s.attrs.push(split_attr(std::mem::replace(pending, text))),
                }
            }
        }
    }
    if let Some((mut s, pending)) = cur {
        s.attrs.push(split_attr(pending));
        sections.push(s);
    }
    sections
}

/// `name: value` split at the first `": "` (apksig's rule: trailing spaces in names and
/// leading spaces in values are kept); a line without one is a name with an empty value.
/// Borrows when `line` does.
fn split_attr(line: Cow<'_, str>) -> (Cow<'_, str>, Cow<'_, str>) {
    let Some(at) = line.find(": ") else {
        return (line, Cow::Borrowed(""));
    };
    match line {
        Cow::Borrowed(t) => (Cow::Borrowed(&t[..at]), Cow::Borrowed(&t[at + 2..])),
        Cow::Owned(mut t) => {
            let value = t.split_off(at + 2);
            t.truncate(at);
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
        let s = parse(b"A: 1\nB:  2\nN\xffme: v\xfe\n long\nC: x: y\nD:3\nE\n lon\n g: z\n");
        let got: Vec<(&str, &str)> = s[0].attrs.iter().map(|(k, v)| (&**k, &**v)).collect();
        // Split at the first ": " of the joined line, as apksig: "D:3" is a name alone.
        assert_eq!(
            got,
            [
                ("A", "1"),
                ("B", " 2"),
                ("N\u{fffd}me", "v\u{fffd}long"),
                ("C", "x: y"),
                ("D:3", ""),
                ("Elong", "z"),
            ]
        );
    }

    #[test]
    fn leading_blank_lines_and_late_names() {
        let s = parse(b"\n\nManifest-Version: 1.0\n\n\nX: 1\nName: a\n\nName: b\n");
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].range, 2..25);
        assert_eq!(s[0].get("Manifest-Version"), Some("1.0"));
        // "Name" counts only as the first attribute.
        assert_eq!(s[1].name(), None);
        assert_eq!(s[2].name(), Some("b"));
    }

    fn b64(h: Hash, data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(cert::digest(h, data))
    }

    #[test]
    fn only_the_strongest_digest_is_checked() {
        let text = format!(
            "SHA1-Digest-Manifest: {}\nSHA-256-Digest-Manifest: {}\n",
            b64(Hash::Sha1, b"other"),
            b64(Hash::Sha256, b"abc")
        );
        let s = &parse(text.as_bytes())[0];
        assert_eq!(s.digest_matches("-Digest-Manifest", b"abc"), Some(true));
        assert_eq!(s.digest_matches("-Digest-Manifest", b"abd"), Some(false));
        assert_eq!(s.digest_matches("-Digest", b"abc"), None);
        // SHA-512 beats SHA-256 wherever it stands; SHA1 is read, MD5 and "SHA-1" are not.
        let text = format!(
            "sha-256-digest: {}\nSHA-512-Digest: {}\n",
            b64(Hash::Sha256, b"x"),
            b64(Hash::Sha512, b"y")
        );
        let s = &parse(text.as_bytes())[0];
        assert_eq!(
            s.digest_to_verify("-Digest").map(|d| d.0),
            Some(Hash::Sha512)
        );
        assert_eq!(s.digest_matches("-Digest", b"y"), Some(true));
        let text = format!("MD5-Digest: {}\nSHA-1-Digest: x\n", b64(Hash::Md5, b"x"));
        assert_eq!(
            parse(text.as_bytes())[0].digest_matches("-Digest", b"x"),
            None
        );
        let s = &parse(b"SHA1-Digest: not base64!\n")[0];
        assert_eq!(s.digest_matches("-Digest", b"x"), Some(false));
    }
}
