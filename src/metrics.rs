//! Prometheus metrics: every metric name and label set of icpgate lives in this module (this
//! file and its `audit`, `lists`, `servers` and `tokens` families).
//!
//! Owns the registry, the list of families (`FAMILIES`) and typed handles to each metric.
//! Names carry the `icpgate_` prefix and base units (seconds, bytes); labels are bounded
//! (listener, route, upstream, platform, decision, reason, status class, cause, result) and
//! never carry an identifier or a filing number. Every family is exported from the start:
//! plain metrics at their initial value, labeled ones at 0 for every label combination that
//! the enums producing the labels and the configuration know of (`declare_listeners` here,
//! the route and upstream series in `proxy::observe`).
//! Must not: do I/O (beyond the process collector reading `/proc` on a scrape), or be looked
//! up by name anywhere else.
//! Invariant: `render()` is valid Prometheus text exposition, and the families it exports
//! are exactly `FAMILIES` plus the process collector's `PROCESS_FAMILIES` (and, with
//! credential extractors configured, `tokens::FAMILIES`).

mod audit;
pub mod servers;
pub mod tokens;

use audit::audit_metrics;
pub use audit::{AuditMetrics, AUDIT_DROP_REASONS};

use crate::filing::{Platform, Status};
use crate::index::Revision;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The name of every family icpgate defines.
pub mod name {
    pub const BUILD_INFO: &str = "icpgate_build_info";
    pub const REQUESTS: &str = "icpgate_requests_total";
    pub const REQUESTS_IN_FLIGHT: &str = "icpgate_requests_in_flight";
    pub const REQUEST_DURATION: &str = "icpgate_request_duration_seconds";
    pub const GATEWAY_DURATION: &str = "icpgate_gateway_duration_seconds";
    pub const UPSTREAM_DURATION: &str = "icpgate_upstream_duration_seconds";
    pub const UPSTREAM_ERRORS: &str = "icpgate_upstream_errors_total";
    pub const UPSTREAM_SERVER_FAILURES: &str = "icpgate_upstream_server_failures_total";
    pub const UPSTREAM_SERVER_MARKED_DOWN: &str = "icpgate_upstream_server_marked_down_total";
    pub const UPSTREAM_RETRIES: &str = "icpgate_upstream_retries_total";
    pub const CONNECTIONS_ACTIVE: &str = "icpgate_connections_active";
    pub const CONNECTIONS: &str = "icpgate_connections_total";
    pub const CONNECTIONS_REJECTED: &str = "icpgate_connections_rejected_total";
    pub const TLS_HANDSHAKE_FAILURES: &str = "icpgate_tls_handshake_failures_total";
    pub const INDEX_RECORDS: &str = "icpgate_index_records";
    pub const INDEX_IDENTIFIERS: &str = "icpgate_index_identifiers";
    pub const INDEX_REVISION: &str = "icpgate_index_revision";
    pub const INDEX_LAST_SUCCESS: &str = "icpgate_index_last_success_timestamp_seconds";
    pub const INDEX_AGE: &str = "icpgate_index_age_seconds";
    pub const INDEX_STALE: &str = "icpgate_index_stale";
    pub const INDEX_LOADS: &str = "icpgate_index_loads_total";
    pub const INDEX_REJECTED_RECORDS: &str = "icpgate_index_rejected_records_total";
    pub const INDEX_COMPACTIONS: &str = "icpgate_index_compactions_total";
    pub const AUDIT_RECORDS: &str = "icpgate_audit_records_total";
    pub const AUDIT_WRITE_FAILURES: &str = "icpgate_audit_write_failures_total";
    pub const AUDIT_DROPPED: &str = "icpgate_audit_dropped_total";
    pub const AUDIT_FOLDED: &str = "icpgate_audit_folded_total";
    pub const AUDIT_FOLD_OVERFLOW: &str = "icpgate_audit_fold_overflow_total";
    pub const AUDIT_BATCHES: &str = "icpgate_audit_batches_total";
    pub const AUDIT_WRITABLE: &str = "icpgate_audit_writable";
    pub const PROXY_PROTOCOL_REJECTED: &str = "icpgate_proxy_protocol_rejected_total";
    pub const ACCESS_LOG_RECORDS: &str = "icpgate_access_log_records_total";
    pub const ACCESS_LOG_DROPPED: &str = "icpgate_access_log_dropped_total";
    pub const ACCESS_LOG_WRITE_FAILURES: &str = "icpgate_access_log_write_failures_total";
    pub const FEED_ATTEMPTS: &str = "icpgate_feed_sync_attempts_total";
    pub const FEED_FAILURES: &str = "icpgate_feed_sync_failures_total";
    pub const FEED_BYTES: &str = "icpgate_feed_bytes_fetched_total";
    pub const FEED_APPLY_DURATION: &str = "icpgate_feed_apply_duration_seconds";
    pub const FEED_LAST_ATTEMPT: &str = "icpgate_feed_last_attempt_timestamp_seconds";
    pub const FEED_LAST_SUCCESS: &str = "icpgate_feed_last_success_timestamp_seconds";
    pub const FEED_FALLBACKS: &str = "icpgate_feed_snapshot_fallbacks_total";
    pub const RELOADS: &str = "icpgate_reloads_total";
    pub const RELOAD_LAST_SUCCESS: &str = "icpgate_config_reload_last_success_timestamp_seconds";
    pub const UPLOAD_SPOOL_FILES: &str = "icpgate_upload_spool_files";
    pub const UPLOAD_SPOOL_BYTES: &str = "icpgate_upload_spool_bytes";
    pub const INSPECTION_DURATION: &str = "icpgate_package_inspection_duration_seconds";
    pub const INSPECTIONS: &str = "icpgate_package_inspections_total";
    pub const LIST_ITEMS_REMOVED: &str = "icpgate_list_items_removed_total";
    pub const LIST_ITEMS_MONITORED: &str = "icpgate_list_items_monitored_total";
    pub const LISTS: &str = "icpgate_lists_total";
}

/// Every family defined here; a freshly started gateway exports each of them.
pub const FAMILIES: &[&str] = &[
    name::BUILD_INFO,
    name::REQUESTS,
    name::REQUESTS_IN_FLIGHT,
    name::REQUEST_DURATION,
    name::GATEWAY_DURATION,
    name::UPSTREAM_DURATION,
    name::UPSTREAM_ERRORS,
    name::UPSTREAM_SERVER_FAILURES,
    name::UPSTREAM_SERVER_MARKED_DOWN,
    name::UPSTREAM_RETRIES,
    name::CONNECTIONS_ACTIVE,
    name::CONNECTIONS,
    name::CONNECTIONS_REJECTED,
    name::TLS_HANDSHAKE_FAILURES,
    name::INDEX_RECORDS,
    name::INDEX_IDENTIFIERS,
    name::INDEX_REVISION,
    name::INDEX_LAST_SUCCESS,
    name::INDEX_AGE,
    name::INDEX_STALE,
    name::INDEX_LOADS,
    name::INDEX_REJECTED_RECORDS,
    name::INDEX_COMPACTIONS,
    name::AUDIT_RECORDS,
    name::AUDIT_WRITE_FAILURES,
    name::AUDIT_DROPPED,
    name::AUDIT_FOLDED,
    name::AUDIT_FOLD_OVERFLOW,
    name::AUDIT_BATCHES,
    name::AUDIT_WRITABLE,
    name::PROXY_PROTOCOL_REJECTED,
    name::ACCESS_LOG_RECORDS,
    name::ACCESS_LOG_DROPPED,
    name::ACCESS_LOG_WRITE_FAILURES,
    name::FEED_ATTEMPTS,
    name::FEED_FAILURES,
    name::FEED_BYTES,
    name::FEED_APPLY_DURATION,
    name::FEED_LAST_ATTEMPT,
    name::FEED_LAST_SUCCESS,
    name::FEED_FALLBACKS,
    name::RELOADS,
    name::RELOAD_LAST_SUCCESS,
    name::UPLOAD_SPOOL_FILES,
    name::UPLOAD_SPOOL_BYTES,
    name::INSPECTION_DURATION,
    name::INSPECTIONS,
    name::LIST_ITEMS_REMOVED,
    name::LIST_ITEMS_MONITORED,
    name::LISTS,
];

/// The process collector's namespace: its families are `icpgate_process_*`.
const PROCESS_NAMESPACE: &str = "icpgate";

/// The families of the process collector (Linux, read from `/proc` on each scrape).
pub const PROCESS_FAMILIES: &[&str] = &[
    "icpgate_process_cpu_seconds_total",
    "icpgate_process_open_fds",
    "icpgate_process_max_fds",
    "icpgate_process_virtual_memory_bytes",
    "icpgate_process_resident_memory_bytes",
    "icpgate_process_start_time_seconds",
    "icpgate_process_threads",
];

/// Buckets of the per-request histograms: 25 µs to 10 s, about three per decade, so both
/// a gateway-answered request (tens of µs) and a slow upstream (seconds) have a p99.
pub const REQUEST_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of background work (feed applies, package inspection): 1 ms to 2 min.
const WORK_BUCKETS: &[f64] = &[
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0,
];

/// The `result` label of `icpgate_index_loads_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadResult {
    Ok,
    Error,
}

impl LoadResult {
    pub const ALL: [LoadResult; 2] = [LoadResult::Ok, LoadResult::Error];
    pub fn as_str(self) -> &'static str {
        match self {
            LoadResult::Ok => "ok",
            LoadResult::Error => "error",
        }
    }
}

/// The `result` label of `icpgate_reloads_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReloadResult {
    Ok,
    Failed,
}

impl ReloadResult {
    pub const ALL: [ReloadResult; 2] = [ReloadResult::Ok, ReloadResult::Failed];
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadResult::Ok => "ok",
            ReloadResult::Failed => "failed",
        }
    }
}

/// The `status_class` label: "1xx" to "5xx" by the response status' hundreds.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The index of `status`'s class in `STATUS_CLASSES` (a status outside 100-599 counts as 5xx).
pub fn status_class(status: http::StatusCode) -> usize {
    (status.as_u16() / 100).clamp(1, 5) as usize - 1
}

pub struct Metrics {
    registry: Registry,
    pub build_info: IntGaugeVec,
    pub requests: IntCounterVec,
    pub requests_in_flight: IntGauge,
    pub request_duration: HistogramVec,
    pub gateway_duration: HistogramVec,
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
    pub feed_apply_duration: Histogram,
    pub feed_last_attempt: Gauge,
    pub feed_last_success: Gauge,
    pub feed_fallbacks: IntCounter,
    pub feed_compactions: IntCounter,
    pub reloads: IntCounterVec,
    pub reload_last_success: Gauge,
    pub upload_spool_files: IntGauge,
    pub upload_spool_bytes: IntGauge,
    pub package_inspection_duration: HistogramVec,
    pub package_inspections: IntCounterVec,
    pub audit: AuditMetrics,
    pub proxy_protocol_rejected: IntCounterVec,
    /// Credential extractors and token introspection (`metrics/tokens.rs`).
    pub tokens: tokens::TokenMetrics,
    /// The list families (`metrics/lists.rs`).
    pub lists: lists::ListMetrics,
    /// An upstream's servers (`metrics/servers.rs`).
    pub servers: servers::ServerMetrics,
}

/// `icpgate_proxy_protocol_rejected_total{cause}`: a header that is not PROXY protocol v1/v2,
/// none within `header_read_timeout`, or the connection closed or failed while it was read.
pub const PROXY_PROTOCOL_CAUSES: [&str; 3] = ["invalid", "timeout", "io"];

fn register<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
    r.register(Box::new(m.clone()))
        .expect("metric registered once");
    m
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("static metric definition");
    register(r, c)
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
    register(r, g)
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(
        r,
        HistogramVec::new(opts, labels).expect("static metric definition"),
    )
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(
        r,
        IntCounter::new(name, help).expect("static metric definition"),
    )
}

fn int_gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(
        r,
        IntGauge::new(name, help).expect("static metric definition"),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> Gauge {
    register(r, Gauge::new(name, help).expect("static metric definition"))
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The commit the binary was built from: `ICPGATE_COMMIT` at build time, else "unknown".
pub const COMMIT: &str = match option_env!("ICPGATE_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let (req, work) = (REQUEST_BUCKETS, WORK_BUCKETS);
        let m = Metrics {
            build_info: gauge_vec(&r, name::BUILD_INFO, "Always 1; the labels name the running build.", &["version", "commit"]),
            requests: counter_vec(&r, name::REQUESTS, "Requests by route, platform, decision, reason and response status class.", &["route", "platform", "decision", "reason", "status_class"]),
            requests_in_flight: int_gauge(&r, name::REQUESTS_IN_FLIGHT, "Requests received whose response head is not yet sent."),
            request_duration: histogram_vec(&r, name::REQUEST_DURATION, "Time from request head to response head, by route and decision.", &["route", "decision"], req),
            gateway_duration: histogram_vec(&r, name::GATEWAY_DURATION, "Time the gateway adds to a request: its total time minus the upstream's response time (all of it for an answer of the gateway's own), by route.", &["route"], req),
            upstream_duration: histogram_vec(&r, name::UPSTREAM_DURATION, "Time from forwarding to the upstream's response head.", &["upstream"], req),
            upstream_errors: counter_vec(&r, name::UPSTREAM_ERRORS, "Failed upstream exchanges by cause (connect, timeout, protocol).", &["upstream", "cause"]),
            connections_active: gauge_vec(&r, name::CONNECTIONS_ACTIVE, "Open client connections.", &["listener"]),
            connections_total: counter_vec(&r, name::CONNECTIONS, "Accepted client connections.", &["listener"]),
            connections_rejected: counter_vec(&r, name::CONNECTIONS_REJECTED, "Connections closed at accept because max_connections was reached.", &["listener"]),
            tls_handshake_failures: counter_vec(&r, name::TLS_HANDSHAKE_FAILURES, "TLS handshakes that failed or timed out.", &["listener"]),
            index_records: gauge_vec(&r, name::INDEX_RECORDS, "Filings in the current index revision listing a platform, by status.", &["platform", "status"]),
            index_identifiers: gauge_vec(&r, name::INDEX_IDENTIFIERS, "Identifiers in the current index revision, by platform.", &["platform"]),
            index_revision: int_gauge(&r, name::INDEX_REVISION, "Revision number of the index being served (0 before the first load)."),
            index_last_load: gauge(&r, name::INDEX_LAST_SUCCESS, "Unix time the served index data was last confirmed current (0 before the first load)."),
            index_age: gauge(&r, name::INDEX_AGE, "Seconds since the served index data was last confirmed current (NaN before the first load)."),
            index_stale: int_gauge(&r, name::INDEX_STALE, "1 when no index has loaded yet, or the index is older than index.stale_after or unconfirmed since a warm start."),
            index_loads: counter_vec(&r, name::INDEX_LOADS, "Snapshot file loads by result (ok, error).", &["result"]),
            index_rejected_records: counter(&r, name::INDEX_REJECTED_RECORDS, "Snapshot lines rejected while loading."),
            audit_records: counter(&r, name::AUDIT_RECORDS, "Audit records written."),
            audit_write_failures: counter(&r, name::AUDIT_WRITE_FAILURES, "Failed writes to the audit destination (each is retried; records lost are in icpgate_audit_dropped_total)."),
            feed_attempts: counter(&r, name::FEED_ATTEMPTS, "Feed sync attempts."),
            feed_failures: counter_vec(&r, name::FEED_FAILURES, "Failed feed syncs by cause.", &["cause"]),
            feed_bytes: counter(&r, name::FEED_BYTES, "Bytes fetched from the feed."),
            feed_apply_duration: register(&r, Histogram::with_opts(HistogramOpts::new(name::FEED_APPLY_DURATION, "Time to verify, apply and publish a new feed revision.").buckets(work.to_vec())).expect("static metric definition")),
            feed_last_attempt: gauge(&r, name::FEED_LAST_ATTEMPT, "Unix time of the last feed sync attempt (0 before the first)."),
            feed_last_success: gauge(&r, name::FEED_LAST_SUCCESS, "Unix time of the last successful feed sync (0 before the first)."),
            feed_fallbacks: counter(&r, name::FEED_FALLBACKS, "Delta chains abandoned for the snapshot (drift or broken chain)."),
            feed_compactions: counter(&r, name::INDEX_COMPACTIONS, "Overlay folds into a new index base."),
            reloads: counter_vec(&r, name::RELOADS, "Configuration reloads by result (ok, failed).", &["result"]),
            reload_last_success: gauge(&r, name::RELOAD_LAST_SUCCESS, "Unix time the running configuration was loaded (at start, then at each successful reload)."),
            upload_spool_files: int_gauge(&r, name::UPLOAD_SPOOL_FILES, "Upload bodies currently spooled to a temp file."),
            upload_spool_bytes: int_gauge(&r, name::UPLOAD_SPOOL_BYTES, "Bytes of upload bodies currently held for inspection (memory and temp files)."),
            package_inspection_duration: histogram_vec(&r, name::INSPECTION_DURATION, "Time to identify an uploaded package, by kind (apk, ipa, hap, unknown).", &["kind"], work),
            package_inspections: counter_vec(&r, name::INSPECTIONS, "Uploaded packages inspected, by kind and result (ok or the error code).", &["kind", "result"]),
            audit: audit_metrics(&r),
            proxy_protocol_rejected: {
                let c = counter_vec(&r, name::PROXY_PROTOCOL_REJECTED, "Connections closed for want of a valid PROXY protocol header, by cause (invalid, timeout, io).", &["cause"]);
                for cause in PROXY_PROTOCOL_CAUSES {
                    c.with_label_values(&[cause]);
                }
                c
            },
            access_log_records: counter(&r, name::ACCESS_LOG_RECORDS, "Access log lines written."),
            access_log_dropped: counter(&r, name::ACCESS_LOG_DROPPED, "Access log records dropped because the writer's queue was full."),
            access_log_write_failures: counter(&r, name::ACCESS_LOG_WRITE_FAILURES, "Access log records that could not be written."),
            tokens: tokens::TokenMetrics::new(&r),
            lists: lists::ListMetrics::new(&r),
            servers: servers::ServerMetrics::new(&r),
            registry: r,
        };
        m.declare_fixed();
        m
    }

    /// The series whose label values do not depend on the configuration, and the process
    /// collector.
    fn declare_fixed(&self) {
        self.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), COMMIT])
            .set(1);
        self.index_age.set(f64::NAN);
        self.index_stale.set(1);
        self.reload_last_success.set(unix_now());
        for r in LoadResult::ALL {
            self.index_loads.with_label_values(&[r.as_str()]);
        }
        for r in ReloadResult::ALL {
            self.reloads.with_label_values(&[r.as_str()]);
        }
        for c in crate::feed::error::Cause::ALL {
            self.feed_failures.with_label_values(&[c.as_str()]);
        }
        for k in crate::inspect::PackageKind::ALL {
            self.package_inspection_duration
                .with_label_values(&[k.as_str()]);
            self.package_inspections
                .with_label_values(&[k.as_str(), "ok"]);
        }
        for p in Platform::ALL {
            self.index_identifiers.with_label_values(&[p.as_str()]);
            for s in Status::ALL {
                self.index_records
                    .with_label_values(&[p.as_str(), s.as_str()]);
            }
        }
        let process = prometheus::process_collector::ProcessCollector::new(
            std::process::id() as i32,
            PROCESS_NAMESPACE,
        );
        // A second collector with the same names cannot exist: this registry is our own.
        let _ = self.registry.register(Box::new(process));
    }

    /// Creates, at 0, the series of every listener of a configuration, so rate() over them is
    /// 0 rather than empty before the first event (`proxy::observe::Observer` does the same
    /// for upstreams and routes). Idempotent: a reload calls it again with the new names.
    pub fn declare_listeners<'a>(&self, listeners: impl IntoIterator<Item = &'a str>) {
        for l in listeners {
            self.connections_active.with_label_values(&[l]);
            self.connections_total.with_label_values(&[l]);
            self.connections_rejected.with_label_values(&[l]);
            self.tls_handshake_failures.with_label_values(&[l]);
        }
    }

    /// Counts one index load from the snapshot file.
    pub fn index_loaded(&self, result: LoadResult) {
        self.index_loads.with_label_values(&[result.as_str()]).inc();
    }

    /// Counts one configuration reload; a successful one also sets the last-success time.
    pub fn reloaded(&self, result: ReloadResult) {
        self.reloads.with_label_values(&[result.as_str()]).inc();
        if result == ReloadResult::Ok {
            self.reload_last_success.set(unix_now());
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

    /// Sets the index freshness gauges: `age` is `None` before the first load, which exports
    /// the age as NaN (no data, rather than seconds since 1970) and stale as 1.
    pub fn observe_freshness(&self, age: Option<std::time::Duration>, stale: bool) {
        self.index_age
            .set(age.map_or(f64::NAN, |a| a.as_secs_f64()));
        self.index_stale.set((stale || age.is_none()) as i64);
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = enc.encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// The names of the families a scrape would export now.
    pub fn exported(&self) -> Vec<String> {
        self.registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

pub mod lists;
#[cfg(test)]
mod tests;
