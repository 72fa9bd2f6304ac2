//! Snapshot loading: rejections, parallel parts, rounds, streamed files, and the two readers
//! giving the same index.

use super::*;
use crate::filing::Platform;

fn line(n: &str, id: &str) -> String {
    format!(
        r#"{{"number":"{n}","status":"active","entity":"某公司","app_name":"x","platforms":[{{"platform":"android","ids":["{id}"]}}]}}"#
    )
}

#[test]
fn bad_lines_are_named_and_skipped() {
    let text = [
        line("京ICP备12345678号-1A", "com.a.one"),
        "{not json".into(),
        String::new(),
        line("京ICP备12345678号-2A", "com.a.two"),
        line("京ICP备12345678号-1A", "com.a.three"),
        line("京ICP备12345678号-3X", "com.a.four"),
    ]
    .join("\n");
    let (rev, report) = parse_snapshot(text.as_bytes(), 1, "t", false);
    assert_eq!(report.accepted, 2);
    assert_eq!(report.rejected, 3);
    let lines: Vec<usize> = report.rejected_lines.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 5, 6]);
    assert!(
        report.rejected_lines[1].reason.contains("duplicate"),
        "{:?}",
        report.rejected_lines[1]
    );
    assert!(
        report.rejected_lines[2].reason.contains("platforms[0]"),
        "{:?}",
        report.rejected_lines[2]
    );
    assert!(rev.lookup(Platform::Android, "com.a.three").is_empty());
    assert_eq!(rev.lookup(Platform::Android, "com.a.two").len(), 1);
    let hit = rev.lookup(Platform::Android, "com.a.two")[0];
    assert_eq!(rev.record(&hit).unwrap().entity, "某公司");
}

/// Valid JSON off the canonical shape (escapes, whitespace, field order, CRLF) still loads,
/// through the serde_json reader.
#[test]
fn unusual_but_valid_lines_load() {
    let text = [
        r#"{"number":"京ICP备12345678号-1A","status":"active","entity":"\u67d0\"公司\"","app_name":"x\ty","platforms":[{"platform":"android","ids":["com.a.\u0062"]}]}"#,
        r#" { "platforms" : [ { "ids" : [ "com.a.c" ] , "platform" : "ANDROID" } ] , "app_name" : "" , "entity" : "e" , "status" : "revoked" , "number" : "京ＩＣＰ备１２３４５６７８号－２Ａ" } "#,
        "{\"number\":\"京ICP备12345678号-3A\",\"status\":\"active\",\"entity\":\"e\",\"app_name\":\"a\",\"platforms\":[{\"platform\":\"ios\",\"ids\":[\"Com.A.D\"],\"signers\":[]}]}\r",
    ]
    .join("\n");
    let (rev, report) = parse_snapshot(text.as_bytes(), 1, "t", false);
    assert_eq!(report.rejected, 0, "{:?}", report.rejected_lines);
    assert_eq!(report.accepted, 3);
    let hit = rev.lookup(Platform::Android, "com.a.b")[0];
    let r = rev.record(&hit).unwrap();
    assert_eq!(
        (r.entity.as_str(), r.app_name.as_str()),
        ("某\"公司\"", "x\ty")
    );
    let hit = rev.lookup(Platform::Android, "com.a.c")[0];
    assert_eq!(
        rev.record(&hit).unwrap().number.to_string(),
        "京ICP备12345678号-2A"
    );
    assert_eq!(rev.lookup(Platform::Ios, "com.a.d").len(), 1);
}

fn big_text() -> String {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            r#"{{"number":"京ICP备2023{i:06}号-1A","status":"active","entity":"公司{}","app_name":"x","platforms":[{{"platform":"android","ids":["com.a.n{i}"]}}]}}"#,
            i % 97
        ));
        text.push('\n');
        if i == 12_345 {
            text.push_str("garbage\n");
        }
    }
    text
}

#[test]
fn parallel_parts_give_the_same_index_as_one() {
    let text = big_text();
    let (rev, report) = parse_snapshot(text.as_bytes(), 1, "t", false);
    assert!(text.len() > 1 << 20);
    assert_eq!(report.accepted, 20_000);
    assert_eq!(report.rejected_lines[0].line, 12_347);
    for i in [0, 9_999, 19_999] {
        let h = rev.lookup(Platform::Android, &format!("com.a.n{i}"));
        assert_eq!(h.len(), 1);
        assert_eq!(rev.record(&h[0]).unwrap().entity, format!("公司{}", i % 97));
    }
    assert_eq!(rev.stats.entities, 97);
}

/// Small rounds (many feeds, parts stitched while the next round parses) and a streamed read
/// with a round size that cuts lines give the index and report of one round.
#[test]
fn rounds_and_streamed_reads_match_one_round() {
    let text = big_text();
    let (one, one_report) = parse_snapshot(text.as_bytes(), 1, "t", false);
    let mut by_rounds = Loader::new(text.len());
    assert!(rounds(text.as_bytes(), 1 << 16).count() > 20);
    for r in rounds(text.as_bytes(), 1 << 16) {
        assert!(r.ends_with(b"\n"));
        by_rounds.feed(r);
    }
    let mut streamed = Loader::new(text.len());
    let mut seen = 0;
    read_rounds(text.as_bytes(), 1000, |r| {
        seen += r.len();
        streamed.feed(r)
    })
    .unwrap();
    assert_eq!(seen, text.len());
    for loader in [by_rounds, streamed] {
        let (rev, report) = loader.finish(1, "t", false);
        assert_eq!(report.rejected_lines, one_report.rejected_lines);
        assert_eq!(rev.checksum, one.checksum);
        assert_eq!(rev.stats.entities, one.stats.entities);
        for i in [0, 12_345, 19_999] {
            let id = format!("com.a.n{i}");
            let (a, b) = (
                one.lookup(Platform::Android, &id),
                rev.lookup(Platform::Android, &id),
            );
            assert_eq!(one.record(&a[0]), rev.record(&b[0]));
        }
    }
}

#[test]
fn load_snapshot_streams_a_file() {
    let text = big_text();
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &text).unwrap();
    let (rev, report) = load_snapshot(f.path(), 3, false).unwrap();
    assert_eq!((report.accepted, report.rejected), (20_000, 1));
    assert_eq!(rev.lookup(Platform::Android, "com.a.n19999").len(), 1);
    assert!(matches!(
        load_snapshot(&f.path().join("missing"), 3, false),
        Err(LoadError::Io { .. })
    ));
}

/// Hashing ids while encoding gives the pairs `Builder::hash_pairs_with` derives from the
/// encoding (iOS ids case-folded, repeats counted once).
#[test]
fn pairs_while_encoding_match_pairs_from_the_encoding() {
    let mut text = Vec::new();
    crate::generate::generate_range(5, 0..2_000, &mut text).unwrap();
    let extra = r#"{"number":"京ICP备12345678号-1A","status":"active","entity":"e","app_name":"a","platforms":[{"platform":"ios","ids":["Com.A.B","com.a.b","com.a.c"]},{"platform":"android","ids":["com.a.b"]}]}"#;
    let hasher = crate::index::base::Keys::new();
    for l in std::str::from_utf8(&text).unwrap().lines().chain([extra]) {
        let r = scan_canonical(l).unwrap();
        let (mut blob, mut fast, mut slow) = (vec![1, 2, 3], Vec::new(), Vec::new());
        let off = store::push_ref(&mut blob, &r, 0);
        pairs_of(&hasher, &r, off, &mut fast);
        Builder::hash_pairs_with(&hasher, &blob, off, &mut slow);
        assert_eq!(fast, slow, "{l}");
    }
}

#[test]
fn a_line_that_is_not_utf8_is_named() {
    let mut text = line("京ICP备12345678号-1A", "com.a.one").into_bytes();
    text.extend_from_slice(b"\n{\"number\":\"\xff\"}\n");
    text.extend_from_slice(line("京ICP备12345678号-2A", "com.a.two").as_bytes());
    let (_, report) = parse_snapshot(&text, 1, "t", false);
    assert_eq!((report.accepted, report.rejected), (2, 1));
    assert_eq!(report.rejected_lines[0].line, 2);
    assert!(report.rejected_lines[0]
        .reason
        .starts_with("not UTF-8: invalid utf-8 sequence"));
}

/// A consumer that panics mid-read ends the read (the panic propagates); the reader thread,
/// blocked on a full or an empty channel, is woken by the dropped ends instead of hanging.
#[test]
fn a_panicking_consumer_does_not_hang_the_reader() {
    let text = "x\n".repeat(50_000);
    let mut calls = 0;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_rounds(text.as_bytes(), 64, |_| {
            calls += 1;
            if calls == 3 {
                panic!("consumer failed");
            }
        })
    }));
    assert!(r.is_err());
    assert_eq!(calls, 3);
}
