use super::*;
use crate::config::{PlatformSpec, Source};
use crate::filing::record::parse_line;

fn route(
    mode: Mode,
    on_missing: OnMissing,
    on_unknown: OnUnknown,
    on_stale: OnStale,
) -> RouteConfig {
    RouteConfig {
        mode,
        on_missing,
        on_unknown,
        on_stale,
        ..RouteConfig::new(
            "r",
            PlatformSpec::Fixed(Platform::Android),
            vec![Source::Query("pkg".into())],
        )
    }
}

fn enforce_route() -> RouteConfig {
    route(
        Mode::Enforce,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Enforce,
    )
}

fn rev() -> Revision {
    let lines = [
        ("京ICP备12345678号-1A", "active", "android", "com.filed.app"),
        (
            "京ICP备12345678号-2A",
            "cancelled",
            "android",
            "com.cancelled.app",
        ),
        (
            "京ICP备12345678号-3A",
            "revoked",
            "android",
            "com.revoked.app",
        ),
        (
            "京ICP备12345678号-4A",
            "restricted",
            "android",
            "com.restricted.app",
        ),
        ("京ICP备12345678号-5A", "active", "ios", "com.ios.only"),
        (
            "沪ICP备2023000001号-1A",
            "active",
            "android",
            "com.shared.app",
        ),
        (
            "沪ICP备2023000002号-1A",
            "revoked",
            "android",
            "com.shared.app",
        ),
        (
            "沪ICP备2023000003号-1A",
            "cancelled",
            "android",
            "com.mixed.app",
        ),
        (
            "沪ICP备2023000004号-1A",
            "revoked",
            "android",
            "com.mixed.app",
        ),
    ];
    let recs: Vec<_> = lines
        .iter()
        .map(|(n, s, p, id)| {
            parse_line(&format!(r#"{{"number":"{n}","status":"{s}","entity":"e","app_name":"a","platforms":[{{"platform":"{p}","ids":["{id}"]}}]}}"#)).unwrap()
        })
        .collect();
    Revision::from_records(1, "t", &recs, false)
}

fn who(id: &str) -> Identified<'_> {
    Identified {
        platform: Platform::Android,
        id: id.into(),
    }
}

fn d(route: &RouteConfig, id: Option<&str>, stale: bool) -> Decision {
    let w = id.map(who);
    decide(route, Ok(w.as_ref()), &rev(), stale)
}

#[test]
fn decision_table() {
    let r = enforce_route();
    assert!(
        matches!(d(&r, Some("com.filed.app"), false), Decision::Allow(ref n) if n[0].to_string() == "京ICP备12345678号-1A")
    );
    assert_eq!(
        d(&r, Some("com.cancelled.app"), false),
        Decision::Refuse(Code::Cancelled)
    );
    assert_eq!(
        d(&r, Some("com.revoked.app"), false),
        Decision::Refuse(Code::Revoked)
    );
    assert_eq!(
        d(&r, Some("com.restricted.app"), false),
        Decision::Refuse(Code::Restricted)
    );
    assert_eq!(
        d(&r, Some("com.ios.only"), false),
        Decision::Refuse(Code::PlatformNotFiled)
    );
    assert_eq!(
        d(&r, Some("com.nobody.app"), false),
        Decision::Refuse(Code::NotFiled)
    );
    assert_eq!(
        d(&r, None, false),
        Decision::Refuse(Code::IdentifierMissing)
    );
    assert_eq!(
        decide(&r, Err(Code::AmbiguousRequest), &rev(), false),
        Decision::Refuse(Code::AmbiguousRequest)
    );
}

#[test]
fn shared_package_allows_when_any_filing_is_active_and_reports_the_worst_otherwise() {
    let r = enforce_route();
    match d(&r, Some("com.shared.app"), false) {
        Decision::Allow(n) => assert_eq!(n.len(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        d(&r, Some("com.mixed.app"), false),
        Decision::Refuse(Code::Revoked)
    );
}

#[test]
fn route_knobs() {
    let r = route(
        Mode::Enforce,
        OnMissing::Block,
        OnUnknown::Forward,
        OnStale::Closed,
    );
    assert_eq!(d(&r, None, false), Decision::Refuse(Code::NotIdentified));
    assert_eq!(
        d(&r, Some("com.nobody.app"), false),
        Decision::Pass(PassReason::UnknownForwarded)
    );
    assert_eq!(
        d(&r, Some("com.filed.app"), true),
        Decision::Refuse(Code::IndexStale)
    );
    let r = route(
        Mode::Enforce,
        OnMissing::Forward,
        OnUnknown::Block,
        OnStale::Open,
    );
    assert_eq!(
        d(&r, None, false),
        Decision::Pass(PassReason::MissingForwarded)
    );
    assert_eq!(
        d(&r, Some("com.nobody.app"), true),
        Decision::Pass(PassReason::StaleOpen)
    );
    let r = route(
        Mode::Enforce,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Enforce,
    );
    assert_eq!(
        d(&r, Some("com.nobody.app"), true),
        Decision::Refuse(Code::NotFiled)
    );
}

#[test]
fn monitor_forwards_what_enforce_would_refuse_and_off_skips_lookup() {
    let r = route(
        Mode::Monitor,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Enforce,
    );
    assert_eq!(
        d(&r, Some("com.nobody.app"), false),
        Decision::Monitor(Code::NotFiled)
    );
    assert_eq!(
        d(&r, None, false),
        Decision::Monitor(Code::IdentifierMissing)
    );
    assert!(matches!(
        d(&r, Some("com.filed.app"), false),
        Decision::Allow(_)
    ));
    let r = route(
        Mode::Off,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Closed,
    );
    assert_eq!(
        d(&r, Some("com.nobody.app"), true),
        Decision::Pass(PassReason::ModeOff)
    );
}

#[test]
fn labels_are_bounded() {
    assert_eq!(Decision::<Numbers>::Refuse(Code::NotFiled).label(), "block");
    assert_eq!(
        Decision::<Numbers>::Refuse(Code::AmbiguousRequest).label(),
        "reject"
    );
    assert_eq!(
        Decision::<Numbers>::Monitor(Code::NotFiled).reason(),
        "not_filed"
    );
}

#[test]
fn reason_indices_are_dense_and_distinct() {
    let all: Vec<Reason> = std::iter::once(Reason::Filed)
        .chain(PassReason::ALL.map(Reason::Pass))
        .chain(Code::ALL.map(Reason::Code))
        .collect();
    assert_eq!(all.len(), Reason::COUNT);
    let mut seen = [false; Reason::COUNT];
    for r in all {
        assert!(
            !std::mem::replace(&mut seen[r.index()], true),
            "{r:?} shares an index"
        );
    }
    let labels: std::collections::HashSet<&str> = Outcome::ALL.map(Outcome::as_str).into();
    assert_eq!(labels.len(), Outcome::ALL.len());
}

#[test]
fn never_loaded_index_fails_closed_or_open_never_claims_not_filed() {
    let empty = Revision::empty();
    let w = who("com.filed.app");
    let r = route(
        Mode::Enforce,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Enforce,
    );
    assert_eq!(
        decide(&r, Ok(Some(&w)), &empty, true),
        Decision::Refuse(Code::IndexStale)
    );
    let r = route(
        Mode::Enforce,
        OnMissing::Reject,
        OnUnknown::Block,
        OnStale::Open,
    );
    assert_eq!(
        decide(&r, Ok(Some(&w)), &empty, true),
        Decision::Pass(PassReason::StaleOpen)
    );
}

/// `decide_with::<AnyActive>` (a list item's decision) is `decide` (a request's) with the
/// filing numbers of an allow reduced to "some": for every row of the table, every route knob,
/// stale or not, and the never-loaded revision.
#[test]
fn the_list_decision_is_the_request_decision_without_numbers() {
    let ids = [
        None,
        Some("com.filed.app"),
        Some("com.cancelled.app"),
        Some("com.revoked.app"),
        Some("com.restricted.app"),
        Some("com.ios.only"),
        Some("com.shared.app"),
        Some("com.mixed.app"),
        Some("com.nobody.app"),
    ];
    let errors = [Code::AmbiguousRequest, Code::IntrospectionUnavailable];
    let (filled, empty) = (rev(), Revision::empty());
    let reduce = |d: Decision| match d {
        Decision::Allow(n) => Decision::Allow(!n.is_empty()),
        Decision::Pass(r) => Decision::Pass(r),
        Decision::Monitor(c) => Decision::Monitor(c),
        Decision::Refuse(c) => Decision::Refuse(c),
    };
    let as_list = |d: Decision<AnyActive>| match d {
        Decision::Allow(a) => Decision::Allow(!a.is_empty()),
        Decision::Pass(r) => Decision::Pass(r),
        Decision::Monitor(c) => Decision::Monitor(c),
        Decision::Refuse(c) => Decision::Refuse(c),
    };
    let mut allowed = 0;
    for mode in [Mode::Enforce, Mode::Monitor, Mode::Off] {
        for on_missing in [OnMissing::Reject, OnMissing::Block, OnMissing::Forward] {
            for on_unknown in [OnUnknown::Block, OnUnknown::Forward] {
                for on_stale in [OnStale::Enforce, OnStale::Open, OnStale::Closed] {
                    let r = route(mode, on_missing, on_unknown, on_stale);
                    for (rev, stale) in [(&filled, false), (&filled, true), (&empty, false)] {
                        let whos: Vec<Result<Option<Identified>, Code>> = ids
                            .iter()
                            .map(|id| Ok(id.map(who)))
                            .chain(errors.iter().map(|&c| Err(c)))
                            .collect();
                        for w in &whos {
                            let w = w.as_ref().map(Option::as_ref).map_err(|c| *c);
                            let request = reduce(decide(&r, w, rev, stale));
                            let list = as_list(decide_with::<AnyActive>(&r, w, rev, stale));
                            assert_eq!(
                                list, request,
                                "{mode:?} {on_missing:?} {on_unknown:?} {on_stale:?} {stale} {w:?}"
                            );
                            allowed += matches!(list, Decision::Allow(true)) as usize;
                        }
                    }
                }
            }
        }
    }
    assert!(allowed > 0);
}
