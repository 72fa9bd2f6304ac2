#![forbid(unsafe_code)]
//! The `icpgate` binary: command-line parsing, logging setup and exit codes. Everything else is
//! in the library; anyhow lives only here.
//!
//! Exit codes: 0 success, 1 runtime failure, 64 configuration or usage error (EX_USAGE).

mod check_snapshot;

use anyhow::Context;
use clap::{Parser, Subcommand};
use icpgate::config::Config;
use icpgate::filing::{validate, Platform};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "icpgate",
    version,
    about = "Gateway that enforces China's ICP filing rules for apps and mini programs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration file: exit 0, or 64 listing each problem with file, line and key.
    CheckConfig { config: PathBuf },
    /// Load a snapshot file as `serve` would: counts, rejected lines (FILE:LINE: reason), load
    /// time and memory. Exit: 0 every line loaded, 1 some rejected, 65 unreadable.
    CheckSnapshot {
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Look an identifier up in a snapshot file, offline.
    Lookup {
        #[arg(long)]
        snapshot: PathBuf,
        /// android, ios, harmony, quickapp, wechat, alipay, douyin, baidu, qq or kuaishou.
        platform: String,
        id: String,
    },
    /// Publish and check registry feeds (docs/feed.md).
    #[command(subcommand)]
    Feed(FeedCmd),
    /// Show what the gateway sees in a package (kind, id, version, signers) and, with a
    /// snapshot or a running gateway's admin URL, what an upload route would decide.
    /// Exit: 0 allow (or inspected), 1 would block, 65 unreadable package, 64 usage,
    /// 69 snapshot or admin API unavailable.
    Inspect {
        /// The APK, IPA or HAP file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Decide against this snapshot file (NDJSON filing records).
        #[arg(long, conflicts_with = "admin")]
        snapshot: Option<PathBuf>,
        /// Decide against a running gateway's index via its admin API (`/v1/lookup`), e.g.
        /// http://127.0.0.1:9901.
        #[arg(long)]
        admin: Option<String>,
        /// Bearer token for the admin API (default: $ICPGATE_ADMIN_TOKEN).
        #[arg(long, env = "ICPGATE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
        /// Decide as a route with `require_signer = false` would.
        #[arg(long)]
        no_signer_check: bool,
        /// Also verify the APK v2/v3 content digests, as a route with `verify_digests = true`.
        #[arg(long)]
        verify_digests: bool,
        /// Decide as a route pinned to this platform would.
        #[arg(long)]
        platform: Option<String>,
    },
    /// Serve the demo echo upstream (answers with what it received).
    Echo {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Subcommand)]
enum FeedCmd {
    /// Create a signing key pair: PREFIX.key (private, mode 0600) and PREFIX.pub.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Publish the next revision of a feed from a registry export (NDJSON or .csv).
    Build {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Write a fresh snapshot instead of a delta once this many deltas are listed.
        #[arg(long, default_value_t = 20)]
        fold_after: usize,
        /// Minimum poll interval announced to gateways.
        #[arg(long, default_value = "30s")]
        min_poll: humantime::Duration,
        /// Also accept the existing feed's signature from these public keys (key rotation).
        #[arg(long)]
        trust: Vec<PathBuf>,
    },
    /// Check a feed directory completely: signature, every file, every state checksum.
    Verify {
        dir: PathBuf,
        #[arg(long, required = true)]
        pubkey: Vec<PathBuf>,
    },
    /// Write a deterministic synthetic registry export (NDJSON) for tests and benchmarks.
    Generate {
        #[arg(long)]
        records: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file; standard output when omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Serve a feed directory over HTTP (development; production uses any web server).
    Serve {
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
    },
}

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;

fn read_pubkeys(paths: &[PathBuf]) -> anyhow::Result<Vec<icpgate::feed::format::PublicKey>> {
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            icpgate::feed::format::PublicKey::parse(&text).with_context(|| {
                format!("{}: not an Ed25519 public key (64 hex digits)", p.display())
            })
        })
        .collect()
}

fn feed(cmd: FeedCmd) -> anyhow::Result<ExitCode> {
    use icpgate::feed::{export, publish};
    match cmd {
        FeedCmd::Keygen { out } => {
            let key_path = out.with_extension("key");
            let pub_path = out.with_extension("pub");
            anyhow::ensure!(
                !key_path.exists(),
                "{} exists; refusing to overwrite a key",
                key_path.display()
            );
            let key = publish::key_file(&key_path, true)?;
            std::fs::write(&pub_path, key.public().to_hex() + "\n")
                .with_context(|| format!("cannot write {}", pub_path.display()))?;
            println!(
                "{}\n{}  (key id {})",
                key_path.display(),
                pub_path.display(),
                key.public().id()
            );
            Ok(ExitCode::SUCCESS)
        }
        FeedCmd::Build {
            input,
            out,
            key,
            fold_after,
            min_poll,
            trust,
        } => {
            let key = publish::key_file(&key, false)?;
            let trust = read_pubkeys(&trust)?;
            let records = match export::read_export(&input) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    eprintln!("the export has errors; nothing was published");
                    return Ok(ExitCode::from(EX_DATAERR));
                }
            };
            let opts = publish::BuildOptions {
                fold_after: fold_after.max(1),
                min_poll_interval: *min_poll,
                ..Default::default()
            };
            let summary = publish::build(&records, &out, &key, &trust, &opts)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        FeedCmd::Verify { dir, pubkey } => {
            let keys = read_pubkeys(&pubkey)?;
            match publish::load_feed(&dir, &keys) {
                Ok(Some((m, state))) => {
                    println!("{}: ok: revision {}, {} records, snapshot {} + {} deltas, complete as of {}", dir.display(), m.revision, state.len(), m.snapshot.revision, m.deltas.len(), m.complete_as_of);
                    Ok(ExitCode::SUCCESS)
                }
                Ok(None) => {
                    eprintln!("{}: no manifest.json", dir.display());
                    Ok(ExitCode::from(EX_DATAERR))
                }
                Err(e) => {
                    eprintln!("{}: {e}", dir.display());
                    Ok(ExitCode::from(EX_DATAERR))
                }
            }
        }
        FeedCmd::Generate { records, seed, out } => {
            anyhow::ensure!(
                records <= icpgate::generate::MAX_RECORDS,
                "--records is at most {}",
                icpgate::generate::MAX_RECORDS
            );
            let summary = match &out {
                Some(p) => {
                    let f = std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?;
                    icpgate::generate::generate(
                        records,
                        seed,
                        std::io::BufWriter::with_capacity(1 << 20, f),
                    )?
                }
                None => icpgate::generate::generate(
                    records,
                    seed,
                    std::io::BufWriter::new(std::io::stdout().lock()),
                )?,
            };
            eprintln!("{summary:?}");
            Ok(ExitCode::SUCCESS)
        }
        FeedCmd::Serve { dir, listen } => {
            anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let l = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot bind {listen}"))?;
                eprintln!(
                    "icpgate: serving feed {} on http://{}/",
                    dir.display(),
                    l.local_addr()?
                );
                let (_tx, rx) = tokio::sync::watch::channel(false);
                icpgate::feed::serve::serve(l, dir, rx).await;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}
const EX_UNAVAILABLE: u8 = 69;

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ICPGATE_LOG")
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn load_config(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|errors| {
        eprintln!("{errors}");
        eprintln!(
            "{} configuration error(s); nothing was started",
            errors.0.len()
        );
        ExitCode::from(EX_USAGE)
    })
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    // Handlers first: a SIGTERM that arrives once the ports are printed must drain, not kill.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let running = icpgate::start(cfg)
        .await
        .context("gateway failed to start")?;
    for (name, addr) in &running.listeners {
        eprintln!("icpgate: listener {name:?} on http://{addr}");
    }
    eprintln!(
        "icpgate: admin on http://{}  (/metrics /healthz /readyz /v1/status /v1/lookup)",
        running.admin
    );
    if let Some(e) = running.demo_echo {
        eprintln!("icpgate: demo echo upstream on http://{e}");
    }
    if let Some((url, dir, key)) = &running.demo_feed {
        eprintln!(
            "icpgate: demo feed {} served on {url} (signing key {})",
            dir.display(),
            key.display()
        );
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            _ = hup.recv() => {
                // A failed refresh is logged and counted, and leaves the index as it was.
                let _ = running.source.refresh().await;
            }
        }
    }
    running.shutdown();
    running.wait().await;
    Ok(())
}

fn lookup(snapshot: &std::path::Path, platform: &str, id: &str) -> anyhow::Result<ExitCode> {
    let platform: Platform = match platform.parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EX_USAGE));
        }
    };
    if let Err(e) = validate(platform, id) {
        eprintln!("{e}");
        return Ok(ExitCode::from(EX_USAGE));
    }
    let (rev, report) = icpgate::index::load_snapshot(snapshot, 1, false)?;
    for r in &report.rejected_lines {
        eprintln!("{}:{}: rejected: {}", snapshot.display(), r.line, r.reason);
    }
    let out = rev.lookup_report(platform, id);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if out["filed"] == true {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Fetches `/v1/lookup` for (platform, id) from a running gateway's admin API.
async fn admin_lookup(
    base: &str,
    token: Option<&str>,
    platform: Platform,
    id: &str,
) -> anyhow::Result<serde_json::Value> {
    use http_body_util::BodyExt;
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("platform", platform.as_str())
        .append_pair("id", id)
        .finish();
    let url = format!("{}/v1/lookup?{q}", base.trim_end_matches('/'));
    let mut req = http::Request::get(&url);
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .with_context(|| format!("bad admin URL {url:?}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .with_context(|| format!("{url}: no answer in 10s"))?
        .with_context(|| format!("{url}: request failed"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "{url}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body)?)
}

/// The filings a decision for (platform, id) needs, from the admin API: the id's own and,
/// when it has none, those of the sibling platform it is filed under.
async fn admin_revision(
    base: &str,
    token: Option<&str>,
    platform: Platform,
    id: &str,
) -> anyhow::Result<icpgate::index::Revision> {
    let answer = admin_lookup(base, token, platform, id).await?;
    let mut records = icpgate::verdict::records_of_lookup(&answer).map_err(anyhow::Error::msg)?;
    if let Some(other) = answer["filed_elsewhere"]
        .as_str()
        .and_then(|p| p.parse::<Platform>().ok())
    {
        let more = admin_lookup(base, token, other, id).await?;
        records.extend(icpgate::verdict::records_of_lookup(&more).map_err(anyhow::Error::msg)?);
    }
    let revision = answer["index_revision"].as_u64().unwrap_or(0);
    Ok(icpgate::index::Revision::from_records(
        revision, base, &records, false,
    ))
}

struct InspectArgs {
    file: PathBuf,
    json: bool,
    snapshot: Option<PathBuf>,
    admin: Option<String>,
    admin_token: Option<String>,
    opts: icpgate::verdict::Options,
}

fn inspect(a: InspectArgs) -> anyhow::Result<ExitCode> {
    let limits = icpgate::inspect::Limits {
        verify_digests: a.opts.verify_digests,
        ..icpgate::inspect::Limits::default()
    };
    let identity = match icpgate::inspect::inspect_file(&a.file, &limits) {
        Ok(id) => id,
        Err(e) => {
            if a.json {
                let out = serde_json::json!({"file": a.file, "error": e.code(), "message": e.to_string()});
                println!("{out}");
            } else {
                eprintln!("{}: {} ({})", a.file.display(), e, e.code());
            }
            return Ok(ExitCode::from(EX_DATAERR));
        }
    };
    let rev = match (&a.snapshot, &a.admin) {
        (Some(path), _) => match icpgate::index::load_snapshot(path, 1, false) {
            Ok((rev, _)) => Some(rev),
            Err(e) => {
                eprintln!("icpgate: {}: {e}", path.display());
                return Ok(ExitCode::from(EX_UNAVAILABLE));
            }
        },
        (None, Some(url)) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let fetched = rt.block_on(admin_revision(
                url,
                a.admin_token.as_deref(),
                identity.platform,
                &identity.id,
            ));
            match fetched {
                Ok(rev) => Some(rev),
                Err(e) => {
                    eprintln!("icpgate: admin API: {e:#}");
                    return Ok(ExitCode::from(EX_UNAVAILABLE));
                }
            }
        }
        (None, None) => None,
    };
    let verdict = rev
        .as_ref()
        .map(|r| icpgate::verdict::decide(&identity, a.opts, r));
    if a.json {
        let mut out = serde_json::json!({"file": a.file, "package": identity.to_json()});
        if let Some(v) = &verdict {
            out["verdict"] = v.json.clone();
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", identity.render_text());
        if let Some(v) = &verdict {
            print!("{}", icpgate::verdict::render_text(v));
        }
    }
    Ok(match verdict {
        Some(v) if !v.allowed => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

fn main() -> ExitCode {
    // Usage errors exit 64 (EX_USAGE) like every other usage problem, not clap's 2.
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EX_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let rt = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
    };
    let result: anyhow::Result<ExitCode> = match cli.cmd {
        Cmd::CheckConfig { config } => match load_config(&config) {
            Ok(c) => {
                println!(
                    "{}: ok ({} listeners, {} routes, {} upstreams)",
                    config.display(),
                    c.listeners.len(),
                    c.routes.len(),
                    c.upstreams.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(code) => Ok(code),
        },
        Cmd::Serve { config } => match load_config(&config) {
            Err(code) => Ok(code),
            Ok(cfg) => {
                init_logging();
                rt().and_then(|rt| rt.block_on(serve(cfg)))
                    .map(|()| ExitCode::SUCCESS)
            }
        },
        Cmd::CheckSnapshot { file, json } => {
            // Offline commands log only when asked (ICPGATE_LOG=debug shows the load phases).
            if std::env::var_os("ICPGATE_LOG").is_some() {
                init_logging();
            }
            Ok(check_snapshot::run(&file, json))
        }
        Cmd::Lookup {
            snapshot,
            platform,
            id,
        } => lookup(&snapshot, &platform, &id),
        Cmd::Feed(cmd) => feed(cmd),
        Cmd::Inspect {
            file,
            json,
            snapshot,
            admin,
            admin_token,
            no_signer_check,
            verify_digests,
            platform,
        } => {
            let platform = match platform.as_deref().map(str::parse::<Platform>).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            inspect(InspectArgs {
                file,
                json,
                snapshot,
                admin,
                admin_token,
                opts: icpgate::verdict::Options {
                    require_signer: !no_signer_check,
                    verify_digests,
                    platform,
                },
            })
        }
        Cmd::Echo { listen } => {
            init_logging();
            rt().and_then(|rt| {
                rt.block_on(async {
                    let l = tokio::net::TcpListener::bind(listen)
                        .await
                        .with_context(|| format!("cannot bind {listen}"))?;
                    eprintln!("icpgate: echo upstream on http://{}", l.local_addr()?);
                    let (_tx, rx) = tokio::sync::watch::channel(false);
                    icpgate::echo::serve(l, rx).await;
                    Ok(ExitCode::SUCCESS)
                })
            })
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("icpgate: error: {e:#}");
        ExitCode::from(1)
    })
}
