//! Content-digest line rate (`cargo bench --bench digests`), for a 100 MiB APK signed by
//! Debian's apksigner (v1 + v2 + v3, RSA-2048: chunked SHA-256 digests):
//!
//! 1. whole file: `inspect_file` with every digest verified (chunks hashed on every core)
//!    against one single-core SHA-256 pass over the same bytes, read the same way, in the same
//!    run; the ratio is printed (goal ≤ 0.6);
//! 2. upload: the delay between the client's last body byte and the gateway's answer (a 451,
//!    decided with every digest verified, so no upstream replay is timed), for a route that
//!    verifies digests (chunks hashed as they arrive) and one that does not (goal ≤ 15 ms).
//!    The client's send buffer is 64 KiB, so "written" is within 64 KiB of "arrived".
//!
//! `BENCH_RUNS` (default 7) runs of each; medians printed, with min and max. The package is
//! built by tests/fixtures-src/make-apks.sh (python3, zipalign, apksigner); without them the
//! bench says so and stops.

use icpgate::inspect::{inspect_file, Limits};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FILLER: u64 = 100 << 20;

fn build(out: &Path) -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-src/make-apks.sh");
    let st = Command::new("bash")
        .arg(script)
        .arg(out)
        .env("FILLER_BYTES", FILLER.to_string())
        .output()
        .ok()?;
    if !st.status.success() {
        eprintln!(
            "!!!!! make-apks.sh failed, nothing measured: {} !!!!!",
            String::from_utf8_lossy(&st.stderr)
        );
        return None;
    }
    Some(out.join("signed.apk"))
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    Stats {
        median: v[v.len() / 2],
        min: v[0],
        max: v[v.len() - 1],
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn show(what: &str, s: &Stats) {
    println!(
        "{what}: median {:.2} ms (min {:.2}, max {:.2})",
        ms(s.median),
        ms(s.min),
        ms(s.max)
    );
}

/// One SHA-256 pass over the file, read in 1 MiB pieces (the page cache is warm).
fn sha256_pass(path: &Path) -> Duration {
    let t = Instant::now();
    let mut f = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut h = Sha256::new();
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    std::hint::black_box(h.finalize());
    t.elapsed()
}

fn whole_file(path: &Path, runs: usize) {
    let limits = Limits {
        verify_digests: true,
        ..Limits::default()
    };
    let id = inspect_file(path, &limits).unwrap();
    assert_eq!(id.accepted_signers.len(), 1, "the signer verifies");
    let (mut inspect, mut sha) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(inspect_file(path, &limits).unwrap());
        inspect.push(t.elapsed());
        sha.push(sha256_pass(path));
    }
    let (i, s) = (stats(inspect), stats(sha));
    show("whole file: inspect_file, digests verified", &i);
    show("whole file: one single-core SHA-256 pass", &s);
    println!(
        "whole file: ratio {:.2} (goal <= 0.6), {} cores",
        i.median.as_secs_f64() / s.median.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

fn config(snapshot: &str) -> String {
    format!(
        r#"[[listener]]
name = "public"
address = "127.0.0.1:0"
[admin]
address = "127.0.0.1:0"
[index]
snapshot = "{snapshot}"
[audit]
path = "audit.jsonl"
[upload]
spool_dir = "."
[[upstream]]
name = "store"
url = "http://127.0.0.1:9"
[[route]]
name = "hashed"
path = "/v1/hashed"
upstream = "store"
upload = {{ max_bytes = "200MiB", verify_digests = true }}
[[route]]
name = "unhashed"
path = "/v1/unhashed"
upstream = "store"
upload = {{ max_bytes = "200MiB", verify_digests = false }}
"#
    )
}

/// The time from the last body byte written to the first byte of the answer.
async fn one_upload(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> Duration {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_send_buffer_size(64 << 10).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for piece in body.chunks(256 << 10) {
        s.write_all(piece).await.unwrap();
    }
    let sent = Instant::now();
    let mut first = [0u8; 12];
    s.read_exact(&mut first).await.unwrap();
    let took = sent.elapsed();
    assert_eq!(&first[9..12], b"451", "{}", String::from_utf8_lossy(&first));
    took
}

async fn uploads(apk: &[u8], runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    // The package is filed, but for another certificate: 451 signer_not_filed, decided after
    // every digest is verified.
    let record = r#"{"number":"京ICP备2026000419号-1A","status":"active","entity":"e","app_name":"a","platforms":[{"platform":"android","ids":["cn.icpgate.demo"],"signers":[{"sha256":"00"}]}]}"#;
    std::fs::write(dir.path().join("snap.ndjson"), format!("{record}\n")).unwrap();
    let cfg = icpgate::config::Config::parse(&config("snap.ndjson"), &dir.path().join("gw.toml"))
        .unwrap();
    let gw = icpgate::start(cfg).await.unwrap();
    let addr = gw.listeners[0].1;
    for route in ["/v1/hashed", "/v1/unhashed"] {
        one_upload(addr, route, apk).await; // warm-up
        let mut times = Vec::new();
        for _ in 0..runs {
            times.push(one_upload(addr, route, apk).await);
        }
        show(
            &format!("upload {route}: last byte written -> answer"),
            &stats(times),
        );
    }
    gw.shutdown();
    gw.wait().await;
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = build(dir.path()) else {
        return;
    };
    let size = std::fs::metadata(&path).unwrap().len();
    println!("package: {} bytes, signed v1+v2+v3 by apksigner", size);
    whole_file(&path, runs);
    let apk = std::fs::read(&path).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(uploads(&apk, runs));
}
