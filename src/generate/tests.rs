use super::draw::permute;
use super::entities::entity_of;
use super::records::{UPDATED_FROM, UPDATED_TO};
use super::*;
use crate::filing::record::parse_line;
use crate::filing::{index_key, ServiceKind, Status};
use crate::index::{load_snapshot, parse_snapshot, Revision};
use std::collections::{HashMap, HashSet};

fn lines(records: u64, seed: u64) -> (String, GenerateSummary) {
    let mut out = Vec::new();
    let s = generate(records, seed, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), s)
}

#[test]
fn same_records_and_seed_give_the_same_bytes() {
    let (a, sa) = lines(3_000, 7);
    let (b, sb) = lines(3_000, 7);
    assert_eq!(a, b);
    assert_eq!(sa, sb);
    assert_eq!(sa.bytes, a.len() as u64);
    let (c, _) = lines(3_000, 8);
    assert_ne!(a, c);
    // A prefix of a longer run: record i does not depend on how many are generated, and
    // chunks concatenate to the whole.
    let (short, _) = lines(1_000, 7);
    assert!(a.starts_with(&short));
    let mut rest = Vec::new();
    generate_range(7, 1_000..3_000, &mut rest).unwrap();
    assert_eq!(format!("{short}{}", String::from_utf8(rest).unwrap()), a);
}

#[test]
fn every_line_parses_back_to_its_record() {
    let (text, s) = lines(10_000, 11);
    assert_eq!(text.lines().count(), 10_000);
    let mut ids = 0;
    for (i, line) in text.lines().enumerate() {
        let r = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e}: {line}", i + 1));
        assert_eq!(r, record(11, i as u64), "line {}", i + 1);
        ids += r.platforms.iter().map(|p| p.ids.len() as u64).sum::<u64>();
    }
    assert_eq!(ids, s.ids);
    let (_, report) = parse_snapshot(text.as_bytes(), 1, "gen", false);
    assert_eq!((report.accepted, report.rejected), (10_000, 0));
}

#[test]
fn numbers_and_ids_are_unique_except_the_deliberate_shared_packages() {
    const N: u64 = 50_000;
    let recs: Vec<FilingRecord> = (0..N).map(|i| record(3, i)).collect();
    let numbers: HashSet<String> = recs.iter().map(|r| r.number.to_string()).collect();
    assert_eq!(numbers.len() as u64, N);
    let mut by_key: HashMap<(Platform, String), Vec<usize>> = HashMap::new();
    for (i, r) in recs.iter().enumerate() {
        for p in &r.platforms {
            for id in &p.ids {
                by_key
                    .entry((p.platform, index_key(p.platform, id).into_owned()))
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut shared = 0;
    for ((platform, id), who) in &by_key {
        match who[..] {
            [_] => {}
            [a, b] => {
                assert_eq!(
                    *platform,
                    Platform::Android,
                    "{id} listed twice on {platform}"
                );
                assert_eq!(a + 1, b, "{id}: a shared package pairs neighbours");
                assert_ne!(entity_of(3, a as u64).0, entity_of(3, b as u64).0);
                let sa = &recs[a].platforms[0].signers[0];
                let sb = &recs[b].platforms[0].signers[0];
                assert!(!sa.matches(sb), "{id}: shared package with the same signer");
                shared += 1;
            }
            _ => panic!("{platform} {id} listed by {who:?}"),
        }
    }
    let android = by_key
        .keys()
        .filter(|(p, _)| *p == Platform::Android)
        .count();
    let ratio = shared as f64 / android as f64;
    assert!(
        (0.005..0.02).contains(&ratio),
        "{shared} shared of {android} android packages"
    );
}

#[test]
fn the_mix_matches_the_domain() {
    let (text, s) = lines(20_000, 5);
    let recs: Vec<FilingRecord> = text.lines().map(|l| parse_line(l).unwrap()).collect();
    let share = |f: &dyn Fn(&FilingRecord) -> bool| {
        recs.iter().filter(|r| f(r)).count() as f64 / recs.len() as f64
    };
    let app = share(&|r| r.kind() == ServiceKind::App);
    let mini = share(&|r| r.kind() == ServiceKind::MiniProgram);
    let quick = share(&|r| r.kind() == ServiceKind::QuickApp);
    assert!(
        (0.53..0.57).contains(&app)
            && (0.38..0.42).contains(&mini)
            && (0.04..0.06).contains(&quick)
    );
    let active = s.records_by_status[Status::Active as usize] as f64 / s.records as f64;
    assert!((0.88..0.92).contains(&active), "{active}");
    assert!(s.records_by_status.iter().all(|&n| n > 0));
    assert!(s.ids_by.iter().all(|&n| n > 0), "{:?}", s.ids_by);
    let provinces: HashSet<char> = recs.iter().map(|r| r.number.province()).collect();
    assert_eq!(provinces.len(), crate::filing::number::PROVINCES.len());
    let forms: HashSet<_> = recs
        .iter()
        .map(|r| format!("{:?}", r.number.form()))
        .collect();
    assert_eq!(forms.len(), 4, "{forms:?}");
    let entities: HashSet<&str> = recs.iter().map(|r| r.entity.as_str()).collect();
    let per_entity = recs.len() as f64 / entities.len() as f64;
    assert!(
        (2.5..3.5).contains(&per_entity),
        "{per_entity} filings per entity"
    );
    for r in &recs {
        for p in &r.platforms {
            let want = match p.platform {
                Platform::Android => (true, false, None),
                Platform::Ios => (false, true, Some(false)),
                Platform::Harmony => (false, false, Some(true)),
                _ => {
                    assert!(p.signers.is_empty());
                    continue;
                }
            };
            for sg in &p.signers {
                assert_eq!((sg.md5.is_some(), sg.sha1.is_some()), (want.0, want.1));
                if let Some(sha256) = want.2 {
                    assert_eq!(sg.sha256.is_some(), sha256);
                }
            }
        }
        let t = r.updated;
        assert!((UPDATED_FROM..UPDATED_TO).contains(&t));
    }
    assert_eq!(s.shared_android % 2, 0);
    assert!(s.shared_android > 0);
}

#[test]
fn unknown_ids_are_well_formed_and_never_filed() {
    let recs: Vec<FilingRecord> = (0..20_000).map(|i| record(9, i)).collect();
    for bloom in [false, true] {
        let rev = Revision::from_records(1, "gen", &recs, bloom);
        for i in 0..2_000 {
            for p in Platform::ALL {
                let id = unknown_id(9, i, p);
                crate::filing::validate(p, &id).unwrap();
                assert!(rev.lookup(p, &id).is_empty(), "{p} {id}");
            }
        }
        for i in (0..20_000).step_by(97) {
            let r = &recs[i];
            for p in &r.platforms {
                assert!(rev
                    .lookup(p.platform, &p.ids[0])
                    .iter()
                    .any(|h| h.number == r.number));
            }
        }
    }
    assert_ne!(
        unknown_id(9, 0, Platform::Wechat),
        unknown_id(9, 1, Platform::Wechat)
    );
}

#[test]
fn permute_is_a_bijection() {
    for m in [1, 2, 7, 1000, 36u64.pow(3), 65_536] {
        let seen: HashSet<u64> = (0..m).map(|x| permute(x, m, 12345)).collect();
        assert_eq!(seen.len() as u64, m);
        assert!(seen.iter().all(|&y| y < m));
    }
}

#[test]
fn too_many_records_is_refused() {
    let e = generate(MAX_RECORDS + 1, 1, io::sink()).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

// ---- the bundled sample registry -------------------------------------------------------

const SAMPLE_SEED: u64 = 2026;
const SAMPLE_GENERATED: u64 = 250;

fn sample_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-registry.ndjson")
}

/// The sample is the hand-written block, one blank line (loaders skip it), then the
/// generated tail.
fn sample_parts(text: &str) -> (&str, &str) {
    text.split_once("\n\n").unwrap_or((text, ""))
}

#[test]
fn sample_registry_loads_clean_and_answers_the_readme_lookups() {
    let (rev, report) = load_snapshot(&sample_path(), 1, false).unwrap();
    assert_eq!(report.rejected, 0, "{:?}", report.rejected_lines);
    assert!(report.accepted >= 200, "{}", report.accepted);
    for p in Platform::ALL {
        assert!(rev.stats.ids_by[p as usize] > 0, "no {p} ids");
    }
    for st in Status::ALL {
        assert!(
            rev.records().any(|v| v.status == st),
            "no {} record",
            st.as_str()
        );
    }
    let one = |p: Platform, id: &str| -> (String, Status) {
        let h = rev.lookup(p, id);
        assert_eq!(h.len(), 1, "{p} {id}: {h:?}");
        (h[0].number.to_string(), h[0].status)
    };
    use Status::*;
    let cases: [(Platform, &str, &str, Status); 16] = [
        (
            Platform::Ios,
            "xyz.superbart.xdyou",
            "陕ICP备2024026116号-1A",
            Active,
        ),
        (
            Platform::Android,
            "io.github.benderblog.traintime_pda",
            "陕ICP备2024026116号-1A",
            Active,
        ),
        (
            Platform::Android,
            "com.yucore.swashbucklerdiary",
            "辽ICP备2023009191号-2A",
            Active,
        ),
        (
            Platform::Android,
            "com.example.revokedapp",
            "粤ICP备2023123456号-3A",
            Revoked,
        ),
        (
            Platform::Android,
            "com.example.cancelledapp",
            "浙ICP备2024071295号-2A",
            Cancelled,
        ),
        (
            Platform::Android,
            "com.example.restrictedapp",
            "京ICP备2026059598号-4A",
            Restricted,
        ),
        (
            Platform::Wechat,
            "wx84c222762738ce75",
            "京ICP备2026059598号-1X",
            Active,
        ),
        (
            Platform::Wechat,
            "wx358a2cd2bf7c5dfe",
            "粤B2-20090059-1626X",
            Active,
        ),
        (
            Platform::Alipay,
            "2021001102642986",
            "京ICP证030173号-216X",
            Revoked,
        ),
        (
            Platform::Douyin,
            "tt411d37a0de37d565",
            "蜀ICP备2024062329号-1X",
            Active,
        ),
        (
            Platform::Baidu,
            "4fecoAqgCIUtzIyA4FAPgoyrc4oUc25c",
            "黔ICP备2025044274号-1X",
            Active,
        ),
        (Platform::Qq, "1112112167", "川ICP备10200063号-2X", Active),
        (
            Platform::Kuaishou,
            "ks717479719227682172",
            "滇ICP备2020009854号-3X",
            Active,
        ),
        (
            Platform::QuickApp,
            "com.example.quickgame",
            "闽ICP备2024111111号-1B",
            Active,
        ),
        (
            Platform::Harmony,
            "com.example.hmos.notes",
            "鄂ICP备2024222222号-2A",
            Active,
        ),
        (
            Platform::Ios,
            "com.example.iosonly",
            "豫ICP备2024333333号-1A",
            Active,
        ),
    ];
    for (p, id, number, status) in cases {
        assert_eq!(one(p, id), (number.to_string(), status), "{p} {id}");
    }
    let xdyou = rev
        .record(&rev.lookup(Platform::Ios, "xyz.superbart.xdyou")[0])
        .unwrap();
    assert_eq!(
        (xdyou.app_name.as_str(), xdyou.entity.as_str()),
        ("XDYou", "西安电子科技大学")
    );
    assert!(xdyou
        .platforms
        .iter()
        .any(|p| p.platform == Platform::Ios && p.signers[0].sha1.is_some()));
    assert!(xdyou
        .platforms
        .iter()
        .any(|p| p.platform == Platform::Android && p.signers[0].md5.is_some()));
    let diary = rev
        .record(&rev.lookup(Platform::Android, "com.yucore.swashbucklerdiary")[0])
        .unwrap();
    assert_eq!(diary.app_name, "侠客日记");
    let harmony = rev
        .record(&rev.lookup(Platform::Harmony, "com.example.hmos.notes")[0])
        .unwrap();
    assert!(harmony.platforms[0].signers[0].sha256.is_some());
    // One package, two entities, two signers, one active and one revoked.
    let shared = rev.lookup(Platform::Android, "com.example.shared");
    let got: Vec<(String, Status)> = shared
        .iter()
        .map(|h| (h.number.to_string(), h.status))
        .collect();
    assert_eq!(
        got,
        [
            ("沪ICP备2024000001号-1A".to_string(), Active),
            ("苏ICP备2024000002号-1A".to_string(), Revoked)
        ]
    );
    let (a, b) = (
        rev.record(&shared[0]).unwrap(),
        rev.record(&shared[1]).unwrap(),
    );
    assert_ne!(a.entity, b.entity);
    assert!(!a.platforms[0].signers[0].matches(&b.platforms[0].signers[0]));
    // Filed for ios only: android finds nothing, but the index knows it is filed elsewhere.
    assert!(rev
        .lookup(Platform::Android, "com.example.iosonly")
        .is_empty());
    assert_eq!(
        rev.filed_elsewhere(Platform::Android, "com.example.iosonly"),
        Some(Platform::Ios)
    );
}

#[test]
fn sample_registry_tail_is_the_generator_output() {
    let text = std::fs::read_to_string(sample_path()).unwrap();
    let (head, tail) = sample_parts(&text);
    assert!(
        head.lines().count() >= 17,
        "hand-written block has {} lines",
        head.lines().count()
    );
    let (generated, _) = lines(SAMPLE_GENERATED, SAMPLE_SEED);
    assert!(
        tail == generated,
        "the generated tail differs from generate({SAMPLE_GENERATED}, {SAMPLE_SEED}); rewrite it with \
         `cargo test --lib generate::tests::write_sample_registry -- --ignored`"
    );
}

/// Rewrites the generated tail of the sample registry, keeping the hand-written block.
#[test]
#[ignore = "writes config/sample-registry.ndjson"]
fn write_sample_registry() {
    let old = std::fs::read_to_string(sample_path()).unwrap();
    let (head, _) = sample_parts(&old);
    let (generated, _) = lines(SAMPLE_GENERATED, SAMPLE_SEED);
    std::fs::write(sample_path(), format!("{}\n\n{generated}", head.trim_end())).unwrap();
}
