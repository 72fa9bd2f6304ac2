//! `decide_located` held to a reference: every item decided by `policy::decide` as a request
//! would be, on every route knob and on a layered revision, and the kept items joined one by one.

use super::super::*;
use super::{revision, route, spec, tokens};
use crate::config::{OnMissing, OnStale, OnUnknown};
use crate::index::Change;

/// A revision with an overlay over its base: a record removed (its id tombstoned), one
/// replaced by a revoked version, ids filed by several records across both layers, and
/// platforms an id is filed under only in the overlay.
fn layered() -> Revision {
    let rec = |n: &str, status: &str, platforms: &str| {
        crate::filing::record::parse_line(&format!(
            r#"{{"number":"{n}","status":"{status}","entity":"e","app_name":"a","platforms":[{platforms}]}}"#
        ))
        .unwrap()
    };
    let one = |p: &str, id: &str| format!(r#"{{"platform":"{p}","ids":["{id}"]}}"#);
    let base = [
        rec(
            "京ICP备12345678号-1A",
            "active",
            &format!(
                "{},{}",
                one("android", "com.filed.app"),
                one("ios", "Com.Filed.IOS")
            ),
        ),
        rec(
            "京ICP备12345678号-2A",
            "revoked",
            &one("android", "com.revoked.app"),
        ),
        rec(
            "京ICP备12345678号-3A",
            "active",
            &one("android", "com.shared.app"),
        ),
        rec(
            "京ICP备12345678号-4A",
            "revoked",
            &one("android", "com.shared.app"),
        ),
        rec(
            "京ICP备12345678号-5A",
            "cancelled",
            &one("android", "com.mixed.app"),
        ),
        rec(
            "京ICP备12345678号-6A",
            "restricted",
            &one("android", "com.mixed.app"),
        ),
        rec(
            "京ICP备12345678号-7A",
            "active",
            &one("android", "com.gone.app"),
        ),
        rec(
            "京ICP备12345678号-8A",
            "active",
            &one("android", "com.changed.app"),
        ),
        rec(
            "京ICP备12345678号-9A",
            "active",
            &one("harmony", "com.harmony.only.app"),
        ),
        rec(
            "京ICP备12345678号-10X",
            "active",
            &one("wechat", "wx84c222762738ce75"),
        ),
        rec(
            "京ICP备12345678号-11A",
            "revoked",
            &one("android", "com.twice.app"),
        ),
    ];
    let changes = [
        Change::Remove(base[6].number),
        Change::Upsert(rec(
            "京ICP备12345678号-8A",
            "revoked",
            &one("android", "com.changed.app"),
        )),
        Change::Upsert(rec(
            "京ICP备12345678号-12A",
            "active",
            &one("android", "com.new.app"),
        )),
        Change::Upsert(rec(
            "京ICP备12345678号-13B",
            "active",
            &one("quickapp", "com.quick.only"),
        )),
        Change::Upsert(rec(
            "京ICP备12345678号-14A",
            "active",
            &one("android", "com.twice.app"),
        )),
        Change::Upsert(rec(
            "京ICP备12345678号-15X",
            "cancelled",
            &one("alipay", "2021001102642986"),
        )),
    ];
    Revision::from_records(1, "test", &base, true)
        .apply(2, &changes, std::time::SystemTime::now())
        .unwrap()
}

/// The reference `decide_located` is held to: each item decided by `policy::decide`, the
/// request's own decision, and the kept items' bytes joined with commas one by one.
fn reference(
    route: &RouteConfig,
    spec: &ListSpec,
    body: &str,
    rev: &Revision,
    stale: bool,
) -> Result<Decided, Undecided> {
    let platform = match &spec.platform {
        ItemPlatform::From(p) => Some(p.as_slice()),
        ItemPlatform::Fixed(_) => None,
    };
    let pointers = Pointers {
        list: &spec.pointer,
        id: &spec.id,
        platform,
    };
    let located = scan::locate_text(body, &pointers).map_err(Undecided::Unreadable)?;
    let mut d = Decided {
        items: located.items.len(),
        monitored: route.mode == Mode::Monitor,
        ..Decided::default()
    };
    let mut kept = Vec::new();
    for item in &located.items {
        let it = identity(body, spec, item);
        let who = it.who.as_ref().map(Option::as_ref).map_err(|c| *c);
        match policy::decide(route, who, rev, stale) {
            Decision::Allow(_) | Decision::Pass(_) => kept.push(&body[item.span.clone()]),
            Decision::Monitor(code) => {
                d.count(&it, code);
                kept.push(&body[item.span.clone()]);
            }
            Decision::Refuse(Code::IndexStale) => return Err(Undecided::Stale),
            Decision::Refuse(code) => d.count(&it, code),
        }
    }
    if kept.len() < located.items.len() {
        let (open, close) = (located.open, located.close);
        d.body =
            Some(format!("{}{}{}", &body[..=open], kept.join(","), &body[close..]).into_bytes());
    }
    Ok(d)
}

#[test]
fn every_item_gets_the_request_decision_on_every_route_and_revision() {
    // Items of every kind: filed, inactive, filed by several records (some in the overlay),
    // removed or replaced by the overlay, filed only under a sibling platform (base or
    // overlay), unknown, invalid for their platform, without an id or a platform, iOS ids in
    // another case; separated by a bare comma or with spaces, more than a batch of them.
    let cases = [
        ("android", "com.filed.app"),
        ("android", "com.revoked.app"),
        ("android", "com.shared.app"),
        ("android", "com.mixed.app"),
        ("android", "com.gone.app"),
        ("android", "com.changed.app"),
        ("android", "com.new.app"),
        ("android", "com.twice.app"),
        ("android", "com.harmony.only.app"),
        ("android", "com.quick.only"),
        ("android", "com.filed.ios"),
        ("android", "com.unknown.app"),
        ("android", "not a package"),
        ("android", ""),
        ("ios", "COM.FILED.ios"),
        ("ios", "com.filed.app"),
        ("harmony", "com.filed.app"),
        ("wechat", "wx84c222762738ce75"),
        ("alipay", "wx84c222762738ce75"),
        ("douyin", "tt411d37a0de37d565"),
        ("qq", "2021001102642986"),
        ("mars", "com.filed.app"),
    ];
    let mut items: Vec<String> = Vec::new();
    for round in 0..3 {
        for (p, id) in cases {
            items.push(format!(r#"{{"p":"{p}","id":"{id}","n":{round}}}"#));
        }
        items.push(r#"{"p":"android"}"#.into());
        items.push(r#"{"id":"com.filed.app"}"#.into());
        items.push(r#"{"p":"android","id":7}"#.into());
        items.push(r#"{"p":"android","id":"com.filed\u002eapp"}"#.into());
    }
    let mut body = String::from(r#"{"r":["#);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            body.push_str(if i % 5 == 0 { " ,\n " } else { "," });
        }
        body.push_str(item);
    }
    body.push_str(r#"],"tail":true}"#);
    let specs = [
        spec("/r", "/id", ItemPlatform::From(tokens("/p"))),
        spec("/r", "/id", ItemPlatform::Fixed(Platform::Android)),
    ];
    let revs = [revision(), layered(), Revision::empty()];
    let mut decided = 0;
    for mode in [Mode::Enforce, Mode::Monitor, Mode::Off] {
        for on_missing in [OnMissing::Reject, OnMissing::Block, OnMissing::Forward] {
            for on_unknown in [OnUnknown::Block, OnUnknown::Forward] {
                for on_stale in [OnStale::Enforce, OnStale::Open, OnStale::Closed] {
                    let r = RouteConfig {
                        on_missing,
                        on_unknown,
                        on_stale,
                        ..route(mode)
                    };
                    for (rev, s, stale) in revs
                        .iter()
                        .flat_map(|rev| specs.iter().map(move |s| (rev, s)))
                        .flat_map(|(rev, s)| [(rev, s, false), (rev, s, true)])
                    {
                        let want = reference(&r, s, &body, rev, stale);
                        let got = decide(&r, s, body.as_bytes(), rev, stale);
                        let at = format!("{mode:?} {on_missing:?} {on_unknown:?} {on_stale:?} stale={stale} rev={} {:?}", rev.revision, s.platform);
                        match (want, got) {
                            (Ok(w), Ok(g)) => {
                                assert_eq!(
                                    (w.items, w.total, w.monitored, &w.removed, &w.tally),
                                    (g.items, g.total, g.monitored, &g.removed, &g.tally),
                                    "{at}"
                                );
                                let text = |b: Option<Vec<u8>>| b.map(String::from_utf8);
                                assert_eq!(text(w.body), text(g.body), "{at}");
                                decided += 1;
                            }
                            (Err(w), Err(g)) => assert_eq!(w, g, "{at}"),
                            (w, g) => panic!("{at}: {w:?} against {g:?}"),
                        }
                    }
                }
            }
        }
    }
    assert!(decided > 100, "{decided} lists decided");
}
