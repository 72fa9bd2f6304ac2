#![deny(unsafe_code)]
//! The `icpgate` binary: command-line parsing, logging setup and exit codes. Everything else is
//! in the library; anyhow lives only here.
//!
//! Exit codes: 0 success, 1 runtime failure, 64 configuration or usage error (EX_USAGE).

/// Writes one line of command output to stdout. A reader that went away (`icpgate inspect …
/// | head`) ends the process quietly with 141, as SIGPIPE would; any other write error is
/// reported and ends it with 74 (EX_IOERR). `println!` would panic on either.
macro_rules! out {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($t:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($t)*)))
    };
}

/// Writes without a newline (`out!`'s rules).
macro_rules! out_raw {
    ($($t:tt)*) => {
        $crate::write_stdout(format_args!($($t)*))
    };
}

fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("icpgate: cannot write to stdout: {e}");
        std::process::exit(74);
    }
}

/// glibc keeps the heap an index load frees (the parallel loader's per-thread arenas) unless a
/// free leaves more than `M_TRIM_THRESHOLD` at the top, and by default that threshold grows to
/// tens of MiB: at 1M ids `check-snapshot` ends at 122–140 MiB RSS for an 81 MiB index, 90 MiB
/// with a 1 MiB threshold (BENCHMARKS.md, "Data path"). Set before anything is allocated.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_freed_heap() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_heap() {}

mod check_snapshot;
mod docs_cmd;
mod feed_cmd;
mod inspect_cmd;
mod probe_cmd;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use icpgate::config::Config;
use icpgate::filing::{validate, Platform};
use std::path::PathBuf;
use std::process::ExitCode;

/// `icpgate --version`: the package version and the commit it was built from (build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("ICPGATE_COMMIT"), ")");

#[derive(Parser)]
#[command(
    name = "icpgate",
    version = VERSION,
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
        /// The configuration file (docs/configuration.md); `check-config` validates it first.
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
    Feed(feed_cmd::FeedCmd),
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
        /// Skip the content digests (APK v2/v3, HAP, v1 entries), as a route with
        /// `verify_digests = false`: only the signature metadata is checked.
        #[arg(long)]
        no_verify_digests: bool,
        /// The default; accepted so that older scripts keep working.
        #[arg(long, hide = true, conflicts_with = "no_verify_digests")]
        verify_digests: bool,
        /// Decide as a route pinned to this platform would.
        #[arg(long)]
        platform: Option<String>,
    },
    /// Serve the demo echo upstream (answers with what it received).
    #[cfg(feature = "demo")]
    Echo {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
    /// GET an admin probe URL: exit 0 on a 2xx answer, 1 otherwise. The container image's
    /// HEALTHCHECK (the image has no curl).
    Probe {
        #[arg(default_value = "http://127.0.0.1:9901/healthz")]
        url: String,
        /// Give up after this long (e.g. 2s, 500ms).
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Print a shell completion script, e.g. `icpgate completions bash >
    /// /usr/share/bash-completion/completions/icpgate`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or write one page per subcommand into a folder.
    Man {
        /// Write icpgate.1, icpgate-serve.1, … into this folder and list them.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

const EX_USAGE: u8 = 64;
const EX_DATAERR: u8 = 65;
const EX_UNAVAILABLE: u8 = 69;

/// The diagnostic log on stderr: level filter from `ICPGATE_LOG` (default info), format from
/// `ICPGATE_LOG_FORMAT` (`text`, the default, or `json`: one object per line, fields at the
/// top level). Any other format is a usage error (64).
fn init_logging() -> Result<(), ExitCode> {
    let json = match std::env::var("ICPGATE_LOG_FORMAT") {
        Err(std::env::VarError::NotPresent) => false,
        Ok(v) if v == "text" => false,
        Ok(v) if v == "json" => true,
        Ok(v) => return Err(bad_log_format(&v)),
        Err(std::env::VarError::NotUnicode(v)) => return Err(bad_log_format(&v.to_string_lossy())),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ICPGATE_LOG")
        .unwrap_or_else(|_| "info".into());
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if json {
        log.json().flatten_event(true).init();
    } else {
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    Ok(())
}

fn bad_log_format(v: &str) -> ExitCode {
    eprintln!("icpgate: ICPGATE_LOG_FORMAT={v:?}: expected \"text\" or \"json\"");
    ExitCode::from(EX_USAGE)
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
    // Handlers first: no signal a user may send kills the process once the ports are
    // printed. TERM, INT and QUIT drain; HUP reloads; USR1 reopens the log files; USR2 and
    // WINCH (nginx's binary upgrade and worker stop) are logged and ignored.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut winch = signal(SignalKind::window_change())?;
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
    eprintln!("icpgate: web console on http://{}/", running.admin);
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
    let ready = tokio::spawn(notify_ready(running.index.clone()));
    let stopped = running.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            // SIGTERM (service managers, Kubernetes): lame duck, then drain. SIGINT (a terminal's
            // Ctrl-C), SIGQUIT or a second signal: drain at once.
            _ = term.recv() => {
                ready.abort();
                notify(sd_notify::NotifyState::Stopping);
                if running.control().draining() {
                    running.shutdown();
                } else {
                    running.terminate();
                }
            }
            _ = int.recv() => {
                ready.abort();
                notify(sd_notify::NotifyState::Stopping);
                running.shutdown();
            }
            _ = quit.recv() => {
                ready.abort();
                notify(sd_notify::NotifyState::Stopping);
                running.shutdown();
            }
            _ = &mut stopped => break,
            _ = usr1.recv() => running.logs.reopen(),
            _ = usr2.recv() => tracing::info!(event = "signal_ignored", signal = "SIGUSR2"),
            _ = winch.recv() => tracing::info!(event = "signal_ignored", signal = "SIGWINCH"),
            _ = hup.recv() => {
                // A configuration that fails validation is logged and counted and leaves the
                // running one; so does a failed index refresh.
                let report = running.reload(None).await;
                if !report.ok() {
                    eprintln!("icpgate: reload failed, still running the previous configuration:\n{}", report.error.unwrap_or_default());
                }
                let _ = running.source.refresh().await;
            }
        }
    }
    running.wait().await;
    Ok(())
}

/// Tells systemd (`Type=notify`) the gateway is ready once an index revision is published,
/// the moment `/readyz` turns 200.
async fn notify_ready(index: std::sync::Arc<icpgate::index::Index>) {
    index.wait_loaded().await;
    notify(sd_notify::NotifyState::Ready);
}

/// One sd_notify message; a no-op without `NOTIFY_SOCKET` (not started by systemd), and a
/// failure to send is logged, never fatal.
fn notify(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(event = "sd_notify_failed", error = %e);
    }
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
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(if out["filed"] == true {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn main() -> ExitCode {
    return_freed_heap();
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
    let result: anyhow::Result<ExitCode> = match cli.cmd {
        Cmd::CheckConfig { config } => match load_config(&config) {
            Ok(c) => {
                out!(
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
            Ok(cfg) => match init_logging() {
                Err(code) => Ok(code),
                // Client traffic runs on the gateway's own worker threads (`server.workers`);
                // this runtime carries the admin API, the feed sync, the audit writer and the
                // signals, so one thread is enough.
                Ok(()) => tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("icpgate-control")
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")
                    .and_then(|rt| rt.block_on(serve(cfg)))
                    .map(|()| ExitCode::SUCCESS),
            },
        },
        Cmd::CheckSnapshot { file, json } => {
            // Offline commands log only when asked (ICPGATE_LOG=debug shows the load phases).
            if std::env::var_os("ICPGATE_LOG").is_some() {
                if let Err(code) = init_logging() {
                    return code;
                }
            }
            Ok(check_snapshot::run(&file, json))
        }
        Cmd::Lookup {
            snapshot,
            platform,
            id,
        } => lookup(&snapshot, &platform, &id),
        Cmd::Feed(cmd) => feed_cmd::run(cmd),
        Cmd::Inspect {
            file,
            json,
            snapshot,
            admin,
            admin_token,
            no_signer_check,
            no_verify_digests,
            verify_digests: _,
            platform,
        } => {
            let platform = match platform.as_deref().map(str::parse::<Platform>).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(EX_USAGE);
                }
            };
            inspect_cmd::run(inspect_cmd::InspectArgs {
                file,
                json,
                snapshot,
                admin,
                admin_token,
                opts: icpgate::verdict::Options {
                    require_signer: !no_signer_check,
                    verify_digests: !no_verify_digests,
                    platform,
                },
            })
        }
        Cmd::Probe { url, timeout } => Ok(probe_cmd::run(&url, timeout)),
        Cmd::Completions { shell } => Ok(docs_cmd::completions(Cli::command(), shell)),
        Cmd::Man { out } => docs_cmd::man(Cli::command(), out.as_deref()),
        #[cfg(feature = "demo")]
        Cmd::Echo { listen } => {
            if let Err(code) = init_logging() {
                return code;
            }
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")
                .and_then(|rt| {
                    rt.block_on(async {
                        let l = tokio::net::TcpListener::bind(listen)
                            .await
                            .with_context(|| format!("cannot bind {listen}"))?;
                        eprintln!("icpgate: echo upstream on http://{}", l.local_addr()?);
                        let (_tx, rx) = tokio::sync::watch::channel(false);
                        icpgate::demo::echo::serve(l, rx).await;
                        Ok(ExitCode::SUCCESS)
                    })
                })
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("icpgate: error: {}", error_chain(&e));
        ExitCode::from(1)
    })
}

/// The error and its causes, `: `-joined, leaving out a cause whose text the message already
/// carries (library errors name their `io::Error` in their own message and also expose it as
/// the source, so `{:#}` would print it twice).
fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}
