//! Feed benchmarks at registry scale (BENCHMARKS.md, "Registry feed"): publish a feed of N
//! records (default 7,040,000 ≈ 10M ids), sync a gateway from it, cold-start a gateway from its
//! cache with the feed down, then apply a 100k-change delta while a load runs and compare p99
//! latency during the apply with steady state.
//!
//! The cold start runs the real binary (`icpgate serve`) as a new process and is timed from
//! spawn until it answers a request from the restored index.
//!
//! `cargo bench --bench feed_sync` (env: ICPGATE_FEED_RECORDS, ICPGATE_DELTA_CHANGES,
//! ICPGATE_LOAD_CONNS). Prints one line per figure; exits non-zero if a request fails.

use icpgate::feed::format::SigningKey;
use icpgate::feed::publish::{build, BuildOptions};
use icpgate::filing::{Platform, Status};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn config(up: &str, feed: &str, key: &str, cache: &str) -> String {
    format!(
        r#"[[listener]]
name = "public"
address = "127.0.0.1:0"
[admin]
address = "127.0.0.1:0"
[index]
stale_after = "1h"
[audit]
path = "/dev/null"
[feed]
url = "{feed}"
public_keys = ["{key}"]
poll_interval = "1h"
cache_dir = "{cache}"
max_file_bytes = 34359738368
[[upstream]]
name = "up"
url = "http://{up}"
[[route]]
name = "check"
path = "/v1/android/apps/{{package}}"
upstream = "up"
platform = "android"
extract = [{{ path = "package" }}]
"#
    )
}

async fn upstream() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = _tx;
        icpgate::demo::echo::serve(l, rx).await
    });
    addr
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

/// The cache files and their sizes.
fn cache_listing(dir: &std::path::Path) -> String {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            m.is_file().then(|| {
                let size = m.len();
                let shown = if size >= 1 << 20 {
                    format!("{} MiB", size >> 20)
                } else {
                    format!("{size} B")
                };
                format!("{} {shown}", e.file_name().to_string_lossy())
            })
        })
        .collect();
    files.sort();
    files.join(", ")
}

fn first_android_id(n: u64) -> String {
    (0..n)
        .map(|i| icpgate::generate::record(1, i))
        .find_map(|r| {
            let p = r
                .platforms
                .iter()
                .find(|p| p.platform == Platform::Android)?;
            Some(p.ids[0].clone())
        })
        .unwrap()
}

async fn get(addr: &str, path: &str) -> Option<(u16, Vec<u8>)> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, http_body_util::Empty<bytes::Bytes>>(
        hyper_util::client::legacy::connect::HttpConnector::new(),
    );
    let r = client
        .get(format!("http://{addr}{path}").parse().ok()?)
        .await
        .ok()?;
    let status = r.status().as_u16();
    let body = http_body_util::BodyExt::collect(r.into_body()).await.ok()?;
    Some((status, body.to_bytes().to_vec()))
}

/// Runs `icpgate serve` on `config` as a new process and times it from spawn until the
/// gateway answers `probe` with a decision (200 or 451) from the restored index; returns the
/// seconds and the record count `/v1/status` reports. The process is then stopped (SIGTERM).
async fn cold_start(config: &std::path::Path, probe: &str) -> (f64, u64) {
    use std::io::BufRead;
    let t = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_icpgate"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let (mut public, mut admin) = (None, None);
    while public.is_none() || admin.is_none() {
        let line = rx
            .recv()
            .await
            .expect("gateway exited before printing its ports");
        let addr = |l: &str| {
            l.split("http://")
                .nth(1)
                .map(|a| a.split_whitespace().next().unwrap_or(a).to_string())
        };
        if line.starts_with("icpgate: listener") {
            public = addr(&line);
        } else if line.starts_with("icpgate: admin") {
            admin = addr(&line);
        }
    }
    let (public, admin) = (public.unwrap(), admin.unwrap());
    loop {
        if let Some((s, _)) = get(&public, probe).await {
            assert!(s == 200 || s == 451, "cold gateway answered {s}");
            break;
        }
        tokio::task::yield_now().await;
    }
    let secs = t.elapsed().as_secs_f64();
    let (_, body) = get(&admin, "/v1/status").await.unwrap();
    let st: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let records = st["index"]["records"].as_u64().unwrap_or(0);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    (secs, records)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // ICPGATE_LOG=info shows the gateway's feed events (per-phase apply times) on stderr.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("ICPGATE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let n = env("ICPGATE_FEED_RECORDS", 7_040_000);
    let changes = env("ICPGATE_DELTA_CHANGES", 100_000);
    let conns = env("ICPGATE_LOAD_CONNS", 16) as usize;
    let work = tempfile::tempdir().unwrap();
    let (feed_dir, cache, export) = (
        work.path().join("feed"),
        work.path().join("cache"),
        work.path().join("export.ndjson"),
    );
    println!(
        "machine: {} cores; records {n}",
        std::thread::available_parallelism().map_or(1, |c| c.get())
    );

    let t = Instant::now();
    let g = icpgate::generate::generate(
        n,
        1,
        std::io::BufWriter::new(std::fs::File::create(&export).unwrap()),
    )
    .unwrap();
    println!(
        "generate: {} records, {} ids, {} MiB export in {:.1}s",
        g.records,
        g.ids,
        g.bytes >> 20,
        t.elapsed().as_secs_f64()
    );
    let (key, _) = SigningKey::generate().unwrap();
    let t = Instant::now();
    let recs = icpgate::feed::export::read_export(&export).unwrap();
    let read = t.elapsed();
    build(&recs, &feed_dir, &key, &[], &BuildOptions::default()).unwrap();
    let snap_bytes: u64 = std::fs::read_dir(feed_dir.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!("publish snapshot: read export {:.1}s, build+compress+sign {:.1}s total, snapshot {} MiB zstd", read.as_secs_f64(), t.elapsed().as_secs_f64(), snap_bytes >> 20);

    // The delta: `changes` records flip status (revocations and reinstatements).
    let mut next = recs;
    let step = (next.len() / changes.max(1) as usize).max(1);
    for r in next.iter_mut().step_by(step).take(changes as usize) {
        r.status = if r.status == Status::Active {
            Status::Revoked
        } else {
            Status::Active
        };
    }
    let feed_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let feed_url = format!("http://{}/", feed_l.local_addr().unwrap());
    let (_stop, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(icpgate::feed::serve::serve(
        feed_l,
        feed_dir.clone(),
        stop_rx,
    ));
    let up = upstream().await;
    let cfg_dir = work.path();
    let cfg_text = config(
        &up.to_string(),
        &feed_url,
        &key.public().to_hex(),
        &cache.display().to_string(),
    );
    let cfg = icpgate::config::Config::parse(&cfg_text, &cfg_dir.join("gw.toml")).unwrap();

    let t = Instant::now();
    let gw = icpgate::start(cfg).await.unwrap();
    gw.source.refresh().await.unwrap();
    let rev = gw.index.current();
    println!("first sync from feed (fetch, verify, decompress, parse, checksum, publish): {:.2}s; {} records, {} ids; RSS {} MiB", t.elapsed().as_secs_f64(), rev.stats.records, rev.stats.ids, rss_mib());
    drop(rev);

    // Cold start from cache, feed down.
    let down = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let cold_text = config(
        &up.to_string(),
        &format!("http://{down}/"),
        &key.public().to_hex(),
        &cache.display().to_string(),
    );
    std::fs::write(cfg_dir.join("gw2.toml"), &cold_text).unwrap();
    println!("cache after first sync: {}", cache_listing(&cache));
    let probe = format!("/v1/android/apps/{}", first_android_id(n));
    let (secs, records) = cold_start(&cfg_dir.join("gw2.toml"), &probe).await;
    println!(
        "cold start from cache, feed down (process start -> {records} records answering): {secs:.2}s"
    );

    let t = Instant::now();
    let opts = BuildOptions::default();
    let s = build(&next, &feed_dir, &key, &[], &opts).unwrap();
    println!(
        "publish delta: {} upserts in {:.1}s (replays the previous feed to diff)",
        s.upserts,
        t.elapsed().as_secs_f64()
    );
    drop(next);

    // Load: conns keep-alive clients on filed ids; latency per request; phase marks steady vs apply.
    let base = format!("http://{}", gw.listeners[0].1);
    let ids: Arc<Vec<String>> = Arc::new(
        (0..20_000u64)
            .map(|i| icpgate::generate::record(1, i * (n / 20_000).max(1)))
            .filter_map(|r| {
                r.platforms
                    .iter()
                    .find(|p| p.platform == Platform::Android)
                    .map(|p| p.ids[0].clone())
            })
            .collect(),
    );
    let phase = Arc::new(AtomicU64::new(0)); // 0 warm-up, 1 steady, 2 applying, 3 done
    let lat: Arc<Mutex<[Vec<Duration>; 3]>> =
        Arc::new(Mutex::new([Vec::new(), Vec::new(), Vec::new()]));
    let failed = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (ids, phase, lat, failed, running, base) = (
            ids.clone(),
            phase.clone(),
            lat.clone(),
            failed.clone(),
            running.clone(),
            base.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build::<_, http_body_util::Empty<bytes::Bytes>>(
                    hyper_util::client::legacy::connect::HttpConnector::new(),
                );
            let mut i = c;
            let mut local: [Vec<Duration>; 3] = [Vec::new(), Vec::new(), Vec::new()];
            while running.load(Ordering::Relaxed) {
                let url = format!("{base}/v1/android/apps/{}", ids[i % ids.len()]);
                i += conns;
                let t = Instant::now();
                let ok = match client.get(url.parse().unwrap()).await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = http_body_util::BodyExt::collect(r.into_body()).await;
                        s == 200 || s == 451
                    }
                    Err(_) => false,
                };
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                let p = phase.load(Ordering::Relaxed) as usize;
                if (1..=2).contains(&p) {
                    local[p].push(t.elapsed());
                }
            }
            let mut all = lat.lock().unwrap();
            for p in 1..=2 {
                all[p].append(&mut local[p]);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    phase.store(1, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(5)).await;
    phase.store(2, Ordering::Relaxed);
    let t = Instant::now();
    let (idx, from) = (gw.index.clone(), gw.index.current().revision);
    let visible = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        loop {
            tick.tick().await;
            if idx.current().revision > from {
                return t.elapsed();
            }
        }
    });
    let out = gw.source.refresh().await.unwrap();
    let apply = t.elapsed();
    let visible = visible.await.unwrap();
    let after_delta = cache_listing(&cache);
    phase.store(3, Ordering::Relaxed);
    running.store(false, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let [_, mut steady, mut applying] = std::mem::take(&mut *lat.lock().unwrap());
    let (steady_n, apply_n) = (steady.len(), applying.len());
    let p99_steady = percentile(&mut steady, 0.99);
    let p99_apply = percentile(&mut applying, 0.99);
    let p50_steady = percentile(&mut steady, 0.50);
    println!(
        "delta sync under load: {}; new revision visible to requests after {:.2}s (fetch + verify + apply {} changes + publish); sync returned after {:.2}s (+ cache write)",
        out["sync"],
        visible.as_secs_f64(),
        changes,
        apply.as_secs_f64(),
    );
    println!("load: {conns} keep-alive connections; steady {steady_n} req in 5s ({:.0} req/s), p50 {:?}, p99 {:?}", steady_n as f64 / 5.0, p50_steady, p99_steady);
    println!(
        "during apply: {apply_n} req, p99 {:?}; ratio p99 apply/steady {:.2}; failed requests {}",
        p99_apply,
        p99_apply.as_secs_f64() / p99_steady.as_secs_f64().max(1e-9),
        failed.load(Ordering::Relaxed)
    );
    println!("RSS after delta: {} MiB", rss_mib());
    println!("cache after the delta: {after_delta}");
    gw.shutdown();
    gw.wait().await;
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the run"
    );
}
