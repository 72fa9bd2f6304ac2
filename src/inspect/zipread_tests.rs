//! Unit tests of the ZIP reader: stored entries and layout, EOCD decoys in the comment,
//! truncated and garbage input, duplicate names.

use super::super::testzip::build_zip;
use super::super::zipentry::read_entry;
use super::*;
use std::io::Cursor;

type Opened<'a> = (Src<Cursor<&'a [u8]>>, Archive);

fn open_bytes(b: &[u8]) -> Result<Opened<'_>, InspectError> {
    let mut src = Src::new(Cursor::new(b))?;
    let a = open(&mut src, &Limits::default())?;
    Ok((src, a))
}

#[test]
fn reads_stored_entries_and_layout() {
    let z = build_zip(b"", &[("a.txt", b"hello"), ("b", b"")], b"");
    let (mut src, a) = open_bytes(&z).unwrap();
    assert!(a.layout_ok && !a.duplicates);
    let e = a.find(b"a.txt").unwrap().clone();
    assert_eq!(read_entry(&mut src, &e, 100).unwrap().bytes, b"hello");
    assert!(matches!(
        read_entry(&mut src, &e, 2),
        Err(InspectError::PackageTooLarge(_))
    ));
}

#[test]
fn eocd_with_decoy_in_comment_is_found_from_the_end() {
    let mut comment = EOCD_SIG.to_vec();
    comment.extend_from_slice(&[0xff; 30]);
    let z = build_zip(b"prefix-bytes", &[("x", b"1")], &comment);
    let (_, a) = open_bytes(&z).unwrap();
    assert_eq!(a.entries.len(), 1);
    assert!(a.layout_ok);
}

#[test]
fn truncated_and_garbage_inputs_fail_cleanly() {
    assert!(open_bytes(b"not a zip").is_err());
    let z = build_zip(b"", &[("x", b"1")], b"");
    for cut in 0..z.len() {
        let _ = open_bytes(&z[..cut]);
    }
}

#[test]
fn duplicate_names_are_flagged() {
    let z = build_zip(b"", &[("x", b"1"), ("x", b"2")], b"");
    let (_, a) = open_bytes(&z).unwrap();
    assert!(a.duplicates);
}
