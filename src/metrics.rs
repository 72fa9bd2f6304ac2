//! Prometheus metrics: every metric name and label set of icpgate lives in this file.
//!
//! Owns the registry and typed handles to each metric. Names carry the `icpgate_` prefix and
//! base units (seconds, bytes); labels are bounded (listener, route, upstream, platform,
//! decision, reason, status, cause) and never carry an identifier or a filing number.
//! Must not: do I/O, or be looked up by name anywhere else.
//! Invariant: `render()` is valid Prometheus text exposition.

use crate::filing::{Platform, Status};
use crate::index::Revision;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub upstream_errors: IntCounterVec,
    pub connections_active: IntGaugeVec,
    pub connections_total: IntCounterVec,
    pub connections_rejected: IntCounterVec,
    pub tls_handshake_failures: IntCounterVec,
    pub index_records: IntGaugeVec,
    pub index_identifiers: IntGaugeVec,
    pub index_revision: IntGauge,
    pub index_last_load: Gauge,
    pub index_age: Gauge,
    pub index_stale: IntGauge,
    pub index_loads: IntCounterVec,
    pub index_rejected_records: IntCounter,
    pub audit_records: IntCounter,
    pub audit_write_failures: IntCounter,
    pub access_log_records: IntCounter,
    pub access_log_dropped: IntCounter,
    pub access_log_write_failures: IntCounter,
    pub feed_attempts: IntCounter,
    pub feed_failures: IntCounterVec,
    pub feed_bytes: IntCounter,
    pub feed_apply_duration: prometheus::Histogram,
    pub feed_last_attempt: Gauge,
    pub feed_last_success: Gauge,
    pub feed_fallbacks: IntCounter,
    pub feed_compactions: IntCounter,
    pub upload_spool_files: IntGauge,
    pub upload_spool_bytes: IntGauge,
    pub package_inspection_duration: HistogramVec,
    pub package_inspections: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
    r.register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
    r.register(Box::new(g.clone()))
        .expect("metric registered once");
    g
}

fn histogram_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
        labels,
    )
    .expect("static metric definition");
    r.register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

fn register<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
    r.register(Box::new(m.clone()))
        .expect("metric registered once");
    m
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        Metrics {
            requests: counter_vec(
                &r,
                "icpgate_requests_total",
                "Requests by route, platform, decision and reason.",
                &["route", "platform", "decision", "reason"],
            ),
            request_duration: histogram_vec(
                &r,
                "icpgate_request_duration_seconds",
                "Time from request head to response head, by route and decision.",
                &["route", "decision"],
            ),
            upstream_duration: histogram_vec(
                &r,
                "icpgate_upstream_duration_seconds",
                "Time from forwarding to the upstream's response head.",
                &["upstream"],
            ),
            upstream_errors: counter_vec(
                &r,
                "icpgate_upstream_errors_total",
                "Failed upstream exchanges by cause (connect, timeout, protocol).",
                &["upstream", "cause"],
            ),
            connections_active: gauge_vec(
                &r,
                "icpgate_connections_active",
                "Open client connections.",
                &["listener"],
            ),
            connections_total: counter_vec(
                &r,
                "icpgate_connections_total",
                "Accepted client connections.",
                &["listener"],
            ),
            connections_rejected: counter_vec(
                &r,
                "icpgate_connections_rejected_total",
                "Connections closed at accept because max_connections was reached.",
                &["listener"],
            ),
            tls_handshake_failures: counter_vec(
                &r,
                "icpgate_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                &["listener"],
            ),
            index_records: gauge_vec(
                &r,
                "icpgate_index_records",
                "Filings in the current index revision listing a platform, by status.",
                &["platform", "status"],
            ),
            index_identifiers: gauge_vec(
                &r,
                "icpgate_index_identifiers",
                "Identifiers in the current index revision, by platform.",
                &["platform"],
            ),
            index_revision: register(
                &r,
                IntGauge::new(
                    "icpgate_index_revision",
                    "Revision number of the index being served.",
                )
                .expect("static"),
            ),
            index_last_load: register(
                &r,
                Gauge::new(
                    "icpgate_index_last_success_timestamp_seconds",
                    "Unix time the served index data was last confirmed current.",
                )
                .expect("static"),
            ),
            index_age: register(
                &r,
                Gauge::new(
                    "icpgate_index_age_seconds",
                    "Seconds since the served index data was last confirmed current.",
                )
                .expect("static"),
            ),
            index_stale: register(
                &r,
                IntGauge::new(
                    "icpgate_index_stale",
                    "1 when the index is older than index.stale_after.",
                )
                .expect("static"),
            ),
            index_loads: counter_vec(
                &r,
                "icpgate_index_loads_total",
                "Index loads by result (ok, error).",
                &["result"],
            ),
            index_rejected_records: register(
                &r,
                IntCounter::new(
                    "icpgate_index_rejected_records_total",
                    "Snapshot lines rejected while loading.",
                )
                .expect("static"),
            ),
            audit_records: register(
                &r,
                IntCounter::new("icpgate_audit_records_total", "Audit records written.")
                    .expect("static"),
            ),
            audit_write_failures: register(
                &r,
                IntCounter::new(
                    "icpgate_audit_write_failures_total",
                    "Audit records that could not be written.",
                )
                .expect("static"),
            ),
            access_log_records: register(
                &r,
                IntCounter::new(
                    "icpgate_access_log_records_total",
                    "Access log lines written.",
                )
                .expect("static"),
            ),
            access_log_dropped: register(
                &r,
                IntCounter::new(
                    "icpgate_access_log_dropped_total",
                    "Access log records dropped because the writer's queue was full.",
                )
                .expect("static"),
            ),
            access_log_write_failures: register(
                &r,
                IntCounter::new(
                    "icpgate_access_log_write_failures_total",
                    "Access log records that could not be written.",
                )
                .expect("static"),
            ),
            feed_attempts: register(&r, IntCounter::new("icpgate_feed_sync_attempts_total", "Feed sync attempts.").expect("static")),
            feed_failures: counter_vec(&r, "icpgate_feed_sync_failures_total", "Failed feed syncs by cause (fetch, size, signature, manifest, sha256, decompress, parse, checksum, apply, replay, cache).", &["cause"]),
            feed_bytes: register(&r, IntCounter::new("icpgate_feed_bytes_fetched_total", "Bytes fetched from the feed.").expect("static")),
            feed_apply_duration: register(&r, prometheus::Histogram::with_opts(HistogramOpts::new("icpgate_feed_apply_duration_seconds", "Time to verify, apply and publish a new feed revision.").buckets(LATENCY_BUCKETS.to_vec())).expect("static")),
            feed_last_attempt: register(&r, Gauge::new("icpgate_feed_last_attempt_timestamp_seconds", "Unix time of the last feed sync attempt.").expect("static")),
            feed_last_success: register(&r, Gauge::new("icpgate_feed_last_success_timestamp_seconds", "Unix time of the last successful feed sync.").expect("static")),
            feed_fallbacks: register(&r, IntCounter::new("icpgate_feed_snapshot_fallbacks_total", "Delta chains abandoned for the snapshot (drift or broken chain).").expect("static")),
            feed_compactions: register(&r, IntCounter::new("icpgate_index_compactions_total", "Overlay folds into a new index base.").expect("static")),
            upload_spool_files: register(
                &r,
                IntGauge::new(
                    "icpgate_upload_spool_files",
                    "Upload bodies currently spooled to a temp file.",
                )
                .expect("static"),
            ),
            upload_spool_bytes: register(
                &r,
                IntGauge::new(
                    "icpgate_upload_spool_bytes",
                    "Bytes of upload bodies currently held for inspection (memory and temp files).",
                )
                .expect("static"),
            ),
            package_inspection_duration: histogram_vec(
                &r,
                "icpgate_package_inspection_duration_seconds",
                "Time to identify an uploaded package, by kind (apk, ipa, hap, unknown).",
                &["kind"],
            ),
            package_inspections: counter_vec(
                &r,
                "icpgate_package_inspections_total",
                "Uploaded packages inspected, by kind and result (ok or the error code).",
                &["kind", "result"],
            ),
            registry: r,
        }
    }

    /// Refreshes the index gauges from a newly published revision.
    pub fn observe_revision(&self, rev: &Revision) {
        self.index_revision.set(rev.revision as i64);
        for p in Platform::ALL {
            self.index_identifiers
                .with_label_values(&[p.as_str()])
                .set(rev.stats.ids_by[p as usize] as i64);
            for s in Status::ALL {
                self.index_records
                    .with_label_values(&[p.as_str(), s.as_str()])
                    .set(rev.stats.records_by[p as usize][s as usize] as i64);
            }
        }
        let secs = rev
            .as_of
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.index_last_load.set(secs);
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = enc.encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_render() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["r", "android", "block", "not_filed"])
            .inc();
        m.observe_revision(&Revision::empty());
        let text = m.render();
        assert!(text.contains("icpgate_requests_total{decision=\"block\",platform=\"android\",reason=\"not_filed\",route=\"r\"} 1"));
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            assert!(line.starts_with("icpgate_"), "{line}");
        }
    }
}
