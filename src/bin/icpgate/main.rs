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
mod cli;
mod docs_cmd;
mod feed_cmd;
mod inspect_cmd;
mod probe_cmd;
mod serve_cmd;

use clap::{CommandFactory, Parser};
use cli::{Cli, Cmd};
use icpgate::config::Config;
use icpgate::filing::{validate, Platform};
use std::path::Path;
use std::process::ExitCode;

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
    run(cli.cmd).unwrap_or_else(|e| {
        eprintln!("icpgate: error: {}", error_chain(&e));
        ExitCode::from(1)
    })
}

/// Runs one subcommand; an `Err` is a runtime failure (exit 1), any other exit code is `Ok`.
fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::CheckConfig { config } => Ok(check_config(&config)),
        Cmd::Serve { config } => serve_cmd::run(&config),
        Cmd::CheckSnapshot { file, json } => Ok(check_snapshot(&file, json)),
        Cmd::Lookup {
            snapshot,
            platform,
            id,
        } => lookup(&snapshot, &platform, &id),
        Cmd::Feed(cmd) => feed_cmd::run(cmd),
        Cmd::Inspect(a) => inspect(a),
        Cmd::Probe { url, timeout } => Ok(probe_cmd::run(&url, timeout)),
        Cmd::Completions { shell } => Ok(docs_cmd::completions(Cli::command(), shell)),
        Cmd::Man { out } => docs_cmd::man(Cli::command(), out.as_deref()),
        #[cfg(feature = "demo")]
        Cmd::Echo { listen } => echo(listen),
    }
}

/// `icpgate check-config`: the counts on success, every problem (exit 64) otherwise.
fn check_config(config: &Path) -> ExitCode {
    match load_config(config) {
        Ok(c) => {
            out!(
                "{}: ok ({} listeners, {} routes, {} upstreams)",
                config.display(),
                c.listeners.len(),
                c.routes.len(),
                c.upstreams.len()
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `icpgate check-snapshot`. Offline commands log only when asked (ICPGATE_LOG=debug shows the
/// load phases).
fn check_snapshot(file: &Path, json: bool) -> ExitCode {
    if std::env::var_os("ICPGATE_LOG").is_some() {
        if let Err(code) = init_logging() {
            return code;
        }
    }
    check_snapshot::run(file, json)
}

/// `icpgate inspect`: its platform parsed (an unknown one is a usage error), then
/// `inspect_cmd`.
fn inspect(a: cli::InspectCli) -> anyhow::Result<ExitCode> {
    let platform = match a
        .platform
        .as_deref()
        .map(str::parse::<Platform>)
        .transpose()
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(EX_USAGE));
        }
    };
    inspect_cmd::run(inspect_cmd::InspectArgs {
        file: a.file,
        json: a.json,
        snapshot: a.snapshot,
        admin: a.admin,
        admin_token: a.admin_token,
        opts: icpgate::verdict::Options {
            require_signer: !a.no_signer_check,
            verify_digests: !a.no_verify_digests,
            platform,
        },
    })
}

/// `icpgate echo`: the demo echo upstream, until the process is killed.
#[cfg(feature = "demo")]
fn echo(listen: std::net::SocketAddr) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    if let Err(code) = init_logging() {
        return Ok(code);
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
