//! Unit tests of the path canonicaliser: a table of attack paths with the outcome in each
//! mode, canonical outputs as fixed points, and the URI rewrite keeping scheme, authority and
//! query.

use super::*;
use PathError::*;

/// What a path becomes in a mode: kept as it is, rewritten to this, or refused.
#[derive(Debug, PartialEq)]
enum Want {
    Same,
    To(&'static str),
    No(PathError),
}
use Want::*;

fn run(path: &str, mode: PathMode) -> Want {
    match canonical_path(path, mode) {
        Ok(Cow::Borrowed(p)) => {
            assert_eq!(p, path);
            Same
        }
        Ok(Cow::Owned(p)) => {
            assert_ne!(p, path, "an unchanged path is borrowed");
            To(Box::leak(p.into_boxed_str()))
        }
        Err(e) => No(e),
    }
}

/// (path, refuse mode, normalize mode).
const TABLE: &[(&str, Want, Want)] = &[
    // Canonical already: borrowed in both modes.
    ("/", Same, Same),
    ("/v1/android/apps/com.example.app/update", Same, Same),
    ("/static/", Same, Same),
    ("/a/b-c_d~e/f!$&'()*+,=:@", Same, Same),
    ("/mp/wechat/qr%20code", Same, Same),
    ("/%E4%B8%AD", Same, Same),
    ("/...", Same, Same),
    ("/a.b/.c/..d/", Same, Same),
    ("/x/%25", Same, Same),
    ("/x/%25zz", Same, Same),
    ("/x/%2525", No(DoubleEncoded), No(DoubleEncoded)),
    ("/\u{4e2d}\u{6587}", Same, Same),
    // Unreserved escapes are decoded in both modes; other escapes uppercased.
    (
        "/v1/%61ndroid/apps/x/update",
        To("/v1/android/apps/x/update"),
        To("/v1/android/apps/x/update"),
    ),
    (
        "/apps/com.filed%2Eapp/update",
        To("/apps/com.filed.app/update"),
        To("/apps/com.filed.app/update"),
    ),
    ("/%7e%5F%2d", To("/~_-"), To("/~_-")),
    ("/q%c3%a9", To("/q%C3%A9"), To("/q%C3%A9")),
    ("/%2e%2e%2e", To("/..."), To("/...")),
    // Dot-segments, raw or encoded, any case.
    (
        "/static/../v1/android/apps/x/update",
        No(DotSegment),
        To("/v1/android/apps/x/update"),
    ),
    (
        "/static/%2e%2e/v1/android",
        No(DotSegment),
        To("/v1/android"),
    ),
    (
        "/static/%2E%2E/v1/android",
        No(DotSegment),
        To("/v1/android"),
    ),
    ("/static/.%2e/v1/android", No(DotSegment), To("/v1/android")),
    ("/static/%2e./v1/android", No(DotSegment), To("/v1/android")),
    ("/static/./x", No(DotSegment), To("/static/x")),
    ("/static/%2e/x", No(DotSegment), To("/static/x")),
    ("/static/..", No(DotSegment), To("/")),
    ("/a/b/..", No(DotSegment), To("/a/")),
    ("/a/b/.", No(DotSegment), To("/a/b/")),
    ("/..", No(DotSegment), To("/")),
    ("/../../etc/passwd", No(DotSegment), To("/etc/passwd")),
    ("/a/b/../../../c", No(DotSegment), To("/c")),
    // `%2e%2e%2f`: the encoded slash has no normal form.
    (
        "/static/%2e%2e%2fv1/android",
        No(EncodedSeparator),
        No(EncodedSeparator),
    ),
    (
        "/static/..%2Fv1",
        No(EncodedSeparator),
        No(EncodedSeparator),
    ),
    (
        "/static/..%5cv1",
        No(EncodedSeparator),
        No(EncodedSeparator),
    ),
    // Empty segments.
    ("//v1/android", No(EmptySegment), To("/v1/android")),
    ("/static//x", No(EmptySegment), To("/static/x")),
    ("/a//../b", No(EmptySegment), To("/b")),
    ("/a/b//", No(EmptySegment), To("/a/b/")),
    // Backslashes, parameters, controls: refused in both modes.
    ("/static/..\\v1/android", No(Backslash), No(Backslash)),
    ("/static\\..\\v1", No(Backslash), No(Backslash)),
    ("/static/..;/v1/android", No(Parameter), No(Parameter)),
    (
        "/v1/android;jsessionid=1/apps",
        No(Parameter),
        No(Parameter),
    ),
    ("/a;", No(Parameter), No(Parameter)),
    ("/a%00.apk", No(Control), No(Control)),
    ("/a%0d%0aX:1", No(Control), No(Control)),
    ("/a%7F", No(Control), No(Control)),
    ("/a\tb", No(Control), No(Control)),
    // Malformed and double-encoded escapes.
    ("/a%", No(MalformedEscape), No(MalformedEscape)),
    ("/a%2", No(MalformedEscape), No(MalformedEscape)),
    ("/a%zz", No(MalformedEscape), No(MalformedEscape)),
    ("/a%%32e", No(MalformedEscape), No(MalformedEscape)),
    (
        "/static/%252e%252e/v1",
        No(DoubleEncoded),
        No(DoubleEncoded),
    ),
    ("/a%252F", No(DoubleEncoded), No(DoubleEncoded)),
    // An escape assembled by decoding others (found by fuzz/path).
    (
        "/static/%25%32e%25%32e/v1",
        No(DoubleEncoded),
        No(DoubleEncoded),
    ),
    ("/%25%325%2e", No(DoubleEncoded), No(DoubleEncoded)),
    ("/%25%35e/x", No(DoubleEncoded), No(DoubleEncoded)),
    // Overlong UTF-8 `.`, `/`, `\`.
    ("/static/%c0%ae%c0%ae/v1", No(Overlong), No(Overlong)),
    ("/static/..%c0%afv1", No(Overlong), No(Overlong)),
    ("/static/..%C1%9Cv1", No(Overlong), No(Overlong)),
    ("/%C0%B4", Same, Same),
    // Three-byte overlong forms, and what Windows best-fit mapping folds into `.` `/` `\`.
    ("/static/%E0%80%AE%E0%80%AE/v1", No(Overlong), No(Overlong)),
    ("/static/..%e0%80%afv1", No(Overlong), No(Overlong)),
    ("/static/..%EF%BC%8Fv1", No(Overlong), No(Overlong)),
    (
        "/static/%EF%BC%8E%EF%BC%8E%EF%BC%BCv1",
        No(Overlong),
        No(Overlong),
    ),
    ("/static/..%E2%88%95v1", No(Overlong), No(Overlong)),
    ("/static/%E2%80%A4%E2%80%A4/v1", No(Overlong), No(Overlong)),
    // Other three-byte characters are ordinary.
    ("/%E6%96%87%E4%BB%B6", Same, Same),
    ("/%EF%BC%A1", Same, Same),
    // Not an absolute path: OPTIONS *, CONNECT's authority form.
    ("*", No(NotAbsolute), No(NotAbsolute)),
    ("", No(NotAbsolute), No(NotAbsolute)),
    ("example.com:443", No(NotAbsolute), No(NotAbsolute)),
];

#[test]
fn attack_table_in_both_modes() {
    let mut wrong = Vec::new();
    for (path, refuse, normalize) in TABLE {
        for (mode, want) in [(PathMode::Refuse, refuse), (PathMode::Normalize, normalize)] {
            let got = run(path, mode);
            if got != *want {
                wrong.push(format!("{path:?} {mode:?}: got {got:?}, want {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A canonical path is a fixed point: canonicalising it again changes nothing.
#[test]
fn canonical_paths_are_fixed_points() {
    for (path, refuse, normalize) in TABLE {
        for (mode, want) in [(PathMode::Refuse, refuse), (PathMode::Normalize, normalize)] {
            let out = match want {
                Same => path,
                To(p) => p,
                No(_) => continue,
            };
            for m in [PathMode::Refuse, PathMode::Normalize] {
                assert_eq!(run(out, m), Same, "{path:?} {mode:?} -> {out:?} in {m:?}");
            }
        }
    }
}

fn uri_after(uri: &str, mode: PathMode) -> Result<String, PathError> {
    let mut u: http::Uri = uri.parse().unwrap();
    canonicalize(&mut u, mode).map(|()| u.to_string())
}

#[test]
fn the_rewrite_keeps_scheme_authority_and_query() {
    let n = PathMode::Normalize;
    assert_eq!(
        uri_after("/static/%2e%2e/v1/x?pkg=a%2e%2e&b=/../", n).unwrap(),
        "/v1/x?pkg=a%2e%2e&b=/../"
    );
    assert_eq!(
        uri_after("http://Host:8080/static/../v1/x?q", n).unwrap(),
        "http://Host:8080/v1/x?q"
    );
    assert_eq!(uri_after("/%61pps?x", PathMode::Refuse).unwrap(), "/apps?x");
    assert_eq!(
        uri_after("/static/../v1?q", PathMode::Refuse),
        Err(DotSegment)
    );
    assert_eq!(uri_after("*", n), Err(NotAbsolute));
}

#[test]
fn a_canonical_uri_is_left_alone() {
    let mut u: http::Uri = "/v1/android/apps/com.example.app/update?pkg=x"
        .parse()
        .unwrap();
    let before = u.path().as_ptr();
    canonicalize(&mut u, PathMode::Refuse).unwrap();
    assert_eq!(u.path().as_ptr(), before, "not rebuilt");
}

/// Inputs on which fuzz/path found a canonical form that was not a fixed point (an escape
/// assembled by decoding others). Each is refused, or canonical twice over, in both modes.
const FUZZ_FOUND: &[&str] = &[
    "///////0apps/xDupda|e//%25%325%2e",
    "/static/%2e%2222c/%2e%252%32222&",
    "/stadic/%2e%222/%2e%2222c/%2e%22c/%2e%252%32222&",
    "/%25%35e/%35e/N/+1/s@/e/N/+1++/%25e",
    "///////0///%25%32ee",
    "///////0/5/%25%32e%2e/v1/aid/apps/e",
    "/%AE%eFstatiZ/%2eeC0N%C0eeeFAE%C0eeee`eee%22AE/%AE%eF/a//%AE/%AE%eF%e0%eeAE%C0eeee`eeeFeF%C0eeeFAE%C0eeee`eAE%C0eeee/%2e%25/%2e%252%3222te",
    "/=///./%25%325%3e",
    "/%AE%eFstatic/%2eeC0N%C0eeeFAE%Ae%C0eeee`Eee%22AE%C0eeeFe(%C0eeeFAE%C0eeee`eAE-C0eFFAA[AAAAAAAAAAA%eFffAAAAAeee`eee%2e%2e/v1/androi/static/%2e%2d/%2e%25/%2e%252%3222te",
    "/%25e/N/+/%25e/N/+1++/5eLN/+1%25e/1++/5e/N/+1%25e%35e/%35e/N/+1//stadr",
    "//0I///////%25%33479866wq44352e",
    "/%3535e/%51/s@+%35e/bvtb/%2e%27345clxe/%2e%25%35e1N/+1/s@/e/%3135e/%31/s@+%35e***************************/%35e/N/+1/s@/",
    "////%25%325%2e",
    "///%AE/%AE%eF%e051%6525+1%251%6525",
    "////%25%35e/%35e/N%2e",
    "/%25%35e/N/+1++/%25e",
    "/%AE%eF%eFstatic/%2eeC0N%C0eeeFAE%C0eeee`eee%22AE%C0eeeFAE%C0e}ee`eee/%AE%eFstatic/Ckbvtb/%2e%222te/%2e%25/%2e%252%34e",
    "/%25e%61ndr[id25e",
    "//AE%eF/a//%AE/%AE%eF/E./%AE/&///0//5%25%33d",
];

#[test]
fn fuzz_findings_are_fixed_points_or_refused() {
    for path in FUZZ_FOUND {
        for mode in [PathMode::Refuse, PathMode::Normalize] {
            if let Ok(c) = canonical_path(path, mode) {
                let again = canonical_path(&c, mode);
                assert!(
                    matches!(again, Ok(Cow::Borrowed(a)) if a == c),
                    "{path:?} -> {c:?} -> {again:?}"
                );
            }
        }
    }
}
