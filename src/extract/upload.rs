//! Upload requests: how the body carries the package (raw or `multipart/form-data`), and what
//! the request claims about the package outside of it (the route's `extract` sources and
//! `platform_from`, where a `form` source is a multipart text field).
//!
//! Owns: content-type classification for upload routes and the claim that the policy compares
//! with the package's own identity.
//! Must not: read the body (the proxy spools it and hands over the scanned parts), or decide
//! anything about the package.
//! Invariant: `claim` returns one value per source kind or `ambiguous_request`, never a guess.

use super::bearer::NO_CREDENTIALS;
use super::multipart::{self, Part};
use super::names;
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

/// The multipart text fields the route's sources name (what the scanner keeps the values of,
/// in any spelling `names::spells_header` reads as the name): a `form` source's field, and the
/// field a stack that merges form fields with the query and headers (PHP `$_REQUEST`, Rails
/// `params`) would read for a `query` or `header` source.
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
            Source::Form(f) | Source::Query(f) => Some(f.as_str()),
            Source::Header(h) => Some(h.as_str()),
            Source::Path(_) | Source::Json(_) | Source::Token(_) => None,
        })
        .collect()
}

/// The value of the one multipart field spelled `name` (`header`: a header name, `-` read as
/// `_` too); two such fields are ambiguous.
fn field_value(fields: &[Part], name: &str, header: bool) -> Result<Option<String>, Code> {
    let spelled = |p: &&Part| {
        p.name.as_deref().is_some_and(|n| match header {
            true => names::spells_header(n.as_bytes(), name.as_bytes()),
            false => names::spells(n.as_bytes(), name.as_bytes()),
        })
    };
    let mut found = fields.iter().filter(spelled);
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

/// The single value of one source. Multipart fields stand in for `form` sources, and a field
/// named like a `query` or `header` source must agree with it (or stand in for it when the
/// request has none), as merging stacks read the two as one variable.
fn claimed(
    src: &Source,
    parts: &Parts,
    caps: Captures<'_>,
    fields: &[Part],
) -> Result<Option<String>, Code> {
    let field = match src {
        Source::Form(name) => return field_value(fields, name, false),
        Source::Query(name) => field_value(fields, name, false)?,
        Source::Header(h) => field_value(fields, h.as_str(), true)?,
        Source::Path(_) | Source::Json(_) | Source::Token(_) => None,
    };
    let own = value_of(src, parts, caps, None, &NO_CREDENTIALS)?.map(Cow::into_owned);
    match (own, field) {
        (Some(a), Some(b)) if a != b => Err(Code::AmbiguousRequest),
        (own, field) => Ok(own.or(field)),
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
        assert_eq!(wanted_fields(&r), vec!["pkg", "package", "platform"]);
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

    #[test]
    fn a_claim_field_is_read_in_every_spelling_and_merged_names_must_agree() {
        let form = route(vec![Source::Form("app_id".into())], PlatformSpec::Package);
        let parts = req(&[]);
        let id = |r: &RouteConfig, f: &[Part]| claim(r, &parts, &[], f).map(|c| c.id);
        // PHP reads `app.id` and `App_Id`-style names as `app_id`; so does the claim.
        for name in ["app_id", "app.id", "App_Id", "app_id[]"] {
            let f = [field(name, Some(b"com.a.b"))];
            assert_eq!(id(&form, &f), Ok(Some("com.a.b".into())), "{name}");
        }
        let two = [
            field("app_id", Some(b"com.a.b")),
            field("app.id", Some(b"com.a.b")),
        ];
        assert_eq!(id(&form, &two), Err(Code::AmbiguousRequest));
        // A query source and a multipart field of its name are one variable to PHP's
        // $_REQUEST: they must agree.
        let query = route(vec![Source::Query("pkg".into())], PlatformSpec::Package);
        assert_eq!(id(&query, &[]), Ok(Some("com.a.b".into())));
        let same = [field("pkg", Some(b"com.a.b"))];
        assert_eq!(id(&query, &same), Ok(Some("com.a.b".into())));
        let other = [field("PKG", Some(b"com.evil"))];
        assert_eq!(id(&query, &other), Err(Code::AmbiguousRequest));
        // A header source and a field named like it (`-` read as `_`).
        let header = route(
            vec![Source::Header(http::HeaderName::from_static("x-app-id"))],
            PlatformSpec::Package,
        );
        let with = req(&[("x-app-id", "com.a.b")]);
        let f = [field("x_app_id", Some(b"com.evil"))];
        assert_eq!(
            claim(&header, &with, &[], &f).map(|c| c.id),
            Err(Code::AmbiguousRequest)
        );
        assert_eq!(
            claim(&header, &req(&[]), &[], &f).map(|c| c.id),
            Ok(Some("com.evil".into())),
            "a field alone stands in for the header"
        );
        assert!(wanted_fields(&header).contains(&"x-app-id"));
    }
}
