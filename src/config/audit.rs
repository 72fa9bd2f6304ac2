//! `[audit]`: where the audit trail goes and how it behaves under floods and write failures.
//!
//! Owns the validation of the section's options (the writer itself is `crate::audit`).
//! Must not: open the destination (the lifecycle does, before binding any port).
//! Invariant: an `AuditConfig` has a queue of at least one record, and a fold table of at least
//! one key whenever folding is on.

use super::raw::RawAudit;
use super::Problems;
use std::time::Duration;

/// What a request that needs an audit record gets while the record cannot be kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnAuditFailure {
    /// Serve it; the lost record is counted.
    #[default]
    Serve,
    /// 503 `audit_unavailable`: no audited decision is served without its record.
    Refuse,
}

/// The validated `[audit]` options other than `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditConfig {
    /// Identical request-route records within this window become one record with a count;
    /// zero writes every record on its own.
    pub fold_window: Duration,
    /// Most distinct records folded in one window; past it records are written unfolded.
    pub fold_keys: usize,
    /// Records queued between requests and the writer.
    pub queue: usize,
    pub on_failure: OnAuditFailure,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            fold_window: Duration::from_secs(1),
            fold_keys: 10_000,
            queue: 65_536,
            on_failure: OnAuditFailure::Serve,
        }
    }
}

pub(super) fn audit(p: &mut Problems<'_>, raw: &RawAudit) -> AuditConfig {
    let fold_window = p.duration("audit.fold_window", &raw.fold_window);
    if raw.queue == 0 {
        p.add("audit.queue", "must be greater than 0");
    }
    if raw.fold_keys == 0 && !fold_window.is_zero() {
        p.add(
            "audit.fold_keys",
            "must be greater than 0 (set fold_window = \"0s\" to turn folding off)",
        );
    }
    let on_failure = match raw.on_failure.as_str() {
        "serve" => OnAuditFailure::Serve,
        "refuse" => OnAuditFailure::Refuse,
        other => {
            p.add(
                "audit.on_failure",
                format!("{other:?} is not \"serve\" or \"refuse\""),
            );
            OnAuditFailure::Serve
        }
    };
    AuditConfig {
        fold_window,
        fold_keys: raw.fold_keys,
        queue: raw.queue,
        on_failure,
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::tests::{errors, parse};
    use super::OnAuditFailure;
    use std::time::Duration;

    #[test]
    fn audit_options_default_and_validate() {
        let c = parse("", "").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(c.audit.fold_window, Duration::from_secs(1));
        assert_eq!((c.audit.fold_keys, c.audit.queue), (10_000, 65_536));
        assert_eq!(c.audit.on_failure, OnAuditFailure::Serve);
        let c = parse(
            "",
            "fold_window = \"0s\"\nfold_keys = 0\non_failure = \"refuse\"",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(c.audit.fold_window.is_zero());
        assert_eq!(c.audit.on_failure, OnAuditFailure::Refuse);
        let e = errors("", "queue = 0\nfold_keys = 0\non_failure = \"fail\"");
        let keys: Vec<&str> = e.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["audit.queue", "audit.fold_keys", "audit.on_failure"],
            "{e:?}"
        );
        assert_eq!(e[0].1, Some(10));
        let e = errors("", "fold_window = \"soon\"");
        assert_eq!(e, [("audit.fold_window".to_string(), Some(10))]);
    }
}
