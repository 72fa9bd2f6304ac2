//! The strict readings of a `multipart/form-data` content type and of a part's header block:
//! only the forms on which Python (`email`, `cgi`, `multipart`), Go `mime/multipart`, Node
//! `busboy` and PHP's rfc1867 parser agree are read; every other form is an error.
//!
//! Owns: the boundary parameter, the header-block syntax (CRLF lines, no folding, ASCII, token
//! names), `Content-Disposition: form-data` with its `name` / `filename`, the part's
//! `Content-Type`, and the names that common stacks read as one field.
//! Must not: allocate more than the header block it is given, or guess: there is no lenient path.
//! Invariant: `boundary` and `parse_headers` return `Ok` only for input that has one reading.

use super::{MultipartError, Part};

/// RFC 2045 token characters: printable ASCII other than SP and the tspecials.
fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

fn token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token)
}

/// `; key=value` parameters after a type, with `value` a token or a quoted string without
/// backslashes: `(key, value, quoted)` in order. `;` may be followed by spaces; nothing else is
/// read (PHP splits a content type on `,` and `;` without regard to quotes, Python's `cgi`
/// unescapes backslashes that Go keeps, so neither `,` outside quotes nor `\` is accepted).
fn params(mut rest: &str) -> Result<Vec<(&str, &str, bool)>, ()> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        rest = rest.strip_prefix(';').ok_or(())?;
        rest = rest.trim_start_matches(' ');
        let (key, after) = rest.split_once('=').ok_or(())?;
        if !token(key) {
            return Err(());
        }
        let (value, quoted, tail) = match after.strip_prefix('"') {
            Some(q) => {
                let end = q.find('"').ok_or(())?;
                (&q[..end], true, &q[end + 1..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (&after[..end], false, &after[end..])
            }
        };
        let ok = if quoted {
            value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && !value.contains('\\')
        } else {
            token(value)
        };
        if !ok {
            return Err(());
        }
        out.push((key, value, quoted));
        rest = tail.trim_end_matches(' ');
    }
    Ok(out)
}

/// The boundary of a `multipart/form-data` content type: exactly one `boundary` parameter of
/// 1–70 RFC 2046 `bchars` without `,` and space (PHP cuts at `,`; some readers trim spaces), a
/// token when unquoted, and the word "boundary" nowhere before its name (PHP takes the first
/// occurrence of the substring, even inside another parameter).
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let bad = MultipartError::Boundary;
    let semi = content_type.find(';').ok_or(bad)?;
    let (mime, rest) = content_type.split_at(semi);
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return Err(bad);
    }
    if content_type.contains(',') {
        return Err(bad);
    }
    let params = params(rest.trim_end()).map_err(|_| bad)?;
    let mut found = params
        .iter()
        .filter(|(k, _, _)| k.eq_ignore_ascii_case("boundary"));
    let (Some((key, value, _)), None) = (found.next(), found.next()) else {
        return Err(bad);
    };
    // PHP looks for "boundary" case-sensitively, then in a lowercased copy.
    let at = key.as_ptr() as usize - content_type.as_ptr() as usize;
    let exact = content_type.find("boundary");
    let folded = content_type.to_ascii_lowercase().find("boundary");
    if folded != Some(at) || exact.is_some_and(|i| i != at) {
        return Err(bad);
    }
    let bchar = |b: u8| b.is_ascii_alphanumeric() || b"'()+_-./:=?".contains(&b);
    if !(1..=70).contains(&value.len()) || !value.bytes().all(bchar) {
        return Err(bad);
    }
    Ok(value.to_string())
}

/// Parses a part's header block (CRLF-separated lines, no final blank line) into the part's
/// name, filename and content type.
pub fn parse_headers(block: &[u8]) -> Result<Part, MultipartError> {
    let mut part = Part {
        name: None,
        filename: None,
        content_type: None,
        start: 0,
        end: 0,
        value: None,
        value_too_long: false,
    };
    check_block(block)?;
    let text = std::str::from_utf8(block).map_err(|_| MultipartError::BadHeaders)?;
    let mut seen: Vec<&str> = Vec::new();
    let mut disposition = false;
    for line in text.split("\r\n") {
        let (name, value) = line.split_once(':').ok_or(MultipartError::BadHeaders)?;
        if !token(name) {
            return Err(MultipartError::BadHeaders);
        }
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(MultipartError::RepeatedHeader);
        }
        seen.push(name);
        let value = value.trim_matches(|c| c == ' ' || c == '\t');
        if name.eq_ignore_ascii_case("content-disposition") {
            (part.name, part.filename) = form_data(value)?;
            disposition = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            if value.to_ascii_lowercase().starts_with("multipart/") {
                return Err(MultipartError::NestedMultipart);
            }
            part.content_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("content-transfer-encoding") {
            return Err(MultipartError::TransferEncoding);
        }
    }
    if !disposition {
        return Err(MultipartError::Disposition);
    }
    Ok(part)
}

/// Header bytes are printable ASCII or HTAB, lines end in CRLF (no bare CR or LF: PHP and
/// Python's `email` accept LF-only lines, busboy does not), and no line starts with SP or HTAB
/// (obs-fold: Python's `email` unfolds it, other readers see a broken or new header).
pub fn check_block(block: &[u8]) -> Result<(), MultipartError> {
    for (i, &b) in block.iter().enumerate() {
        let ok = match b {
            b'\r' => block.get(i + 1).is_none_or(|&n| n == b'\n'),
            b'\n' => i > 0 && block[i - 1] == b'\r',
            b'\t' | b' ' => i > 0 && block[i - 1] != b'\n',
            b => b.is_ascii_graphic(),
        };
        if !ok {
            return Err(MultipartError::BadHeaders);
        }
    }
    if block.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(MultipartError::BadHeaders);
    }
    Ok(())
}

/// `form-data` (exactly) and its parameters: each at most once, no RFC 2231 `name*=` /
/// `filename*=` (RFC 7578 forbids them; PHP ignores them, Python's `email` decodes one that
/// stands alone), `name` and `filename` as the only ones read.
fn form_data(v: &str) -> Result<(Option<String>, Option<String>), MultipartError> {
    let bad = MultipartError::Disposition;
    let rest = v.strip_prefix("form-data").ok_or(bad)?;
    let params = params(rest).map_err(|_| bad)?;
    let (mut name, mut filename) = (None, None);
    for (i, (k, v, _)) in params.iter().enumerate() {
        if k.ends_with('*') || params[..i].iter().any(|p| p.0.eq_ignore_ascii_case(k)) {
            return Err(bad);
        }
        if k.eq_ignore_ascii_case("name") {
            name = Some(v.to_string());
        } else if k.eq_ignore_ascii_case("filename") {
            filename = Some(v.to_string());
        }
    }
    Ok((name, filename))
}

/// How PHP and case-insensitive stacks (ASP.NET, nginx `$arg_`) key a field: leading spaces
/// dropped, the base before `[` with ` ` and `.` read as `_`, ASCII case folded; and the
/// bracket suffix (PHP arrays), if any.
fn reading(name: &str) -> (String, Option<String>) {
    let name = name.trim_start_matches(' ');
    let (base, suffix) = match name.find('[') {
        Some(i) => (&name[..i], Some(name[i..].to_ascii_lowercase())),
        None => (name, None),
    };
    let base = base
        .chars()
        .map(|c| if c == ' ' || c == '.' { '_' } else { c })
        .collect::<String>()
        .to_ascii_lowercase();
    (base, suffix)
}

/// Two parts whose different names some stack reads as the same field (`file` and `File`,
/// `file` and `file[]`, `a.b` and `a_b`). Repeated identical names are left to the caller,
/// which refuses them for the fields it reads; distinct array elements (`shots[0]`,
/// `shots[1]`) are different fields everywhere.
pub fn name_variants(parts: &[Part]) -> Result<(), MultipartError> {
    let named: Vec<(&str, (String, Option<String>))> = parts
        .iter()
        .filter_map(|p| p.name.as_deref())
        .map(|n| (n, reading(n)))
        .collect();
    for (i, (a, (base_a, suf_a))) in named.iter().enumerate() {
        for (b, (base_b, suf_b)) in &named[..i] {
            let same_field = suf_a.is_none() || suf_b.is_none() || suf_a == suf_b;
            if a != b && base_a == base_b && same_field {
                return Err(MultipartError::NameVariants);
            }
        }
    }
    Ok(())
}
