use super::*;
use crate::filing::{Platform, Status};
use crate::index::Change;

fn revisions() -> (Revision, Revision) {
    let recs: Vec<_> = (0..300).map(|i| crate::generate::record(5, i)).collect();
    let base = Revision::from_records(4, "t", &recs, false);
    let mut changes: Vec<Change> = recs[..40]
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.status = Status::Revoked;
            Change::Upsert(r)
        })
        .collect();
    changes.push(Change::Remove(recs[100].number));
    changes.push(Change::Upsert(crate::generate::record(6, 1)));
    let next = base
        .apply(5, &changes, std::time::SystemTime::now())
        .unwrap();
    (base, next)
}

fn same(a: &Revision, b: &Revision) {
    assert_eq!((a.revision, a.checksum), (b.revision, b.checksum));
    assert_eq!(a.stats.records, b.stats.records);
    assert_eq!(a.stats.ids, b.stats.ids);
    assert_eq!(a.overlay_records(), b.overlay_records());
    let mut x: Vec<String> = a.records().map(|r| r.canonical_line()).collect();
    let mut y: Vec<String> = b.records().map(|r| r.canonical_line()).collect();
    x.sort();
    y.sort();
    assert_eq!(x, y);
    for r in a.records().take(50) {
        let p = &r.platforms[0];
        let id = &p.ids[0];
        let ha: Vec<_> = a.lookup(p.platform, id).iter().map(|h| h.number).collect();
        let hb: Vec<_> = b.lookup(p.platform, id).iter().map(|h| h.number).collect();
        assert_eq!(ha, hb);
    }
}

#[test]
fn base_and_overlay_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (base, next) = revisions();
    let (bp, op) = (dir.path().join("b.bin"), dir.path().join("o.bin"));
    save_base(&next, &bp).unwrap();
    assert!(save_overlay(&next, &op).unwrap());
    same(&restore(&bp, Some(&op), false).unwrap(), &next);
    same(&restore(&bp, None, true).unwrap(), &base);
    assert!(!save_overlay(&base, &dir.path().join("none.bin")).unwrap());
    assert!(restore(&bp, None, false)
        .unwrap()
        .lookup(Platform::Android, "no.such.app")
        .is_empty());
}

#[test]
fn truncated_corrupt_foreign_and_mismatched_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, next) = revisions();
    let (bp, op) = (dir.path().join("b.bin"), dir.path().join("o.bin"));
    save_base(&next, &bp).unwrap();
    save_overlay(&next, &op).unwrap();
    let good = std::fs::read(&bp).unwrap();
    let bad = dir.path().join("bad.bin");
    let mut cuts: Vec<usize> = (0..HEADER + 8).collect();
    cuts.extend([good.len() / 2, good.len() - 1]);
    for n in cuts {
        std::fs::write(&bad, &good[..n]).unwrap();
        assert!(restore(&bad, None, false).is_err(), "cut at {n}");
    }
    for at in [
        0,
        9,
        20,
        30,
        64,
        72,
        100,
        HEADER,
        HEADER + 40,
        good.len() - 3,
    ] {
        let mut b = good.clone();
        b[at] ^= 0x10;
        std::fs::write(&bad, &b).unwrap();
        assert!(restore(&bad, None, false).is_err(), "flipped byte {at}");
    }
    let mut b = good.clone();
    b[VERSION_AT] = 7;
    std::fs::write(&bad, &b).unwrap();
    let e = restore(&bad, None, false).err().unwrap().to_string();
    assert!(e.contains("format version 7"), "{e}");
    let mut b = good.clone();
    b.extend_from_slice(b"tail");
    std::fs::write(&bad, &b).unwrap();
    assert!(restore(&bad, None, false).is_err());
    // An overlay on a base it does not belong on, and kinds swapped.
    let other = Revision::from_records(4, "t", &[crate::generate::record(9, 0)], false);
    let ob = dir.path().join("other.bin");
    save_base(&other, &ob).unwrap();
    assert!(restore(&ob, Some(&op), false).is_err());
    assert!(restore(&op, None, false).is_err());
    assert!(restore(&bp, Some(&bp), false).is_err());
}
