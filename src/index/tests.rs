use super::*;
use crate::filing::record::parse_line;

fn rec(number: &str, status: &str, platform: &str, id: &str, md5: &str) -> FilingRecord {
    parse_line(&format!(
        r#"{{"number":"{number}","status":"{status}","entity":"e{number}","app_name":"a","platforms":[{{"platform":"{platform}","ids":["{id}"],"signers":[{{"md5":"{md5}"}}]}}]}}"#
    ))
    .unwrap()
}

fn sample() -> Vec<FilingRecord> {
    vec![
        rec(
            "京ICP备12345678号-1A",
            "active",
            "android",
            "com.a.b",
            &"11".repeat(16),
        ),
        rec(
            "沪ICP备2023123456号-2A",
            "revoked",
            "android",
            "com.a.b",
            &"22".repeat(16),
        ),
        rec(
            "粤ICP备2023000001号-1A",
            "active",
            "ios",
            "Com.Foo.Bar",
            &"33".repeat(16),
        ),
    ]
}

fn checksum_of(records: impl Iterator<Item = FilingRecord>) -> u128 {
    records.fold(0u128, |acc, r| {
        acc.wrapping_add(record_digest(r.canonical_line().as_bytes()))
    })
}

#[test]
fn lookups_find_every_filing_for_a_shared_id() {
    let recs = sample();
    for bloom in [false, true] {
        let r = Revision::from_records(7, "test", &recs, bloom);
        let hits = r.lookup(Platform::Android, "com.a.b");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].status, Status::Active);
        assert_eq!(hits[1].status, Status::Revoked);
        assert!(r.lookup(Platform::Ios, "com.a.b").is_empty());
        assert!(r.lookup(Platform::Android, "com.a.c").is_empty());
        assert_eq!(r.lookup(Platform::Ios, "com.foo.BAR").len(), 1);
        assert_eq!(
            r.filed_elsewhere(Platform::Harmony, "com.a.b"),
            Some(Platform::Android)
        );
        assert_eq!(r.filed_elsewhere(Platform::Wechat, "com.a.b"), None);
        assert_eq!(r.stats.records, 3);
        assert_eq!(r.stats.ids_by[Platform::Android as usize], 2);
        assert_eq!(
            r.stats.records_by[Platform::Android as usize][Status::Revoked as usize],
            1
        );
        assert_eq!(r.record(&hits[1]).unwrap(), recs[1]);
        assert_eq!(r.find(&recs[2].number).unwrap().status, Status::Active);
        assert_eq!(r.checksum, checksum_of(recs.iter().cloned()));
    }
}

#[test]
fn publish_swaps_whole_revisions() {
    let idx = Index::new(Revision::empty());
    assert!(!idx.is_loaded());
    let old = idx.current();
    idx.publish(Revision::from_records(2, "t", &sample()[..1], false));
    assert!(idx.is_loaded());
    assert!(old.lookup(Platform::Android, "com.a.b").is_empty());
    assert_eq!(idx.current().lookup(Platform::Android, "com.a.b").len(), 1);
}

#[test]
fn deltas_upsert_replace_and_remove_through_the_overlay() {
    let recs = sample();
    let r1 = Revision::from_records(1, "t", &recs, false);
    let revoked = rec(
        "京ICP备12345678号-1A",
        "revoked",
        "android",
        "com.a.b",
        &"11".repeat(16),
    );
    let new = rec(
        "浙ICP备2024071295号-2A",
        "active",
        "android",
        "com.new.app",
        &"44".repeat(16),
    );
    let moved = rec(
        "粤ICP备2023000001号-1A",
        "active",
        "ios",
        "com.moved.app",
        &"33".repeat(16),
    );
    let r2 = r1
        .apply(
            2,
            &[
                Change::Upsert(revoked.clone()),
                Change::Upsert(new.clone()),
                Change::Upsert(moved.clone()),
            ],
            SystemTime::now(),
        )
        .unwrap();
    assert!(r2
        .lookup(Platform::Android, "com.a.b")
        .iter()
        .all(|h| h.status == Status::Revoked));
    assert_eq!(r2.lookup(Platform::Android, "com.a.b").len(), 2);
    assert_eq!(r2.lookup(Platform::Android, "com.new.app").len(), 1);
    assert!(
        r2.lookup(Platform::Ios, "com.foo.bar").is_empty(),
        "the replaced record's old id is gone"
    );
    assert_eq!(
        r2.lookup(Platform::Ios, "com.moved.app")[0].layer,
        Layer::Overlay
    );
    assert_eq!(
        r1.lookup(Platform::Android, "com.a.b")[0].status,
        Status::Active,
        "r1 is unchanged"
    );
    assert_eq!(r2.stats.records, 4);
    assert_eq!(
        r2.stats.records_by[Platform::Android as usize][Status::Active as usize],
        1
    );
    let live: Vec<FilingRecord> = r2.records().collect();
    assert_eq!(live.len(), 4);
    assert_eq!(r2.checksum, checksum_of(live.into_iter()));

    let r3 = r2
        .apply(
            3,
            &[Change::Remove(new.number), Change::Remove(recs[1].number)],
            SystemTime::now(),
        )
        .unwrap();
    assert!(r3.lookup(Platform::Android, "com.new.app").is_empty());
    assert_eq!(r3.lookup(Platform::Android, "com.a.b").len(), 1);
    assert_eq!(r3.stats.records, 2);
    assert_eq!(r3.checksum, checksum_of(r3.records()));
    assert!(matches!(
        r3.apply(4, &[Change::Remove(new.number)], SystemTime::now()),
        Err(ApplyError::RemoveMissing(_))
    ));

    let c = r3.compact();
    assert_eq!(c.overlay_records(), 0);
    assert_eq!(c.checksum, r3.checksum);
    assert_eq!(c.stats.records, 2);
    assert_eq!(c.lookup(Platform::Ios, "com.moved.app").len(), 1);
    assert_eq!(c.records().count(), 2);
}

#[test]
fn a_delta_can_touch_one_number_twice() {
    let recs = sample();
    let r1 = Revision::from_records(1, "t", &recs, false);
    let v2 = rec(
        "京ICP备12345678号-9A",
        "active",
        "android",
        "com.twice.app",
        &"55".repeat(16),
    );
    let v3 = rec(
        "京ICP备12345678号-9A",
        "cancelled",
        "android",
        "com.twice.app",
        &"55".repeat(16),
    );
    let r2 = r1
        .apply(
            2,
            &[Change::Upsert(v2.clone()), Change::Upsert(v3.clone())],
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(r2.lookup(Platform::Android, "com.twice.app").len(), 1);
    assert_eq!(
        r2.lookup(Platform::Android, "com.twice.app")[0].status,
        Status::Cancelled
    );
    let r3 = r2
        .apply(
            3,
            &[Change::Upsert(v2), Change::Remove(v3.number)],
            SystemTime::now(),
        )
        .unwrap();
    assert!(r3.lookup(Platform::Android, "com.twice.app").is_empty());
    assert_eq!(r3.checksum, r1.checksum);
}

#[test]
fn a_layer_rebuilt_from_its_encoded_parts_answers_the_same() {
    let rev = Revision::from_records(1, "t", &sample(), false);
    let (blob, entities, records) = rev.base.encoded_parts();
    let (names, ends) = entities.parts();
    let ents = store::Entities::from_parts(names.to_string(), ends.to_vec()).unwrap();
    let again = Base::from_encoded(blob.to_vec().into(), ents, records.to_vec(), false);
    assert_eq!(again.lookup(Platform::Android, "com.a.b").len(), 2);
    assert_eq!(again.lookup(Platform::Ios, "com.foo.bar").len(), 1);
    assert!(again.lookup(Platform::Android, "com.a.c").is_empty());
    let n = FilingNumber::parse("粤ICP备2023000001号-1A").unwrap();
    let off = again.find_number(&n).unwrap();
    assert_eq!(again.record(off).unwrap().entity, "e粤ICP备2023000001号-1A");
    assert_eq!(again.stats.records, 3);
    assert!(store::Entities::from_parts("ab".into(), vec![3]).is_none());
    assert!(store::Entities::from_parts("ab".into(), vec![2, 1]).is_none());
}

#[test]
fn filed_elsewhere_finds_a_mini_program_on_its_own_host_only() {
    let mp = parse_line(
        r#"{"number":"京ICP备2026059598号-1X","status":"active","entity":"某公司","app_name":"m","platforms":[{"platform":"wechat","ids":["wx84c222762738ce75"]}]}"#,
    )
    .unwrap();
    let r = Revision::from_records(1, "t", &[mp], false);
    assert_eq!(
        r.filed_elsewhere(Platform::Alipay, "wx84c222762738ce75"),
        Some(Platform::Wechat)
    );
    assert_eq!(
        r.filed_elsewhere(Platform::Alipay, "wx84c222762738ce76"),
        None
    );
    assert!(crate::filing::id::fits(
        Platform::Wechat,
        "wx84c222762738ce75"
    ));
    assert!(!crate::filing::id::fits(
        Platform::Alipay,
        "wx84c222762738ce75"
    ));
}

#[test]
fn filed_elsewhere_asks_siblings_in_order_across_base_tombstones_and_overlay() {
    // Active filing `n` of `com.x.y` under `platform` (numbers and signers differ by `n`).
    let listing = |n: u32, platform: &str| {
        rec(
            &format!("京ICP备202000000{n}号-1A"),
            "active",
            platform,
            "com.x.y",
            &format!("{n}{n}").repeat(16),
        )
    };
    let on_ios = listing(1, "ios");
    let on_harmony = listing(2, "harmony");
    for bloom in [false, true] {
        let r1 = Revision::from_records(1, "t", &[on_harmony.clone(), on_ios.clone()], bloom);
        assert_eq!(
            r1.filed_elsewhere(Platform::Android, "com.x.y"),
            Some(Platform::Ios),
            "siblings are asked in their order, not the records'"
        );
        assert_eq!(
            r1.filed_elsewhere(Platform::Ios, "com.x.y"),
            Some(Platform::Harmony)
        );
        assert_eq!(r1.filed_elsewhere(Platform::Android, "com.x.z"), None);
        let now = SystemTime::now();
        let r2 = r1.apply(2, &[Change::Remove(on_ios.number)], now).unwrap();
        assert_eq!(
            r2.filed_elsewhere(Platform::Android, "com.x.y"),
            Some(Platform::Harmony),
            "a removed base record no longer counts"
        );
        let moved = listing(3, "ios");
        let r3 = r2.apply(3, &[Change::Upsert(moved)], now).unwrap();
        assert_eq!(
            r3.filed_elsewhere(Platform::Android, "com.x.y"),
            Some(Platform::Ios),
            "the overlay's iOS record comes before the base's Harmony one"
        );
        assert_eq!(
            r3.filed_elsewhere(Platform::Ios, "com.x.y"),
            Some(Platform::Harmony)
        );
        let r4 = r3
            .apply(4, &[Change::Remove(on_harmony.number)], now)
            .unwrap();
        assert_eq!(r4.filed_elsewhere(Platform::Ios, "com.x.y"), None);
        // The base's earlier sibling wins over the overlay's later one, too.
        let only_ios = Revision::from_records(1, "t", std::slice::from_ref(&on_ios), bloom);
        let fresh = listing(4, "harmony");
        let r5 = only_ios.apply(2, &[Change::Upsert(fresh)], now).unwrap();
        assert_eq!(
            r5.filed_elsewhere(Platform::Android, "com.x.y"),
            Some(Platform::Ios)
        );
        // App siblings are asked without a grammar check: iOS still folds case, and ids no
        // app grammar allows find nothing.
        assert_eq!(
            r5.filed_elsewhere(Platform::Android, "COM.X.Y"),
            Some(Platform::Ios)
        );
        assert_eq!(
            r5.filed_elsewhere(Platform::Android, &"a.".repeat(150)),
            None
        );
        assert_eq!(r5.filed_elsewhere(Platform::Android, ""), None);
    }
}

#[test]
fn wait_loaded_pends_until_the_first_publish_and_then_returns_at_once() {
    use futures_util::FutureExt;
    let idx = Index::new(Revision::empty());
    assert!(idx.wait_loaded().now_or_never().is_none());
    let mut waiting = Box::pin(idx.wait_loaded());
    assert!((&mut waiting).now_or_never().is_none());
    idx.publish(Revision::from_records(1, "t", &sample(), false));
    assert!(
        waiting.now_or_never().is_some(),
        "the publish wakes a waiter"
    );
    assert!(idx.wait_loaded().now_or_never().is_some());
    let warm = Index::new(Revision::from_records(2, "t", &sample(), false));
    assert!(warm.wait_loaded().now_or_never().is_some());
}
