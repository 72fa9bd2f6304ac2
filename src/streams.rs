//! The running gateway's record streams: the audit trail's writer and the access log's, the
//! ones a reload replaced, and the handle SIGUSR1 reopens them through.
//!
//! Owns when a writer starts and ends. A reload that changes `[audit]` or `[access_log]` opens
//! the new writers before anything else changes (a destination that cannot be opened fails the
//! reload); the replaced writers stay open for the requests still holding them and are closed,
//! with everything queued written, only at the stop, after the last of those requests is gone.
//! Must not: decide what is recorded (the proxy does) or drop a writer while a handle on it can
//! still send.
//! Invariant: every writer ever started is closed exactly once, at the stop.

use crate::accesslog::{AccessLogWriter, AccessQueue, LogFiles};
use crate::audit::{Audit, AuditWriter};
use crate::config::{Config, LogTarget};
use crate::metrics::Metrics;
use std::sync::Arc;

/// The writers a reload opened, for the data plane's next request state.
pub(crate) struct Opened {
    pub audit: Audit,
    pub access: AccessQueue,
    writers: (AuditWriter, Option<AccessLogWriter>),
}

pub(crate) struct Streams {
    metrics: Arc<Metrics>,
    files: LogFiles,
    audit: AuditWriter,
    access: Option<AccessLogWriter>,
    retired: Vec<(AuditWriter, Option<AccessLogWriter>)>,
}

fn target_name(t: &LogTarget) -> String {
    match t {
        LogTarget::Stdout => "-".into(),
        LogTarget::File(p) => p.display().to_string(),
    }
}

impl Streams {
    pub fn new(
        metrics: Arc<Metrics>,
        files: LogFiles,
        audit: AuditWriter,
        access: Option<AccessLogWriter>,
    ) -> Streams {
        Streams {
            metrics,
            files,
            audit,
            access,
            retired: Vec::new(),
        }
    }

    /// New writers when `new` configures the streams differently from `old`; `None` when it
    /// does not. An error names the destination that could not be opened.
    pub fn open_changed(&self, old: &Config, new: &Config) -> Result<Option<Opened>, String> {
        if old.audit_path == new.audit_path
            && old.audit == new.audit
            && old.access_log == new.access_log
        {
            return Ok(None);
        }
        let (audit, audit_writer) = Audit::start(new, self.metrics.clone()).map_err(|e| {
            let path = new
                .audit_path
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string());
            format!("cannot open audit trail {path}: {e}")
        })?;
        let access = match &new.access_log {
            None => None,
            Some(t) => Some(
                AccessLogWriter::start(t, self.metrics.clone())
                    .map_err(|e| format!("cannot open access log {}: {e}", target_name(t)))?,
            ),
        };
        Ok(Some(Opened {
            audit,
            access: AccessQueue::of(access.as_ref()),
            writers: (audit_writer, access),
        }))
    }

    /// Makes `opened` the running writers; the replaced ones are kept until the stop.
    pub fn switch(&mut self, opened: Opened) {
        let (audit, access) = opened.writers;
        self.files.set(opened.audit, access.as_ref());
        let old_audit = std::mem::replace(&mut self.audit, audit);
        let old_access = std::mem::replace(&mut self.access, access);
        self.retired.push((old_audit, old_access));
    }

    /// Closes writers a failed reload opened but never used.
    pub async fn discard(opened: Opened) {
        let (audit, access) = opened.writers;
        audit.close().await;
        if let Some(w) = access {
            w.close().await;
        }
    }

    /// Writes everything queued and closes every writer: the running ones, then the replaced.
    pub async fn close(self) {
        let running = (self.audit, self.access);
        for (audit, access) in std::iter::once(running).chain(self.retired) {
            audit.close().await;
            if let Some(w) = access {
                w.close().await;
            }
        }
    }
}
