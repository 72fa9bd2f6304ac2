//! The servers of one upstream: which one a request goes to, and which are out of rotation.
//! nginx's `upstream` rules: round robin over the servers; a server that fails `max_fails`
//! times within `fail_timeout` is skipped for `fail_timeout`; when every server is out, the
//! one whose time out ends first is tried; a lone server is never taken out.
//!
//! Owns the rotation and each server's failure record, shared by every worker (one `Peers`
//! per upstream and configuration).
//! Must not: open connections (`pool.rs`) or decide whether a request may go to a next server
//! (`forward.rs` sends on only a request no server started to read).
//! Invariant: a server is out of rotation only while its `down_until` lies ahead, only after
//! `max_fails` failures within `fail_timeout`, and never after an answer since.

use crate::config::UpstreamConfig;
use crate::metrics::Metrics;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One server's failure record, in milliseconds since `Peers::epoch`.
#[derive(Default)]
struct Health {
    /// Failures counted in the current window.
    fails: AtomicU32,
    /// When the current window of failures started.
    window_start: AtomicU64,
    /// Out of rotation until this time (0: in rotation).
    down_until: AtomicU64,
}

pub struct Peers {
    upstream: String,
    servers: Vec<String>,
    health: Vec<Health>,
    next: AtomicUsize,
    max_fails: u32,
    fail_timeout_ms: u64,
    epoch: Instant,
    metrics: Arc<Metrics>,
}

/// The servers a request already went to, one bit each (at most 64 servers).
#[derive(Clone, Copy, Default)]
pub struct Tried(u64);

impl Tried {
    pub fn add(&mut self, i: usize) {
        self.0 |= 1 << i;
    }
    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }
}

impl Peers {
    pub fn new(cfg: &UpstreamConfig, metrics: Arc<Metrics>) -> Peers {
        let servers: Vec<String> = cfg.servers.iter().map(|s| s.to_string()).collect();
        Peers {
            upstream: cfg.name.clone(),
            health: servers.iter().map(|_| Health::default()).collect(),
            servers,
            next: AtomicUsize::new(0),
            max_fails: cfg.max_fails,
            fail_timeout_ms: u64::try_from(cfg.fail_timeout.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            metrics,
        }
    }

    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The configured `host:port` of server `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.servers[i]
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The next server for a request that went to `tried` already: the next in rotation that
    /// is in rotation, else, every untried one being out, the one whose time out ends first.
    /// `None` once the request went to every server. A server out of rotation uses up its
    /// turn, so the others share its requests evenly.
    pub fn pick(&self, tried: Tried) -> Option<usize> {
        let n = self.servers.len();
        if n == 1 {
            return (!tried.has(0)).then_some(0);
        }
        let now = self.now_ms();
        let up = |i: usize| !tried.has(i) && self.health[i].down_until.load(Relaxed) <= now;
        for _ in 0..n {
            let i = self.next.fetch_add(1, Relaxed) % n;
            if up(i) {
                return Some(i);
            }
        }
        // Other workers' turns interleaved with these: look at every server once more.
        if let Some(i) = (0..n).find(|&i| up(i)) {
            return Some(i);
        }
        (0..n)
            .filter(|&i| !tried.has(i))
            .min_by_key(|&i| self.health[i].down_until.load(Relaxed))
    }

    /// Records a failed attempt on server `i`; the `max_fails`-th within `fail_timeout` takes
    /// it out of rotation for `fail_timeout` (never a lone server, never with `max_fails` 0).
    pub fn failed(&self, i: usize) {
        self.metrics
            .servers
            .failures
            .with_label_values(&[&self.upstream, &self.servers[i]])
            .inc();
        if self.max_fails == 0 || self.servers.len() == 1 {
            return;
        }
        let h = &self.health[i];
        let now = self.now_ms();
        if now.saturating_sub(h.window_start.load(Relaxed)) > self.fail_timeout_ms {
            h.window_start.store(now, Relaxed);
            h.fails.store(0, Relaxed);
        }
        if h.fails.fetch_add(1, Relaxed) + 1 < self.max_fails {
            return;
        }
        h.fails.store(0, Relaxed);
        let until = now.saturating_add(self.fail_timeout_ms).max(1);
        // One worker takes it out; a failure racing it on another worker does not count twice.
        if h.down_until.swap(until, Relaxed) > now {
            return;
        }
        self.metrics
            .servers
            .marked_down
            .with_label_values(&[&self.upstream, &self.servers[i]])
            .inc();
        tracing::warn!(
            event = "upstream_server_down",
            upstream = %self.upstream,
            server = %self.servers[i],
            failures = self.max_fails,
            for_s = Duration::from_millis(self.fail_timeout_ms).as_secs_f64(),
        );
    }

    /// Records an answer from server `i`: its failure count starts again, and a server out of
    /// rotation that answered (tried with every server out) is back in it.
    pub fn answered(&self, i: usize) {
        let h = &self.health[i];
        if h.fails.load(Relaxed) != 0 {
            h.fails.store(0, Relaxed);
        }
        if h.down_until.load(Relaxed) != 0 {
            h.down_until.store(0, Relaxed);
        }
    }

    /// Counts a request sent on to a next server.
    pub fn retried(&self) {
        self.metrics
            .servers
            .retries
            .with_label_values(&[&self.upstream])
            .inc();
    }
}

#[cfg(test)]
mod tests;
