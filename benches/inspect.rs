//! Package inspection and upload benchmarks (`cargo bench --bench inspect`):
//!
//! 1. identity of a spooled 100 MiB signed APK (criterion; goal ≤ 50 ms);
//! 2. the shared APK fixture set inspected by icpgate and by androguard, side by side in the
//!    same run (`pip install androguard`), ratio printed (goal ≥ 50×);
//! 3. upload throughput through the gateway (spool + inspect + decide + replay) versus straight
//!    to the same upstream, for 1 MiB and 100 MiB signed APKs;
//! 4. package signers: a v1-only (JAR-signed) APK of about 100 MiB, stored or deflated filler,
//!    identified with and without its per-entry digests, against one SHA-256 pass over the
//!    file (`ICPGATE_BENCH_ONLY=v1` runs this part alone).
//!
//! Packages are built by `tests/fixtures-src/make-apks.sh` (needs python3, zipalign,
//! apksigner). A missing tool or fixture set skips that part with a loud notice.

use bytes::Bytes;
use criterion::Criterion;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use icpgate::inspect::{inspect_file, inspect_reader, Limits};
use icpgate::proxy::spool::{Spool, SpoolGauges};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn loud(msg: &str) {
    eprintln!("!!!!! {msg} !!!!!");
}

/// Builds a signed APK with `filler` extra bytes; returns (signed.apk path, signer sha256).
fn build_apk(out: &Path, filler: u64) -> Option<(PathBuf, String)> {
    build_apk_with(out, filler, &[])
}

/// `build_apk` with more of make-apks.sh's environment knobs (`V1_ONLY`, `FILLER_TEXT`).
fn build_apk_with(out: &Path, filler: u64, env: &[(&str, &str)]) -> Option<(PathBuf, String)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures-src/make-apks.sh");
    let st = Command::new("bash")
        .arg(script)
        .arg(out)
        .env("FILLER_BYTES", filler.to_string())
        .envs(env.iter().copied())
        .output()
        .ok()?;
    if !st.status.success() {
        loud(&format!(
            "make-apks.sh failed, skipping: {}",
            String::from_utf8_lossy(&st.stderr)
        ));
        return None;
    }
    let certs = std::fs::read_to_string(out.join("signed.certs")).ok()?;
    let sha = certs
        .lines()
        .find_map(|l| l.split_once("SHA-256 digest: "))
        .map(|(_, v)| v.trim().to_string())?;
    Some((out.join("signed.apk"), sha))
}

fn gauges() -> SpoolGauges {
    SpoolGauges {
        files: prometheus::IntGauge::new("f", "f").unwrap(),
        bytes: prometheus::IntGauge::new("b", "b").unwrap(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 1. The identity of a 100 MiB APK that was spooled to disk, as the gateway reads it, with
///    and without the v2/v3 content digests (`Limits::verify_digests`).
fn spooled_identity(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    apk: &Path,
    verify_digests: bool,
) -> Duration {
    let data = std::fs::read(apk).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sp = rt.block_on(async {
        let mut s = Spool::new(dir.path().to_path_buf(), 1 << 20, gauges());
        for chunk in data.chunks(64 << 10) {
            s.push(chunk).await.unwrap();
        }
        s.finish().await.unwrap()
    });
    assert!(sp.on_disk());
    let len = sp.len();
    let limits = Limits {
        verify_digests,
        ..Limits::default()
    };
    let id = || {
        let r = std::io::BufReader::with_capacity(64 << 10, sp.range(0, len));
        inspect_reader(r, &limits).unwrap()
    };
    assert!(!id().accepted_signers.is_empty());
    let name = if verify_digests {
        "inspect/spooled_100MiB_apk_identity_with_digests"
    } else {
        "inspect/spooled_100MiB_apk_identity"
    };
    c.bench_function(name, |b| b.iter(id));
    median(
        (0..20)
            .map(|_| {
                let t = Instant::now();
                id();
                t.elapsed()
            })
            .collect(),
    )
}

const ANDROGUARD: &str = r#"
import json, logging, sys, time
try:
    from loguru import logger
    logger.remove()
except Exception:
    pass
logging.disable(logging.CRITICAL)
from androguard.core.apk import APK
paths, passes = json.loads(sys.argv[1]), int(sys.argv[2])
best, errors = None, 0
for _ in range(passes):
    t = time.perf_counter()
    errors = 0
    for p in paths:
        try:
            a = APK(p)
            a.get_package(); a.get_androidversion_code(); a.get_androidversion_name()
            a.get_certificates()
        except Exception:
            errors += 1
    el = time.perf_counter() - t
    best = el if best is None else min(best, el)
print(json.dumps({"seconds": best, "errors": errors}))
"#;

/// 2. The shared APK fixtures, icpgate vs androguard (best of 5 full passes each; for
///    profiling, `ICPGATE_BENCH_PASSES` repeats the icpgate side more often).
fn versus_androguard(verify_digests: bool) -> Option<(usize, Duration, f64, u64)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/apps");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("MANIFEST.json")).ok()?).ok()?;
    let paths: Vec<String> = manifest["fixtures"]
        .as_array()?
        .iter()
        .filter(|f| f["kind"] == "apk")
        // For profiling one fixture: ICPGATE_BENCH_FILTER=part-of-its-name.
        .filter(|f| {
            std::env::var("ICPGATE_BENCH_FILTER").map_or(true, |want| {
                f["file"].as_str().unwrap_or("").contains(&want)
            })
        })
        .map(|f| dir.join(f["file"].as_str().unwrap()).display().to_string())
        .collect();
    let passes: usize = std::env::var("ICPGATE_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let limits = Limits {
        verify_digests,
        ..Limits::default()
    };
    let ours = (0..passes)
        .map(|_| {
            let t = Instant::now();
            for p in &paths {
                let _ = std::hint::black_box(inspect_file(Path::new(p), &limits));
            }
            t.elapsed()
        })
        .min()?;
    if std::env::var_os("ICPGATE_BENCH_PER_FILE").is_some() {
        per_file(&paths, &limits);
    }
    let out = Command::new("python3")
        .args(["-c", ANDROGUARD])
        .arg(serde_json::to_string(&paths).ok()?)
        .arg(passes.min(5).to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        loud(&format!(
            "androguard not available (pip install androguard): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((
        paths.len(),
        ours,
        v["seconds"].as_f64()?,
        v["errors"].as_u64()?,
    ))
}

/// Prints the slowest fixtures (best of 20 per file), to see where the time goes.
fn per_file(paths: &[String], limits: &Limits) {
    let mut t: Vec<(Duration, &String)> = paths
        .iter()
        .map(|p| {
            let best = (0..20)
                .map(|_| {
                    let t = Instant::now();
                    let _ = std::hint::black_box(inspect_file(Path::new(p), limits));
                    t.elapsed()
                })
                .min()
                .unwrap_or_default();
            (best, p)
        })
        .collect();
    t.sort();
    for (d, p) in t
        .iter()
        .rev()
        .take(if std::env::var_os("ICPGATE_BENCH_ALL").is_some() {
            usize::MAX
        } else {
            15
        })
    {
        eprintln!("{:8.1} µs  {p}", d.as_secs_f64() * 1e6);
    }
    // Less sensitive to other load on the machine than the best full pass.
    let sum: Duration = t.iter().map(|(d, _)| *d).sum();
    eprintln!(
        "sum of the per-file bests: {:.2} ms",
        sum.as_secs_f64() * 1e3
    );
}

/// An upstream that reads every body to the end and answers 200.
async fn sink() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let n = req.into_body().collect().await?.to_bytes().len();
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(
                        n.to_string(),
                    ))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// 3. Median time per upload of `body`, via the gateway and straight to the upstream.
async fn throughput(apk: &[u8], sha256: &str, n: usize) -> (Duration, Duration) {
    let up = sink().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("snap.ndjson"),
        format!(
            r#"{{"number":"京ICP备2026000417号-2A","status":"active","entity":"e","app_name":"a","platforms":[{{"platform":"android","ids":["cn.icpgate.demo"],"signers":[{{"sha256":"{sha256}"}}]}}]}}"#
        ),
    )
    .unwrap();
    let cfg = format!(
        r#"[[listener]]
name = "public"
address = "127.0.0.1:0"
[admin]
address = "127.0.0.1:0"
[index]
snapshot = "snap.ndjson"
[audit]
path = "audit.jsonl"
[upload]
spool_dir = "."
[[upstream]]
name = "store"
url = "http://{up}"
[[route]]
name = "packages"
path = "/v1/packages"
upstream = "store"
upload = {{ max_bytes = "200MiB" }}
"#
    );
    let cfg = icpgate::config::Config::parse(&cfg, &dir.path().join("gw.toml")).unwrap();
    let gw = icpgate::start(cfg).await.unwrap();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = Bytes::copy_from_slice(apk);
    let run = |url: String| {
        let client = client.clone();
        let body = body.clone();
        async move {
            let mut times = Vec::new();
            for i in 0..=n {
                let req = hyper::Request::post(&url)
                    .header("content-type", "application/vnd.android.package-archive")
                    .body(Full::new(body.clone()))
                    .unwrap();
                let t = Instant::now();
                let resp = client.request(req).await.unwrap();
                let status = resp.status();
                let _ = resp.into_body().collect().await.unwrap();
                assert_eq!(status, 200, "{url}");
                if i > 0 {
                    times.push(t.elapsed()); // the first is a warm-up
                }
            }
            median(times)
        }
    };
    let via = run(format!("http://{}/v1/packages", gw.listeners[0].1)).await;
    let direct = run(format!("http://{up}/v1/packages")).await;
    gw.shutdown();
    gw.wait().await;
    (via, direct)
}

/// 4. A v1-only APK (stored random filler, or deflated text filler of `filler` bytes): median
///    of 7 whole identities (`inspect_file`) with and without `verify_digests`, and of 7 SHA-256
///    passes over the file read in 256 KiB pieces. Printed, not asserted.
fn v1_only(work: &Path, label: &str, filler: u64, env: &[(&str, &str)]) -> Option<String> {
    use sha2::Digest;
    let env: Vec<_> = [("V1_ONLY", "1")]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let (apk, _) = build_apk_with(&work.join(label.replace(' ', "-")), filler, &env)?;
    let len = std::fs::metadata(&apk).ok()?.len();
    let time = |f: &dyn Fn()| {
        let runs = (0..7).map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        });
        median(runs.collect())
    };
    let identity = |verify_digests: bool| {
        let limits = Limits {
            verify_digests,
            ..Limits::default()
        };
        let id = inspect_file(&apk, &limits).unwrap();
        assert!(!id.accepted_signers.is_empty(), "v1 accepts the signer");
        assert!(id.schemes.iter().all(|s| s.scheme == "v1"), "v1 only");
    };
    let sha256 = || {
        let mut f = std::fs::File::open(&apk).unwrap();
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 256 << 10];
        loop {
            let n = std::io::Read::read(&mut f, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        std::hint::black_box(h.finalize());
    };
    let (on, off, pass) = (
        time(&|| identity(true)),
        time(&|| identity(false)),
        time(&sha256),
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Some(format!(
        "v1-only APK, {label} ({:.1} MiB file, {:.0} MiB covered): identity with v1 entry \
         digests {:.1} ms ({:.0} MiB/s covered), without {:.2} ms; one SHA-256 pass over the \
         file {:.1} ms (ratio {:.2})",
        len as f64 / (1 << 20) as f64,
        filler as f64 / (1 << 20) as f64,
        ms(on),
        filler as f64 / (1 << 20) as f64 / on.as_secs_f64(),
        ms(off),
        ms(pass),
        on.as_secs_f64() / pass.as_secs_f64()
    ))
}

fn mb_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / (1 << 20) as f64
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("ICPGATE_BENCH_ONLY").as_deref() == Ok("fixtures") {
        // Only the side-by-side fixture comparison (also what `perf record` profiles).
        for digests in [false, true] {
            match versus_androguard(digests) {
                Some((n, ours, theirs, errors)) => println!(
                    "{n} shared APK fixtures, verify_digests = {digests}: icpgate {:.2} ms, \
                     androguard {:.1} ms ({errors} raised), ratio {:.0}x",
                    ours.as_secs_f64() * 1e3,
                    theirs * 1e3,
                    theirs / ours.as_secs_f64()
                ),
                None => loud("androguard comparison skipped"),
            }
        }
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let v1_report = || {
        [
            ("stored random filler", 100 << 20, vec![]),
            (
                "deflated text filler",
                240 << 20,
                vec![("FILLER_TEXT", "1")],
            ),
        ]
        .into_iter()
        .filter_map(|(label, filler, env)| {
            let line = v1_only(work.path(), label, filler, &env);
            if line.is_none() {
                loud(&format!("v1-only APK ({label}) not built: skipped"));
            }
            line
        })
        .collect::<Vec<_>>()
    };
    if std::env::var("ICPGATE_BENCH_ONLY").as_deref() == Ok("v1") {
        println!("\n== package signers");
        v1_report().iter().for_each(|l| println!("{l}"));
        return;
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let only_identity = std::env::var("ICPGATE_BENCH_ONLY").as_deref() == Ok("identity");
    let small = build_apk(&work.path().join("1m"), 1 << 20);
    let big = build_apk(&work.path().join("100m"), 100 << 20);
    let mut report = Vec::new();

    if let Some((apk, _)) = &big {
        for digests in [false, true] {
            let m = spooled_identity(&mut c, &rt, apk, digests);
            report.push(format!(
                "identity of a spooled 100 MiB signed APK (v1+v2+v3), verify_digests = \
                 {digests}: median {:.2} ms (goal ≤ 50 ms)",
                m.as_secs_f64() * 1e3
            ));
        }
    } else {
        loud("100 MiB APK not built: spooled identity skipped");
    }
    c.final_summary();
    if only_identity {
        report.iter().for_each(|l| println!("{l}"));
        return;
    }

    for digests in [false, true] {
        match versus_androguard(digests) {
            Some((n, ours, theirs, errors)) => report.push(format!(
                "{n} shared APK fixtures, best of 5 passes, verify_digests = {digests}: icpgate \
                 {:.2} ms, androguard {:.1} ms ({errors} raised), ratio {:.0}x (goal ≥ 50x)",
                ours.as_secs_f64() * 1e3,
                theirs * 1e3,
                theirs / ours.as_secs_f64()
            )),
            None => loud("androguard comparison skipped"),
        }
    }

    for (label, built, n) in [("1 MiB", &small, 40), ("100 MiB", &big, 5)] {
        let Some((apk, sha)) = built else {
            loud(&format!("{label} APK not built: throughput skipped"));
            continue;
        };
        let bytes = std::fs::read(apk).unwrap();
        let (via, direct) = rt.block_on(throughput(&bytes, sha, n));
        report.push(format!(
            "upload {label} ({} B) median of {n}: via gateway {:.1} ms ({:.0} MiB/s), direct \
             {:.1} ms ({:.0} MiB/s), gateway/direct time {:.2}",
            bytes.len(),
            via.as_secs_f64() * 1e3,
            mb_s(bytes.len(), via),
            direct.as_secs_f64() * 1e3,
            mb_s(bytes.len(), direct),
            via.as_secs_f64() / direct.as_secs_f64()
        ));
    }
    report.extend(v1_report());
    println!("\n== package inspection and uploads");
    for line in report {
        println!("{line}");
    }
}
