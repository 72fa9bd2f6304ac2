//! Upload requests: how the body carries the package (raw or `multipart/form-data`), and what
//! the request claims about the package outside of it (the route's `extract` sources and
//! `platform_from`, where a `form` source is a multipart text field).
//!
//! Owns: content-type classification for upload routes and the claim that the policy compares
//! with the package's own identity.
//! Must not: read the body (the proxy spools it and hands over the scanned parts), or decide
//! anything about the package.
//! Invariant: `claim` returns one value per source kind or `ambiguous_request`, never a guess.

use super::multipart::{self, Part};
use super::{value_of, Captures};
use crate::code::Code;
use crate::config::{PlatformSpec, RouteConfig, Source, UploadRoute};
use crate::filing::Platform;
use crate::policy::Claim;
use http::{header, request::Parts};
use std::borrow::Cow;

/// How an upload body carries the package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadBody {
    /// The whole body is the package.
    Raw,
    /// `multipart/form-data` with this boundary; the package is the `upload.field` part.
    Multipart(String),
}

/// Classifies an upload by its headers. A body without a content type is raw (RFC 9110 lets
/// a recipient treat it as `application/octet-stream`); a content-coded body is refused, since
/// the package could not be inspected as sent.
pub fn classify(parts: &Parts, upload: &UploadRoute) -> Result<UploadBody, Code> {
    let coded = parts
        .headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if coded {
        return Err(Code::UnsupportedMediaType);
    }
    let mut types = parts.headers.get_all(header::CONTENT_TYPE).iter();
    let Some(ct) = types.next() else {
        return Ok(UploadBody::Raw);
    };
    if types.next().is_some() {
        return Err(Code::AmbiguousRequest);
    }
    let ct = ct.to_str().map_err(|_| Code::UnsupportedMediaType)?;
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime == "multipart/form-data" {
        return multipart::boundary(ct)
            .map(UploadBody::Multipart)
            .map_err(|e| e.code());
    }
    if upload.raw_types.contains(&mime) {
        Ok(UploadBody::Raw)
    } else {
        Err(Code::UnsupportedMediaType)
    }
}

/// The multipart text fields the route's sources read (what the scanner should keep).
pub fn wanted_fields(route: &RouteConfig) -> Vec<&str> {
    let platform = match &route.platform {
        PlatformSpec::From(s) => Some(s),
        _ => None,
    };
    route
        .extract
        .iter()
        .chain(platform)
        .filter_map(|s| match s {
            Source::Form(f) => Some(f.as_str()),
            _ => None,
        })
        .collect()
}

/// The single value of one source; multipart fields stand in for `form` sources.
fn claimed(
    src: &Source,
    parts: &Parts,
    caps: Captures<'_>,
    fields: &[Part],
) -> Result<Option<String>, Code> {
    let Source::Form(name) = src else {
        return value_of(src, parts, caps, None).map(|v| v.map(Cow::into_owned));
    };
    let mut found = fields.iter().filter(|p| p.name.as_deref() == Some(name));
    let Some(field) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(Code::AmbiguousRequest);
    }
    match &field.value {
        Some(v) => String::from_utf8(v.clone())
            .map(Some)
            .map_err(|_| Code::IdentifierInvalid),
        None => Err(Code::IdentifierInvalid),
    }
}

/// The value every source that has one agrees on.
fn agreed(
    sources: &[Source],
    parts: &Parts,
    caps: Captures<'_>,
    fields: &[Part],
) -> Result<Option<String>, Code> {
    let mut found: Option<String> = None;
    for s in sources {
        match (claimed(s, parts, caps, fields)?, &found) {
            (Some(v), Some(prev)) if *prev != v => return Err(Code::AmbiguousRequest),
            (Some(v), _) if !v.is_empty() => found = Some(v),
            _ => {}
        }
    }
    Ok(found)
}

/// What the request says about the uploaded package. `fields` are the multipart parts (empty
/// for a raw body).
pub fn claim(
    route: &RouteConfig,
    parts: &Parts,
    caps: Captures<'_>,
    fields: &[Part],
) -> Result<Claim, Code> {
    let id = agreed(&route.extract, parts, caps, fields)?;
    let platform = match &route.platform {
        PlatformSpec::From(src) => agreed(std::slice::from_ref(src), parts, caps, fields)?
            .map(|name| name.parse::<Platform>().map_err(|_| Code::PlatformInvalid))
            .transpose()?,
        PlatformSpec::Fixed(_) | PlatformSpec::Package => None,
    };
    Ok(Claim { platform, id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RouteConfig, DEFAULT_RAW_TYPES};

    fn route(extract: Vec<Source>, platform: PlatformSpec) -> RouteConfig {
        RouteConfig {
            upload: Some(upload()),
            ..RouteConfig::new("up", platform, extract)
        }
    }

    fn upload() -> UploadRoute {
        UploadRoute {
            field: "file".into(),
            max_bytes: 100,
            require_signer: true,
            verify_digests: false,
            raw_types: DEFAULT_RAW_TYPES.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn req(headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::post("/up?pkg=com.a.b");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn field(name: &str, value: Option<&[u8]>) -> Part {
        Part {
            name: Some(name.into()),
            filename: None,
            content_type: None,
            start: 0,
            end: 0,
            value: value.map(<[u8]>::to_vec),
            value_too_long: value.is_none(),
        }
    }

    #[test]
    fn content_types_classify() {
        let u = upload();
        let c = |h: &[(&str, &str)]| classify(&req(h), &u);
        assert_eq!(c(&[]), Ok(UploadBody::Raw));
        assert_eq!(
            c(&[("content-type", "application/vnd.android.package-archive")]),
            Ok(UploadBody::Raw)
        );
        assert_eq!(
            c(&[("content-type", "Application/Octet-Stream; x=y")]),
            Ok(UploadBody::Raw)
        );
        assert_eq!(
            c(&[("content-type", "multipart/form-data; boundary=q")]),
            Ok(UploadBody::Multipart("q".into()))
        );
        assert_eq!(
            c(&[("content-type", "multipart/form-data")]),
            Err(Code::MultipartInvalid)
        );
        assert_eq!(
            c(&[(
                "content-type",
                "multipart/form-data; boundary=a; boundary=b"
            )]),
            Err(Code::MultipartInvalid)
        );
        assert_eq!(
            c(&[("content-type", "application/json")]),
            Err(Code::UnsupportedMediaType)
        );
        assert_eq!(
            c(&[("content-encoding", "gzip")]),
            Err(Code::UnsupportedMediaType)
        );
        assert_eq!(c(&[("content-encoding", "identity")]), Ok(UploadBody::Raw));
        assert_eq!(
            c(&[
                ("content-type", "application/zip"),
                ("content-type", "text/plain")
            ]),
            Err(Code::AmbiguousRequest)
        );
    }

    #[test]
    fn claims_come_from_every_source_and_must_agree() {
        let r = route(
            vec![Source::Query("pkg".into()), Source::Form("package".into())],
            PlatformSpec::From(Source::Form("platform".into())),
        );
        assert_eq!(wanted_fields(&r), vec!["package", "platform"]);
        let p = req(&[]);
        let c = claim(&r, &p, &[], &[field("platform", Some(b"android"))]).unwrap();
        assert_eq!(c.id.as_deref(), Some("com.a.b"));
        assert_eq!(c.platform, Some(Platform::Android));
        assert_eq!(
            claim(&r, &p, &[], &[field("package", Some(b"com.x.y"))]),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(
            claim(
                &r,
                &p,
                &[],
                &[
                    field("package", Some(b"com.a.b")),
                    field("package", Some(b"com.a.b"))
                ]
            ),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(
            claim(&r, &p, &[], &[field("package", None)]),
            Err(Code::IdentifierInvalid)
        );
        assert_eq!(
            claim(&r, &p, &[], &[field("platform", Some(b"symbian"))]),
            Err(Code::PlatformInvalid)
        );
        let none = route(
            vec![Source::Header(http::HeaderName::from_static("x-app-id"))],
            PlatformSpec::Package,
        );
        assert_eq!(claim(&none, &p, &[], &[]), Ok(Claim::default()));
    }
}
