//! The read-only web console on the admin listener: `/` (health), `/console/decisions` (the
//! recent block and monitor decisions) and `/console/search` (an identifier's filings and
//! decisions, or one decision by id), server-rendered HTML with one small script.
//!
//! Owns the console's routing, its access rule and the headers of every page it serves. The
//! access rule is the admin API's: with `admin.token` set, a page needs the Bearer header or
//! the session cookie the login form sets (`auth.rs`); only the login form, its stylesheet and
//! its script are open. Every page is built with maud, which escapes every interpolated
//! string: paths, identifiers, hosts and routes on these pages can be attacker-chosen.
//! Must not: change anything (index, configuration, trail), load anything from elsewhere, or
//! answer bad input with a 500 (a form error is a page that says what is wrong).
//! Invariant: every response carries `CSP_POLICY`, `nosniff`, `X-Frame-Options: DENY`,
//! `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.

mod auditscan;
pub mod auth;
mod decisions;
mod health;
mod layout;
mod query;
pub mod rates;
pub mod recent;
mod record;
mod search;
mod svg;

use crate::config::Config;
use crate::index::Index;
use crate::metrics::Metrics;
use crate::proxy::body::{full, ProxyBody};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use maud::Markup;
use rates::Rates;
use recent::Recent;
use std::path::PathBuf;
use std::sync::Arc;

/// Scripts only from the console's own files, no inline script or style, no frames, forms
/// post only to the admin listener itself.
pub const CSP_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

pub struct Console {
    recent: Recent,
    rates: Arc<Rates>,
    index: Arc<Index>,
    /// The audit file `[audit] path` names (`None`: stdout, not searchable).
    audit_path: Option<PathBuf>,
    session: auth::Session,
}

impl Console {
    pub fn new(cfg: &Config, index: Arc<Index>, metrics: Arc<Metrics>) -> Console {
        Console {
            recent: Recent::new(cfg.admin.console_recent),
            rates: Arc::new(Rates::new(metrics)),
            index,
            audit_path: cfg.audit_path.clone(),
            session: auth::Session::new(cfg.admin.token.as_deref()),
        }
    }

    /// The ring the request pipeline keeps its block and monitor decisions in.
    pub fn recent(&self) -> Recent {
        self.recent.clone()
    }

    /// Starts the rates sampler; it stops when `shutdown` changes.
    pub fn start_sampler(&self, shutdown: tokio::sync::watch::Receiver<bool>) {
        tokio::spawn(self.rates.clone().run(shutdown));
    }

    /// Whether `path` is one of the console's.
    pub fn serves(path: &str) -> bool {
        path == "/" || path.starts_with("/console/")
    }

    /// Answers a console request. `bearer`: the admin API's own check passed (the Bearer
    /// header matched, or no token is configured); `status` gives `/v1/status`'s data.
    pub async fn handle(
        &self,
        req: Request<hyper::body::Incoming>,
        bearer: bool,
        status: impl FnOnce() -> serde_json::Value,
    ) -> Response<ProxyBody> {
        let path = req.uri().path().to_string();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/console/console.js") => {
                return asset(SCRIPT, "text/javascript; charset=utf-8")
            }
            (&Method::GET, "/console/console.css") => {
                return asset(STYLE, "text/css; charset=utf-8")
            }
            (&Method::GET, "/console/login") => {
                return page(
                    StatusCode::OK,
                    auth::login_page(None, self.session.required()),
                )
            }
            (&Method::POST, "/console/login") => return self.session.login(req).await,
            (&Method::POST, "/console/logout") => return auth::logout(),
            _ => {}
        }
        if !bearer && !self.session.admits(req.headers()) {
            let why = "sign in with the admin token to see the console";
            return page(StatusCode::UNAUTHORIZED, auth::login_page(Some(why), true));
        }
        let query = req.uri().query().unwrap_or("");
        let (code, markup) = match (req.method(), path.as_str()) {
            (&Method::GET, "/") => {
                let recent = self.recent.capacity();
                (
                    StatusCode::OK,
                    health::page(&status(), &self.rates.routes(), recent),
                )
            }
            (&Method::GET, "/console/decisions") => {
                let routes = self.rates.routes().into_iter().map(|r| r.route).collect();
                decisions::page(&self.recent, routes, query)
            }
            (&Method::GET, "/console/search") => {
                let at = search::Sources {
                    index: &self.index,
                    recent: &self.recent,
                    audit_path: self.audit_path.as_deref(),
                };
                search::page(at, query).await
            }
            (_, "/" | "/console/decisions" | "/console/search") => (
                StatusCode::METHOD_NOT_ALLOWED,
                layout::problem("Method not allowed", "console pages answer GET only"),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                layout::problem(
                    "Not found",
                    "pages: / , /console/decisions , /console/search",
                ),
            ),
        };
        page(code, markup)
    }
}

/// Adds the headers every console response carries.
fn secure(mut r: Response<ProxyBody>) -> Response<ProxyBody> {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn page(status: StatusCode, markup: Markup) -> Response<ProxyBody> {
    let mut r = Response::new(full(markup.into_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(r)
}

fn asset(text: &'static str, content_type: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(full(text));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(r)
}

/// A `303 See Other` to `to`, with the security headers.
fn redirect(to: &'static str) -> Response<ProxyBody> {
    let mut r = Response::new(full(""));
    *r.status_mut() = StatusCode::SEE_OTHER;
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    secure(r)
}
