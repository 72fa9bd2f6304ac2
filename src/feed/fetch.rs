//! HTTP(S) fetching of feed files: conditional GET for the manifest, bounded body reads, one
//! timeout per file.
//!
//! Must not: read more than the configured byte limit from any response.
//! Invariant: every error it returns has cause `Fetch` or `Size`.

use super::error::{Cause, SyncError};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

pub enum Fetched {
    NotModified,
    Body { bytes: Bytes, etag: Option<String> },
}

pub struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    base: String,
    timeout: Duration,
    limit: u64,
    /// `icpgate/<version> (<instance>)`: lets a feed operator tell gateways apart.
    user_agent: http::HeaderValue,
}

impl Fetcher {
    pub fn new(
        base: &str,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
        limit: u64,
        user_agent: http::HeaderValue,
    ) -> Fetcher {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Fetcher {
            client: Client::builder(TokioExecutor::new()).build(https),
            base: base.to_string(),
            timeout,
            limit,
            user_agent,
        }
    }

    /// GETs `file` under the feed URL; `etag` makes it conditional.
    pub async fn get(&self, file: &str, etag: Option<&str>) -> Result<Fetched, SyncError> {
        let url = format!("{}{}", self.base, file);
        let work = async {
            let mut req =
                http::Request::get(&url).header(http::header::USER_AGENT, self.user_agent.clone());
            if let Some(e) = etag {
                req = req.header(http::header::IF_NONE_MATCH, e);
            }
            let req = req
                .body(Empty::new())
                .map_err(|e| SyncError::new(Cause::Fetch, format!("{url}: {e}")))?;
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| SyncError::new(Cause::Fetch, format!("{url}: {e}")))?;
            if resp.status() == http::StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if !resp.status().is_success() {
                return Err(SyncError::new(
                    Cause::Fetch,
                    format!("{url}: HTTP {}", resp.status()),
                ));
            }
            let etag = resp
                .headers()
                .get(http::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = resp.into_body();
            let mut buf = Vec::new();
            while let Some(frame) = body.frame().await {
                let frame =
                    frame.map_err(|e| SyncError::new(Cause::Fetch, format!("{url}: {e}")))?;
                if let Ok(d) = frame.into_data() {
                    buf.extend_from_slice(&d);
                    if buf.len() as u64 > self.limit {
                        return Err(SyncError::new(
                            Cause::Size,
                            format!("{url}: larger than feed.max_file_bytes ({})", self.limit),
                        ));
                    }
                }
            }
            Ok(Fetched::Body {
                bytes: Bytes::from(buf),
                etag,
            })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(SyncError::new(
                    Cause::Fetch,
                    format!("{url}: no complete answer within {:?}", self.timeout),
                ))
            })
    }

    /// GETs a file that must be there (no condition).
    pub async fn body(&self, file: &str) -> Result<Bytes, SyncError> {
        match self.get(file, None).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            Fetched::NotModified => Err(SyncError::new(
                Cause::Fetch,
                format!("{file}: unexpected 304"),
            )),
        }
    }
}
