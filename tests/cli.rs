//! The `icpgate` binary as users run it: check-config, lookup, serve with SIGTERM drain.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_icpgate"))
}

#[test]
fn check_config_accepts_the_bundled_default() {
    let out = bin()
        .args([
            "check-config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config/icpgate.toml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_exits_64_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.ndjson"), "").unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[listener]]\nname = \"p\"\naddress = \"127.0.0.1:99999\"\n\n[index]\nsnapshot = \"s.ndjson\"\n").unwrap();
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3: listener[0].address:", path.display())),
        "{err}"
    );
    std::fs::write(&path, "[[listener]]\nname = \"p\"\naddress = \"127.0.0.1:0\"\nport = 1\n[index]\nsnapshot = \"s.ndjson\"\n").unwrap();
    let out = bin()
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(":4: listener[0]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lookup_answers_offline_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("s.ndjson");
    std::fs::write(&snap, common::SNAPSHOT).unwrap();
    let out = bin()
        .args(["lookup", "--snapshot"])
        .arg(&snap)
        .args(["android", "com.example.revokedapp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "not filed → exit 1");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["filings"][0]["status"], "revoked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("s.ndjson:8: rejected"));
    let out = bin()
        .args(["lookup", "--snapshot"])
        .arg(&snap)
        .args(["ios", "xyz.superbart.xdyou"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = bin()
        .args(["lookup", "--snapshot"])
        .arg(&snap)
        .args(["ios", "bad_id"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_in_flight_request_then_exits_0() {
    drains_on("-TERM").await;
}

/// Ctrl-C in a terminal: the same drain as SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_an_in_flight_request_then_exits_0() {
    drains_on("-INT").await;
}

/// Starts `icpgate serve`, sends `signal` while a request is at the upstream, and checks that
/// the request completes, the process exits 0 and reports its shutdown.
async fn drains_on(signal: &str) {
    let up = common::upstream().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), common::SNAPSHOT).unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        common::config_text(up.addr, common::closed_port().await, ""),
    )
    .unwrap();
    let mut child = bin()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("gateway exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("icpgate: listener \"public\" on http://") {
            break rest.to_string();
        }
    };
    let pending = tokio::spawn(async move {
        common::get(&common::client(), &format!("http://{addr}/slow?ms=700")).await
    });
    up.arrived.notified().await;
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let r = pending.await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..], b"upstream-ok");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("shutdown_complete")),
        "{rest:?}"
    );
}

/// deploy/icpgate.toml is what operators start from: it must stay valid as the config grows.
/// Its files (TLS pair, admin token, feed key, spool dir) are made here, as an operator would.
#[test]
fn the_production_example_in_deploy_validates_once_its_files_exist() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/icpgate.toml"))
            .unwrap();
    let spool = dir.path().join("spool");
    let logs = dir.path().join("log");
    let text = shipped
        .replace(
            "spool_dir = \"/var/cache/icpgate\"",
            &format!("spool_dir = {:?}", spool.display().to_string()),
        )
        .replace(
            "path = \"/var/log/icpgate/audit.jsonl\"",
            &format!(
                "path = {:?}",
                logs.join("audit.jsonl").display().to_string()
            ),
        );
    assert_eq!(
        text.matches(&*dir.path().display().to_string()).count(),
        2,
        "the spool_dir or audit.path line moved; update this test"
    );
    let path = dir.path().join("icpgate.toml");
    std::fs::write(&path, &text).unwrap();
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":11: listener[0].tls.cert:"), "{err}");
    assert!(err.contains(":41: audit.path: folder"), "{err}");

    std::fs::create_dir(&spool).unwrap();
    std::fs::create_dir(&logs).unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let (cert, key, _) = common::self_signed();
    std::fs::write(dir.path().join("tls/gateway.pem"), cert).unwrap();
    std::fs::write(dir.path().join("tls/gateway.key"), key).unwrap();
    std::fs::write(dir.path().join("admin.token"), "s3cret\n").unwrap();
    let keygen = bin()
        .args(["feed", "keygen", "--out"])
        .arg(dir.path().join("feed"))
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let out = bin().arg("check-config").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 routes"));
}

#[test]
fn check_snapshot_counts_and_names_each_rejected_line() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sample-registry.ndjson");
    let out = bin()
        .args(["check-snapshot", sample, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rejected"], 0);
    assert!(v["accepted"].as_u64().unwrap() >= 200, "{v}");
    assert!(v["ids_by_platform"]["wechat"].as_u64().unwrap() > 0, "{v}");
    assert!(v["load_seconds"].is_number() && v["rss_mib"].is_number());

    // The common snapshot carries one malformed line (line 8) among good ones.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(&bad, common::SNAPSHOT).unwrap();
    let out = bin().arg("check-snapshot").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:8: rejected:", bad.display())),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rejected"));
    let out = bin()
        .arg("check-snapshot")
        .arg(dir.path().join("missing.ndjson"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
}

/// A reader that closes the pipe early (`icpgate inspect … | head`) ends the command with 141,
/// as SIGPIPE would, never with a panic.
#[test]
fn output_into_a_closed_pipe_is_not_a_panic() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/config/demo");
    let apk = std::fs::read_dir(demo)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "apk"))
        .expect("a demo APK in config/demo");
    let mut child = bin()
        .args(["inspect", "--json"])
        .arg(&apk)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the read end closes before anything is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(141), "{err}");
}

/// `--version` names the commit the binary was built from (build.rs): `icpgate 0.1.0 (abc1234)`,
/// with `-dirty` for uncommitted changes, `unknown` outside a git checkout.
#[test]
fn version_names_the_commit() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let commit = text
        .trim_end()
        .strip_prefix(concat!("icpgate ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text:?}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(h) => assert!(
            commit == h || commit == format!("{h}-dirty"),
            "{commit} is not HEAD {h}"
        ),
        None => assert_eq!(commit, "unknown"),
    }
}

/// Every shell's completion script is generated; those whose shell is installed must parse
/// (`bash -n`, `zsh -n`, `fish -n`); bash always is.
#[test]
fn completion_scripts_parse_in_their_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        assert!(script.contains("check-config"), "{shell}: {script}");
        if !matches!(shell, "bash" | "zsh" | "fish") {
            continue;
        }
        let check = Command::new(shell)
            .arg("-n")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut check) = check else {
            assert_ne!(shell, "bash", "bash is needed for this test");
            continue;
        };
        use std::io::Write;
        check
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let r = check.wait_with_output().unwrap();
        assert!(
            r.status.success(),
            "{shell} -n: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

/// `icpgate man` prints the roff page; `--out DIR` writes a page per subcommand.
#[test]
fn man_pages_render_for_the_binary_and_each_subcommand() {
    let out = bin().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH ICPGATE 1 "), "{page}");
    for sub in ["serve", "check\\-config", "completions", "feed"] {
        assert!(
            page.contains(&format!("icpgate\\-{sub}(1)")),
            "{sub} missing: {page}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    for (file, title) in [
        ("icpgate.1", ".TH ICPGATE 1 "),
        ("icpgate-serve.1", ".TH ICPGATE-SERVE 1 "),
        ("icpgate-feed-build.1", ".TH ICPGATE-FEED-BUILD 1 "),
    ] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        assert!(text.contains(title), "{file}: {text}");
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{file}");
    }
}

/// `icpgate probe` is the image's HEALTHCHECK: exit 0 on a 2xx probe, 1 on anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_exits_0_on_a_2xx_answer_and_1_otherwise() {
    let g = common::gateway().await;
    let down = format!("http://{}/healthz", common::closed_port().await);
    for (url, code) in [
        (format!("{}/healthz", g.admin), 0),
        (format!("{}/readyz", g.admin), 0),
        (format!("{}/no-such-probe", g.admin), 1),
        (down, 1),
    ] {
        let out = tokio::task::spawn_blocking(move || {
            bin()
                .args(["probe", &url, "--timeout", "5s"])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
