//! The registry feed end to end: a publisher writes a signed feed, a real HTTP server serves it
//! (the built-in one, and nginx when installed), and an in-process gateway syncs from it.
//! Syncs are triggered through the admin API / `Source::refresh`, never by waiting.

mod common;

use common::*;
use icpgate::feed::format::{PublicKey, SigningKey};
use icpgate::feed::publish::{build, BuildOptions};
use icpgate::filing::record::parse_line;
use icpgate::filing::FilingRecord;
use std::path::{Path, PathBuf};

fn records(xdyou_status: &str, extra: usize) -> Vec<FilingRecord> {
    let mut out: Vec<FilingRecord> = SNAPSHOT
        .lines()
        .filter_map(|l| parse_line(l).ok())
        .map(|mut r| {
            if r.app_name == "XDYou" {
                r.status = xdyou_status.parse_status();
            }
            r
        })
        .collect();
    for i in 0..extra {
        out.push(parse_line(&format!(r#"{{"number":"京ICP备2025{i:06}号-1A","status":"active","entity":"某公司","app_name":"x","platforms":[{{"platform":"android","ids":["com.extra.n{i}"]}}]}}"#)).unwrap());
    }
    out
}

trait ParseStatus {
    fn parse_status(&self) -> icpgate::filing::Status;
}
impl ParseStatus for str {
    fn parse_status(&self) -> icpgate::filing::Status {
        serde_json::from_value(serde_json::Value::String(self.to_string())).unwrap()
    }
}

struct Feed {
    dir: tempfile::TempDir,
    key: SigningKey,
    url: String,
}

impl Feed {
    async fn new() -> Feed {
        let dir = tempfile::tempdir().unwrap();
        let (key, _) = SigningKey::generate().unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let served = dir.path().to_path_buf();
        tokio::spawn(async move {
            let _keep = _tx;
            icpgate::feed::serve::serve(l, served, rx).await
        });
        Feed { dir, key, url }
    }
    fn publish(&self, recs: &[FilingRecord], fold_after: usize) -> u64 {
        let opts = BuildOptions {
            fold_after,
            ..Default::default()
        };
        build(recs, self.dir.path(), &self.key, &[], &opts)
            .unwrap()
            .revision
    }
    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }
}

fn feed_config(
    up: std::net::SocketAddr,
    down: std::net::SocketAddr,
    url: &str,
    keys: &[PublicKey],
    cache: &Path,
    stale: &str,
) -> String {
    let keys: Vec<String> = keys.iter().map(|k| format!("\"{}\"", k.to_hex())).collect();
    config_text(up, down, "")
        .replace("snapshot = \"snapshot.ndjson\"", &format!("stale_after = \"{stale}\""))
        + &format!(
            "\n[feed]\nurl = \"{url}\"\npublic_keys = [{}]\npoll_interval = \"1h\"\ncache_dir = \"{}\"\nmax_deltas = 5\n",
            keys.join(", "),
            cache.display()
        )
}

struct Gw {
    running: icpgate::Running,
    base: String,
    admin: String,
    _dir: tempfile::TempDir,
}

async fn gateway(
    url: &str,
    keys: &[PublicKey],
    cache: &Path,
    edit: impl Fn(String) -> String,
) -> Gw {
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let text = edit(feed_config(
        up.addr,
        closed_port().await,
        url,
        keys,
        cache,
        "1h",
    ));
    let cfg = icpgate::config::Config::parse(&text, &dir.path().join("gw.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let running = icpgate::start(cfg).await.unwrap();
    let base = format!("http://{}", running.listeners[0].1);
    let admin = format!("http://{}", running.admin);
    std::mem::forget(up);
    Gw {
        running,
        base,
        admin,
        _dir: dir,
    }
}

impl Gw {
    async fn sync(&self) -> Result<serde_json::Value, String> {
        self.running.source.refresh().await
    }
    fn revision(&self) -> u64 {
        self.running.index.current().revision
    }
    fn metric(&self, sample: &str) -> f64 {
        let text = self.running.metrics.render();
        text.lines()
            .find(|l| l.starts_with(sample) && l[sample.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0.0)
    }
}

const FILED: &str = "/v1/android/apps/io.github.benderblog.traintime_pda/update";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_an_open_keep_alive_connection_through_a_delta() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    assert_eq!(g.revision(), 1);
    let stream = tokio::net::TcpStream::connect(g.running.listeners[0].1)
        .await
        .unwrap();
    let (mut conn, driver) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(driver);
    let req = || {
        http::Request::get(FILED)
            .header("host", "x")
            .body(http_body_util::Full::<bytes::Bytes>::default())
            .unwrap()
    };
    let first = conn.send_request(req()).await.unwrap();
    assert_eq!(first.status(), 200);
    // Read the body to its end: only then is the connection free for the next request.
    http_body_util::BodyExt::collect(first.into_body())
        .await
        .unwrap();
    assert_eq!(feed.publish(&records("revoked", 0), 20), 2);
    let out = g.sync().await.unwrap();
    assert_eq!(out["sync"]["outcome"], "applied");
    assert_eq!(out["sync"]["snapshot"], false, "applied as a delta");
    // The same connection, still open: `ready` fails if the gateway closed it.
    conn.ready().await.unwrap();
    assert_eq!(conn.send_request(req()).await.unwrap().status(), 451);
    let st = get(&client(), &format!("{}/v1/status", g.admin))
        .await
        .json();
    assert_eq!(st["index"]["revision"], 2);
    assert_eq!(st["source"]["feed"]["last_outcome"]["outcome"], "applied");
    assert!(g.metric("icpgate_feed_bytes_fetched_total") > 0.0);
    assert_eq!(g.sync().await.unwrap()["sync"]["outcome"], "not_modified");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_chain_applies_in_order_and_a_folded_chain_falls_back_to_the_snapshot() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 3), 2);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    feed.publish(&records("active", 5), 2);
    feed.publish(&records("cancelled", 5), 2);
    let out = g.sync().await.unwrap();
    assert_eq!(
        (
            out["sync"]["to"].as_u64(),
            out["sync"]["deltas"].as_u64(),
            out["sync"]["snapshot"].as_bool()
        ),
        (Some(3), Some(2), Some(false))
    );
    assert_eq!(
        get(
            &client(),
            &format!("{}/v1/android/apps/com.extra.n4/update", g.base)
        )
        .await
        .status,
        200
    );
    // Two more revisions fold the chain (fold_after = 2): revision 3 is no longer reachable by deltas.
    feed.publish(&records("active", 1), 2);
    feed.publish(&records("revoked", 1), 2);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(feed.path("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        m["snapshot"]["revision"], 4,
        "revision 4 was written as a snapshot"
    );
    let out = g.sync().await.unwrap();
    assert_eq!(
        (
            out["sync"]["to"].as_u64(),
            out["sync"]["snapshot"].as_bool()
        ),
        (Some(5), Some(true))
    );
    assert_eq!(
        get(
            &client(),
            &format!("{}/v1/android/apps/com.extra.n4/update", g.base)
        )
        .await
        .status,
        451
    );
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g.base)).await.json()["code"],
        "revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_falling_too_far_behind_resync_from_the_snapshot() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 2), 20);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    // Drift: the gateway's revision-1 state differs from the feed's revision 1.
    let drifted =
        icpgate::index::Revision::from_records(1, "drifted", &records("restricted", 0), false);
    g.running.index.publish(drifted);
    feed.publish(&records("active", 3), 20);
    let out = g.sync().await.unwrap();
    assert_eq!(out["sync"]["snapshot"], true);
    assert_eq!(g.running.index.current().stats.records, 10);
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g.base)).await.status,
        200
    );
    // Too far behind (more deltas than max_deltas = 5): the snapshot gets the gateway there.
    for i in 0..6 {
        feed.publish(
            &records(if i == 5 { "revoked" } else { "active" }, 4 + i),
            20,
        );
    }
    let out = g.sync().await.unwrap();
    assert_eq!(
        (
            out["sync"]["to"].as_u64(),
            out["sync"]["snapshot"].as_bool()
        ),
        (Some(8), Some(true))
    );
    assert_eq!(
        g.metric("icpgate_feed_snapshot_fallbacks_total"),
        0.0,
        "a planned snapshot load is not a fallback"
    );
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g.base)).await.status,
        451
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_corrupt_truncated_and_replayed_feeds_are_rejected_and_the_index_kept() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    let old_manifest = std::fs::read(feed.path("manifest.json")).unwrap();
    let old_sig = std::fs::read(feed.path("manifest.json.sig")).unwrap();
    feed.publish(&records("revoked", 0), 20);
    let good_sig = std::fs::read(feed.path("manifest.json.sig")).unwrap();

    let (forger, _) = SigningKey::generate().unwrap();
    std::fs::write(
        feed.path("manifest.json.sig"),
        forger.sign(&std::fs::read(feed.path("manifest.json")).unwrap()),
    )
    .unwrap();
    assert!(g.sync().await.unwrap_err().starts_with("signature:"));
    std::fs::write(feed.path("manifest.json.sig"), &good_sig).unwrap();

    let snap = feed.path("snapshots/snapshot-0000000001.ndjson.zst");
    let delta = feed.path("deltas/delta-0000000002.ndjson.zst");
    let delta_bytes = std::fs::read(&delta).unwrap();
    let mut bad = delta_bytes.clone();
    bad[3] ^= 0x40;
    std::fs::write(&delta, &bad).unwrap();
    let snap_bytes = std::fs::read(&snap).unwrap();
    std::fs::write(&snap, &snap_bytes[..snap_bytes.len() / 2]).unwrap();
    let e = g.sync().await.unwrap_err();
    assert!(
        e.starts_with("size:"),
        "a corrupt delta falls back to the snapshot, which is truncated: {e}"
    );
    assert_eq!(g.revision(), 1);
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g.base)).await.status,
        200,
        "the last good index still serves"
    );

    std::fs::write(&delta, &delta_bytes).unwrap();
    std::fs::write(&snap, &snap_bytes).unwrap();
    g.sync().await.unwrap();
    assert_eq!(g.revision(), 2);
    std::fs::write(feed.path("manifest.json"), &old_manifest).unwrap();
    std::fs::write(feed.path("manifest.json.sig"), &old_sig).unwrap();
    assert!(g.sync().await.unwrap_err().starts_with("replay:"));
    assert_eq!(g.revision(), 2);
    for cause in ["signature", "sha256", "size", "replay"] {
        assert!(
            g.metric(&format!(
                "icpgate_feed_sync_failures_total{{cause=\"{cause}\"}}"
            )) >= 1.0,
            "{cause} counted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_the_feed_down_serves_the_cache_at_once_marked_stale() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    feed.publish(&records("revoked", 0), 20);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    let checksum = g.running.index.current().checksum;
    g.running.shutdown();
    g.running.wait().await;
    let down = format!("http://{}/", closed_port().await);
    // An upload route that fails closed when stale: it must judge staleness as request
    // routes do (an unconfirmed cache is stale however recent its data).
    let upload = "\n[[route]]\nname = \"pkg\"\nmethods = [\"POST\"]\npath = \"/v1/packages\"\nupstream = \"store\"\non_stale = \"closed\"\nupload = { field = \"file\" }\n";
    let g2 = gateway(&down, &[feed.key.public()], cache.path(), |t| t + upload).await;
    assert_eq!(g2.revision(), 2, "cached state is served before any sync");
    assert_eq!(g2.running.index.current().checksum, checksum);
    let ready = get(&client(), &format!("{}/readyz", g2.admin)).await;
    assert_eq!(
        (ready.status, ready.json()["state"].as_str()),
        (200, Some("stale"))
    );
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g2.base)).await.json()["code"],
        "revoked"
    );
    let pkg = post(
        &format!("{}/v1/packages", g2.base),
        "application/vnd.android.package-archive",
        "PK not really a package",
    );
    let r = send(&client(), pkg).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (503, Some("index_stale"))
    );
    assert!(g2.sync().await.unwrap_err().starts_with("fetch:"));
    assert_eq!(g2.revision(), 2);
}

fn cache_state(cache: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(cache.join("state.json")).unwrap()).unwrap()
}

fn manifest_checksum(feed: &Feed) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(feed.path("manifest.json")).unwrap()).unwrap();
    let last = m["deltas"]
        .as_array()
        .and_then(|d| d.last())
        .unwrap_or(&m["snapshot"]);
    last["state_checksum"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_written_after_a_delta_restores_the_delta_state_without_rewriting_the_base() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 2), 20);
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    let base = cache_state(cache.path())["base"]["file"]
        .as_str()
        .unwrap()
        .to_string();
    let written = std::fs::metadata(cache.path().join(&base))
        .unwrap()
        .modified()
        .unwrap();
    assert!(cache_state(cache.path())["overlay"].is_null());
    feed.publish(&records("revoked", 3), 20);
    let out = g.sync().await.unwrap();
    assert_eq!(out["sync"]["snapshot"], false, "applied as a delta");
    let st = cache_state(cache.path());
    assert_eq!(st["base"]["file"], base.as_str(), "the base file is kept");
    assert_eq!(
        std::fs::metadata(cache.path().join(&base))
            .unwrap()
            .modified()
            .unwrap(),
        written,
        "and not rewritten"
    );
    let overlay = st["overlay"]["file"].as_str().unwrap();
    assert!(cache.path().join(overlay).is_file());
    assert_eq!(
        (st["revision"].as_u64(), st["checksum"].as_str()),
        (Some(2), Some(manifest_checksum(&feed).as_str()))
    );
    g.running.shutdown();
    g.running.wait().await;
    let down = format!("http://{}/", closed_port().await);
    let g2 = gateway(&down, &[feed.key.public()], cache.path(), |t| t).await;
    let rev = g2.running.index.current();
    assert_eq!(rev.revision, 2);
    assert_eq!(format!("{:032x}", rev.checksum), manifest_checksum(&feed));
    assert_eq!(rev.stats.records, 10);
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g2.base)).await.json()["code"],
        "revoked"
    );
    assert_eq!(
        get(
            &client(),
            &format!("{}/v1/android/apps/com.extra.n2/update", g2.base)
        )
        .await
        .status,
        200,
        "a record the delta added"
    );
    let status = get(&client(), &format!("{}/v1/status", g2.admin))
        .await
        .json();
    assert_eq!(status["source"]["feed"]["cache"], "restored");
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_corrupt_and_wrong_version_cache_files_are_refused_and_the_gateway_syncs() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    feed.publish(&records("revoked", 1), 20);
    let good = tempfile::tempdir().unwrap();
    let g = gateway(&feed.url, &[feed.key.public()], good.path(), |t| t).await;
    g.sync().await.unwrap();
    g.running.shutdown();
    g.running.wait().await;
    let st = cache_state(good.path());
    let (base, overlay) = (
        st["base"]["file"].as_str().unwrap().to_string(),
        st["overlay"]["file"].as_str().unwrap().to_string(),
    );
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, &str, Damage)> = vec![
        (
            "truncated base",
            &base,
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() - 7)),
        ),
        (
            "corrupt base",
            &base,
            Box::new(|b: &mut Vec<u8>| {
                let n = b.len() / 2;
                b[n] ^= 1
            }),
        ),
        (
            "wrong version",
            &base,
            Box::new(|b: &mut Vec<u8>| {
                let at = icpgate::index::persist::VERSION_AT;
                b[at..at + 4].copy_from_slice(&99u32.to_le_bytes())
            }),
        ),
        (
            "corrupt overlay",
            &overlay,
            Box::new(|b: &mut Vec<u8>| {
                let n = b.len() - 1;
                b[n] ^= 0x80
            }),
        ),
        (
            "truncated header",
            &overlay,
            Box::new(|b: &mut Vec<u8>| b.truncate(20)),
        ),
    ];
    for (what, file, damage) in cases {
        let cache = tempfile::tempdir().unwrap();
        copy_dir(good.path(), cache.path());
        let mut bytes = std::fs::read(cache.path().join(file)).unwrap();
        damage(&mut bytes);
        std::fs::write(cache.path().join(file), &bytes).unwrap();
        let down = format!("http://{}/", closed_port().await);
        let cold = gateway(&down, &[feed.key.public()], cache.path(), |t| t).await;
        assert_eq!(
            cold.revision(),
            0,
            "{what}: nothing is served from a bad cache"
        );
        assert_eq!(
            get(&client(), &format!("{}/readyz", cold.admin))
                .await
                .status,
            503,
            "{what}"
        );
        let status = get(&client(), &format!("{}/v1/status", cold.admin))
            .await
            .json();
        let shown = status["source"]["feed"]["cache"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(shown.starts_with("unusable: "), "{what}: {shown}");
        assert_eq!(
            cold.metric("icpgate_feed_sync_failures_total{cause=\"cache\"}"),
            1.0,
            "{what}"
        );
        cold.running.shutdown();
        cold.running.wait().await;
        // With the feed up, the same gateway syncs as if it had no cache, and rewrites it.
        let g = gateway(&feed.url, &[feed.key.public()], cache.path(), |t| t).await;
        g.sync().await.unwrap();
        assert_eq!(g.revision(), 2, "{what}");
        assert_eq!(
            get(&client(), &format!("{}{FILED}", g.base)).await.json()["code"],
            "revoked"
        );
        g.running.shutdown();
        g.running.wait().await;
        let again = gateway(&down, &[feed.key.public()], cache.path(), |t| t).await;
        assert_eq!(again.revision(), 2, "{what}: the rewritten cache restores");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_down_without_cache_is_not_ready_and_routes_follow_on_stale() {
    let cache = tempfile::tempdir().unwrap();
    let down = format!("http://{}/", closed_port().await);
    let (k, _) = SigningKey::generate().unwrap();
    let g = gateway(&down, &[k.public()], cache.path(), |t| {
        t.replace(
            "name = \"form\"\n",
            "name = \"form\"\non_stale = \"open\"\n",
        )
    })
    .await;
    let _ = g.sync().await;
    assert_eq!(
        get(&client(), &format!("{}/readyz", g.admin)).await.status,
        503
    );
    let r = get(&client(), &format!("{}{FILED}", g.base)).await;
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (503, Some("index_stale"))
    );
    let r = send(
        &client(),
        post(
            &format!("{}/v1/releases", g.base),
            "application/x-www-form-urlencoded",
            "package=com.nobody.unfiled",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "on_stale = open forwards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_rotate() {
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    let (new_key, _) = SigningKey::generate().unwrap();
    let cache_a = tempfile::tempdir().unwrap();
    let cache_b = tempfile::tempdir().unwrap();
    let both = gateway(
        &feed.url,
        &[feed.key.public(), new_key.public()],
        cache_a.path(),
        |t| t,
    )
    .await;
    let old_only = gateway(&feed.url, &[feed.key.public()], cache_b.path(), |t| t).await;
    both.sync().await.unwrap();
    old_only.sync().await.unwrap();
    let opts = BuildOptions::default();
    build(
        &records("revoked", 0),
        feed.dir.path(),
        &new_key,
        &[feed.key.public()],
        &opts,
    )
    .unwrap();
    both.sync().await.unwrap();
    assert_eq!(both.revision(), 2);
    assert!(old_only.sync().await.unwrap_err().starts_with("signature:"));
    assert_eq!(old_only.revision(), 1);
}

/// nginx from Debian serves the same directory; `.ci/run` installs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syncs_through_nginx() {
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is required in CI (.ci/run installs it)"
        );
        eprintln!(
            "SKIPPED syncs_through_nginx: nginx is not installed (apt-get install nginx-light)"
        );
        return;
    };
    let feed = Feed::new().await;
    feed.publish(&records("active", 0), 20);
    let work = tempfile::tempdir().unwrap();
    let port = closed_port().await.port();
    let conf = work.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; pid {w}/nginx.pid; error_log {w}/error.log;\nevents {{}}\nhttp {{ access_log off; client_body_temp_path {w}; proxy_temp_path {w}; fastcgi_temp_path {w}; uwsgi_temp_path {w}; scgi_temp_path {w};\n server {{ listen 127.0.0.1:{port}; root {root}; }} }}\n",
            w = work.path().display(),
            root = feed.dir.path().display()
        ),
    )
    .unwrap();
    // Killed on drop, so a failed assertion below does not leave nginx running (and holding
    // the test runner's output pipe open).
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _nginx = Killed(
        std::process::Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(work.path())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}/");
    let probe = client();
    let mut up = false;
    // Readiness poll: until nginx answers or 20 s have passed (a loaded CI machine can take
    // a while to start it); the retry pause only spaces the attempts out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut pause = std::time::Duration::from_millis(1);
    while std::time::Instant::now() < deadline {
        if let Ok(Ok(r)) = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            probe.request(
                http::Request::get(format!("{url}manifest.json"))
                    .body(http_body_util::Full::default())
                    .unwrap(),
            ),
        )
        .await
        {
            up = r.status() == 200;
            if up {
                break;
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(100));
    }
    assert!(
        up,
        "nginx did not come up: {}",
        std::fs::read_to_string(work.path().join("error.log")).unwrap_or_default()
    );
    let cache = tempfile::tempdir().unwrap();
    let g = gateway(&url, &[feed.key.public()], cache.path(), |t| t).await;
    g.sync().await.unwrap();
    assert_eq!(g.revision(), 1);
    assert_eq!(
        g.sync().await.unwrap()["sync"]["outcome"],
        "not_modified",
        "nginx's ETag gives 304"
    );
    feed.publish(&records("revoked", 0), 20);
    g.sync().await.unwrap();
    assert_eq!(
        get(&client(), &format!("{}{FILED}", g.base)).await.status,
        451
    );
}
