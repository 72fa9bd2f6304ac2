//! The audit writer's metric families: records dropped (by reason), folded, written unfolded
//! for want of fold room, the batches written, and whether the destination takes writes.
//!
//! Owns their handles and the `reason` label values of `icpgate_audit_dropped_total`; the
//! names are `metrics::name`'s. Must not: write records or look at the audit queue (the
//! writer in `audit` moves these counters).
//! Invariant: every family here is registered once, at `Metrics::new`, every drop reason
//! declared at 0.

use super::{counter_vec, name, register};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};

/// The audit writer's families (`audit.rs`), and the causes and reasons their labels take.
pub struct AuditMetrics {
    /// Records not written, by reason (`AUDIT_DROP_REASONS`).
    pub dropped: IntCounterVec,
    /// Decisions whose record was folded into an earlier identical one.
    pub folded: IntCounter,
    /// Records written unfolded because the fold table was full.
    pub fold_overflow: IntCounter,
    /// Batches handed to the destination, one write each.
    pub batches: IntCounter,
    /// 1 while the destination takes writes, 0 after a failed write until one succeeds.
    pub writable: IntGauge,
}

/// `icpgate_audit_dropped_total{reason}`: the queue was full, the trail was closed (shutdown),
/// or the destination failed for longer than the writer holds records.
pub const AUDIT_DROP_REASONS: [&str; 3] = ["queue_full", "closed", "unwritable"];

pub(super) fn audit_metrics(r: &Registry) -> AuditMetrics {
    let dropped = counter_vec(
        r,
        name::AUDIT_DROPPED,
        "Audit records not written, by reason (queue_full, closed, unwritable).",
        &["reason"],
    );
    for reason in AUDIT_DROP_REASONS {
        dropped.with_label_values(&[reason]);
    }
    let counter = |name: &str, help: &str| {
        register(
            r,
            IntCounter::new(name, help).expect("static metric definition"),
        )
    };
    AuditMetrics {
        dropped,
        folded: counter(
            name::AUDIT_FOLDED,
            "Decisions folded into an earlier identical audit record (its count).",
        ),
        fold_overflow: counter(
            name::AUDIT_FOLD_OVERFLOW,
            "Audit records written unfolded because audit.fold_keys records were already folding.",
        ),
        batches: counter(
            name::AUDIT_BATCHES,
            "Batches of audit records handed to the destination, one write each.",
        ),
        writable: {
            let g = register(
                r,
                IntGauge::new(
                    name::AUDIT_WRITABLE,
                    "1 while the audit destination takes writes; 0 from a failed write until one succeeds.",
                )
                .expect("static metric definition"),
            );
            g.set(1);
            g
        },
    }
}
