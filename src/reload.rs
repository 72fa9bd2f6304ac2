//! Configuration reload: read and validate the new configuration completely, then hand it to
//! the data plane, and say what changed and what needs a restart.
//!
//! Owns the reload rule: nothing of the new configuration is applied unless all of it is valid,
//! every listener it adds is bound and every log destination it names is open. Routes,
//! upstreams, limits, header settings, the audit and access-log settings, listeners (added,
//! removed, renamed, TLS certificates and keys) take effect for the next request or connection;
//! requests in flight finish on the configuration they started with.
//! Must not: change the index or its source, or touch a listener present in both configurations
//! beyond its settings.
//! Invariant: after a failed reload the running configuration is exactly the one before it.

use crate::config::Config;
use crate::control::{now, ReloadReport};
use crate::dataplane::DataPlane;
use crate::streams::Streams;

/// Reloads `current` from `given`, or from the file it was read from; updates `current` on
/// success.
pub(crate) async fn apply(
    plane: &mut DataPlane,
    current: &mut Config,
    given: Option<Box<Config>>,
    streams: &mut Streams,
) -> ReloadReport {
    let file = current.source.display().to_string();
    let new = match given {
        Some(cfg) => *cfg,
        None => {
            let path = current.source.clone();
            match tokio::task::spawn_blocking(move || Config::load(&path)).await {
                Ok(Ok(cfg)) => cfg,
                Ok(Err(errors)) => return failed(&file, errors.to_string()),
                Err(e) => return failed(&file, format!("validation stopped: {e}")),
            }
        }
    };
    let restart_required = restart_required(current, &new);
    // The settings that need a restart keep their running values, so that what runs and what
    // the next reload compares with are the configuration in effect.
    let mut applied = new;
    keep_restart_settings(&mut applied, current);
    // New audit or access-log destinations open first: one that cannot be opened fails the
    // reload before anything changes.
    let opened = match streams.open_changed(current, &applied) {
        Ok(o) => o,
        Err(e) => return failed(&file, e),
    };
    let handles = opened.as_ref().map(|o| (o.audit.clone(), o.access.clone()));
    match plane.apply(&applied, handles) {
        Err(e) => {
            if let Some(o) = opened {
                Streams::discard(o).await;
            }
            failed(&file, e.to_string())
        }
        Ok(changes) => {
            if let Some(o) = opened {
                streams.switch(o);
            }
            tracing::info!(
                event = "config_reloaded",
                file = %file,
                added = ?changes.added,
                removed = ?changes.removed,
                restart_required = ?restart_required,
            );
            *current = applied;
            ReloadReport {
                result: "ok",
                time: now(),
                file,
                error: None,
                listeners: Some(changes),
                bound: plane.bound(),
                restart_required,
            }
        }
    }
}

fn failed(file: &str, error: String) -> ReloadReport {
    tracing::error!(event = "config_reload_failed", file = %file, error = %error);
    ReloadReport::failed(file, error)
}

/// The settings a running gateway cannot change: where the index comes from, the admin
/// listener, the audit destination, the worker count and the demo servers.
fn restart_required(old: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    let mut check = |key: &str, same: bool| {
        if !same {
            keys.push(key.to_string());
        }
    };
    check("server.workers", old.workers == new.workers);
    check("admin.address", old.admin.addr == new.admin.addr);
    check("admin.token", old.admin.token == new.admin.token);
    check(
        "admin.console_recent",
        old.admin.console_recent == new.admin.console_recent,
    );
    check("index.snapshot", old.index.snapshot == new.index.snapshot);
    check(
        "index.stale_after",
        old.index.stale_after == new.index.stale_after,
    );
    check(
        "feed",
        old.feed.as_ref().map(|f| &f.url) == new.feed.as_ref().map(|f| &f.url),
    );
    check(
        "demo",
        old.demo_echo == new.demo_echo
            && old.demo_feed.as_ref().map(|d| d.1) == new.demo_feed.as_ref().map(|d| d.1),
    );
    keys
}

fn keep_restart_settings(applied: &mut Config, running: &Config) {
    applied.workers = running.workers;
    applied.admin = running.admin.clone();
    applied.index = running.index.clone();
    applied.feed = running.feed.clone();
    applied.demo_echo = running.demo_echo;
    applied.demo_feed = running.demo_feed.clone();
}
