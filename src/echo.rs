//! A small echo upstream for demos and manual testing: answers every request with a JSON
//! description of what it received (method, path, query, headers, body size and sha256).
//!
//! Owns nothing the gateway depends on; it exists so the quick start runs with no other server.
//! Must not: be used as a production upstream.
//! Invariant: `body_sha256` is the digest of exactly the bytes received.

use crate::accept::Acceptor;
use crate::proxy::body::full;
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

async fn answer(
    req: http::Request<hyper::body::Incoming>,
) -> Result<http::Response<crate::proxy::body::ProxyBody>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
        })
        .collect();
    let v = serde_json::json!({
        "upstream": "icpgate-demo-echo",
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body_bytes": bytes.len(),
        "body_sha256": hex::encode(Sha256::digest(&bytes)),
    });
    let mut resp = http::Response::new(full(serde_json::to_vec_pretty(&v).unwrap_or_default()));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

/// Serves the echo upstream until `shutdown` changes.
pub async fn serve(listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let mut acceptor = Acceptor::new(listener, "echo");
    loop {
        let (stream, _) = tokio::select! {
            c = acceptor.accept() => c,
            _ = shutdown.changed() => return,
        };
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await;
        });
    }
}
