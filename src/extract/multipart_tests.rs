//! Unit tests of the multipart scanner: exact offsets for every chunking, and one refusal per
//! construction that common parsers read differently.

use super::*;

const B: &str = "XyZ-boundary";

fn body(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = b"preamble to ignore\r\n".to_vec();
    for (name, filename, data) in parts {
        b.extend_from_slice(format!("--{B}\r\n").as_bytes());
        match filename {
            Some(f) => b.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => b.extend_from_slice(
                format!("content-disposition: form-data; name={name}\r\n\r\n").as_bytes(),
            ),
        }
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{B}--\r\n").as_bytes());
    b
}

fn scan(body: &[u8], chunk: usize, keep: &[&str]) -> Result<Vec<Part>, MultipartError> {
    let mut s = Scanner::new(B, keep);
    for c in body.chunks(chunk.max(1)) {
        s.feed(c)?;
    }
    s.finish()
}

/// The first error over every chunking of `body` (all chunkings must agree).
fn refused(body: &[u8]) -> MultipartError {
    let mut seen = None;
    for chunk in [1, 2, 5, 64, body.len()] {
        let e = scan(body, chunk, &["package"]).expect_err("refused");
        assert_eq!(*seen.get_or_insert(e), e, "chunk {chunk}");
    }
    seen.unwrap()
}

/// A one-part form with this header block and content.
fn one(headers: &str, content: &str) -> Vec<u8> {
    format!("--{B}\r\n{headers}\r\n\r\n{content}\r\n--{B}--\r\n").into_bytes()
}

#[test]
fn parts_and_offsets_are_exact_for_every_chunking() {
    let file: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut tricky = file.clone();
    // Content that almost looks like a delimiter must stay content.
    tricky.extend_from_slice(format!("\r\n--{}", &B[..B.len() - 1]).as_bytes());
    tricky.extend_from_slice(b"\r\n-");
    let b = body(&[
        ("package", None, b"com.example.app"),
        ("file", Some("a b;c.apk"), &tricky),
        ("note", None, b""),
    ]);
    for chunk in [1, 2, 3, 7, 16, 64, 1000, b.len()] {
        let parts = scan(&b, chunk, &["package", "note"]).unwrap();
        assert_eq!(parts.len(), 3, "chunk {chunk}");
        assert_eq!(parts[0].name.as_deref(), Some("package"));
        assert_eq!(parts[0].value.as_deref(), Some(&b"com.example.app"[..]));
        let f = &parts[1];
        assert_eq!(f.name.as_deref(), Some("file"));
        assert_eq!(f.filename.as_deref(), Some("a b;c.apk"));
        assert_eq!(f.value, None, "not asked for, not kept");
        assert_eq!(&b[f.start as usize..f.end as usize], &tricky[..]);
        assert_eq!(f.content_type.as_deref(), Some("application/octet-stream"));
        assert_eq!(parts[2].value.as_deref(), Some(&b""[..]));
    }
    // No CRLF after the close is fine too.
    let mut bare = b.clone();
    bare.truncate(bare.len() - 2);
    assert_eq!(scan(&bare, 7, &[]).unwrap().len(), 3);
}

#[test]
fn boundary_from_content_type() {
    let ok = |ct: &str| boundary(ct).ok();
    assert_eq!(
        ok("multipart/form-data; boundary=abc").as_deref(),
        Some("abc")
    );
    assert_eq!(
        ok("Multipart/Form-Data; charset=x; Boundary=\"a(b):c\"").as_deref(),
        Some("a(b):c")
    );
    assert_eq!(
        ok("multipart/form-data;boundary=----WebKitFormBoundaryAbC123").as_deref(),
        Some("----WebKitFormBoundaryAbC123")
    );
    for bad in [
        "multipart/form-data".to_string(),
        "multipart/mixed; boundary=abc".into(),
        "multipart/form-data; boundary=".into(),
        format!("multipart/form-data; boundary={}", "x".repeat(71)),
        // Repeated, in either case.
        "multipart/form-data; boundary=a; boundary=b".into(),
        "multipart/form-data; boundary=a; BOUNDARY=b".into(),
        // Characters some parsers split on or trim.
        "multipart/form-data; boundary=\"a;b\"".into(),
        "multipart/form-data; boundary=\"a,b\"".into(),
        "multipart/form-data; boundary=\"a b\"".into(),
        "multipart/form-data; boundary=\"a\\\"b\"".into(),
        // Unquoted characters outside a token.
        "multipart/form-data; boundary=a:b".into(),
        "multipart/form-data; boundary=a\"b".into(),
        // The word "boundary" elsewhere (PHP takes its first occurrence).
        "multipart/form-data; xboundary=a; boundary=b".into(),
        "multipart/form-data; charset=\"boundary=a\"; boundary=b".into(),
        // A list, and parameters run together.
        "multipart/form-data; boundary=a, text/plain".into(),
        "multipart/form-data; boundary=\"a\"junk".into(),
        "multipart/form-data; boundary=a b".into(),
    ] {
        assert_eq!(boundary(&bad), Err(MultipartError::Boundary), "{bad}");
    }
}

#[test]
fn malformed_bodies_are_errors_not_guesses() {
    let ok = body(&[("file", Some("a.apk"), b"data")]);
    // Cut anywhere before the closing delimiter: truncated.
    let close = ok.len() - b"--\r\n".len();
    for cut in 0..close {
        assert!(scan(&ok[..cut], 5, &[]).is_err(), "cut at {cut}");
    }
    assert_eq!(scan(b"just bytes", 3, &[]), Err(MultipartError::Truncated));
    let junk = format!("--{B}junk\r\n\r\nx\r\n--{B}--");
    assert_eq!(refused(junk.as_bytes()), MultipartError::BadDelimiter);
    let bad = format!("--{B}\r\nnot a header\r\n\r\nx\r\n--{B}--");
    assert_eq!(refused(bad.as_bytes()), MultipartError::BadHeaders);
    let mut long = format!("--{B}\r\nX-A: ").into_bytes();
    long.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
    assert_eq!(scan(&long, 100, &[]), Err(MultipartError::HeadersTooLong));
    let many: Vec<(&str, Option<&str>, &[u8])> =
        (0..=MAX_PARTS).map(|_| ("x", None, &b"1"[..])).collect();
    assert_eq!(
        scan(&body(&many), 50, &[]),
        Err(MultipartError::TooManyParts)
    );
}

#[test]
fn long_values_are_flagged_not_kept() {
    let big = vec![b'a'; MAX_VALUE_BYTES + 1];
    let parts = scan(&body(&[("package", None, &big)]), 100, &["package"]).unwrap();
    assert_eq!(parts[0].value, None);
    assert!(parts[0].value_too_long);
}

#[test]
fn delimiters_stand_on_their_own_crlf_lines() {
    let cd = "Content-Disposition: form-data; name=\"package\"";
    // LF-only line endings: a delimiter, the line after it, the blank line.
    let lf_delim = format!("--{B}\r\n{cd}\r\n\r\nx\n--{B}--\r\n");
    assert_eq!(refused(lf_delim.as_bytes()), MultipartError::BadDelimiter);
    let lf_after = format!("--{B}\n{cd}\r\n\r\nx\r\n--{B}--\r\n");
    assert_eq!(refused(lf_after.as_bytes()), MultipartError::BadDelimiter);
    let lf_blank = format!("--{B}\r\n{cd}\n\nx\r\n--{B}--\r\n");
    assert_eq!(refused(lf_blank.as_bytes()), MultipartError::BadHeaders);
    // A delimiter-looking line in the preamble, LF only.
    let pre = format!("junk\n--{B}\r\n{cd}\r\n\r\nx\r\n--{B}--\r\n");
    assert_eq!(refused(pre.as_bytes()), MultipartError::BadDelimiter);
    // The boundary inside content, mid-line.
    let mid = format!("--{B}\r\n{cd}\r\n\r\nab--{B}cd\r\n--{B}--\r\n");
    assert_eq!(refused(mid.as_bytes()), MultipartError::BadDelimiter);
    // Transport padding after a boundary.
    let pad = format!("--{B} \r\n{cd}\r\n\r\nx\r\n--{B}--\r\n");
    assert_eq!(refused(pad.as_bytes()), MultipartError::BadDelimiter);
    // Content right after the blank line that is itself a delimiter (no CRLF of its own).
    let glued = format!("--{B}\r\n{cd}\r\n\r\n--{B}--\r\n");
    assert_eq!(refused(glued.as_bytes()), MultipartError::BadDelimiter);
}

#[test]
fn nothing_but_one_crlf_follows_the_close() {
    let cd = "Content-Disposition: form-data; name=\"package\"";
    for tail in [
        "\r\n\r\n".to_string(),
        "epilogue".into(),
        "\r\nepilogue".into(),
        format!("\r\n--{B}\r\n{cd}\r\n\r\nevil\r\n--{B}--\r\n"),
        " \r\n".into(),
    ] {
        let b = format!("--{B}\r\n{cd}\r\n\r\nx\r\n--{B}--{tail}");
        assert_eq!(refused(b.as_bytes()), MultipartError::Epilogue, "{tail:?}");
    }
    let cr = format!("--{B}\r\n{cd}\r\n\r\nx\r\n--{B}--\r");
    assert_eq!(refused(cr.as_bytes()), MultipartError::Epilogue);
}

#[test]
fn part_headers_have_one_reading() {
    use MultipartError::*;
    let cases: &[(&str, MultipartError)] = &[
        ("Content-Type: text/plain", Disposition),
        (
            "Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b",
            RepeatedHeader,
        ),
        (
            "Content-Disposition: form-data; name=a\r\ncontent-disposition: form-data; name=a",
            RepeatedHeader,
        ),
        ("Content-Disposition: form-data;\r\n name=a", BadHeaders),
        (
            "Content-Disposition: form-data; name=a\r\n\tX: y",
            BadHeaders,
        ),
        ("Content-Disposition: attachment; name=a", Disposition),
        ("Content-Disposition: Form-Data; name=a", Disposition),
        (
            "Content-Disposition: form-data; name=a; name=b",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; name=a; NAME=b",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; name=a; filename=x; filename=y",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; name*=utf-8''a",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; name=a; filename*=utf-8''x",
            Disposition,
        ),
        ("Content-Disposition: form-data; name=a[]", Disposition),
        ("Content-Disposition: form-data; name=a/b", Disposition),
        (
            "Content-Disposition: form-data; name=\"a\\\"b\"",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; name=\"a\\\\\"",
            Disposition,
        ),
        (
            "Content-Disposition: form-data; filename=\"C:\\x.apk\"; name=a",
            Disposition,
        ),
        ("Content-Disposition: form-data; name = a", Disposition),
        ("Content-Disposition: form-data ; name=a", Disposition),
        ("Content-Disposition: form-data; name=\"a\"x", Disposition),
        ("Content-Disposition : form-data; name=a", BadHeaders),
        ("Content Disposition: form-data; name=a", BadHeaders),
        (
            "Content-Disposition: form-data; name=\"caf\u{e9}\"",
            BadHeaders,
        ),
        (
            "Content-Disposition: form-data; name=a\r\nX-Note: \u{7f}",
            BadHeaders,
        ),
        (
            "Content-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64",
            TransferEncoding,
        ),
        (
            "Content-Disposition: form-data; name=a\r\nContent-Type: multipart/mixed; boundary=z",
            NestedMultipart,
        ),
    ];
    for (headers, want) in cases {
        assert_eq!(refused(&one(headers, "x")), *want, "{headers}");
    }
    // What every parser reads alike.
    for headers in [
        "Content-Disposition: form-data; name=\"package\"",
        "content-disposition:form-data;name=package",
        "Content-Disposition: form-data; name=\"a;b\"; filename=\"x y.apk\"",
        "Content-Disposition: form-data; name=\"file\"; filename=\"\"\r\nContent-Type: application/octet-stream",
        "Content-Disposition: form-data; name=\"a\"; size=3",
    ] {
        let parts = scan(&one(headers, "x"), 3, &[]).unwrap_or_else(|e| panic!("{headers}: {e}"));
        assert_eq!(parts.len(), 1);
    }
}

#[test]
fn names_that_stacks_read_as_one_field_are_ambiguous() {
    let form = |a: &str, b: &str| {
        let p =
            |n: &str| format!("--{B}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\nv\r\n");
        format!("{}{}--{B}--\r\n", p(a), p(b)).into_bytes()
    };
    for (a, b) in [
        ("file", "File"),
        ("package", "PACKAGE"),
        ("file", "file[]"),
        ("file", "file[0]"),
        ("a.b", "a_b"),
        ("a b", "a_b"),
        ("file", " file"),
        ("x[A]", "x[a]"),
    ] {
        assert_eq!(
            scan(&form(a, b), 4, &[]),
            Err(MultipartError::NameVariants),
            "{a} {b}"
        );
    }
    assert_eq!(MultipartError::NameVariants.code(), Code::AmbiguousRequest);
    // Identical names are the caller's to judge; distinct array elements are distinct fields.
    for (a, b) in [
        ("file", "file"),
        ("shots[0]", "shots[1]"),
        ("tags[]", "tags[]"),
    ] {
        assert_eq!(scan(&form(a, b), 4, &[]).unwrap().len(), 2, "{a} {b}");
    }
}

#[test]
fn codes() {
    assert_eq!(MultipartError::Truncated.code(), Code::BodyInvalid);
    assert_eq!(MultipartError::Boundary.code(), Code::MultipartInvalid);
    assert_eq!(MultipartError::Epilogue.code(), Code::MultipartInvalid);
}
