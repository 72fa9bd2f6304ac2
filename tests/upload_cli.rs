//! `icpgate inspect` as users run it (offline against a snapshot, and against a running
//! gateway's admin API), and `icpgate serve` stopped by SIGTERM in the middle of an upload.

mod common;
mod upload_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use upload_support::*;

const FILING: &str = "京ICP备2026000417号-2A";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_icpgate"))
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A snapshot filing the own APK's package with the signer apksigner reported.
fn own_snapshot(own: &Own, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("snap.ndjson");
    let line = record(
        FILING,
        "active",
        "android",
        own.package,
        &[&[("sha256", &own.signed[0]), ("md5", &own.signed[2])]],
    );
    std::fs::write(&path, line + "\n").unwrap();
    path
}

#[test]
fn inspect_prints_the_identity_and_the_offline_decision() {
    let Some(own) = own() else { return };
    let dir = tempfile::tempdir().unwrap();
    let snap = own_snapshot(own, dir.path());
    let signed = own.dir.join("signed.apk");
    let resigned = own.dir.join("resigned.apk");

    let o = run(&[
        "inspect".as_ref(),
        signed.as_os_str(),
        "--snapshot".as_ref(),
        snap.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("apk cn.icpgate.demo (android)"), "{t}");
    assert!(t.contains("version: 1.2.0 (7)"), "{t}");
    assert!(t.contains(&format!("scheme v2: {}", own.signed[0])), "{t}");
    assert!(
        t.contains(&format!("accepted signer: sha256 {}", own.signed[0])),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "decision: allow, filing number attached: {FILING}"
        )),
        "{t}"
    );

    let o = run(&[
        "inspect".as_ref(),
        resigned.as_os_str(),
        "--json".as_ref(),
        "--snapshot".as_ref(),
        snap.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "would block → 1: {}", text(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["package"]["id"], own.package);
    assert_eq!(
        j["package"]["accepted_signers"][0]["sha256"],
        own.resigned[0].as_str()
    );
    assert_eq!(
        j["package"]["accepted_signers"][0]["sha1"],
        own.resigned[1].as_str()
    );
    assert_eq!(j["verdict"]["code"], "signer_not_filed");
    assert_eq!(j["verdict"]["status"], 451);
    assert_eq!(j["verdict"]["filings_for_id"][0]["number"], FILING);
    assert_eq!(
        j["verdict"]["filings_for_id"][0]["lists_package_signer"],
        false
    );

    // Without the signer rule the same package passes; unsigned ones say so.
    let o = run(&[
        "inspect".as_ref(),
        resigned.as_os_str(),
        "--no-signer-check".as_ref(),
        "--snapshot".as_ref(),
        snap.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let unsigned = own.dir.join("unsigned.apk");
    let o = run(&["inspect".as_ref(), unsigned.as_os_str(), "--json".as_ref()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "no decision source: inspected → 0"
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["package"]["signed"], false);
    assert!(j.get("verdict").is_none());
    let o = run(&[
        "inspect".as_ref(),
        unsigned.as_os_str(),
        "--snapshot".as_ref(),
        snap.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("422 unsigned"), "{}", text(&o));
    let o = run(&[
        "inspect".as_ref(),
        signed.as_os_str(),
        "--platform".as_ref(),
        "ios".as_ref(),
        "--snapshot".as_ref(),
        snap.as_os_str(),
    ]);
    assert!(
        text(&o).contains("package_platform_mismatch"),
        "{}",
        text(&o)
    );
}

#[test]
fn inspect_exit_codes_for_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.apk");
    std::fs::write(&junk, b"PK\x05\x06 but not a zip").unwrap();
    let o = run(&["inspect".as_ref(), junk.as_os_str()]);
    assert_eq!(o.status.code(), Some(65), "{}", text(&o));
    assert!(text(&o).contains("package_unreadable"));
    let o = run(&["inspect".as_ref(), junk.as_os_str(), "--json".as_ref()]);
    assert_eq!(o.status.code(), Some(65));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"], "package_unreadable");
    let o = run(&[
        "inspect".as_ref(),
        dir.path().join("absent.apk").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(65));
    assert_eq!(run(&["inspect".as_ref()]).status.code(), Some(64));
    let o = run(&[
        "inspect".as_ref(),
        junk.as_os_str(),
        "--snapshot".as_ref(),
        "a".as_ref(),
        "--admin".as_ref(),
        "http://127.0.0.1:1".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(64), "--snapshot and --admin conflict");
    let Some(own) = own() else { return };
    let signed = own.dir.join("signed.apk");
    let o = run(&[
        "inspect".as_ref(),
        signed.as_os_str(),
        "--platform".as_ref(),
        "symbian".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(64));
    let o = run(&[
        "inspect".as_ref(),
        signed.as_os_str(),
        "--snapshot".as_ref(),
        dir.path().join("absent.ndjson").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(69), "{}", text(&o));
}

/// `icpgate inspect` refuses an ambiguous ZIP with the upload route's code.
#[test]
fn inspect_reports_an_ambiguous_zip_as_package_ambiguous() {
    let Some(tiny) = shared("apk/apksig-golden-aligned-v1v2v3-out.apk") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.apk");
    let twice = with_extra_entry(&tiny.bytes, "AndroidManifest.xml", b"another app");
    std::fs::write(&path, twice).unwrap();
    for flag in [None, Some("--no-verify-digests"), Some("--verify-digests")] {
        let (code, j) = inspect_json(&path, flag);
        assert_eq!((code, &j["error"]), (Some(65), &"package_ambiguous".into()));
    }
}

/// `icpgate inspect PATH --json [FLAG]`: the exit code and the JSON printed.
fn inspect_json(path: &std::path::Path, flag: Option<&str>) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["inspect".as_ref(), path.as_os_str(), "--json".as_ref()];
    args.extend(flag.map(std::ffi::OsStr::new));
    let o = run(&args);
    let j = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code(), j)
}

/// `icpgate inspect` verifies the content digests unless told not to: an APK changed after
/// signing has no accepted signer by default (and with the hidden `--verify-digests` alias), its
/// genuine signer with `--no-verify-digests`.
#[test]
fn inspect_verifies_content_digests_unless_told_not_to() {
    let Some(tiny) = shared("apk/apksig-golden-aligned-v1v2v3-out.apk") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("changed.apk");
    let mut changed = tiny.bytes.clone();
    changed[10] ^= 1; // the first local header's time: covered by the v2 content digest
    std::fs::write(&path, changed).unwrap();
    for (flag, signed) in [
        (None, false),
        (Some("--verify-digests"), false),
        (Some("--no-verify-digests"), true),
    ] {
        let (code, j) = inspect_json(&path, flag);
        assert_eq!(
            (code, &j["package"]["signed"]),
            (Some(0), &signed.into()),
            "{flag:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_asks_a_running_gateway_through_its_admin_api() {
    let Some(own) = own() else { return };
    let up = common::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let snap = own_snapshot(own, dir.path());
    std::fs::rename(&snap, dir.path().join("snapshot.ndjson")).unwrap();
    let text_cfg = common::config_text(up.addr, common::closed_port().await, "");
    let cfg = icpgate::config::Config::parse(&text_cfg, &dir.path().join("gw.toml")).unwrap();
    let running = icpgate::start(cfg).await.unwrap();
    let admin = format!("http://{}", running.admin);
    let ask = |file: &str| {
        let path = own.dir.join(file);
        let admin = admin.clone();
        tokio::task::spawn_blocking(move || {
            bin()
                .arg("inspect")
                .arg(path)
                .args(["--admin", &admin])
                .output()
                .unwrap()
        })
    };
    let o = ask("signed.apk").await.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(FILING));
    let o = ask("resigned.apk").await.unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("signer_not_filed"));
    let o = tokio::task::spawn_blocking(move || {
        bin()
            .arg("inspect")
            .arg(own.dir.join("signed.apk"))
            .args(["--admin", "http://127.0.0.1:1"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(o.status.code(), Some(69), "{}", text(&o));
    running.shutdown();
    running.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_an_upload_exits_and_leaves_no_spool_file() {
    let up = common::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), common::SNAPSHOT).unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let cfg = dir.path().join("gw.toml");
    let text_cfg = common::config_text(up.addr, common::closed_port().await, "")
        .replace("drain_timeout = \"10s\"", "drain_timeout = \"300ms\"")
        + "\n[upload]\nspool_dir = \"spool\"\nmemory_threshold = 0\n\n[[route]]\nname = \"packages\"\npath = \"/v1/packages\"\nupstream = \"store\"\nupload = {}\n";
    std::fs::write(&cfg, text_cfg).unwrap();
    let mut child = bin()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut addr, mut admin) = (None, None);
    while addr.is_none() || admin.is_none() {
        let line = lines.next().expect("gateway exited early").unwrap();
        if let Some(rest) = line.strip_prefix("icpgate: listener \"public\" on http://") {
            addr = Some(rest.to_string());
        }
        if let Some(rest) = line.strip_prefix("icpgate: admin on http://") {
            admin = rest.split_whitespace().next().map(String::from);
        }
    }
    let (addr, admin) = (addr.unwrap(), admin.unwrap());
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /v1/packages HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n")
        .await
        .unwrap();
    s.write_all(&[b'x'; 30_000]).await.unwrap();
    let spooling = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let m = common::get(&common::client(), &format!("http://{admin}/metrics")).await;
            if String::from_utf8_lossy(&m.body).contains("icpgate_upload_spool_files 1") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(spooling.is_ok(), "the upload never reached the spool");
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0);
    assert!(up.requests().is_empty());
    drop(s);
}

/// The README's upload examples: the bundled demo APKs against their sample filings.
#[test]
fn the_bundled_demo_packages_match_their_sample_filings() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let snap = root.join("config/sample-registry.ndjson");
    let ask = |apk: &str| {
        run(&[
            "inspect".as_ref(),
            root.join("config/demo").join(apk).as_os_str(),
            "--snapshot".as_ref(),
            snap.as_os_str(),
        ])
    };
    let o = ask("cn.icpgate.demo.apk");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("filing number attached: {FILING}")));
    let o = ask("cn.icpgate.demo-resigned.apk");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("451 signer_not_filed"));
}
