//! The control channel between the operator's triggers (SIGHUP, SIGTERM, `POST /v1/reload`,
//! the library's `Running`) and the task that owns the data plane, with the state the admin
//! API reports about it (draining, last reload).
//!
//! Owns the reload and stop requests and the reload report. Reloads are handled one at a time
//! by the lifecycle's control task, so two reloads never interleave.
//! Must not: apply anything itself (the lifecycle does), or block a caller when the control
//! task is gone (a closed channel answers "stopped").
//! Invariant: `draining` turns true before any listener stops accepting, and never back.

use crate::config::Config;
use crate::dataplane::ListenerChanges;
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot, watch};

/// Reload: the given configuration, or the file the running one came from (`None`).
pub(crate) struct Reload(pub Option<Box<Config>>, pub oneshot::Sender<ReloadReport>);

/// A requested stop: after `drain_delay` when `lame_duck`, at once otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stop {
    pub lame_duck: bool,
}

/// What one reload did.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// "ok" or "failed".
    pub result: &'static str,
    /// RFC 3339 time of the attempt.
    pub time: String,
    /// The configuration file read.
    pub file: String,
    /// Why it failed (every configuration problem, one per line); the running configuration
    /// is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listeners: Option<ListenerChanges>,
    /// Every listener after the reload: (name, bound address).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bound: Vec<(String, SocketAddr)>,
    /// Settings that changed but take effect only at the next start.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart_required: Vec<String>,
}

impl ReloadReport {
    pub fn ok(&self) -> bool {
        self.result == "ok"
    }

    pub(crate) fn failed(file: &str, error: String) -> ReloadReport {
        ReloadReport {
            result: "failed",
            time: now(),
            file: file.to_string(),
            error: Some(error),
            listeners: None,
            bound: Vec::new(),
            restart_required: Vec::new(),
        }
    }
}

pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Reload counts and the last attempt, for `/v1/status`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReloadStatus {
    pub succeeded: u64,
    pub failed: u64,
    pub last: Option<ReloadReport>,
    /// RFC 3339 time of the last successful reload.
    pub last_success: Option<String>,
}

#[derive(Default)]
struct State {
    draining: AtomicBool,
    reloads: Mutex<ReloadStatus>,
}

/// A handle on the control task; cheap to clone.
#[derive(Clone)]
pub struct Control {
    tx: mpsc::Sender<Reload>,
    stop: Arc<watch::Sender<Option<Stop>>>,
    state: Arc<State>,
}

/// The control task's ends of the channels.
pub(crate) struct Inbox {
    pub reloads: mpsc::Receiver<Reload>,
    pub stop: watch::Receiver<Option<Stop>>,
}

impl Control {
    pub(crate) fn new() -> (Control, Inbox) {
        let (tx, reloads) = mpsc::channel(8);
        let (stop, stop_rx) = watch::channel(None);
        let c = Control {
            tx,
            stop: Arc::new(stop),
            state: Arc::new(State::default()),
        };
        (
            c,
            Inbox {
                reloads,
                stop: stop_rx,
            },
        )
    }

    /// Reloads the configuration file the gateway runs (`None`) or the given configuration,
    /// and returns what happened.
    pub async fn reload(&self, cfg: Option<Config>) -> ReloadReport {
        let (tx, rx) = oneshot::channel();
        let gone = || ReloadReport::failed("-", "the gateway is stopping".into());
        if self.tx.send(Reload(cfg.map(Box::new), tx)).await.is_err() {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }

    /// Asks for a stop. A second request cannot undo a first; an immediate stop may cut a
    /// lame-duck wait short.
    pub(crate) fn shutdown(&self, lame_duck: bool) {
        self.stop.send_if_modified(|s| match s {
            Some(Stop { lame_duck: false }) => false,
            Some(Stop { lame_duck: true }) if lame_duck => false,
            _ => {
                *s = Some(Stop { lame_duck });
                true
            }
        });
    }

    /// True once a stop began: `/readyz` answers 503 from then on.
    pub fn draining(&self) -> bool {
        self.state.draining.load(Ordering::Acquire)
    }

    pub(crate) fn set_draining(&self) {
        self.state.draining.store(true, Ordering::Release);
    }

    pub fn reloads(&self) -> ReloadStatus {
        self.state
            .reloads
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub(crate) fn record(&self, r: &ReloadReport) {
        if let Ok(mut s) = self.state.reloads.lock() {
            if r.ok() {
                s.succeeded += 1;
                s.last_success = Some(r.time.clone());
            } else {
                s.failed += 1;
            }
            s.last = Some(r.clone());
        }
    }
}
