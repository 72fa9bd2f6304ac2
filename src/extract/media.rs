//! What a request body declares itself to be: its media type (`Content-Type`) and its content
//! coding (`Content-Encoding`), and decoding a gzip or deflate body within the body limit.
//!
//! Owns the classification every body reader uses, so a body is read as the one type it
//! declares: a form reader never parses JSON and a JSON reader never parses a form.
//! Must not: guess a type from the bytes, accept a declaration two common readers classify
//! differently, or hand out more than `limit` decoded bytes.
//! Invariant: `Media::of` returns `Form`, `Json` or `Multipart` only when both the strict
//! reading (the type before `;`) and PHP's lenient one (the type before `;`, `,` or a space)
//! name that type, and every `charset` parameter is UTF-8.

use crate::code::Code;
use http::{header, HeaderMap};
use std::io::Read;

/// A body's declared media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media<'a> {
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `application/json` or any `type/subtype+json`.
    Json,
    /// `multipart/form-data`; the whole `Content-Type` value, for its boundary.
    Multipart(&'a str),
    /// Some other type.
    Other,
    /// No `Content-Type` header.
    Missing,
}

fn kind(essence: &str) -> Media<'static> {
    let e = essence.as_bytes();
    if e.eq_ignore_ascii_case(b"application/x-www-form-urlencoded") {
        Media::Form
    } else if e.eq_ignore_ascii_case(b"application/json")
        || (e.len() > 5
            && e[e.len() - 5..].eq_ignore_ascii_case(b"+json")
            && e.iter().filter(|&&b| b == b'/').count() == 1)
    {
        Media::Json
    } else if e.eq_ignore_ascii_case(b"multipart/form-data") {
        Media::Multipart("")
    } else {
        Media::Other
    }
}

fn utf8_charset(v: &str) -> bool {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    v.eq_ignore_ascii_case("utf-8")
}

impl<'a> Media<'a> {
    /// Classifies the request's `Content-Type`. Two `Content-Type` headers are
    /// `ambiguous_request`; a value that is not visible ASCII, a type read differently by a
    /// strict and a lenient parser, or a form/JSON body with a charset other than UTF-8 are
    /// `unsupported_media_type`.
    pub fn of(headers: &'a HeaderMap) -> Result<Media<'a>, Code> {
        let mut all = headers.get_all(header::CONTENT_TYPE).iter();
        let Some(v) = all.next() else {
            return Ok(Media::Missing);
        };
        if all.next().is_some() {
            return Err(Code::AmbiguousRequest);
        }
        let ct = v.to_str().map_err(|_| Code::UnsupportedMediaType)?;
        let mut params = ct.split(';');
        let strict = params.next().unwrap_or("").trim_matches([' ', '\t']);
        let lenient = ct
            .trim_start_matches([' ', '\t'])
            .split([';', ',', ' ', '\t'])
            .next()
            .unwrap_or("");
        let media = kind(strict);
        if media != kind(lenient) {
            return Err(Code::UnsupportedMediaType);
        }
        let charset_ok = params.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => utf8_charset(v),
            _ => true,
        });
        match media {
            Media::Multipart(_) => Ok(Media::Multipart(ct)),
            Media::Form | Media::Json if !charset_ok => Err(Code::UnsupportedMediaType),
            m => Ok(m),
        }
    }

    /// True for the types a `body_ids` check reads: form, JSON, multipart.
    pub fn names_fields(self) -> bool {
        matches!(self, Media::Form | Media::Json | Media::Multipart(_))
    }
}

/// A body's content coding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    /// `deflate`: the zlib format (RFC 9110 §8.4.1.2).
    Deflate,
}

impl Coding {
    /// The request's `Content-Encoding`: `identity` entries are ignored; one `gzip`
    /// (`x-gzip`) or `deflate` is decoded; anything else, or two codings, is
    /// `unsupported_media_type`.
    pub fn of(headers: &HeaderMap) -> Result<Coding, Code> {
        let mut found = Coding::Identity;
        for v in headers.get_all(header::CONTENT_ENCODING) {
            let v = v.to_str().map_err(|_| Code::UnsupportedMediaType)?;
            for c in v.split(',').map(|c| c.trim_matches([' ', '\t'])) {
                let this = if c.is_empty() || c.eq_ignore_ascii_case("identity") {
                    continue;
                } else if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") {
                    Coding::Gzip
                } else if c.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else {
                    return Err(Code::UnsupportedMediaType);
                };
                if found != Coding::Identity {
                    return Err(Code::UnsupportedMediaType);
                }
                found = this;
            }
        }
        Ok(found)
    }

    /// Decodes `body`. More than `limit` decoded bytes is `body_too_large`; a stream that is
    /// corrupt, truncated, or followed by anything (a second gzip member, which some readers
    /// decode and others ignore) is `body_invalid`.
    pub fn decode(self, body: &[u8], limit: usize) -> Result<Vec<u8>, Code> {
        fn run<R: Read>(mut r: R, limit: usize) -> Result<(R, Vec<u8>), Code> {
            let mut out = Vec::new();
            (&mut r)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| Code::BodyInvalid)?;
            if out.len() > limit {
                return Err(Code::BodyTooLarge);
            }
            Ok((r, out))
        }
        let (rest, out) = match self {
            Coding::Identity => return Ok(body.to_vec()),
            Coding::Gzip => {
                let (r, out) = run(flate2::bufread::GzDecoder::new(body), limit)?;
                (r.into_inner(), out)
            }
            Coding::Deflate => {
                let (r, out) = run(flate2::bufread::ZlibDecoder::new(body), limit)?;
                (r.into_inner(), out)
            }
        };
        if rest.is_empty() {
            Ok(out)
        } else {
            Err(Code::BodyInvalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, write::ZlibEncoder, Compression};
    use std::io::Write;

    fn ct(v: &str) -> Result<Media<'static>, Code> {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, v.parse().unwrap());
        // The classification borrows the header map; leak it for the test's convenience.
        Media::of(Box::leak(Box::new(h)))
    }

    #[test]
    fn types_are_read_as_declared() {
        assert_eq!(ct("application/x-www-form-urlencoded"), Ok(Media::Form));
        assert_eq!(
            ct("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            Ok(Media::Form)
        );
        assert_eq!(ct("application/json"), Ok(Media::Json));
        assert_eq!(ct("application/json;charset=\"utf-8\""), Ok(Media::Json));
        assert_eq!(ct("application/problem+json"), Ok(Media::Json));
        assert_eq!(ct("application/vnd.x.v1+JSON; q=1"), Ok(Media::Json));
        assert_eq!(ct("text/plain"), Ok(Media::Other));
        assert_eq!(ct("application/jsonx"), Ok(Media::Other));
        assert_eq!(ct("+json"), Ok(Media::Other));
        assert!(matches!(
            ct("multipart/form-data; boundary=x"),
            Ok(Media::Multipart("multipart/form-data; boundary=x"))
        ));
        assert_eq!(Media::of(&HeaderMap::new()), Ok(Media::Missing));
    }

    #[test]
    fn declarations_readers_disagree_on_are_refused() {
        let refused = Err(Code::UnsupportedMediaType);
        // PHP cuts the type at `,` or a space; a strict reader sees another type.
        assert_eq!(ct("application/x-www-form-urlencoded, text/plain"), refused);
        assert_eq!(ct("application/x-www-form-urlencoded x"), refused);
        // Neither reading is a type the gateway reads: another type, forwarded unread.
        assert_eq!(ct("text/plain,application/json"), Ok(Media::Other));
        assert_eq!(ct("application/json; charset=utf-16"), refused);
        assert_eq!(
            ct("application/x-www-form-urlencoded; charset=utf-7"),
            refused
        );
        let mut h = HeaderMap::new();
        h.append(header::CONTENT_TYPE, "application/json".parse().unwrap());
        h.append(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(Media::of(&h), Err(Code::AmbiguousRequest));
    }

    fn ce(values: &[&str]) -> Result<Coding, Code> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::CONTENT_ENCODING, v.parse().unwrap());
        }
        Coding::of(&h)
    }

    #[test]
    fn codings() {
        assert_eq!(ce(&[]), Ok(Coding::Identity));
        assert_eq!(ce(&["identity"]), Ok(Coding::Identity));
        assert_eq!(ce(&["GZIP"]), Ok(Coding::Gzip));
        assert_eq!(ce(&["x-gzip, identity"]), Ok(Coding::Gzip));
        assert_eq!(ce(&["deflate"]), Ok(Coding::Deflate));
        for bad in [
            &["br"][..],
            &["zstd"],
            &["gzip, gzip"],
            &["gzip", "deflate"],
            &["x"],
        ] {
            assert_eq!(ce(bad), Err(Code::UnsupportedMediaType), "{bad:?}");
        }
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decoding_is_bounded_and_exact() {
        let g = gzip(b"appid=wx84c222762738ce75");
        assert_eq!(
            Coding::Gzip.decode(&g, 100).unwrap(),
            b"appid=wx84c222762738ce75"
        );
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(b"{}").unwrap();
        assert_eq!(
            Coding::Deflate.decode(&z.finish().unwrap(), 2).unwrap(),
            b"{}"
        );
        let bomb = gzip(&vec![b'a'; 1 << 20]);
        assert!(bomb.len() < 4096);
        assert_eq!(Coding::Gzip.decode(&bomb, 4096), Err(Code::BodyTooLarge));
        assert_eq!(
            Coding::Gzip.decode(&g[..g.len() - 3], 100),
            Err(Code::BodyInvalid)
        );
        assert_eq!(Coding::Gzip.decode(b"appid=x", 100), Err(Code::BodyInvalid));
        let two = [gzip(b"appid=a"), gzip(b"&appid=b")].concat();
        assert_eq!(Coding::Gzip.decode(&two, 100), Err(Code::BodyInvalid));
    }
}
