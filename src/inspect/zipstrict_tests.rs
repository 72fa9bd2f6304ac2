//! Unit tests of the strict ZIP rules: one crafted archive per construction, each refused with
//! `package_ambiguous`, beside the clean archives they are made from.

use super::super::testzip::{build_zip, push_eocd};
use super::super::zipread::open;
use super::super::Limits;
use super::*;
use std::io::Cursor;

fn verdict(z: &[u8]) -> Result<(), &'static str> {
    let mut src = Src::new(Cursor::new(z)).map_err(|e| e.code())?;
    let a = open(&mut src, &Limits::default()).map_err(|e| e.code())?;
    check(&mut src, &a).map_err(|e| e.code())
}

const REFUSED: Result<(), &str> = Err("package_ambiguous");

/// One entry as its local header and its central-directory record say it.
#[derive(Clone, Default)]
struct F {
    name: &'static [u8],
    /// The local header's name, method, flags and sizes when they differ from the record's.
    lfh_name: Option<&'static [u8]>,
    method: u16,
    lfh_method: Option<u16>,
    flags: u16,
    lfh_flags: Option<u16>,
    lfh_size: Option<u32>,
    /// The record's uncompressed size when it differs from the data's length.
    cd_size: Option<u32>,
    data: Vec<u8>,
    /// Bytes after the data (a descriptor, padding, garbage).
    after: Vec<u8>,
}

fn f(name: &'static [u8], data: &[u8]) -> F {
    F {
        name,
        data: data.to_vec(),
        ..F::default()
    }
}

/// An archive of `files` with `before_cd` between the last entry and the directory, and
/// `between` between the directory and the end record.
fn build(files: &[F], before_cd: &[u8], between: &[u8], comment: &[u8]) -> Vec<u8> {
    let (mut out, mut cd) = (Vec::new(), Vec::new());
    for e in files {
        let lho = out.len() as u32;
        let (len, crc) = (e.data.len() as u32, crc32(&e.data));
        let size = e.cd_size.unwrap_or(len);
        let lname = e.lfh_name.unwrap_or(e.name);
        out.extend_from_slice(b"PK\x03\x04\x14\0");
        out.extend_from_slice(&e.lfh_flags.unwrap_or(e.flags).to_le_bytes());
        out.extend_from_slice(&e.lfh_method.unwrap_or(e.method).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&e.lfh_size.unwrap_or(size).to_le_bytes());
        out.extend_from_slice(&(lname.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(lname);
        out.extend_from_slice(&e.data);
        out.extend_from_slice(&e.after);
        cd.extend_from_slice(b"PK\x01\x02\x14\0\x14\0");
        cd.extend_from_slice(&e.flags.to_le_bytes());
        cd.extend_from_slice(&e.method.to_le_bytes());
        cd.extend_from_slice(&[0; 4]);
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&len.to_le_bytes());
        cd.extend_from_slice(&size.to_le_bytes());
        cd.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        cd.extend_from_slice(&[0; 12]);
        cd.extend_from_slice(&lho.to_le_bytes());
        cd.extend_from_slice(e.name);
    }
    out.extend_from_slice(before_cd);
    let cd_off = out.len() as u32;
    out.extend_from_slice(&cd);
    out.extend_from_slice(between);
    push_eocd(&mut out, files.len(), cd.len(), cd_off, comment);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut h = flate2::Crc::new();
    h.update(data);
    h.sum()
}

fn two() -> Vec<F> {
    vec![
        f(b"AndroidManifest.xml", b"manifest"),
        f(b"classes.dex", b"dex"),
    ]
}

/// The end of the end record's fixed part in `z` (the comment follows).
fn eocd_at(z: &[u8]) -> usize {
    memchr::memmem::rfind(z, EOCD_SIG).unwrap()
}

#[test]
fn clean_archives_pass() {
    assert_eq!(verdict(&build(&two(), b"", b"", b"")), Ok(()));
    assert_eq!(verdict(&build(&two(), b"", b"", b"a comment")), Ok(()));
    assert_eq!(
        verdict(&build_zip(b"", &[("a", b"1"), ("b", b"")], b"")),
        Ok(())
    );
    assert_eq!(verdict(&build(&[], b"", b"", b"")), Ok(()));
    // Names that differ only by case outside the identity files (obfuscated resources).
    let res = [f(b"res/a.xml", b"1"), f(b"res/A.xml", b"2")];
    assert_eq!(verdict(&build(&res, b"", b"", b"")), Ok(()));
}

#[test]
fn duplicate_names_are_refused_in_every_reading() {
    let pairs: [(&[u8], &[u8]); 7] = [
        (b"AndroidManifest.xml", b"AndroidManifest.xml"),
        (b"AndroidManifest.xml", b"AndroidManifest.xml\0x"),
        (b"AndroidManifest.xml", b"/AndroidManifest.xml"),
        (b"AndroidManifest.xml", b"androidmanifest.XML"),
        (b"META-INF/CERT.RSA", b"META-INF\\CERT.RSA"),
        (b"META-INF/CERT.RSA", b"meta-inf/cert.rsa"),
        (b"Payload/A.app/Info.plist", b"Payload/A.app/info.plist"),
    ];
    for (a, b) in pairs {
        let z = build(&[f(a, b"one"), f(b, b"two")], b"", b"", b"");
        assert_eq!(verdict(&z), REFUSED, "{a:?} {b:?}");
    }
}

#[test]
fn a_second_end_record_is_refused() {
    let clean = build(&two(), b"", b"", b"");
    let cd_off = u32le(&clean, eocd_at(&clean) + 16).unwrap();
    // In the comment: an end record whose comment runs past the end of the file (Python
    // takes the last signature, Go and apksig skip it).
    let mut decoy = b"PK\x05\x06\0\0\0\0\x01\0\x01\0".to_vec();
    decoy.extend_from_slice(&[0; 8]);
    decoy.extend_from_slice(&[9, 0]);
    assert_eq!(verdict(&build(&two(), b"", b"", &decoy)), REFUSED);
    // In the comment: a second central directory and an end record naming it, which this
    // reader, too, prefers (its comment ends the file).
    let e = eocd_at(&clean);
    let cd = &clean[cd_off as usize..e];
    let mut hidden = cd.to_vec();
    let evil = memchr::memmem::find(&hidden, b"classes.dex").unwrap();
    hidden[evil..evil + 11].copy_from_slice(b"classes.dey");
    let at = (e + 22) as u32;
    hidden.extend_from_slice(b"PK\x05\x06\0\0\0\0\x02\0\x02\0");
    hidden.extend_from_slice(&(cd.len() as u32).to_le_bytes());
    hidden.extend_from_slice(&at.to_le_bytes());
    hidden.extend_from_slice(&[0, 0]);
    let z = build(&two(), b"", b"", &hidden);
    assert_eq!(verdict(&z), REFUSED);
    // A signature alone in the comment, even one that no reader could take as a record.
    assert_eq!(verdict(&build(&two(), b"", b"", b"xxPK\x05\x06")), REFUSED);
    // In an entry's data, even naming the real central directory: every reader scanning
    // back from the end stops at the real record first.
    let named = |cd_off: u32| {
        let mut r = b"PK\x05\x06\0\0\0\0\x02\0\x02\0".to_vec();
        r.extend_from_slice(&[0; 4]);
        r.extend_from_slice(&cd_off.to_le_bytes());
        r.extend_from_slice(&[0, 0]);
        vec![f(b"AndroidManifest.xml", b"m"), f(b"assets/x", &r)]
    };
    let first = build(&named(0), b"", b"", b"");
    let real = u32le(&first, eocd_at(&first) + 16).unwrap();
    assert_eq!(verdict(&first), Ok(()), "a record naming no directory");
    assert_eq!(verdict(&build(&named(real), b"", b"", b"")), Ok(()));
    // A nested archive's end record inside an entry names no directory of this file: fine.
    let nested = build_zip(b"", &[("inner", b"x")], b"");
    let files = [
        f(b"AndroidManifest.xml", b"m"),
        f(b"assets/in.zip", &nested),
    ];
    assert_eq!(verdict(&build(&files, b"", b"", b"")), Ok(()));
}

#[test]
fn end_record_fields_must_agree() {
    let clean = build(&two(), b"", b"", b"");
    let e = eocd_at(&clean);
    let mut trailing = clean.clone();
    trailing.extend_from_slice(b"junk");
    assert_eq!(verdict(&trailing), REFUSED, "bytes after the comment");
    let mut disks = clean.clone();
    disks[e + 4] = 1;
    assert_eq!(verdict(&disks), REFUSED, "disk number");
    let mut on_disk = clean.clone();
    on_disk[e + 8] = 1;
    assert_eq!(verdict(&on_disk), REFUSED, "entries on this disk");
    // Bytes between the directory and the end record.
    assert_eq!(verdict(&build(&two(), b"", b"\0\0\0\0", b"")), REFUSED);
}

/// `build(&two(), ..)` with a ZIP64 end record and locator between the directory and the
/// end record; `count` is what the ZIP64 record says.
fn with_zip64(count: u64) -> Vec<u8> {
    let clean = build(&two(), b"", b"", b"");
    let e = eocd_at(&clean);
    let (cd_size, cd_off) = (
        u32le(&clean, e + 12).unwrap(),
        u32le(&clean, e + 16).unwrap(),
    );
    let mut rec = b"PK\x06\x06".to_vec();
    rec.extend_from_slice(&44u64.to_le_bytes());
    rec.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    rec.extend_from_slice(&count.to_le_bytes());
    rec.extend_from_slice(&count.to_le_bytes());
    rec.extend_from_slice(&u64::from(cd_size).to_le_bytes());
    rec.extend_from_slice(&u64::from(cd_off).to_le_bytes());
    let mut loc = b"PK\x06\x07\0\0\0\0".to_vec();
    loc.extend_from_slice(&(e as u64).to_le_bytes());
    loc.extend_from_slice(&1u32.to_le_bytes());
    let mut z = clean[..e].to_vec();
    z.extend_from_slice(&rec);
    z.extend_from_slice(&loc);
    z.extend_from_slice(&clean[e..]);
    z
}

#[test]
fn a_zip64_record_must_agree_with_the_end_record() {
    assert_eq!(verdict(&with_zip64(2)), Ok(()));
    assert_eq!(verdict(&with_zip64(3)), REFUSED);
}

#[test]
fn local_headers_must_agree_with_the_directory() {
    let variants = [
        F {
            lfh_name: Some(b"AndroidManifest.xmm"),
            ..f(b"AndroidManifest.xml", b"m")
        },
        F {
            lfh_name: Some(b"AndroidManifest.xml2"),
            ..f(b"AndroidManifest.xml", b"m")
        },
        F {
            lfh_method: Some(8),
            ..f(b"AndroidManifest.xml", b"m")
        },
        F {
            lfh_flags: Some(1),
            ..f(b"AndroidManifest.xml", b"m")
        },
        F {
            lfh_flags: Some(FLAG_DESCRIPTOR),
            ..f(b"AndroidManifest.xml", b"m")
        },
        F {
            lfh_size: Some(0),
            ..f(b"AndroidManifest.xml", b"m")
        },
    ];
    for v in variants {
        let z = build(&[v, f(b"classes.dex", b"d")], b"", b"", b"");
        assert_eq!(verdict(&z), REFUSED);
    }
    // Other flag bits (UTF-8 names, deflate options) may differ.
    let utf8 = F {
        lfh_flags: Some(1 << 11),
        ..f(b"AndroidManifest.xml", b"m")
    };
    assert_eq!(verdict(&build(&[utf8], b"", b"", b"")), Ok(()));
    let stored_two_sizes = F {
        cd_size: Some(99),
        lfh_size: Some(99),
        ..f(b"AndroidManifest.xml", b"m")
    };
    assert_eq!(verdict(&build(&[stored_two_sizes], b"", b"", b"")), REFUSED);
}

#[test]
fn data_descriptors_and_zero_padding_are_accounted_bytes() {
    let data = b"manifest";
    let crc = crc32(data).to_le_bytes();
    let len = (data.len() as u32).to_le_bytes();
    let descriptor = |signed: bool| {
        let mut d = if signed {
            b"PK\x07\x08".to_vec()
        } else {
            Vec::new()
        };
        d.extend_from_slice(&crc);
        d.extend_from_slice(&len);
        d.extend_from_slice(&len);
        d
    };
    let with_after = |after: Vec<u8>| {
        let first = F {
            flags: FLAG_DESCRIPTOR,
            after,
            ..f(b"AndroidManifest.xml", data)
        };
        verdict(&build(&[first, f(b"classes.dex", b"d")], b"", b"", b""))
    };
    assert_eq!(with_after(descriptor(true)), Ok(()));
    assert_eq!(with_after(descriptor(false)), Ok(()));
    assert_eq!(with_after(Vec::new()), Ok(()), "flag without a descriptor");
    let mut padded = descriptor(true);
    padded.extend_from_slice(&[0; 3000]);
    assert_eq!(with_after(padded), Ok(()));
    let mut hidden = descriptor(true);
    hidden.extend_from_slice(b"PK\x03\x04 a header no directory lists");
    assert_eq!(with_after(hidden), REFUSED);
    // Without the flag, even a descriptor is a stray byte.
    let first = F {
        after: descriptor(true),
        ..f(b"AndroidManifest.xml", data)
    };
    let z = build(&[first, f(b"classes.dex", b"d")], b"", b"", b"");
    assert_eq!(verdict(&z), REFUSED);
    let zeros = F {
        after: vec![0; MAX_PADDING as usize + 25],
        ..f(b"AndroidManifest.xml", data)
    };
    assert_eq!(verdict(&build(&[zeros], b"", b"", b"")), REFUSED);
}

/// An APK Signing Block of `size` total bytes (leading and trailing size fields equal unless
/// `lead` says otherwise).
fn sig_block(total: usize, lead: Option<u64>) -> Vec<u8> {
    let size = (total - 8) as u64;
    let mut b = lead.unwrap_or(size).to_le_bytes().to_vec();
    b.resize(total - 24, 0x5a);
    b.extend_from_slice(&size.to_le_bytes());
    b.extend_from_slice(b"APK Sig Block 42");
    b
}

#[test]
fn only_zero_padding_and_one_signing_block_precede_the_directory() {
    let ok = |before: &[u8]| verdict(&build(&two(), before, b"", b""));
    assert_eq!(ok(&sig_block(4096, None)), Ok(()));
    let mut padded = vec![0; 1000];
    padded.extend_from_slice(&sig_block(4096, None));
    assert_eq!(ok(&padded), Ok(()));
    assert_eq!(ok(&sig_block(4096, Some(4000))), REFUSED, "sizes differ");
    let mut garbage = b"garbage".to_vec();
    garbage.extend_from_slice(&sig_block(4096, None));
    assert_eq!(ok(&garbage), REFUSED);
    assert_eq!(ok(b"not a block"), REFUSED);
    let mut hap = vec![0x5a; 200];
    hap.extend_from_slice(&1u32.to_le_bytes());
    hap.extend_from_slice(&232u64.to_le_bytes());
    hap.extend_from_slice(b"<hap sign block>");
    hap.extend_from_slice(&3u32.to_le_bytes());
    assert_eq!(ok(&hap), Ok(()));
}

#[test]
fn bytes_before_the_first_entry_and_overlaps_are_refused() {
    // A prefix with offsets that account for it (Janus: a DEX before the ZIP).
    let z = build_zip(b"dex\n035\0", &[("AndroidManifest.xml", b"m")], b"");
    assert_eq!(verdict(&z), REFUSED);
    // Two records pointing at one local header.
    let mut z = build(&[f(b"a", b"1"), f(b"a", b"1")], b"", b"", b"");
    let e = eocd_at(&z);
    let cd = u32le(&z, e + 16).unwrap() as usize;
    let second = cd + 46 + 1;
    z[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
    z[second + 46] = b'b';
    z[cd + 46] = b'a';
    assert_eq!(verdict(&z), REFUSED);
    // An entry whose data runs into the central directory.
    let mut long = build(&[f(b"a", b"1")], b"", b"", b"");
    let cd = u32le(&long, eocd_at(&long) + 16).unwrap() as usize;
    long[cd + 20] = 9;
    long[cd + 24] = 9;
    long[18] = 9;
    long[22] = 9;
    assert_eq!(verdict(&long), REFUSED);
}
