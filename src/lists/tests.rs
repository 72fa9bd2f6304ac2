//! The per-item decision and the splice: same policy as a request, kept bytes verbatim.

use super::*;
use crate::config::{BatchConfig, FilterConfig, OnOversize, OnUnfiled, OnUnknown, PlatformSpec};
use crate::filing::FilingRecord;

mod reference;

const RECORDS: &str = r#"{"number":"陕ICP备2024026116号-1A","status":"active","entity":"甲","app_name":"A","platforms":[{"platform":"android","ids":["com.filed.app"]},{"platform":"ios","ids":["com.filed.ios"]}]}
{"number":"粤ICP备2023123456号-3A","status":"revoked","entity":"乙","app_name":"R","platforms":[{"platform":"android","ids":["com.revoked.app"]}]}
{"number":"京ICP备2026059598号-1X","status":"active","entity":"丙","app_name":"M","platforms":[{"platform":"wechat","ids":["wx84c222762738ce75"]}]}"#;

pub(crate) fn revision() -> Revision {
    let records: Vec<FilingRecord> = RECORDS
        .lines()
        .map(|l| crate::filing::record::parse_line(l).unwrap())
        .collect();
    Revision::from_records(1, "test", &records, true)
}

pub(super) fn tokens(p: &str) -> Vec<String> {
    p[1..].split('/').map(String::from).collect()
}

pub(crate) fn spec(list: &str, id: &str, platform: ItemPlatform) -> ListSpec {
    ListSpec {
        pointer: tokens(list),
        id: tokens(id),
        platform,
    }
}

pub(super) fn route(mode: Mode) -> RouteConfig {
    RouteConfig {
        mode,
        ..RouteConfig::new("lists", PlatformSpec::Fixed(Platform::Android), vec![])
    }
}

fn android() -> ListSpec {
    spec(
        "/results",
        "/package",
        ItemPlatform::Fixed(Platform::Android),
    )
}

fn reasons(d: &Decided) -> Vec<(Option<&str>, &str)> {
    d.removed
        .iter()
        .map(|r| (r.id.as_deref(), r.reason))
        .collect()
}

#[test]
fn unfiled_items_are_removed_and_kept_bytes_are_verbatim() {
    let body = br#"{"total":5,"results":[
      {"package":"com.filed.app","name":"A","rating":4.5},
      {"package":"com.unknown.app","name":"U"},
      {"name":"R", "package":"com.revoked.app"},
      {"package":"com.filed.ios"},
      {"package" : "com.filed.app" ,"x":[1,2,{"y":null}]}
    ],"next":"cursor"}"#;
    let d = decide(&route(Mode::Enforce), &android(), body, &revision(), false).unwrap();
    assert_eq!((d.items, d.total, d.outcome()), (5, 3, Outcome::Filtered));
    assert_eq!(
        reasons(&d),
        [
            (Some("com.unknown.app"), "not_filed"),
            (Some("com.revoked.app"), "revoked"),
            (Some("com.filed.ios"), "platform_not_filed"),
        ]
    );
    let out = String::from_utf8(d.body.unwrap()).unwrap();
    assert_eq!(
        out,
        r#"{"total":5,"results":[{"package":"com.filed.app","name":"A","rating":4.5},{"package" : "com.filed.app" ,"x":[1,2,{"y":null}]}],"next":"cursor"}"#
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap();
}

#[test]
fn nothing_removed_leaves_the_body_alone() {
    let body = br#"{"results":[{"package":"com.filed.app"}]}"#;
    let d = decide(&route(Mode::Enforce), &android(), body, &revision(), false).unwrap();
    assert_eq!((d.total, d.body.is_none()), (0, true));
    let body = br#"{"results":[]}"#;
    let d = decide(&route(Mode::Enforce), &android(), body, &revision(), false).unwrap();
    assert_eq!((d.items, d.outcome()), (0, Outcome::Kept));
}

#[test]
fn removing_every_item_leaves_an_empty_array() {
    let body = br#"{"results":[ {"package":"com.a.b"} , {"package":"com.c.d"} ]}"#;
    let d = decide(&route(Mode::Enforce), &android(), body, &revision(), false).unwrap();
    assert_eq!(d.body.unwrap(), br#"{"results":[]}"#);
}

#[test]
fn monitor_mode_counts_and_keeps() {
    let body = br#"{"results":[{"package":"com.unknown.app"},{"package":"com.filed.app"}]}"#;
    let d = decide(&route(Mode::Monitor), &android(), body, &revision(), false).unwrap();
    assert_eq!(
        (d.total, d.outcome(), d.body.is_none()),
        (1, Outcome::Monitored, true)
    );
    assert_eq!(reasons(&d), [(Some("com.unknown.app"), "not_filed")]);
}

#[test]
fn item_readings_follow_the_request_rules() {
    let body = br#"{"results":[
      {"package":"com.filed.app","package":"com.evil.app"},
      {"package":12},
      {"package":"not a package"},
      {"package":"com.filed\u002eapp"},
      {"name":"no id"},
      {"package":""},
      "com.filed.app"
    ]}"#;
    let d = decide(&route(Mode::Enforce), &android(), body, &revision(), false).unwrap();
    assert_eq!(
        reasons(&d),
        [
            (None, "ambiguous_request"),
            (None, "identifier_invalid"),
            (Some("not a package"), "identifier_invalid"),
            (None, "identifier_missing"),
            (Some(""), "identifier_missing"),
            (None, "identifier_missing"),
        ]
    );
    // The escaped spelling decodes to a filed id and is kept, with its original bytes.
    let out = String::from_utf8(d.body.unwrap()).unwrap();
    assert!(out.contains(r#"{"package":"com.filed\u002eapp"}"#), "{out}");
}

#[test]
fn platforms_from_items() {
    let s = spec("/r", "/id", ItemPlatform::From(tokens("/host")));
    let body = br#"{"r":[{"id":"wx84c222762738ce75","host":"wechat"},{"id":"wx84c222762738ce75","host":"alipay"},{"id":"com.filed.app","host":"android"},{"id":"com.filed.app","host":"mars"},{"id":"com.filed.app"},{"id":"com.filed.app","host":"ios","host":"android"}]}"#;
    let d = decide(&route(Mode::Enforce), &s, body, &revision(), false).unwrap();
    let got: Vec<_> = d.removed.iter().map(|r| (r.platform, r.reason)).collect();
    assert_eq!(
        got,
        [
            (Some("alipay"), "identifier_invalid"),
            (None, "platform_invalid"),
            (None, "platform_invalid"),
            (None, "ambiguous_request"),
        ]
    );
    assert_eq!(d.items - d.total, 2);
}

#[test]
fn route_knobs_apply_to_items() {
    let body = br#"{"results":[{"package":"com.unknown.app"},{"x":1}]}"#;
    let open = RouteConfig {
        on_unknown: OnUnknown::Forward,
        on_missing: crate::config::OnMissing::Forward,
        ..route(Mode::Enforce)
    };
    let d = decide(&open, &android(), body, &revision(), false).unwrap();
    assert_eq!(d.total, 0);
    // A stale index on a fail-closed route, or none loaded: the list cannot be decided.
    let closed = RouteConfig {
        on_stale: crate::config::OnStale::Closed,
        ..route(Mode::Enforce)
    };
    assert!(matches!(
        decide(&closed, &android(), body, &revision(), true),
        Err(Undecided::Stale)
    ));
    assert!(matches!(
        decide(
            &route(Mode::Enforce),
            &android(),
            body,
            &Revision::empty(),
            false
        ),
        Err(Undecided::Stale)
    ));
}

#[test]
fn unreadable_bodies() {
    let r = route(Mode::Enforce);
    for (body, fault) in [
        (&br#"{"results":{}}"#[..], Fault::NotArray),
        (br#"{"other":[]}"#, Fault::Missing),
        (br#"{"results":[],"results":[]}"#, Fault::Duplicate),
        (br#"{"results":[]"#, Fault::Syntax),
    ] {
        assert!(
            matches!(decide(&r, &android(), body, &revision(), false), Err(Undecided::Unreadable(f)) if f == fault),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn removed_ids_are_capped_and_tallied() {
    let items: Vec<String> = (0..MAX_LISTED + 5)
        .map(|i| format!(r#"{{"package":"com.gone.app{i}"}}"#))
        .collect();
    let body = format!(r#"{{"results":[{}]}}"#, items.join(","));
    let d = decide(
        &route(Mode::Enforce),
        &android(),
        body.as_bytes(),
        &revision(),
        false,
    )
    .unwrap();
    assert_eq!((d.total, d.removed.len()), (MAX_LISTED + 5, MAX_LISTED));
    assert_eq!(
        d.tally,
        [Tally {
            platform: Some(Platform::Android),
            reason: Code::NotFiled,
            count: (MAX_LISTED + 5) as u64
        }]
    );
}

#[test]
fn batches_drop_or_refuse() {
    let body =
        br#"{"installed":[{"package":"com.filed.app","v":3},{"package":"com.unknown.app","v":1}]}"#;
    let drop = BatchConfig {
        list: spec(
            "/installed",
            "/package",
            ItemPlatform::Fixed(Platform::Android),
        ),
        on_unfiled: OnUnfiled::Drop,
    };
    let b = batch::judge(&route(Mode::Enforce), &drop, body, &revision(), false);
    assert_eq!((b.outcome, b.refuse), (Outcome::Filtered, None));
    assert_eq!(
        b.body.unwrap(),
        br#"{"installed":[{"package":"com.filed.app","v":3}]}"#
    );
    let refuse = BatchConfig {
        on_unfiled: OnUnfiled::Refuse,
        ..drop.clone()
    };
    let b = batch::judge(&route(Mode::Enforce), &refuse, body, &revision(), false);
    assert_eq!(
        (b.outcome, b.refuse, b.body),
        (Outcome::Refused, Some(Code::BatchUnfiled), None)
    );
    let b = batch::judge(&route(Mode::Monitor), &refuse, body, &revision(), false);
    assert_eq!(
        (b.outcome, b.refuse, b.body),
        (Outcome::Monitored, None, None)
    );
    let b = batch::judge(&route(Mode::Enforce), &drop, b"{}", &revision(), false);
    assert_eq!(
        (b.outcome, b.refuse),
        (Outcome::Invalid, Some(Code::BodyInvalid))
    );
    let dup = br#"{"installed":[],"installed":[{"package":"com.unknown.app"}]}"#;
    let b = batch::judge(&route(Mode::Enforce), &drop, dup, &revision(), false);
    assert_eq!(b.refuse, Some(Code::AmbiguousRequest));
}

#[test]
fn responses_are_read_only_when_they_hold_a_list() {
    use http::{HeaderMap, HeaderValue, StatusCode};
    use response::{plan, Plan};
    let json = |ce: Option<&'static str>| {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(ce) = ce {
            h.insert("content-encoding", HeaderValue::from_static(ce));
        }
        h
    };
    use crate::extract::media::Coding;
    assert_eq!(
        plan(StatusCode::OK, &json(None), false),
        Plan::Read(Coding::Identity)
    );
    assert_eq!(
        plan(StatusCode::OK, &json(Some("gzip")), false),
        Plan::Read(Coding::Gzip)
    );
    assert_eq!(
        plan(StatusCode::OK, &json(Some("br")), false),
        Plan::Unreadable
    );
    assert_eq!(
        plan(StatusCode::OK, &HeaderMap::new(), false),
        Plan::Unreadable
    );
    assert_eq!(
        plan(StatusCode::PARTIAL_CONTENT, &json(None), false),
        Plan::Unreadable
    );
    assert_eq!(plan(StatusCode::OK, &json(None), true), Plan::Skip);
    assert_eq!(plan(StatusCode::NO_CONTENT, &json(None), false), Plan::Skip);
    assert_eq!(plan(StatusCode::NOT_FOUND, &json(None), false), Plan::Skip);
    assert_eq!(
        plan(StatusCode::BAD_GATEWAY, &HeaderMap::new(), false),
        Plan::Skip
    );
}

#[test]
fn response_verdicts() {
    use crate::extract::media::Coding;
    use bytes::Bytes;
    use response::{judge, Verdict};
    use std::io::Write;
    let f = FilterConfig {
        list: android(),
        max_bytes: 1000,
        on_oversize: OnOversize::Refuse,
    };
    let body = br#"{"results":[{"package":"com.filed.app"},{"package":"com.unknown.app"}]}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body).unwrap();
    let gz = Bytes::from(gz.finish().unwrap());
    let r = route(Mode::Enforce);
    match judge(&r, &f, Coding::Gzip, &gz, &revision(), false) {
        Verdict::Send { body, decided } => {
            assert_eq!(&body[..], br#"{"results":[{"package":"com.filed.app"}]}"#);
            assert_eq!(decided.total, 1);
        }
        v => panic!("{v:?}"),
    }
    let small = FilterConfig {
        max_bytes: 20,
        ..f.clone()
    };
    assert!(matches!(
        judge(&r, &small, Coding::Gzip, &gz, &revision(), false),
        Verdict::Refuse {
            code: Code::ListTooLarge,
            ..
        }
    ));
    let pass = FilterConfig {
        on_oversize: OnOversize::Pass,
        ..small
    };
    assert!(matches!(
        judge(&r, &pass, Coding::Gzip, &gz, &revision(), false),
        Verdict::Forward {
            outcome: Outcome::OversizePassed,
            ..
        }
    ));
    assert!(matches!(
        judge(&r, &f, Coding::Deflate, &gz, &revision(), false),
        Verdict::Refuse {
            code: Code::ListInvalid,
            ..
        }
    ));
    let raw = Bytes::from_static(body);
    assert!(matches!(
        judge(
            &route(Mode::Monitor),
            &f,
            Coding::Identity,
            &raw,
            &revision(),
            false
        ),
        Verdict::Forward {
            outcome: Outcome::Monitored,
            decided: Some(_)
        }
    ));
}

#[test]
fn removed_ids_are_quoted_up_to_128_characters() {
    // Multi-byte characters: the cut is by character, on a character boundary.
    let long = "中".repeat(200);
    let exact = "é".repeat(128);
    let body = format!(
        r#"{{"results":[{{"package":"{long}"}},{{"package":"{exact}"}},{{"package":"x"}}]}}"#
    );
    let d = decide(
        &route(Mode::Enforce),
        &android(),
        body.as_bytes(),
        &revision(),
        false,
    )
    .unwrap();
    let ids: Vec<&str> = d.removed.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(ids, ["中".repeat(128).as_str(), exact.as_str(), "x"]);
}
