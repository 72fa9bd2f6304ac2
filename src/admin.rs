//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `/v1/status`, `/v1/lookup`,
//! `POST /v1/reload` (re-read the snapshot file, or sync the feed now), and the web console
//! at `/` and `/console/*` (`console/`).
//!
//! Owns the operator-facing API. Probes (`/healthz`, `/readyz`) are open;
//! everything else needs `Authorization: Bearer <token>` when `admin.token` is set (console
//! pages also take the session cookie its login form sets).
//! Must not: be reachable from the public listeners, or change the index except through `Source`.
//! Invariant: every endpoint but the probes is behind the token when one is configured.

use crate::filing::{validate, Platform, Status};
use crate::index::Index;
use crate::metrics::Metrics;
use crate::proxy::body::{full, ProxyBody};
use crate::proxy::respond::json;
use crate::source::Source;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;

pub struct Admin {
    pub index: Arc<Index>,
    pub metrics: Arc<Metrics>,
    pub source: Arc<Source>,
    pub stale_after: std::time::Duration,
    pub token: Option<String>,
    pub started: SystemTime,
    /// Reloads and the drain state (`/readyz` is 503 while draining).
    pub control: crate::control::Control,
    /// The web console's pages and their data.
    pub console: crate::console::Console,
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
        if crate::console::Console::serves(&path) {
            let bearer = authorized(&self.token, &req);
            return self
                .console
                .handle(req, bearer, || self.status_data())
                .await;
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
            (&Method::POST, "/v1/reload") => self.reload().await,
            (_, "/metrics" | "/v1/status" | "/v1/lookup" | "/v1/reload") => error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "see docs/admin.md for the methods each endpoint takes",
            ),
            _ => error(
                StatusCode::NOT_FOUND,
                "not_found",
                "endpoints: /metrics /healthz /readyz /v1/status /v1/lookup /v1/reload, console at /",
            ),
        }
    }

    /// How old the served data is; `None` before the first load (there is no data to age).
    /// `/v1/status` reports it as `null` and `/metrics` as NaN.
    fn age(&self) -> Option<std::time::Duration> {
        self.index.is_loaded().then(|| self.index.age())
    }

    fn age_secs(&self) -> Option<f64> {
        self.age().map(|a| a.as_secs_f64())
    }

    /// Stale: never loaded (every enforcing request answers 503 `index_stale`), unconfirmed
    /// since a warm start, or older than `index.stale_after`.
    fn stale(&self) -> bool {
        !self.index.is_loaded() || self.index.is_stale(self.stale_after)
    }

    /// Reloads the configuration file, then re-reads the snapshot or syncs the feed. A
    /// configuration that fails validation leaves the running one and answers 422 with every
    /// problem; the index refresh runs either way.
    async fn reload(&self) -> Response<ProxyBody> {
        let config = self.control.reload(None).await;
        let index = self.source.refresh().await;
        let status = match (&index, config.ok()) {
            (Ok(_), true) => StatusCode::OK,
            (_, false) => StatusCode::UNPROCESSABLE_ENTITY,
            (Err(_), true) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut body = json!({
            "revision": self.index.current().revision,
            "config": config,
        });
        match index {
            Ok(result) => body["result"] = result,
            Err(e) => {
                body["code"] = json!("reload_failed");
                body["message"] = json!(e);
            }
        }
        if !config.ok() {
            body["code"] = json!("config_invalid");
            body["status"] = json!(status.as_u16());
        }
        json(status, &body)
    }

    fn readyz(&self) -> Response<ProxyBody> {
        if self.control.draining() {
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "ready": false, "state": "draining" }),
            );
        }
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
        self.metrics.observe_freshness(self.age(), self.stale());
        let mut r = Response::new(full(self.metrics.render()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    }

    fn status(&self) -> Response<ProxyBody> {
        json(StatusCode::OK, &self.status_data())
    }

    /// What `/v1/status` answers; the console's health page shows the same.
    fn status_data(&self) -> serde_json::Value {
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
        json!({
                "ready": self.index.is_loaded(),
                "index": {
                    "revision": rev.revision,
                    "source": rev.source,
                    "as_of": humantime::format_rfc3339_seconds(rev.as_of).to_string(),
                    "age_seconds": self.age_secs(),
                    "stale_after_seconds": self.stale_after.as_secs(),
                    "stale": self.stale(),
                    "unconfirmed": self.index.is_unconfirmed(),
                    "checksum": format!("{:032x}", rev.checksum),
                    "overlay_records": rev.overlay_records(),
                    "records": s.records,
                    "ids": s.ids,
                    "entities": s.entities,
                    "store_bytes": s.store_bytes,
                    "bloom": rev.has_bloom(),
                    "bloom_bytes": s.filter_bytes,
                    "by_platform": by_platform,
                },
                "source": self.source.status(),
                "config": self.control.reloads(),
                "draining": self.control.draining(),
                "started": humantime::format_rfc3339_seconds(self.started).to_string(),
                "version": env!("CARGO_PKG_VERSION"),
        })
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
