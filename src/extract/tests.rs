use super::*;

fn route(platform: PlatformSpec, extract: Vec<Source>) -> RouteConfig {
    RouteConfig::new("r", platform, extract)
}

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn android(extract: Vec<Source>) -> RouteConfig {
    route(PlatformSpec::Fixed(Platform::Android), extract)
}

fn id(
    r: &RouteConfig,
    p: &Parts,
    caps: Captures<'_>,
    body: Option<&[u8]>,
) -> Result<Option<String>, Code> {
    identify(r, p, caps, body).map(|o| o.map(|i| i.id.into_owned()))
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

#[test]
fn each_source_finds_its_value_once() {
    let q = android(vec![Source::Query("pkg".into())]);
    assert_eq!(
        id(&q, &parts("/x?a=1&pkg=com.a.b&c=%20+", &[]), &[], None),
        Ok(Some("com.a.b".into()))
    );
    // Query values are taken as sent: an escape or a `+` is not part of any id grammar.
    for v in ["com.a%2Eb", "com.a%252Eb", "com.a.b+", "%63om.a.b"] {
        assert_eq!(
            id(&q, &parts(&format!("/x?pkg={v}"), &[]), &[], None),
            Err(Code::IdentifierInvalid),
            "{v}"
        );
    }
    let h = android(vec![Source::Header(http::HeaderName::from_static(
        "x-app-id",
    ))]);
    assert_eq!(
        id(&h, &parts("/", &[("x-app-id", "com.a.b")]), &[], None),
        Ok(Some("com.a.b".into()))
    );
    let pth = android(vec![Source::Path("package".into())]);
    let caps = [("package", 5..14)];
    assert_eq!(
        id(&pth, &parts("/app/com.a%2Eb", &[]), &caps, None),
        Ok(Some("com.a.b".into()))
    );
    let f = android(vec![Source::Form("package".into())]);
    assert_eq!(
        id(&f, &parts("/", &[FORM]), &[], Some(b"x=1&package=com.a.b")),
        Ok(Some("com.a.b".into()))
    );
    let j = android(vec![Source::Json(vec!["app".into(), "id".into()])]);
    assert_eq!(
        id(
            &j,
            &parts("/", &[JSON]),
            &[],
            Some(br#"{"app":{"id":"com.a.b"}}"#)
        ),
        Ok(Some("com.a.b".into()))
    );
}

#[test]
fn missing_invalid_and_ambiguous() {
    let q = android(vec![Source::Query("pkg".into())]);
    assert_eq!(id(&q, &parts("/x?other=1", &[]), &[], None), Ok(None));
    assert_eq!(id(&q, &parts("/x?pkg=", &[]), &[], None), Ok(None));
    assert_eq!(
        id(&q, &parts("/x?pkg=not_a_package", &[]), &[], None),
        Err(Code::IdentifierInvalid)
    );
    assert_eq!(
        id(&q, &parts("/x?pkg=com.a.b&pkg=com.a.b", &[]), &[], None),
        Err(Code::AmbiguousRequest)
    );
    let h = android(vec![Source::Header(http::HeaderName::from_static(
        "x-app-id",
    ))]);
    assert_eq!(
        id(
            &h,
            &parts("/", &[("x-app-id", "com.a.b"), ("x-app-id", "com.c.d")]),
            &[],
            None
        ),
        Err(Code::AmbiguousRequest)
    );
    let j = android(vec![Source::Json(vec!["id".into()])]);
    assert_eq!(
        id(
            &j,
            &parts("/", &[JSON]),
            &[],
            Some(br#"{"id":"com.a.b","id":"com.c.d"}"#)
        ),
        Err(Code::AmbiguousRequest)
    );
    assert_eq!(
        id(&j, &parts("/", &[JSON]), &[], Some(b"{oops")),
        Err(Code::BodyInvalid)
    );
    assert_eq!(
        id(&j, &parts("/", &[JSON]), &[], Some(br#"{"id":{"x":1}}"#)),
        Err(Code::IdentifierInvalid)
    );
}

#[test]
fn sources_must_agree() {
    let r = android(vec![
        Source::Query("pkg".into()),
        Source::Header(http::HeaderName::from_static("x-app-id")),
    ]);
    assert_eq!(
        id(
            &r,
            &parts("/?pkg=com.a.b", &[("x-app-id", "com.a.b")]),
            &[],
            None
        ),
        Ok(Some("com.a.b".into()))
    );
    assert_eq!(
        id(&r, &parts("/?pkg=com.a.b", &[]), &[], None),
        Ok(Some("com.a.b".into()))
    );
    assert_eq!(
        id(
            &r,
            &parts("/?pkg=com.a.b", &[("x-app-id", "com.c.d")]),
            &[],
            None
        ),
        Err(Code::AmbiguousRequest)
    );
}

#[test]
fn platform_from_a_source() {
    let r = route(
        PlatformSpec::From(Source::Path("platform".into())),
        vec![Source::Query("id".into())],
    );
    let caps = [("platform", 1..7)];
    let req = parts("/wechat?id=wx84c222762738ce75", &[]);
    let got = identify(&r, &req, &caps, None).unwrap().unwrap();
    assert_eq!(got.platform, Platform::Wechat);
    let caps = [("platform", 1..8)];
    assert_eq!(
        identify(
            &r,
            &parts("/symbian?id=wx84c222762738ce75", &[]),
            &caps,
            None
        ),
        Err(Code::PlatformInvalid)
    );
}
