//! The control task: applies reloads one at a time while the gateway runs, then carries out
//! the stop.
//!
//! Owns the running configuration and data plane after the start, and the stop order: lame
//! duck (`/readyz` 503 while the listeners keep accepting for `drain_delay`), close the
//! listeners, drain in-flight requests up to `drain_timeout`, end the workers, flush the
//! audit trail.
//! Must not: apply two reloads at once, or report the stop finished before the writers close.
//! Invariant: `finished` turns true once, after everything the stop closes is closed.

use crate::config::Config;
use crate::control::{Control, Inbox, Reload, Stop};
use crate::dataplane::DataPlane;
use crate::metrics::{Metrics, ReloadResult};
use crate::streams::Streams;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// What the control task owns: the data plane and everything a stop must close.
pub(super) struct ControlTask {
    pub(super) plane: DataPlane,
    pub(super) inbox: Inbox,
    pub(super) control: Control,
    /// The running configuration.
    pub(super) cfg: Config,
    /// Stops the admin listener, the feed sync and the demo servers.
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) tracker: TaskTracker,
    /// The audit and access-log writers, running and replaced.
    pub(super) streams: Streams,
    pub(super) metrics: Arc<Metrics>,
}

/// Spawns the control task: its handle, and a receiver that turns true when the stop is
/// complete.
pub(super) fn spawn(t: ControlTask) -> (JoinHandle<()>, watch::Receiver<bool>) {
    let (finished_tx, finished) = watch::channel(false);
    (tokio::spawn(control_task(t, finished_tx)), finished)
}

/// Applies reloads one at a time until a stop is asked for (or every handle is gone), then
/// stops.
async fn control_task(mut t: ControlTask, finished: watch::Sender<bool>) {
    let stop = reloads(&mut t).await;
    stop_gateway(t, stop, finished).await;
}

/// Applies reloads until a stop is asked for; an immediate stop when every handle is gone.
async fn reloads(t: &mut ControlTask) -> Stop {
    loop {
        if let Some(stop) = *t.inbox.stop.borrow_and_update() {
            return stop;
        }
        tokio::select! {
            r = t.inbox.reloads.recv() => match r {
                Some(Reload(given, reply)) => {
                    let report = crate::reload::apply(&mut t.plane, &mut t.cfg, given, &mut t.streams).await;
                    t.control.record(&report);
                    t.metrics.reloaded(if report.ok() { ReloadResult::Ok } else { ReloadResult::Failed });
                    let _ = reply.send(report);
                }
                None => return Stop { lame_duck: false },
            },
            changed = t.inbox.stop.changed() => if changed.is_err() {
                return Stop { lame_duck: false };
            },
        }
    }
}

/// The stop: lame duck, close the listeners, drain, end the workers, flush the audit trail;
/// then `finished`.
async fn stop_gateway(t: ControlTask, stop: Stop, finished: watch::Sender<bool>) {
    t.control.set_draining();
    let (delay, drain) = (t.cfg.limits.drain_delay, t.cfg.limits.drain_timeout);
    if stop.lame_duck && !delay.is_zero() {
        tracing::info!(
            event = "lame_duck",
            drain_delay_ms = delay.as_millis() as u64
        );
        // An immediate stop (a second SIGTERM, SIGINT) cuts the wait short.
        let mut rx = t.inbox.stop.clone();
        let _ = tokio::time::timeout(
            delay,
            rx.wait_for(|s| *s == Some(Stop { lame_duck: false })),
        )
        .await;
    }
    tracing::info!(
        event = "shutdown_started",
        drain_timeout_ms = drain.as_millis() as u64
    );
    t.plane.close();
    let _ = t.shutdown.send(true);
    t.tracker.close();
    if tokio::time::timeout(drain, t.tracker.wait()).await.is_err() {
        tracing::warn!(event = "drain_timeout", connections_left = t.tracker.len());
    }
    // The workers end first: the request state they drop holds the last handles on the
    // writers, so nothing can be queued once these close.
    let plane = t.plane;
    let _ = tokio::task::spawn_blocking(move || plane.stop()).await;
    t.streams.close().await;
    crate::fold::flush_pending();
    tracing::info!(event = "shutdown_complete");
    finished.send_replace(true);
}
