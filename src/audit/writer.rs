//! The audit writer thread: takes records off the queue, folds them, and writes them in
//! batches, one write per batch.
//!
//! Owns the batching rule (a record waits at most `LINGER` for others to share its write; a
//! batch of `BATCH_BYTES` is written at once), the fold windows' deadlines, and what a failed
//! write does: the bytes the destination did not take stay queued, in order, and are tried
//! again every `RETRY`, so a line is never lost or written half; while that lasts the trail
//! is marked unwritable (`State::writable`), which `audit.on_failure = "refuse"` reads.
//! Must not: block a request (requests only ever `try_send`), or hold more than `MAX_HELD`
//! bytes while the destination fails: records past it are dropped and counted.
//! Invariant: `icpgate_audit_records_total` counts records once the destination has taken
//! every byte of them; each record is counted there or in `icpgate_audit_dropped_total` at
//! most once.

use super::fold::{Added, Folder};
use super::{AuditRecord, State};
use crate::metrics::Metrics;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a record waits for others to share its write.
const LINGER: Duration = Duration::from_millis(5);
/// A batch this large is written without waiting.
const BATCH_BYTES: usize = 256 << 10;
/// How often a failed destination is tried again.
const RETRY: Duration = Duration::from_millis(500);
/// Most bytes held while the destination fails.
const MAX_HELD: usize = 16 << 20;

pub(super) enum Msg {
    Record(Box<AuditRecord>),
    Close,
}

pub(super) struct Writer {
    pub(super) out: Box<dyn Write + Send>,
    pub(super) fold: Folder,
    pub(super) state: Arc<State>,
    pub(super) metrics: Arc<Metrics>,
    /// Serialised lines not yet taken by the destination.
    buf: Vec<u8>,
    /// Records in `buf`.
    pending: u64,
    /// When `buf` is to be written.
    due: Option<Instant>,
    /// Failed writes since the last success.
    failures: u64,
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Writer {
    pub(super) fn new(
        out: Box<dyn Write + Send>,
        fold: Folder,
        state: Arc<State>,
        metrics: Arc<Metrics>,
    ) -> Writer {
        Writer {
            out,
            fold,
            state,
            metrics,
            buf: Vec::with_capacity(64 << 10),
            pending: 0,
            due: None,
            failures: 0,
        }
    }

    /// Runs until `Msg::Close` (or every sender is gone), then writes what is left.
    /// Sleeps between passes instead of waking per record: while anything is held or due it
    /// drains the queue at most every `LINGER`, so a flood costs the request threads no
    /// wake-up of this one (a blocked receiver is woken by every send); idle, it blocks.
    pub(super) fn run(mut self, rx: Receiver<Msg>) {
        'run: loop {
            loop {
                match rx.try_recv() {
                    Ok(Msg::Record(r)) => self.take(r, Instant::now()),
                    Ok(Msg::Close) | Err(TryRecvError::Disconnected) => break 'run,
                    Err(TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            if self.fold.closes_at().is_some_and(|t| t <= now) {
                self.unfold(now);
            }
            if self.due.is_some_and(|t| t <= now) {
                self.write(now);
            }
            match earliest(self.due, self.fold.closes_at()) {
                None => match rx.recv() {
                    Ok(Msg::Record(r)) => self.take(r, Instant::now()),
                    Ok(Msg::Close) | Err(_) => break,
                },
                Some(t) => {
                    let now = Instant::now();
                    std::thread::sleep(t.saturating_duration_since(now).min(LINGER));
                }
            }
        }
        self.finish(&rx);
    }

    fn take(&mut self, r: Box<AuditRecord>, now: Instant) {
        let m = &self.metrics.audit;
        match self.fold.add(r, now) {
            Added::Folded => m.folded.inc(),
            Added::Held => {}
            Added::Write(r) => self.push(&r, now),
            Added::Overflow(r) => {
                m.fold_overflow.inc();
                self.push(&r, now);
            }
        }
    }

    /// Moves every held record into the batch, due now.
    fn unfold(&mut self, now: Instant) {
        let held: Vec<AuditRecord> = self.fold.drain().collect();
        for r in &held {
            self.push(r, now);
        }
        if self.state.writable.load(Ordering::Relaxed) {
            self.due = Some(now);
        }
    }

    fn push(&mut self, r: &AuditRecord, now: Instant) {
        if self.buf.len() >= MAX_HELD {
            self.metrics
                .audit
                .dropped
                .with_label_values(&["unwritable"])
                .inc();
            return;
        }
        // A record of strings and numbers always serialises.
        if serde_json::to_writer(&mut self.buf, r).is_err() {
            return;
        }
        self.buf.push(b'\n');
        self.pending += 1;
        let writable = self.state.writable.load(Ordering::Relaxed);
        if writable && self.buf.len() >= BATCH_BYTES {
            self.due = Some(now);
        } else if self.due.is_none() {
            self.due = Some(now + LINGER);
        }
    }

    /// One write of the whole batch; on failure the untaken bytes stay for the retry.
    fn write(&mut self, now: Instant) {
        self.due = None;
        if self.state.reopen.swap(false, Ordering::AcqRel) {
            if let Some(path) = &self.state.path {
                match super::open(Some(path)) {
                    Ok(out) => self.out = out,
                    Err(e) => {
                        tracing::error!(event = "audit_reopen_failed", path = %path.display(), error = %e)
                    }
                }
            }
        }
        if self.buf.is_empty() {
            return;
        }
        self.metrics.audit.batches.inc();
        let mut done = 0;
        let result = loop {
            if done == self.buf.len() {
                break self.out.flush();
            }
            match self.out.write(&self.buf[done..]) {
                Ok(0) => break Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        match result {
            Ok(()) => {
                self.metrics.audit_records.inc_by(self.pending);
                self.pending = 0;
                self.buf.clear();
                if self.failures > 0 {
                    tracing::info!(
                        event = "audit_write_recovered",
                        failed_writes = self.failures
                    );
                    self.failures = 0;
                    self.set_writable(true);
                }
            }
            Err(e) => {
                self.buf.drain(..done);
                self.metrics.audit_write_failures.inc();
                if self.failures == 0 {
                    tracing::error!(event = "audit_write_failed", error = %e, records = self.pending);
                    self.set_writable(false);
                }
                self.failures += 1;
                self.due = Some(now + RETRY);
            }
        }
    }

    fn set_writable(&self, ok: bool) {
        self.state.writable.store(ok, Ordering::Relaxed);
        self.metrics.audit.writable.set(i64::from(ok));
    }

    /// Writes every held and batched record once more; what the destination still refuses is
    /// dropped and counted, as is anything queued after the close.
    fn finish(mut self, rx: &Receiver<Msg>) {
        let now = Instant::now();
        self.unfold(now);
        self.write(now);
        let dropped = &self.metrics.audit.dropped;
        if self.pending > 0 {
            dropped
                .with_label_values(&["unwritable"])
                .inc_by(self.pending);
            tracing::error!(event = "audit_records_lost", records = self.pending);
        }
        let late = rx
            .try_iter()
            .filter(|m| matches!(m, Msg::Record(_)))
            .count();
        dropped.with_label_values(&["closed"]).inc_by(late as u64);
    }
}
