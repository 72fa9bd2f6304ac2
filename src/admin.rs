//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `/v1/status`, `/v1/lookup` and
//! `POST /v1/reload`, plus the `Reloader` that builds and publishes new index revisions.
//!
//! Owns the operator-facing API and index (re)loading. Probes (`/healthz`, `/readyz`) are open;
//! everything else needs `Authorization: Bearer <token>` when `admin.token` is set.
//! Must not: be reachable from the public listeners, or publish a revision that failed to load.
//! Invariant: revision numbers only increase; a failed reload leaves the served index as it was.

use crate::config::IndexConfig;
use crate::filing::{validate, Platform, Status};
use crate::index::{load_snapshot, Index, LoadError, LoadReport};
use crate::metrics::Metrics;
use crate::proxy::body::{full, ProxyBody};
use crate::proxy::respond::json;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

/// Loads snapshots into new revisions, one at a time.
pub struct Reloader {
    cfg: IndexConfig,
    index: Arc<Index>,
    metrics: Arc<Metrics>,
    lock: tokio::sync::Mutex<Option<LoadReport>>,
}

impl Reloader {
    pub fn new(cfg: IndexConfig, index: Arc<Index>, metrics: Arc<Metrics>) -> Reloader {
        Reloader {
            cfg,
            index,
            metrics,
            lock: tokio::sync::Mutex::new(None),
        }
    }

    /// Loads the configured snapshot off the async threads and publishes it.
    pub async fn reload(&self) -> Result<LoadReport, LoadError> {
        let mut last = self.lock.lock().await;
        let next = self.index.current().revision + 1;
        let (path, bloom) = (self.cfg.snapshot.clone(), self.cfg.bloom);
        let started = std::time::Instant::now();
        let loaded = tokio::task::spawn_blocking(move || load_snapshot(&path, next, bloom))
            .await
            .unwrap_or_else(|e| {
                Err(LoadError::Io {
                    path: self.cfg.snapshot.clone(),
                    source: std::io::Error::other(e),
                })
            });
        match loaded {
            Ok((rev, report)) => {
                self.metrics.index_loads.with_label_values(&["ok"]).inc();
                self.metrics.index_rejected_records.inc_by(report.rejected);
                self.metrics.observe_revision(&rev);
                tracing::info!(
                    event = "index_loaded", revision = next, records = report.accepted, rejected = report.rejected,
                    ids = rev.stats.ids, took_ms = started.elapsed().as_millis() as u64, source = %rev.source
                );
                for r in report.rejected_lines.iter().take(10) {
                    tracing::warn!(event = "snapshot_line_rejected", line = r.line, reason = %r.reason);
                }
                self.index.publish(rev);
                *last = Some(report.clone());
                Ok(report)
            }
            Err(e) => {
                self.metrics.index_loads.with_label_values(&["error"]).inc();
                tracing::error!(event = "index_load_failed", error = %e);
                Err(e)
            }
        }
    }

    pub fn stale_after(&self) -> std::time::Duration {
        self.cfg.stale_after
    }
}

pub struct Admin {
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    pub reloader: Arc<Reloader>,
    pub token: Option<String>,
    pub started: SystemTime,
}

fn authorized(token: &Option<String>, req: &Request<hyper::body::Incoming>) -> bool {
    let Some(t) = token else { return true };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), t.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<ProxyBody> {
    json(
        status,
        &json!({ "code": code, "status": status.as_u16(), "message": message }),
    )
}

impl Admin {
    pub async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Response<ProxyBody> {
        let path = req.uri().path().to_string();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/healthz") => return json(StatusCode::OK, &json!({ "status": "ok" })),
            (&Method::GET, "/readyz") => return self.readyz(),
            _ => {}
        }
        if !authorized(&self.token, &req) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this endpoint needs Authorization: Bearer <admin token>",
            );
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return r;
        }
        match (req.method(), path.as_str()) {
            (&Method::GET, "/metrics") => self.metrics_text(),
            (&Method::GET, "/v1/status") => self.status(),
            (&Method::GET, "/v1/lookup") => self.lookup(req.uri().query().unwrap_or("")),
            (&Method::POST, "/v1/reload") => match self.reloader.reload().await {
                Ok(report) => json(
                    StatusCode::OK,
                    &json!({ "revision": self.index.current().revision, "load": report }),
                ),
                Err(e) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "reload_failed",
                    &e.to_string(),
                ),
            },
            (_, "/metrics" | "/v1/status" | "/v1/lookup" | "/v1/reload") => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "see docs/admin.md for the methods each endpoint takes",
            ),
            _ => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "endpoints: /metrics /healthz /readyz /v1/status /v1/lookup /v1/reload",
            ),
        }
    }

    fn age_secs(&self) -> f64 {
        self.index.age().as_secs_f64()
    }

    fn stale(&self) -> bool {
        self.index.is_loaded() && self.index.is_stale(self.reloader.stale_after())
    }

    fn readyz(&self) -> Response<ProxyBody> {
        let rev = self.index.current();
        if !self.index.is_loaded() {
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "ready": false, "state": "never_loaded" }),
            );
        }
        let state = if self.stale() { "stale" } else { "fresh" };
        json(
            StatusCode::OK,
            &json!({ "ready": true, "state": state, "revision": rev.revision, "age_seconds": self.age_secs() }),
        )
    }

    fn metrics_text(&self) -> Response<ProxyBody> {
        let age = self.age_secs();
        self.metrics.index_age.set(age);
        self.metrics.index_stale.set(self.stale() as i64);
        let mut r = Response::new(full(self.metrics.render()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    }

    fn status(&self) -> Response<ProxyBody> {
        let rev = self.index.current();
        let s = &rev.stats;
        let by_platform: serde_json::Map<String, serde_json::Value> = Platform::ALL
            .iter()
            .map(|p| {
                let statuses: serde_json::Map<String, serde_json::Value> = Status::ALL
                    .iter()
                    .map(|st| {
                        (
                            st.as_str().to_string(),
                            json!(s.records_by[*p as usize][*st as usize]),
                        )
                    })
                    .collect();
                (
                    p.as_str().to_string(),
                    json!({ "ids": s.ids_by[*p as usize], "records": statuses }),
                )
            })
            .collect();
        json(
            StatusCode::OK,
            &json!({
                "ready": self.index.is_loaded(),
                "index": {
                    "revision": rev.revision,
                    "source": rev.source,
                    "as_of": humantime::format_rfc3339_seconds(rev.as_of).to_string(),
                    "age_seconds": self.age_secs(),
                    "stale_after_seconds": self.reloader.stale_after().as_secs(),
                    "stale": self.stale(),
                    "unconfirmed": self.index.is_unconfirmed(),
                    "checksum": format!("{:032x}", rev.checksum),
                    "overlay_records": rev.overlay_records(),
                    "records": s.records,
                    "ids": s.ids,
                    "entities": s.entities,
                    "store_bytes": s.store_bytes,
                    "bloom": rev.has_bloom(),
                    "by_platform": by_platform,
                },
                "started": humantime::format_rfc3339_seconds(self.started).to_string(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        )
    }

    fn lookup(&self, query: &str) -> Response<ProxyBody> {
        let mut platform = None;
        let mut id = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "platform" => platform = Some(v.into_owned()),
                "id" => id = Some(v.into_owned()),
                _ => {}
            }
        }
        let (Some(platform), Some(id)) = (platform, id) else {
            return error(
                StatusCode::BAD_REQUEST,
                "identifier_missing",
                "give ?platform=<platform>&id=<identifier>",
            );
        };
        let platform: Platform = match platform.parse() {
            Ok(p) => p,
            Err(e) => return error(StatusCode::BAD_REQUEST, "platform_invalid", &e.to_string()),
        };
        if let Err(e) = validate(platform, &id) {
            return error(
                StatusCode::BAD_REQUEST,
                "identifier_invalid",
                &e.to_string(),
            );
        }
        let rev = self.index.current();
        json(StatusCode::OK, &rev.lookup_report(platform, &id))
    }
}
