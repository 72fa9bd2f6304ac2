//! A small static file server for a feed directory (`icpgate feed serve`, and the demo feed):
//! GET and HEAD, a weak ETag from size and modification time, 304 on If-None-Match, bodies
//! streamed from disk. Production feeds can use any web server or CDN instead.
//!
//! Must not: serve anything outside the feed directory (no `..`, no absolute paths, no hidden
//! files such as the publisher's temp files).
//! Invariant: a 200 body is exactly the file's bytes.

use crate::accept::Acceptor;
use crate::proxy::body::{boxed, full, ProxyBody};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

fn status(code: StatusCode) -> Response<ProxyBody> {
    let mut r = Response::new(full(code.canonical_reason().unwrap_or("").to_string()));
    *r.status_mut() = code;
    r
}

fn resolve(dir: &Path, uri_path: &str) -> Option<PathBuf> {
    let rel = percent_encoding::percent_decode_str(uri_path.trim_start_matches('/'))
        .decode_utf8()
        .ok()?;
    if rel.is_empty()
        || rel
            .split('/')
            .any(|s| s.is_empty() || s == ".." || s.starts_with('.'))
        || rel.contains('\\')
    {
        return None;
    }
    Some(dir.join(&*rel))
}

fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("zst") => "application/zstd",
        _ => "text/plain; charset=utf-8",
    }
}

async fn answer<B>(dir: Arc<PathBuf>, req: Request<B>) -> Response<ProxyBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return status(StatusCode::METHOD_NOT_ALLOWED);
    }
    let Some(path) = resolve(&dir, req.uri().path()) else {
        return status(StatusCode::NOT_FOUND);
    };
    let Ok(meta) = tokio::fs::metadata(&path).await else {
        return status(StatusCode::NOT_FOUND);
    };
    if !meta.is_file() {
        return status(StatusCode::NOT_FOUND);
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("W/\"{:x}-{:x}\"", meta.len(), mtime);
    let tag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("W/\"0\""));
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        let mut r = status(StatusCode::NOT_MODIFIED);
        *r.body_mut() = crate::proxy::body::empty();
        r.headers_mut().insert(header::ETAG, tag);
        return r;
    }
    let body = if req.method() == Method::HEAD {
        crate::proxy::body::empty()
    } else {
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let stream = tokio_util::io::ReaderStream::new(f);
                boxed(http_body_util::StreamBody::new(
                    futures_util::TryStreamExt::map_ok(stream, hyper::body::Frame::data),
                ))
            }
            Err(_) => return status(StatusCode::NOT_FOUND),
        }
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(header::ETAG, tag);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Serves `dir` until `shutdown` changes.
pub async fn serve(listener: TcpListener, dir: PathBuf, mut shutdown: watch::Receiver<bool>) {
    let dir = Arc::new(dir);
    let mut acceptor = Acceptor::new(listener, "feed");
    loop {
        let (stream, _) = tokio::select! {
            c = acceptor.accept() => c,
            _ = shutdown.changed() => return,
        };
        let dir = dir.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let dir = dir.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(dir, req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
