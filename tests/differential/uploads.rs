//! The package-upload constructions of the differential suite: multipart forms where RFC 7578
//! readers disagree on which part is the `file` field, and ZIP archives where readers
//! disagree on which AndroidManifest.xml is the package's (docs/differential.md).
//!
//! The genuine package is the signed test APK (`tests/fixtures-src/make-apks.sh`), filed with
//! its signer; the forged ones come from `forge_apk.py`, whose manifest names an unfiled
//! package of the same length.

use super::cases::{req, Case};
use std::path::Path;

pub const GENUINE_ID: &str = "cn.icpgate.demo";
pub const FORGED_ID: &str = "cn.nobody.forge";
const APK: &str = "application/vnd.android.package-archive";
/// A boundary long enough not to occur in the packages (undici's FormData, Node 20, fails
/// on a one-letter boundary that occurs in the content).
const B: &str = "diffbound7q";
const CT: &str = "multipart/form-data; boundary=diffbound7q";

pub struct Packages {
    pub genuine: Vec<u8>,
    /// A plain ZIP with only the forged manifest.
    pub forged: Vec<u8>,
    /// (file name, bytes) of the ZIP constructions.
    pub variants: Vec<(&'static str, Vec<u8>)>,
    /// sha256 of the genuine and the forged manifest.
    pub genuine_sha: String,
    pub forged_sha: String,
}

/// Runs forge_apk.py on `signed` into `dir`.
pub fn forge(signed: &Path, dir: &Path) -> Packages {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential/forge_apk.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(signed)
        .arg(dir)
        .args([GENUINE_ID, FORGED_ID])
        .output()
        .expect("run forge_apk.py");
    assert!(
        out.status.success(),
        "forge_apk.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("forge_apk.py JSON");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("forged file");
    let names = [
        "dup-genuine-first.apk",
        "dup-forged-first.apk",
        "eocd-in-comment.apk",
        "prepended-local.apk",
    ];
    Packages {
        genuine: std::fs::read(signed).expect("signed.apk"),
        forged: read("forged-only.zip"),
        variants: names.iter().map(|n| (*n, read(n))).collect(),
        genuine_sha: v["genuine"].as_str().expect("genuine").to_string(),
        forged_sha: v["forged"].as_str().expect("forged").to_string(),
    }
}

/// One multipart part: its header lines as written (any line ending), then the content.
fn part(boundary: &str, head: &str, content: &[u8]) -> Vec<u8> {
    let mut b = format!("--{boundary}\r\n{head}\r\n\r\n").into_bytes();
    b.extend_from_slice(content);
    b.extend_from_slice(b"\r\n");
    b
}

fn close(boundary: &str) -> Vec<u8> {
    format!("--{boundary}--\r\n").into_bytes()
}

const OCTETS: &str = "Content-Type: application/octet-stream";

fn upload(name: &str, ctype: &str, body: Vec<u8>) -> Case {
    Case {
        class: "multipart",
        name: name.to_string(),
        req: req("POST", "/v1/packages", &[("content-type", ctype)], &body),
        control: None,
    }
}

/// A form whose first part is the genuine package and whose second part (header `head`)
/// carries the forged one; and the same with the parts swapped.
fn pair(name: &str, head: &str, p: &Packages) -> Vec<Case> {
    let good =
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"a.apk\"\r\n{OCTETS}");
    let genuine_first = [
        part(B, &good, &p.genuine),
        part(B, head, &p.forged),
        close(B),
    ]
    .concat();
    let forged_first = [
        part(B, head, &p.forged),
        part(B, &good, &p.genuine),
        close(B),
    ]
    .concat();
    vec![
        upload(&format!("{name} (genuine part first)"), CT, genuine_first),
        upload(&format!("{name} (forged part first)"), CT, forged_first),
    ]
}

pub fn multipart(p: &Packages) -> Vec<Case> {
    let file = |f: &str| {
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"{f}\"\r\n{OCTETS}")
    };
    let mut out = vec![
        Case {
            control: Some(GENUINE_ID),
            ..upload(
                "control: genuine file",
                CT,
                [part(B, &file("a.apk"), &p.genuine), close(B)].concat(),
            )
        },
        upload(
            "forged file",
            CT,
            [part(B, &file("b.apk"), &p.forged), close(B)].concat(),
        ),
    ];
    let heads = [
        ("two file parts", file("b.apk")),
        ("repeated name (junk, file)", format!("Content-Disposition: form-data; name=\"junk\"; name=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("repeated name (file, junk)", format!("Content-Disposition: form-data; name=\"file\"; name=\"junk\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("name*= RFC 2231", format!("Content-Disposition: form-data; name*=UTF-8''file; filename=\"b.apk\"\r\n{OCTETS}")),
        ("name*= and name=junk", format!("Content-Disposition: form-data; name=\"junk\"; name*=UTF-8''file; filename=\"b.apk\"\r\n{OCTETS}")),
        ("two Content-Disposition (junk, file)", format!("Content-Disposition: form-data; name=\"junk\"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("two Content-Disposition (file, junk)", format!("Content-Disposition: form-data; name=\"file\"; filename=\"b.apk\"\r\nContent-Disposition: form-data; name=\"junk\"\r\n{OCTETS}")),
        ("folded Content-Disposition", format!("Content-Disposition: form-data;\r\n name=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("folded after name=junk", format!("Content-Disposition: form-data; name=\"junk\";\r\n\tname=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("attachment disposition", format!("Content-Disposition: attachment; name=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("inline disposition", format!("Content-Disposition: inline; name=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("unquoted name", format!("Content-Disposition: form-data; name=file; filename=b.apk\r\n{OCTETS}")),
        ("upper-case NAME", format!("Content-Disposition: form-data; NAME=\"file\"; filename=\"b.apk\"\r\n{OCTETS}")),
        ("name with escaped quote", format!("Content-Disposition: form-data; name=\"fi\\le\"; filename=\"b.apk\"\r\n{OCTETS}")),
    ];
    for (name, head) in &heads {
        out.extend(pair(name, head, p));
    }
    // Two boundary parameters: one form per boundary in the same body.
    let two = [
        part("AAAAdiff1", &file("a.apk"), &p.genuine),
        close("AAAAdiff1"),
        part("BBBBdiff2", &file("b.apk"), &p.forged),
        close("BBBBdiff2"),
    ]
    .concat();
    for ct in [
        "multipart/form-data; boundary=AAAAdiff1; boundary=BBBBdiff2",
        "multipart/form-data; boundary=BBBBdiff2; boundary=AAAAdiff1",
    ] {
        out.push(upload(
            &format!("repeated boundary [{ct}]"),
            ct,
            two.clone(),
        ));
    }
    // A quoted boundary with ';': split naively, the boundary is `"AAA` or `AAA`.
    let quoted = [
        part("AAAAdiff1;x", &file("a.apk"), &p.genuine),
        close("AAAAdiff1;x"),
        part("\"AAAAdiff1", &file("b.apk"), &p.forged),
        close("\"AAAAdiff1"),
        part("AAAAdiff1", &file("b.apk"), &p.forged),
        close("AAAAdiff1"),
    ]
    .concat();
    out.push(upload(
        "quoted boundary with ';'",
        "multipart/form-data; boundary=\"AAAAdiff1;x\"",
        quoted,
    ));
    // LF-only delimiter and header lines for the second part.
    let lf = [
        part(B, &file("a.apk"), &p.genuine),
        format!("--{B}\nContent-Disposition: form-data; name=\"file\"; filename=\"b.apk\"\n\n")
            .into_bytes(),
        p.forged.clone(),
        format!("\n--{B}--\r\n").into_bytes(),
    ]
    .concat();
    out.push(upload("LF-only second part", CT, lf));
    // The claim field `package` spelled twice, and next to the genuine file.
    let claim = |n: &str, v: &str| {
        part(
            B,
            &format!("Content-Disposition: form-data; name=\"{n}\""),
            v.as_bytes(),
        )
    };
    for (n1, n2) in [
        ("package", "package"),
        ("package", "PACKAGE"),
        ("package", "package[]"),
    ] {
        let body = [
            claim(n1, GENUINE_ID),
            claim(n2, FORGED_ID),
            part(B, &file("a.apk"), &p.genuine),
            close(B),
        ]
        .concat();
        out.push(upload(&format!("claim {n1} then {n2}"), CT, body));
    }
    // One claim field, in a spelling PHP or a case-blind stack reads as `package`, naming
    // another app than the genuine package.
    for n in ["PACKAGE", "package[]", "package[0]", " package"] {
        let body = [
            claim(n, FORGED_ID),
            part(B, &file("a.apk"), &p.genuine),
            close(B),
        ]
        .concat();
        out.push(upload(&format!("claim spelled {n:?} alone"), CT, body));
    }
    out
}

/// The ZIP constructions, each as a multipart `file` and as a raw APK body.
pub fn zips(p: &Packages) -> Vec<Case> {
    let mut out = vec![Case {
        class: "zip",
        name: "control: genuine raw body".into(),
        req: req("POST", "/v1/packages", &[("content-type", APK)], &p.genuine),
        control: Some(GENUINE_ID),
    }];
    let head =
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"a.apk\"\r\n{OCTETS}");
    for (name, bytes) in &p.variants {
        out.push(Case {
            class: "zip",
            name: format!("{name} raw body"),
            req: req("POST", "/v1/packages", &[("content-type", APK)], bytes),
            control: None,
        });
        let body = [part(B, &head, bytes), close(B)].concat();
        out.push(Case {
            class: "zip",
            name: format!("{name} multipart"),
            req: req("POST", "/v1/packages", &[("content-type", CT)], &body),
            control: None,
        });
    }
    out
}
