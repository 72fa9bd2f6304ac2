use super::*;

fn rec(n: &str, status: &str, id: &str) -> FilingRecord {
    parse_line(&format!(r#"{{"number":"{n}","status":"{status}","entity":"e","app_name":"a","platforms":[{{"platform":"android","ids":["{id}"]}}]}}"#)).unwrap()
}

#[test]
fn build_writes_snapshot_then_deltas_then_folds() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let opts = BuildOptions {
        fold_after: 2,
        ..Default::default()
    };
    let v1 = vec![
        rec("京ICP备12345678号-1A", "active", "com.a.one"),
        rec("京ICP备12345678号-2A", "active", "com.a.two"),
    ];
    let s = build(&v1, dir.path(), &key, &[], &opts).unwrap();
    assert_eq!((s.revision, s.wrote), (1, "snapshot"));
    let s = build(&v1, dir.path(), &key, &[], &opts).unwrap();
    assert_eq!((s.revision, s.wrote), (1, "unchanged"));
    let v2 = vec![
        rec("京ICP备12345678号-1A", "revoked", "com.a.one"),
        rec("京ICP备12345678号-3A", "active", "com.a.three"),
    ];
    let s = build(&v2, dir.path(), &key, &[], &opts).unwrap();
    assert_eq!(
        (s.revision, s.wrote, s.upserts, s.removals),
        (2, "delta", 2, 1)
    );
    let (m, state) = load_feed(dir.path(), &[key.public()]).unwrap().unwrap();
    assert_eq!(m.deltas.len(), 1);
    assert_eq!(state.len(), 2);
    assert!(state["京ICP备12345678号-1A"].contains("revoked"));
    let v3 = vec![rec("京ICP备12345678号-3A", "active", "com.a.three")];
    assert_eq!(
        build(&v3, dir.path(), &key, &[], &opts).unwrap().wrote,
        "delta"
    );
    let s = build(&v1, dir.path(), &key, &[], &opts).unwrap();
    assert_eq!(
        (s.revision, s.wrote),
        (4, "snapshot"),
        "third delta folds into a snapshot"
    );
    let (m, state) = load_feed(dir.path(), &[key.public()]).unwrap().unwrap();
    assert_eq!(
        (m.revision, m.snapshot.revision, m.deltas.len(), state.len()),
        (4, 4, 0, 2)
    );
}

#[test]
fn verify_catches_tampering_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = SigningKey::generate().unwrap();
    let (other, _) = SigningKey::generate().unwrap();
    build(
        &[rec("京ICP备12345678号-1A", "active", "com.a.one")],
        dir.path(),
        &key,
        &[],
        &BuildOptions::default(),
    )
    .unwrap();
    build(
        &[rec("京ICP备12345678号-1A", "revoked", "com.a.one")],
        dir.path(),
        &key,
        &[],
        &BuildOptions::default(),
    )
    .unwrap();
    assert!(load_feed(dir.path(), &[key.public()]).is_ok());
    assert!(matches!(
        load_feed(dir.path(), &[other.public()]),
        Err(PublishError::Format(FormatError::Signature))
    ));
    assert!(
        build(&[], dir.path(), &other, &[], &BuildOptions::default()).is_err(),
        "another key cannot extend this feed"
    );
    let delta = dir.path().join("deltas/delta-0000000002.ndjson.zst");
    let mut bytes = std::fs::read(&delta).unwrap();
    bytes[5] ^= 1;
    std::fs::write(&delta, bytes).unwrap();
    assert!(matches!(
        load_feed(dir.path(), &[key.public()]),
        Err(PublishError::Format(FormatError::Sha256 { .. }))
    ));
}
