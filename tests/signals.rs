//! Signals sent to `icpgate serve` as an operator, systemd and logrotate send them: none of
//! them kills the process without a drain, SIGUSR1 reopens the log files, and the diagnostic
//! log's format (docs/logging.md).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_icpgate"))
}

/// A running `icpgate serve` and its stderr, line by line.
/// The gateway process, killed if a failing test leaves it running.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Served {
    child: Reap,
    base: String,
    dir: tempfile::TempDir,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    async fn start(env: &[(&str, &str)]) -> Served {
        let up = common::upstream().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("snapshot.ndjson"), common::SNAPSHOT).unwrap();
        let cfg = dir.path().join("gw.toml");
        let text = common::config_text(
            up.addr,
            common::closed_port().await,
            "[access_log]\npath = \"access.jsonl\"",
        )
        // One audit line per block, as the access log has: the rotation check counts them.
        .replace(
            "path = \"audit.jsonl\"",
            "path = \"audit.jsonl\"\nfold_window = \"0s\"",
        );
        std::fs::write(&cfg, text).unwrap();
        // The upstream's task serves on until the test's runtime ends.
        drop(up);
        let mut child = bin()
            .arg("serve")
            .arg("--config")
            .arg(&cfg)
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, stderr) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut s = Served {
            child: Reap(child),
            base: String::new(),
            dir,
            stderr,
        };
        let line = s.wait_for(|l| l.starts_with("icpgate: listener \"public\" on "));
        s.base = line.rsplit(' ').next().unwrap().to_string();
        s
    }

    /// The next stderr line that `want` accepts (within 20 s).
    fn wait_for(&mut self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(l) if want(&l) => return l,
                Ok(_) => {}
                Err(e) => panic!("no such line on stderr ({e})"),
            }
        }
    }

    fn kill(&self, signal: &str) {
        let pid = self.child.0.id().to_string();
        let ok = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(ok.success());
    }

    fn still_running(&mut self) {
        assert!(
            self.child.0.try_wait().unwrap().is_none(),
            "the gateway exited"
        );
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_user_signal_kills_it_and_usr1_reopens_renamed_logs() {
    let mut s = Served::start(&[]).await;
    let c = common::client();
    let blocked = format!("{}/v1/android/apps/com.unfiled.app/update", s.base);
    assert_eq!(common::get(&c, &blocked).await.status, 451);
    // Each signal, then the line that says it was handled (it holds both words), then a
    // request.
    let handled = [
        ("-USR1", ["log_files_reopen_requested", ""]),
        ("-USR2", ["signal_ignored", "SIGUSR2"]),
        ("-HUP", ["index_loaded", "revision=2"]),
        ("-WINCH", ["signal_ignored", "SIGWINCH"]),
    ];
    for (signal, words) in handled {
        s.kill(signal);
        s.wait_for(|l| words.iter().all(|w| l.contains(w)));
        assert_eq!(common::get(&c, &blocked).await.status, 451, "{signal}");
        s.still_running();
    }

    // logrotate: rename, SIGUSR1, and the next records go to new files at the paths.
    let dir = s.dir.path().to_path_buf();
    let (access, audit) = (dir.join("access.jsonl"), dir.join("audit.jsonl"));
    let deadline = Instant::now() + Duration::from_secs(20);
    // Both files hold the five lines before the rename: a record still queued at the rename
    // would go, whole, to the new file (nothing is lost), which this test does not count.
    while lines(&access).len() < 5 || lines(&audit).len() < 5 {
        assert!(Instant::now() < deadline, "log lines never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::rename(&access, dir.join("access.jsonl.1")).unwrap();
    std::fs::rename(&audit, dir.join("audit.jsonl.1")).unwrap();
    s.kill("-USR1");
    s.wait_for(|l| l.contains("log_files_reopen_requested"));
    let r = common::get(&c, &blocked).await;
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    while lines(&access).is_empty() || lines(&audit).is_empty() {
        assert!(Instant::now() < deadline, "no new files at the paths");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lines(&access)[0]["request_id"], id.as_str());
    assert_eq!(lines(&audit)[0]["request_id"], id.as_str());
    assert_eq!(lines(&dir.join("access.jsonl.1")).len(), 5);
    assert_eq!(lines(&dir.join("audit.jsonl.1")).len(), 5);

    // SIGQUIT drains like SIGTERM.
    s.kill("-QUIT");
    s.wait_for(|l| l.contains("shutdown_complete"));
    let status = tokio::task::spawn_blocking(move || s.child.0.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_diagnostic_log_is_json_when_asked() {
    let mut s = Served::start(&[("ICPGATE_LOG_FORMAT", "json")]).await;
    s.kill("-USR2");
    let line = s.wait_for(|l| l.contains("SIGUSR2"));
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["event"], "signal_ignored");
    assert_eq!(v["level"], "INFO");
    assert!(v["timestamp"].is_string());
    s.kill("-TERM");
    s.wait_for(|l| l.contains("shutdown_complete"));
    let _ = s.child.0.wait();
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("snapshot.ndjson"), common::SNAPSHOT).unwrap();
    let cfg = dir.path().join("gw.toml");
    let addr: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    std::fs::write(&cfg, common::config_text(addr, addr, "")).unwrap();
    let out = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("ICPGATE_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ICPGATE_LOG_FORMAT=\"xml\""), "{err}");
}
