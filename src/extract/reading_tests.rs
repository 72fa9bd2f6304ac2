//! One reading per request, through `identify`: name spellings, header aliases, body types and
//! the `body_ids` check.

use super::*;
use crate::config::BodyIds;
use http::HeaderName;

const WX: &str = "wx84c222762738ce75";
const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("content-type", "application/json");

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn wechat(extract: Vec<Source>) -> RouteConfig {
    RouteConfig::new("r", PlatformSpec::Fixed(Platform::Wechat), extract)
}

fn query() -> RouteConfig {
    wechat(vec![Source::Query("appid".into())])
}

fn header() -> RouteConfig {
    wechat(vec![Source::Header(HeaderName::from_static("x-app-id"))])
}

fn id(r: &RouteConfig, p: &Parts, body: Option<&[u8]>) -> Result<Option<String>, Code> {
    identify(r, p, &[], body).map(|o| o.map(|i| i.id.into_owned()))
}

fn q(uri: &str) -> Result<Option<String>, Code> {
    id(&query(), &parts(uri, &[]), None)
}

#[test]
fn every_spelling_of_a_query_name_is_an_occurrence() {
    for second in [
        "APPID",
        "AppId",
        "appid[]",
        "appid[0]",
        "appid[x]",
        "+appid",
        "%20appid",
        "%61ppid",
        "appid%00x",
        "app%C4%B1d",
    ] {
        for value in [WX, "wx358a2cd2bf7c5dfe"] {
            let uri = format!("/?appid={WX}&{second}={value}");
            assert_eq!(q(&uri), Err(Code::AmbiguousRequest), "{uri}");
        }
    }
    // One occurrence in any spelling is the identifier: a reader that takes it decides on it.
    assert_eq!(q(&format!("/?x=1&APPID={WX}")), Ok(Some(WX.into())));
    assert_eq!(q(&format!("/?appid[]={WX}")), Ok(Some(WX.into())));
    // Other names stay other names.
    assert_eq!(
        q(&format!("/?appid={WX}&appid2=x&xappid=y&app_id=z")),
        Ok(Some(WX.into()))
    );
}

#[test]
fn semicolons_split_pairs_too() {
    for uri in [
        format!("/?appid={WX};appid={WX}"),
        format!("/?x=1;appid=wx358a2cd2bf7c5dfe&appid={WX}"),
        // `&` readers see no identifier, `;` readers see one.
        format!("/?x=1;appid={WX}"),
        // `&` readers see `wx…;x=1`, `;` readers see `wx…`.
        format!("/?appid={WX};x=1"),
    ] {
        assert_eq!(q(&uri), Err(Code::AmbiguousRequest), "{uri}");
    }
    assert_eq!(q(&format!("/?x=1;y=2&appid={WX}")), Ok(Some(WX.into())));
}

#[test]
fn php_mangled_names_match_a_configured_underscore() {
    let r = wechat(vec![Source::Query("app_id".into())]);
    for second in ["app.id", "app%20id", "app+id", "app[id", "APP_ID"] {
        let p = parts(&format!("/?app_id={WX}&{second}={WX}"), &[]);
        assert_eq!(id(&r, &p, None), Err(Code::AmbiguousRequest), "{second}");
    }
}

#[test]
fn form_fields_follow_the_query_rules() {
    let r = wechat(vec![Source::Form("appid".into())]);
    let body = format!("appid={WX}&AppId={WX}");
    assert_eq!(
        id(&r, &parts("/", &[FORM]), Some(body.as_bytes())),
        Err(Code::AmbiguousRequest)
    );
    let body = format!("a=b%20c&appid={WX}");
    assert_eq!(
        id(&r, &parts("/", &[FORM]), Some(body.as_bytes())),
        Ok(Some(WX.into()))
    );
    let body = "appid=wx84c2%32";
    assert_eq!(
        id(&r, &parts("/", &[FORM]), Some(body.as_bytes())),
        Err(Code::IdentifierInvalid)
    );
}

#[test]
fn header_aliases_and_connection() {
    let r = header();
    let one = parts("/", &[("x-app-id", WX)]);
    assert_eq!(id(&r, &one, None), Ok(Some(WX.into())));
    for alias in ["x_app_id", "X_App_Id", "x.app.id"] {
        let p = parts("/", &[("x-app-id", WX), (alias, WX)]);
        assert_eq!(id(&r, &p, None), Err(Code::AmbiguousRequest), "{alias}");
    }
    // An alias alone is the header, as CGI reads it.
    assert_eq!(
        id(&r, &parts("/", &[("x_app_id", WX)]), None),
        Ok(Some(WX.into()))
    );
    let p = parts(
        "/",
        &[("x-app-id", WX), ("connection", "keep-alive, X-App-Id")],
    );
    assert_eq!(id(&r, &p, None), Err(Code::AmbiguousRequest));
    let p = parts("/", &[("x-app-id", WX), ("connection", "keep-alive")]);
    assert_eq!(id(&r, &p, None), Ok(Some(WX.into())));
}

#[test]
fn bodies_are_read_as_the_type_they_declare() {
    let form = wechat(vec![Source::Form("appid".into())]);
    let json = wechat(vec![Source::Json(vec!["appid".into()])]);
    let fbody = format!("appid={WX}");
    let jbody = format!(r#"{{"appid":"{WX}"}}"#);
    let (f, j) = (Some(fbody.as_bytes()), Some(jbody.as_bytes()));
    let refused = Err(Code::UnsupportedMediaType);
    assert_eq!(id(&form, &parts("/", &[FORM]), f), Ok(Some(WX.into())));
    assert_eq!(id(&form, &parts("/", &[JSON]), f), refused);
    assert_eq!(id(&form, &parts("/", &[]), f), refused);
    assert_eq!(id(&json, &parts("/", &[JSON]), j), Ok(Some(WX.into())));
    let vnd = ("content-type", "application/vnd.store+json; charset=UTF-8");
    assert_eq!(id(&json, &parts("/", &[vnd]), j), Ok(Some(WX.into())));
    assert_eq!(id(&json, &parts("/", &[FORM]), j), refused);
    let multi = ("content-type", "multipart/form-data; boundary=x");
    assert_eq!(id(&json, &parts("/", &[multi]), j), refused);
    let utf16 = ("content-type", "application/json; charset=utf-16");
    assert_eq!(id(&json, &parts("/", &[utf16]), j), refused);
    // No body: nothing to read, whatever the type.
    assert_eq!(id(&json, &parts("/", &[]), Some(b"")), Ok(None));
    let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
    assert_eq!(
        id(&json, &parts("/", &[JSON]), Some(deep.as_bytes())),
        Err(Code::BodyInvalid)
    );
}

fn check(r: &RouteConfig, uri: &str, ct: &str, body: &str) -> Result<Option<String>, Code> {
    id(
        r,
        &parts(uri, &[("content-type", ct)]),
        Some(body.as_bytes()),
    )
}

const UNFILED: &str = "wx358a2cd2bf7c5dfe";

#[test]
fn body_ids_check_refuses_another_value() {
    let r = query();
    let uri = &format!("/?appid={WX}");
    let ok = Ok(Some(WX.into()));
    let form = "application/x-www-form-urlencoded";
    assert_eq!(check(&r, uri, form, &format!("x=1&appid={WX}")), ok);
    assert_eq!(check(&r, uri, form, "x=1&note=appid"), ok);
    for body in [
        format!("appid={UNFILED}"),
        format!("APPID={UNFILED}"),
        format!("x=1;appid[]={UNFILED}"),
        format!("appid={WX};x=1"),
        format!("appid={WX}&appid={UNFILED}"),
        "%61ppid=wx84c222762738ce7%35".to_string(),
    ] {
        assert_eq!(
            check(&r, uri, form, &body),
            Err(Code::AmbiguousRequest),
            "{body}"
        );
    }
    let json = "application/json";
    assert_eq!(check(&r, uri, json, &format!(r#"{{"AppId":"{WX}"}}"#)), ok);
    assert_eq!(check(&r, uri, json, r#"{"x":{"appid":"other"}}"#), ok);
    for body in [
        format!(r#"{{"AppId":"{UNFILED}"}}"#),
        r#"{"appid":null}"#.to_string(),
        format!(r#"{{"appid":["{WX}"]}}"#),
    ] {
        assert_eq!(
            check(&r, uri, json, &body),
            Err(Code::AmbiguousRequest),
            "{body}"
        );
    }
    assert_eq!(check(&r, uri, json, "{oops"), Err(Code::BodyInvalid));
    let multi = "multipart/form-data; boundary=b";
    let part = |name: &str, v: &str| {
        format!("--b\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{v}\r\n--b--\r\n")
    };
    assert_eq!(check(&r, uri, multi, &part("appid", WX)), ok);
    assert_eq!(
        check(&r, uri, multi, &part("APPID", UNFILED)),
        Err(Code::AmbiguousRequest)
    );
    assert_eq!(
        check(&r, uri, multi, "--b\r\nbroken"),
        Err(Code::BodyInvalid)
    );
    // A body of another type is not read.
    assert_eq!(
        check(&r, uri, "text/plain", &format!("appid={UNFILED}")),
        ok
    );
    // The body names an identifier the request has nowhere else.
    assert_eq!(
        check(&r, "/", form, &format!("appid={WX}")),
        Err(Code::AmbiguousRequest)
    );
}

#[test]
fn body_ids_modes_and_names() {
    let uri = &format!("/?appid={WX}");
    let form = "application/x-www-form-urlencoded";
    let same = format!("appid={WX}");
    let refuse = RouteConfig {
        body_ids: BodyIds::Refuse,
        ..query()
    };
    assert_eq!(
        check(&refuse, uri, form, &same),
        Err(Code::AmbiguousRequest)
    );
    assert_eq!(check(&refuse, uri, form, "x=1"), Ok(Some(WX.into())));
    let ignore = RouteConfig {
        body_ids: BodyIds::Ignore,
        ..query()
    };
    let other = format!("appid={UNFILED}");
    assert_eq!(check(&ignore, uri, form, &other), Ok(Some(WX.into())));
    // A header source is checked as a field, `-` read as `_`.
    let h = header();
    let p = parts("/", &[("x-app-id", WX), ("content-type", form)]);
    for body in [format!("x_app_id={UNFILED}"), format!("X-App-Id={UNFILED}")] {
        assert_eq!(
            id(&h, &p, Some(body.as_bytes())),
            Err(Code::AmbiguousRequest)
        );
    }
    // A path capture is checked by its name.
    let path = wechat(vec![Source::Path("appid".into())]);
    let caps = [("appid", 1..19)];
    let p = parts(&format!("/{WX}"), &[("content-type", form)]);
    assert_eq!(
        identify(&path, &p, &caps, Some(other.as_bytes())).map(|o| o.is_some()),
        Err(Code::AmbiguousRequest)
    );
    // The platform source is checked against the platform the request named.
    let r = RouteConfig::new(
        "r",
        PlatformSpec::From(Source::Query("host".into())),
        vec![Source::Query("appid".into())],
    );
    let uri = &format!("/?host=wechat&appid={WX}");
    assert_eq!(check(&r, uri, form, "host=wechat"), Ok(Some(WX.into())));
    assert_eq!(check(&r, uri, form, "host=qq"), Err(Code::AmbiguousRequest));
}
