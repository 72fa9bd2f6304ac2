//! `icpgate serve`: the gateway in the foreground, driven by signals and systemd's notify
//! protocol.
//!
//! Owns the control runtime, the signal handlers and what `serve` prints at start; starting,
//! reloading and draining are `icpgate::lifecycle`.
//! Must not: let a signal a user may send kill the process once the ports are printed.
//! Invariant: TERM, INT and QUIT drain; HUP reloads; USR1 reopens the log files; USR2 and WINCH
//! are logged and ignored.

use crate::{init_logging, load_config};
use anyhow::Context;
use icpgate::config::Config;
use icpgate::lifecycle::Running;
use std::path::Path;
use std::process::ExitCode;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::task::JoinHandle;

/// Validates `config`, sets up logging and runs the gateway until it has drained.
pub(crate) fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let cfg = match load_config(config) {
        Ok(cfg) => cfg,
        Err(code) => return Ok(code),
    };
    if let Err(code) = init_logging() {
        return Ok(code);
    }
    // Client traffic runs on the gateway's own worker threads (`server.workers`); this runtime
    // carries the admin API, the feed sync, the audit writer and the signals, so one thread is
    // enough.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("icpgate-control")
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(serve(cfg)))
        .map(|()| ExitCode::SUCCESS)
}

/// Every signal `serve` handles. USR2 and WINCH are nginx's binary upgrade and worker stop.
struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
    quit: Signal,
    usr1: Signal,
    usr2: Signal,
    winch: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            winch: signal(SignalKind::window_change())?,
        })
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    // Handlers first: no signal a user may send kills the process once the ports are printed.
    let mut signals = Signals::install()?;
    let running = icpgate::start(cfg)
        .await
        .context("gateway failed to start")?;
    announce(&running);
    let ready = tokio::spawn(notify_ready(running.index.clone()));
    until_stopped(&running, &mut signals, &ready).await;
    running.wait().await;
    Ok(())
}

/// Prints where the gateway listens.
fn announce(running: &Running) {
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
}

/// Answers signals until the gateway has stopped.
async fn until_stopped(running: &Running, s: &mut Signals, ready: &JoinHandle<()>) {
    let stopped = running.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            // SIGTERM (service managers, Kubernetes): lame duck, then drain. SIGINT (a terminal's
            // Ctrl-C), SIGQUIT or a second signal: drain at once.
            _ = s.term.recv() => {
                stopping(ready);
                if running.control().draining() {
                    running.shutdown();
                } else {
                    running.terminate();
                }
            }
            _ = s.int.recv() => {
                stopping(ready);
                running.shutdown();
            }
            _ = s.quit.recv() => {
                stopping(ready);
                running.shutdown();
            }
            _ = &mut stopped => break,
            _ = s.usr1.recv() => running.logs.reopen(),
            _ = s.usr2.recv() => tracing::info!(event = "signal_ignored", signal = "SIGUSR2"),
            _ = s.winch.recv() => tracing::info!(event = "signal_ignored", signal = "SIGWINCH"),
            _ = s.hup.recv() => reload(running).await,
        }
    }
}

/// A stop signal: no readiness notice from here on, and systemd hears that the gateway stops.
fn stopping(ready: &JoinHandle<()>) {
    ready.abort();
    notify(sd_notify::NotifyState::Stopping);
}

/// SIGHUP. A configuration that fails validation is logged and counted and leaves the running
/// one; so does a failed index refresh.
async fn reload(running: &Running) {
    let report = running.reload(None).await;
    if !report.ok() {
        eprintln!(
            "icpgate: reload failed, still running the previous configuration:\n{}",
            report.error.unwrap_or_default()
        );
    }
    let _ = running.source.refresh().await;
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
