//! The access log's writer: the thread that formats queued records as JSON lines and writes
//! each batch with one write, its destination (a file it reopens on request, or stdout), and
//! `LogFiles`, the SIGUSR1 handle on both log files.
//!
//! Owns the line's shape (docs/logging.md lists the fields) and every write.
//! Must not: run on a request's thread, or write part of a line.
//! Invariant: each line is one complete JSON object followed by `\n`; a file is reopened
//! before the next batch after `LogFiles::reopen`, so nothing more goes to a renamed file.

use super::{Entry, Msg, MAX_PATH, QUEUE};
use crate::audit::Audit;
use crate::config::LogTarget;
use crate::fold::{Folded, Level};
use crate::metrics::Metrics;
use crate::requestid;
use serde::{Serialize, Serializer};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// A batch is written once it holds this many bytes, even if more records are queued.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// Serialises with `Display`.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// One line of the access log (docs/logging.md lists the fields).
#[derive(Serialize)]
struct Line<'a> {
    time: Shown<humantime::Rfc3339Timestamp>,
    request_id: &'a str,
    listener: &'a str,
    route: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    status: u16,
    decision: Option<&'static str>,
    code: Option<&'static str>,
    bytes_in: Option<u64>,
    bytes_out: Option<u64>,
    upstream: Option<&'a str>,
    upstream_addr: Option<&'a str>,
    duration_ms: f64,
    upstream_ms: Option<f64>,
    client: Shown<SocketAddr>,
}

fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn bounded(s: &str, max: usize) -> &str {
    let mut n = s.len().min(max);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

impl Entry {
    fn write(&self, buf: &mut Vec<u8>) {
        fn name(names: &[String], i: Option<usize>) -> Option<&str> {
            i.and_then(|i| names.get(i)).map(String::as_str)
        }
        let line = Line {
            time: Shown(humantime::format_rfc3339_millis(self.time)),
            request_id: requestid::as_str(&self.id),
            listener: &self.listener,
            route: name(&self.names.routes, self.route),
            method: self.method.as_str(),
            path: bounded(self.uri.path(), MAX_PATH),
            status: self.status,
            decision: self.outcome.map(|(o, _)| o.as_str()),
            code: self.outcome.map(|(_, r)| r.as_str()),
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            upstream: name(&self.names.upstreams, self.upstream.map(|(u, _)| u)),
            upstream_addr: self
                .upstream
                .and_then(|(u, s)| self.names.servers.get(u)?.get(s))
                .map(String::as_str),
            duration_ms: ms(self.duration),
            upstream_ms: self.upstream_time.map(ms),
            client: Shown(self.client),
        };
        // A record of strings and numbers always serialises.
        if serde_json::to_writer(&mut *buf, &line).is_ok() {
            buf.push(b'\n');
        }
    }
}

/// The writer thread and its queue; one per process.
pub struct AccessLogWriter {
    pub(super) tx: SyncSender<Msg>,
    reopen: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

/// Where the writer writes.
enum Out {
    Stdout,
    File { path: PathBuf, file: std::fs::File },
}

fn open_append(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Out::Stdout => {
                let mut s = std::io::stdout().lock();
                s.write_all(buf).and_then(|()| s.flush())
            }
            Out::File { file, .. } => file.write_all(buf),
        }
    }

    /// Opens the path again (after a rename by logrotate); keeps writing to the open file if it cannot.
    fn reopen(&mut self) {
        let Out::File { path, file } = self else {
            return;
        };
        match open_append(path) {
            Ok(f) => {
                *file = f;
                tracing::info!(event = "access_log_reopened", path = %path.display());
            }
            Err(e) => tracing::error!(
                event = "access_log_reopen_failed",
                path = %path.display(),
                error = %e
            ),
        }
    }
}

impl AccessLogWriter {
    /// Opens the target and starts the writer thread.
    pub fn start(target: &LogTarget, metrics: Arc<Metrics>) -> std::io::Result<AccessLogWriter> {
        AccessLogWriter::with_queue(target, metrics, QUEUE)
    }

    fn with_queue(
        target: &LogTarget,
        metrics: Arc<Metrics>,
        queue: usize,
    ) -> std::io::Result<AccessLogWriter> {
        let out = match target {
            LogTarget::Stdout => Out::Stdout,
            LogTarget::File(path) => Out::File {
                path: path.clone(),
                file: open_append(path)?,
            },
        };
        let (tx, rx) = sync_channel(queue);
        let reopen = Arc::new(AtomicBool::new(false));
        let flag = reopen.clone();
        let thread = std::thread::Builder::new()
            .name("icpgate-access-log".into())
            .spawn(move || write_loop(rx, out, &flag, &metrics))?;
        Ok(AccessLogWriter { tx, reopen, thread })
    }

    /// Writes every record queued before this call, then stops the thread.
    pub async fn close(self) {
        let AccessLogWriter { tx, thread, .. } = self;
        let _ = tokio::task::spawn_blocking(move || {
            let _ = tx.send(Msg::Close);
            let _ = thread.join();
        })
        .await;
    }
}

/// Writes each batch of queued records with one write. After `Close` it writes what is still
/// queued and stops.
fn write_loop(rx: Receiver<Msg>, mut out: Out, reopen: &AtomicBool, m: &Metrics) {
    let key = match &out {
        Out::Stdout => "path=-".to_string(),
        Out::File { path, .. } => format!("path={}", path.display()),
    };
    let failed = Folded::new("access_log_write_failed", key, Level::Error);
    let mut buf = Vec::with_capacity(64 << 10);
    let mut closing = false;
    loop {
        let first = match if closing {
            rx.try_recv().ok()
        } else {
            rx.recv().ok()
        } {
            Some(m) => m,
            None => break,
        };
        buf.clear();
        let mut lines = 0u64;
        for msg in std::iter::once(first).chain(rx.try_iter()) {
            match msg {
                Msg::Entry(e) => {
                    e.write(&mut buf);
                    lines += 1;
                }
                Msg::Close => closing = true,
            }
            if buf.len() >= MAX_BATCH_BYTES {
                break;
            }
        }
        if reopen.swap(false, Ordering::AcqRel) {
            out.reopen();
        }
        if buf.is_empty() {
            continue;
        }
        match out.write(&buf) {
            Ok(()) => m.access_log_records.inc_by(lines),
            Err(e) => {
                m.access_log_write_failures.inc_by(lines);
                if let Some(r) = failed.hit() {
                    tracing::error!(
                        event = "access_log_write_failed",
                        error = %e,
                        records = lines,
                        repeated = r.count,
                        window_s = r.secs()
                    );
                }
            }
        }
    }
}

/// The log files SIGUSR1 reopens: the audit trail and the access log. Each is reopened before
/// its next write, so logrotate's `create` works: nothing more goes to the renamed file.
/// A reload that moves either stream points this handle at the new writers (`set`).
#[derive(Clone)]
pub struct LogFiles(Arc<std::sync::Mutex<Files>>);

struct Files {
    audit: Audit,
    access: Option<Arc<AtomicBool>>,
}

impl LogFiles {
    pub fn new(audit: Audit, access: Option<&AccessLogWriter>) -> LogFiles {
        LogFiles(Arc::new(std::sync::Mutex::new(Files {
            audit,
            access: access.map(|w| w.reopen.clone()),
        })))
    }

    /// Points SIGUSR1 at the writers a reload started.
    pub fn set(&self, audit: Audit, access: Option<&AccessLogWriter>) {
        if let Ok(mut f) = self.0.lock() {
            *f = Files {
                audit,
                access: access.map(|w| w.reopen.clone()),
            };
        }
    }

    pub fn reopen(&self) {
        if let Ok(f) = self.0.lock() {
            f.audit.reopen();
            if let Some(a) = &f.access {
                a.store(true, Ordering::Release);
            }
        }
        tracing::info!(event = "log_files_reopen_requested");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_are_cut_at_a_character_boundary() {
        let s = format!("/{}é", "a".repeat(MAX_PATH - 2));
        assert_eq!(bounded(&s, MAX_PATH).len(), MAX_PATH - 1);
        assert_eq!(bounded("/x", MAX_PATH), "/x");
    }
}
