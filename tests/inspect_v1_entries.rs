//! v1 (JAR) per-entry digests over real v1-only fixtures changed after signing: one byte of a
//! stored entry, one byte of a deflated entry (re-deflated, the archive rebuilt around it), and
//! a central directory size no deflate stream could honour.
//!
//! Owns: these end-to-end cases through `inspect_bytes` (the rules themselves are unit-tested
//! in `src/inspect/v1entries_tests.rs`).
//! Must not: silently pass without fixtures under CI (`CI` set → missing fixtures fail).
//! Invariant: every changed package stays a valid ZIP (CRC and sizes agree between local
//! header and central directory), so only the digests can refuse it.

use std::io::{Read, Write};
use std::path::PathBuf;

use icpgate::inspect::{inspect_bytes, Limits, PackageIdentity};

/// The v1-only fixtures (no v2/v3 block, v1 decides) with a deflated entry of each to change,
/// and a deflated entry nothing but the digest pass reads.
const V1_ONLY: &[(&str, &str, &str)] = &[
    (
        "apk/apksig-golden-aligned-v1-out.apk",
        "AndroidManifest.xml",
        "temp.txt",
    ),
    (
        "apk/apksig-v1-only-two-signers.apk",
        "classes.dex",
        "classes.dex",
    ),
    (
        "apk/apksig-v1-only-ecdsa-sha256-p256.apk",
        "classes.dex",
        "classes.dex",
    ),
    (
        "apk/apksig-v1-only-with-signed-attrs.apk",
        "classes.dex",
        "classes.dex",
    ),
];

fn fixture(name: &str) -> Option<Vec<u8>> {
    let dir = match std::env::var_os("ICPGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apps"),
    };
    match std::fs::read(dir.join(name)) {
        Ok(b) => Some(b),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("!!!!! FIXTURES SKIPPED: {} not found !!!!!", dir.display());
            None
        }
        Err(e) => panic!("{name}: {e} and CI is set"),
    }
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}

fn u32_at(b: &[u8], o: usize) -> usize {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
}

/// One member of a small (non-ZIP64) archive: where its records and data are.
struct Member {
    /// General purpose flags: bit 3, CRC and sizes in a data descriptor after the data.
    flags: usize,
    method: usize,
    comp: usize,
    size: usize,
    /// Offsets of the central-directory record and the local header.
    cd: usize,
    lho: usize,
    data: usize,
}

fn eocd(b: &[u8]) -> usize {
    (0..b.len() - 21)
        .rev()
        .find(|&i| b[i..i + 4] == *b"PK\x05\x06")
        .unwrap()
}

/// The offsets of the central-directory records, in order.
fn records(b: &[u8]) -> Vec<usize> {
    let end = eocd(b);
    let mut at = u32_at(b, end + 16);
    let mut out = Vec::new();
    while at < end {
        assert_eq!(b[at..at + 4], *b"PK\x01\x02");
        out.push(at);
        at += 46 + u16_at(b, at + 28) + u16_at(b, at + 30) + u16_at(b, at + 32);
    }
    out
}

fn member(b: &[u8], name: &str) -> Member {
    let at = records(b)
        .into_iter()
        .find(|&at| &b[at + 46..at + 46 + u16_at(b, at + 28)] == name.as_bytes())
        .unwrap_or_else(|| panic!("{name} not found"));
    let lho = u32_at(b, at + 42);
    Member {
        flags: u16_at(b, at + 8),
        method: u16_at(b, at + 10),
        comp: u32_at(b, at + 20),
        size: u32_at(b, at + 24),
        cd: at,
        lho,
        data: lho + 30 + u16_at(b, lho + 26) + u16_at(b, lho + 28),
    }
}

/// The CRC, compressed and uncompressed size fields, by their offset in the local header.
const CRC: usize = 14;
const COMP: usize = 18;
const SIZE: usize = 22;

/// Writes `v` into one of those fields in the central record, the local header and, when the
/// member has one, the data descriptor.
fn set_u32(b: &mut [u8], m: &Member, field: usize, v: u32) {
    let mut at = vec![m.cd + field + 2, m.lho + field];
    if m.flags & 8 != 0 {
        let dd = m.data + m.comp;
        let dd = if b[dd..dd + 4] == *b"PK\x07\x08" {
            dd + 4
        } else {
            dd
        };
        at.push(dd + field - CRC);
    }
    for o in at {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
}

fn crc(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The archive with `content` deflated in place of the member's data: later local headers and
/// the directory move by the difference in length, and the member's CRC and compressed size
/// (local header, directory, data descriptor) follow its new data.
fn redeflate(b: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    let m = member(b, name);
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(content).unwrap();
    let z = e.finish().unwrap();
    let mut out = [&b[..m.data], &z, &b[m.data + m.comp..]].concat();
    let shift = |o: usize| if o > m.lho { o + z.len() - m.comp } else { o };
    let end = eocd(&out);
    let cd = shift(u32_at(&out, end + 16)) as u32;
    out[end + 16..end + 20].copy_from_slice(&cd.to_le_bytes());
    for r in records(&out) {
        let lho = shift(u32_at(&out, r + 42)) as u32;
        out[r + 42..r + 46].copy_from_slice(&lho.to_le_bytes());
    }
    let mut moved = member(&out, name);
    moved.comp = z.len();
    set_u32(&mut out, &moved, COMP, z.len() as u32);
    set_u32(&mut out, &moved, CRC, crc(content));
    out
}

/// A v1-only fixture and its identity, which names a signer with digests verified.
fn signed(name: &str) -> Option<(Vec<u8>, PackageIdentity)> {
    let bytes = fixture(name)?;
    let intact = inspect_bytes(&bytes, &limits(true)).unwrap();
    assert!(!intact.accepted_signers.is_empty(), "{name}: intact");
    Some((bytes, intact))
}

fn limits(verify_digests: bool) -> Limits {
    Limits {
        verify_digests,
        ..Limits::default()
    }
}

/// Refused with digests verified (`signature_invalid`); the genuine signers without.
fn assert_refused_only_with_digests(name: &str, changed: &[u8], intact: &PackageIdentity) {
    let on = inspect_bytes(changed, &limits(true)).unwrap();
    assert_eq!(on.id, intact.id, "{name}");
    assert!(on.accepted_signers.is_empty(), "{name}: accepted");
    assert_eq!(
        on.require_signed().unwrap_err().code(),
        "signature_invalid",
        "{name}"
    );
    let off = inspect_bytes(changed, &limits(false)).unwrap();
    assert_eq!(off.accepted_signers, intact.accepted_signers, "{name}");
}

#[test]
fn a_stored_entry_changed_after_signing_is_refused() {
    for (name, _, _) in V1_ONLY {
        let Some((bytes, intact)) = signed(name) else {
            return;
        };
        let m = member(&bytes, "resources.arsc");
        assert_eq!((m.method, m.comp), (0, m.size), "{name}: stored");
        let mut changed = bytes.clone();
        changed[m.data + m.size / 2] ^= 0x01;
        let sum = crc(&changed[m.data..m.data + m.size]);
        set_u32(&mut changed, &m, CRC, sum);
        assert_refused_only_with_digests(name, &changed, &intact);
    }
}

#[test]
fn a_deflated_entry_changed_after_signing_is_refused() {
    for (name, entry, _) in V1_ONLY {
        let Some((bytes, intact)) = signed(name) else {
            return;
        };
        let m = member(&bytes, entry);
        assert_eq!(m.method, 8, "{name}: {entry} deflated");
        let content = inflate(&bytes[m.data..m.data + m.comp]);
        assert_eq!(content.len(), m.size);
        // The same content re-deflated is still the signed entry: accepted.
        let same = redeflate(&bytes, entry, &content);
        let id = inspect_bytes(&same, &limits(true)).unwrap();
        assert_eq!(id.accepted_signers, intact.accepted_signers, "{name}");
        // One byte changed (near the end: the manifest's last line number, which the
        // identity does not read; the end of classes.dex): refused.
        let mut other = content.clone();
        other[content.len() - 16] ^= 0x01;
        let changed = redeflate(&bytes, entry, &other);
        assert_refused_only_with_digests(name, &changed, &intact);
    }
}

/// A deflated entry whose sizes (local header and directory alike) claim almost 4 GiB out of
/// a few hundred bytes: `package_too_large` before anything is inflated, with digests; without
/// them the entry is not read and the signer stands.
#[test]
fn a_zip_bomb_size_on_a_signed_entry_is_package_too_large() {
    for (name, _, entry) in V1_ONLY {
        let Some((bytes, intact)) = signed(name) else {
            return;
        };
        let m = member(&bytes, entry);
        assert_eq!(m.method, 8, "{name}: {entry} deflated");
        let mut bomb = bytes.clone();
        set_u32(&mut bomb, &m, SIZE, 0xffff_fff0);
        let err = inspect_bytes(&bomb, &limits(true)).unwrap_err();
        assert_eq!(err.code(), "package_too_large", "{name}: {err}");
        let off = inspect_bytes(&bomb, &limits(false)).unwrap();
        assert_eq!(off.accepted_signers, intact.accepted_signers, "{name}");
    }
}
