//! Fuzzes the query and form readers. The input is one urlencoded string, read three ways:
//! as the query of a route whose id is a query parameter, as the form body of a route whose
//! id is a form field, and through the spelling rules directly. Readers must answer without
//! panicking; an id they accept must be one of the string's raw values (values are never
//! decoded) under both `&` and `;` splitting; and the spelling relation must be symmetric.

use icpgate::config::{PlatformSpec, RouteConfig, Source};
use icpgate::extract::{identify, names};
use icpgate::filing::Platform;

fn main() {
    let route =
        |src: Source| RouteConfig::new("fuzz", PlatformSpec::Fixed(Platform::Android), vec![src]);
    let by_query = route(Source::Query("app_id".into()));
    let by_form = route(Source::Form("app_id".into()));
    afl::fuzz!(|data: &[u8]| {
        // The spelling relation, on two names cut from the input.
        let (a, b) = data.split_at(data.len() / 2);
        assert_eq!(names::spells(a, b), names::spells(b, a));
        assert!(names::spells(a, a));
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        if let Ok(uri) = format!("/fuzz?{text}").parse::<http::Uri>() {
            let (mut parts, ()) = http::Request::new(()).into_parts();
            parts.uri = uri;
            if let Ok(Some(who)) = identify(&by_query, &parts, &[], None) {
                assert_raw_value(parts.uri.query().unwrap_or(""), &who.id);
            }
        }
        let (mut parts, ()) = http::Request::post("/fuzz")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap()
            .into_parts();
        parts.uri = "/fuzz".parse().unwrap();
        if let Ok(Some(who)) = identify(&by_form, &parts, &[], Some(data)) {
            assert_raw_value(text, &who.id);
        }
    });
}

/// `id` is the raw value of a pair of `raw`, under `&` splitting and under `;` splitting.
fn assert_raw_value(raw: &str, id: &str) {
    let amp = raw
        .split('&')
        .any(|p| p.split_once('=').is_some_and(|(_, v)| v == id));
    let semi = raw
        .split(['&', ';'])
        .any(|p| p.split_once('=').is_some_and(|(_, v)| v == id));
    assert!(amp && semi, "{raw:?} gave {id:?}");
}
