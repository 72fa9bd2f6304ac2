//! `icpgate serve` under systemd's `Type=notify`: the test plays the service manager, binding
//! the datagram socket that `NOTIFY_SOCKET` names, and checks what the gateway tells it and when.

mod common;

use icpgate::feed::format::SigningKey;
use icpgate::feed::publish::{build, BuildOptions};
use icpgate::filing::record::parse_line;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::net::UnixDatagram;

/// How long the gateway may take for a step before the test gives up (not a synchronisation:
/// each wait ends as soon as its message arrives).
const DEADLINE: Duration = Duration::from_secs(30);

/// Kills the gateway if the test fails before it stops it, so no process outlives the test.
struct Reap(Option<std::process::Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn next_message(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(DEADLINE, sock.recv(&mut buf))
        .await
        .expect("no sd_notify message before the deadline")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The first index load is the readiness: the feed is empty at start (the gateway is up,
/// `/readyz` 503, nothing sent), then published; READY=1 arrives and `/readyz` is already 200.
/// SIGTERM sends STOPPING=1 before the drain, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_the_first_index_load_and_stopping_starts_the_drain() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();

    let feed_dir = dir.path().join("feed");
    std::fs::create_dir(&feed_dir).unwrap();
    let feed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feed_url = format!("http://{}/", feed_listener.local_addr().unwrap());
    let (_stop_feed, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(icpgate::feed::serve::serve(
        feed_listener,
        feed_dir.clone(),
        stop_rx,
    ));
    let (key, _) = SigningKey::generate().unwrap();

    let up = common::upstream().await;
    let cfg = dir.path().join("gw.toml");
    let text = common::config_text(up.addr, common::closed_port().await, "").replace(
        "snapshot = \"snapshot.ndjson\"",
        "stale_after = \"1h\"",
    ) + &format!(
        "\n[feed]\nurl = \"{feed_url}\"\npublic_keys = [\"{}\"]\npoll_interval = \"100ms\"\ncache_dir = \"{}\"\n",
        key.public().to_hex(),
        dir.path().join("cache").display()
    );
    std::fs::write(&cfg, text).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_icpgate"))
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let pid = child.id().to_string();
    let mut child = Reap(Some(child));
    // Every stderr line goes to a channel, so failing syncs never fill the pipe.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let admin = loop {
        let line = lines
            .recv_timeout(DEADLINE)
            .expect("gateway exited before its admin listener");
        if let Some(rest) = line.strip_prefix("icpgate: admin on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let readyz = format!("{admin}/readyz");
    let c = common::client();

    assert_eq!(common::get(&c, &readyz).await.status, 503);
    let mut buf = [0u8; 512];
    assert!(
        matches!(sock.try_recv(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing is sent before an index is loaded"
    );

    let records: Vec<_> = common::SNAPSHOT
        .lines()
        .filter_map(|l| parse_line(l).ok())
        .collect();
    build(&records, &feed_dir, &key, &[], &BuildOptions::default()).unwrap();
    assert_eq!(next_message(&sock).await, "READY=1\n");
    let r = common::get(&c, &readyz).await;
    assert_eq!(r.status, 200, "READY=1 only once /readyz is 200");

    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    assert_eq!(next_message(&sock).await, "STOPPING=1\n");
    let mut child = child.0.take().unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
}
